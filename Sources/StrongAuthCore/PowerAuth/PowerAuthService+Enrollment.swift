import Crypto
import Foundation
import StrongAuthProtocol

/// What the phone sends in the key exchange, after the face has removed both ECIES layers.
public struct KeyExchangeRequest: Sendable {
    public var activationCode: String
    public var activationOTP: String?
    public var devicePublicKey: P256.KeyAgreement.PublicKey
    public var activationName: String
    public var platform: String?
    public var deviceInfo: String?
    public var extras: String?
    public var protocolVersion: String

    public init(
        activationCode: String, activationOTP: String?, devicePublicKey: P256.KeyAgreement.PublicKey, activationName: String,
        platform: String?, deviceInfo: String?, extras: String?, protocolVersion: String
    ) {
        self.activationCode = activationCode
        self.activationOTP = activationOTP
        self.devicePublicKey = devicePublicKey
        self.activationName = activationName
        self.platform = platform
        self.deviceInfo = deviceInfo
        self.extras = extras
        self.protocolVersion = protocolVersion
    }
}

/// What the phone needs back from the key exchange.
public struct KeyExchangeResult: Sendable {
    public var registration: Registration
    public var serverPublicKey: P256.KeyAgreement.PublicKey
    /// The initial hash-based counter (16 random bytes).
    public var counterData: [UInt8]
}

/// The outcome of an `X-PowerAuth-Token` check.
public struct TokenVerification: Sendable, Equatable {
    public var valid: Bool
    public var registration: Registration?
    public var signatureType: String?
}

/// The phone's side of PowerAuth (`/enrollment-server/pa/v3/…`): the key exchange, the data of
/// the activation status, and MAC tokens. The faces do the ECIES layers; this decides.
extension PowerAuthService {
    /// `/pa/v3/activation/create`: the phone presents a live activation code and its public key;
    /// the server makes its own key pair, derives the shared keys by ECDH and the KDF, and moves
    /// the registration CREATED → PENDING_COMMIT (or ACTIVE when the commit phase or a correct
    /// ON_KEY_EXCHANGE OTP says so) in one conditional update — so one code activates one phone.
    public func exchangeKeys(_ request: KeyExchangeRequest, application: OpenedApplication, source: String?) async throws
        -> KeyExchangeResult
    {
        guard PowerAuthActivationCode.isValid(request.activationCode) else { throw PowerAuthServiceError.activationCodeNotFound }
        let name = request.activationName.trimmingCharacters(in: .whitespacesAndNewlines)
        guard name.utf8.count <= 255, !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw PowerAuthServiceError.validation(field: "activationName", message: "at most 255 printable characters")
        }
        for (field, value) in [("platform", request.platform), ("deviceInfo", request.deviceInfo)] {
            if let value, value.utf8.count > 255 {
                throw PowerAuthServiceError.validation(field: field, message: "at most 255 characters")
            }
        }
        if let extras = request.extras, extras.utf8.count > 4096 {
            throw PowerAuthServiceError.validation(field: "extras", message: "at most 4096 characters")
        }
        let now = time.now()
        guard let registration = try await store.registration(activationCode: request.activationCode, applicationID: application.application.id),
            registration.status(at: now) == .created
        else { throw PowerAuthServiceError.activationCodeNotFound }

        var target: Device.Status = registration.activation.commitPhase == .onKeyExchange ? .active : .pendingCommit
        if registration.activation.otpValidation == .onKeyExchange {
            guard let otp = request.activationOTP, otpMatches(otp, of: registration) else {
                let count = try await store.reserveAttempt(
                    .powerAuthActivationOTP,
                    subject: .activation(id: registration.id, webhooksAtLimit: try registrationWebhooks(registration, status: .removed, at: now)),
                    at: now)
                try await audit(
                    registration, action: .powerAuthActivationKeyExchange, actor: "device:\(registration.id)", source: source,
                    outcome: .failure, details: ["reason": "wrong_otp"])
                throw PowerAuthServiceError.wrongActivationOTP(remainingAttempts: count?.remaining ?? 0)
            }
            target = .active
        }

        let serverKey = P256.KeyAgreement.PrivateKey()
        let masterSecret = try PowerAuthDerivedKeys.masterSecret(privateKey: serverKey, publicKey: request.devicePublicKey)
        let secrets = try PowerAuthDerivedKeys(masterSecret: masterSecret)
        let counterData = SecureRandom.bytes(16)
        var activation = registration.activation
        activation.activationCode = nil
        activation.platform = request.platform
        activation.deviceInfo = request.deviceInfo
        activation.extras = request.extras
        activation.protocolVersion = request.protocolVersion
        activation.serverPublicKey = serverKey.publicKey.x963Representation.base64EncodedString()
        activation.sealedServerPrivateKey = try masterKey.seal(
            Array(serverKey.rawRepresentation), purpose: Self.serverKeyPurpose, associatedData: registration.id)
        activation.sealedDerivedKeys = try masterKey.seal(secrets.packed, purpose: Self.activationKeysPurpose, associatedData: registration.id)

        var exchanged = registration
        exchanged.activation = activation
        exchanged.device.status = target
        exchanged.device.name = name
        exchanged.device.publicKeyHex = Hex.encode(request.devicePublicKey.x963Representation)
        exchanged.counter.counterData = counterData
        exchanged.counter.failedAttempts = 0
        let completed = try await store.completeKeyExchange(
            id: registration.id, to: target, devicePublicKeyHex: exchanged.device.publicKeyHex, name: name, activation: activation,
            counterData: counterData,
            webhooks: try registrationWebhooks(exchanged, status: target, application: application.application, at: now), at: now)
        guard completed else { throw PowerAuthServiceError.activationCodeNotFound }
        try await audit(
            exchanged, action: .powerAuthActivationKeyExchange, actor: "device:\(registration.id)", source: source,
            details: ["status": target.rawValue, "version": request.protocolVersion])
        return KeyExchangeResult(registration: exchanged, serverPublicKey: serverKey.publicKey, counterData: counterData)
    }

    /// The fingerprint both sides show to confirm the key exchange (PENDING_COMMIT and later).
    public func fingerprint(of registration: Registration) -> String? {
        guard let serverKeyBase64 = registration.activation.serverPublicKey, let serverKeyData = Data(base64Encoded: serverKeyBase64),
            let serverKey = try? P256.KeyAgreement.PublicKey(x963Representation: serverKeyData),
            let deviceKeyBytes = Hex.decode(registration.device.publicKeyHex),
            let deviceKey = try? P256.KeyAgreement.PublicKey(x963Representation: deviceKeyBytes)
        else { return nil }
        return PowerAuthFingerprint.compute(devicePublicKey: deviceKey, activationID: registration.id, serverPublicKey: serverKey)
    }

    /// A registration of the given application by its activation id (the phone's requests).
    public func registration(activationID: String, application: PowerAuthApplication) async throws -> Registration {
        guard let registration = try await store.registration(id: activationID),
            registration.activation.applicationID == application.id
        else { throw PowerAuthServiceError.registrationNotFound }
        return registration
    }

    /// The status blob's content for a registration at `now`.
    public func statusBlob(of registration: Registration, transportKey: [UInt8]) throws -> PowerAuthStatusBlob {
        let statusByte: UInt8 =
            switch registration.status(at: time.now()) {
            case .created: 1
            case .pendingCommit: 2
            case .active: 3
            case .blocked: 4
            case .removed: 5
            }
        let version: UInt8 = 3
        return PowerAuthStatusBlob(
            status: statusByte, currentVersion: version, upgradeVersion: version,
            counterByte: UInt8(truncatingIfNeeded: registration.counter.counter),
            failedAttempts: UInt8(clamping: registration.counter.failedAttempts),
            maxFailedAttempts: UInt8(clamping: registration.counter.maxFailedAttempts),
            counterLookAhead: UInt8(clamping: configuration.counterLookahead),
            counterDataHash: try PowerAuthStatusBlob.counterDataHash(transportKey: transportKey, counterData: registration.counter.counterData))
    }

    /// `/pa/v3/activation/remove`, after the face verified the phone's signature.
    public func removeBySignedRequest(_ registration: Registration, source: String?) async throws {
        _ = try await transition(.remove, registration, actor: "device:\(registration.id)", source: source)
    }

    // MARK: Tokens

    /// `/pa/v3/token/create`, after the face verified the signature: a token id and its 16-byte
    /// secret (returned once, to be ECIES-encrypted to the phone).
    public func createToken(for registration: Registration, signatureType: String) async throws -> (id: String, secret: [UInt8]) {
        let id = SecureRandom.uuid()
        let secret = SecureRandom.bytes(16)
        try await store.insertToken(
            PowerAuthToken(
                id: id, deviceID: registration.id,
                sealedSecret: try masterKey.seal(secret, purpose: Self.tokenSecretPurpose, associatedData: id),
                signatureType: signatureType, createdAt: time.now()))
        return (id, secret)
    }

    /// `/pa/v3/token/remove`: the phone removes one of its own tokens.
    public func removeToken(id: String, of registration: Registration) async throws {
        guard try await store.deleteToken(id: id, deviceID: registration.id) else { throw PowerAuthServiceError.tokenNotFound }
    }

    /// The replay-guard scope of MAC token nonces.
    static let tokenReplayScope = "powerauth.token"

    /// `POST /v2/token/verify` and the mobile token API: checks a token digest (HMAC of the token
    /// secret over the nonce and timestamp) of an ACTIVE registration.
    ///
    /// As the reference server: the timestamp may be at most `tokenTimestampTolerance` (2 h) in
    /// the past and `tokenTimestampForwardTolerance` (30 min) in the future, and a nonce is
    /// accepted once ("`nonce` - Random cryptographic nonce, 16B long", MAC-Token-Based-
    /// Authentication.md; the reference refuses a repeated nonce). The nonce is remembered per
    /// token in the shared `replay_guard` table — one conditional insert, so a header accepted
    /// by one node is refused by every other — until its timestamp leaves the window (then the
    /// timestamp refuses it, and the sweeper deletes the row). Only a correct digest is
    /// remembered: garbage never reaches the table, and a wrong digest never uses up a nonce.
    public func verifyToken(
        tokenID: String, digest: [UInt8], nonce: [UInt8], timestamp: UInt64, version: PowerAuthProtocolVersion,
        integrationUser: IntegrationUser?
    ) async throws -> TokenVerification {
        // An unknown (or removed) token is simply not valid, like a wrong digest.
        guard let token = try await store.token(id: tokenID), let registration = try await store.registration(id: token.deviceID),
            integrationUser?.mayUse(applicationID: registration.activation.applicationID) ?? true
        else { return TokenVerification(valid: false, registration: nil, signatureType: nil) }
        let now = time.now()
        let sent = Date(timeIntervalSince1970: Double(timestamp) / 1000)
        let age = now.timeIntervalSince(sent)
        guard registration.status(at: now) == .active, age <= configuration.tokenTimestampTolerance,
            -age <= configuration.tokenTimestampForwardTolerance
        else {
            return TokenVerification(valid: false, registration: registration, signatureType: token.signatureType)
        }
        let secret = try masterKey.open(token.sealedSecret, purpose: Self.tokenSecretPurpose, associatedData: token.id)
        let expected = PowerAuthTokenDigest.compute(tokenSecret: secret, nonce: nonce, timestamp: timestamp, version: version)
        guard ConstantTime.equals(expected, digest) else {
            return TokenVerification(valid: false, registration: registration, signatureType: token.signatureType)
        }
        // Remembered while its timestamp is acceptable (one second more against rounding).
        let fresh = try await replayGuard.firstUse(
            scope: Self.tokenReplayScope, value: Array(token.id.utf8) + [0] + nonce,
            until: sent.addingTimeInterval(configuration.tokenTimestampTolerance + 1))
        return TokenVerification(valid: fresh, registration: registration, signatureType: token.signatureType)
    }
}
