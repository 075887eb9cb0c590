import Crypto
import Foundation
import StrongAuthProtocol

/// The push alternative of docs/devices.md: the app asks for MFA, the user's bound device approves or
/// denies with its key, the app polls and then fetches confirmed tokens once.
extension DeviceService {
    /// What the requester sees while polling.
    public enum PushStatus: String, Sendable {
        case pending = "PENDING"
        case verified = "VERIFIED"
        case denied = "DENIED"
        case expired = "EXPIRED"
    }

    /// The wire status of a push challenge at `now`.
    public func pushStatus(of challenge: Challenge, at now: Date) -> PushStatus {
        switch challenge.status {
        case .open: challenge.expiresAt > now ? .pending : .expired
        case .answered: challenge.expiresAt > now ? .verified : .expired
        case .redeemed: .verified
        case .denied, .failed: .denied
        case .expired: .expired
        }
    }

    /// The message a device signs to answer: `"<challengeId>:<VERIFIED|DENIED>"`, so a signature
    /// approving one challenge can neither deny it nor approve another.
    public static func pushAnswerMessage(challengeID: String, status: PushStatus) -> String {
        "\(challengeID):\(status.rawValue)"
    }

    /// `POST /api/user/mfa/challenges`: a push to each of the user's ACTIVE devices.
    public func createPushChallenge(userID: String) async throws -> Challenge {
        // Only devices with an ECDSA key can sign an answer (PowerAuth ones approve operations).
        let active = try await store.devices(userID: userID).filter { $0.kind == .ecdsaP256 && $0.status == .active }
        guard !active.isEmpty else { throw DeviceError.deviceNotFound }
        let now = time.now()
        let challenge = Challenge(
            id: SecureRandom.uuid(), kind: .mfaPush, userID: userID, deviceID: "", payload: "",
            maxAttempts: configuration.maxAttemptsPerChallenge, createdAt: now,
            expiresAt: now.addingTimeInterval(configuration.challengeLifetime))
        let message = "Approve the sign-in request \(challenge.id)?"
        try await store.insertChallenge(challenge, notifications: try pushes(to: active, userID: userID, message: message, at: now))
        return challenge
    }

    /// The user's own push challenge.
    public func pushChallenge(userID: String, id: String) async throws -> Challenge {
        guard let challenge = try await store.challenge(id: id), challenge.kind == .mfaPush, challenge.userID == userID else {
            throw DeviceError.challengeNotFound
        }
        return challenge
    }

    /// `PATCH /api/user/mfa/challenges/{id}`: a bound device approves or denies, signing its answer.
    public func answerPushChallenge(
        userID: String, id: String, deviceID: String, status: PushStatus, signatureHex: String, source: String?
    ) async throws -> Challenge {
        guard status == .verified || status == .denied else { throw DeviceError.invalidAnswer }
        let challenge = try await pushChallenge(userID: userID, id: id)
        guard let device = try await store.device(id: deviceID), device.userID == userID, device.status != .removed else {
            throw DeviceError.deviceNotFound
        }
        guard device.kind == .ecdsaP256 else { throw DeviceError.powerAuthDevice }
        guard device.status == .active else { throw DeviceError.deviceState(device.status) }
        let signature = try Self.parseSignature(signatureHex)
        let now = time.now()
        guard try await store.reserveAttempt(.challenge, subject: .challenge(id: id), at: now) != nil else { throw DeviceError.challengeClosed }
        let key = try P256Codec.publicKey(hex: device.publicKeyHex)
        let message = Array(Self.pushAnswerMessage(challengeID: id, status: status).utf8)
        guard key.isValidSignature(signature, for: message) else {
            try await store.failChallengeIfExhausted(id: id)
            try await auditWrongSignature(
                userID: userID, action: .challengeAnswer(.mfaPush), deviceID: deviceID, source: source, details: ["challenge": id])
        }
        guard try await store.resolveChallenge(id: id, to: status == .verified ? .answered : .denied, deviceID: deviceID, at: now) else {
            throw DeviceError.challengeClosed
        }
        try await store.touchDevice(id: deviceID, at: now)
        try await store.append(
            AuditRecord(
                actor: "user:\(userID)", action: .challengeAnswer(.mfaPush), subject: "device:\(deviceID)", sourceAddress: source,
                outcome: status == .verified ? .success : .failure, details: ["challenge": id, "answer": status.rawValue]),
            at: now)
        var resolved = challenge
        resolved.status = status == .verified ? .answered : .denied
        resolved.deviceID = deviceID
        return resolved
    }

    /// `POST /api/user/mfa/challenges/{id}/token`: confirmed tokens, once, for a VERIFIED challenge,
    /// with at most the redeeming token's `scopes`, bound to its DPoP key if it was (`cnf.jkt`).
    public func redeemPushChallenge(
        userID: String, client: OAuthClient, scopes: Scopes, id: String, dpopKeyThumbprint: String? = nil
    ) async throws -> IssuedTokens {
        let challenge = try await pushChallenge(userID: userID, id: id)
        guard challenge.status == .answered, challenge.expiresAt > time.now() else { throw DeviceError.challengeClosed }
        guard let deviceID = try await store.redeemChallenge(id: id) else { throw DeviceError.challengeClosed }
        // auth_time: the device signed somewhere between the challenge's creation and now; the
        // store keeps no answer time, so take the earlier bound — an age limit then errs strict.
        return try await tokens.issueUserTokens(
            userID: userID, client: client, scopes: scopes.intersection(client.scopes), amr: ["pwd", "hwk"],
            withRefreshToken: client.grants.contains(.refreshToken), confirmationDeviceID: deviceID,
            authenticatedAt: challenge.createdAt, dpopKeyThumbprint: dpopKeyThumbprint)
    }
}
