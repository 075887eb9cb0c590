import Crypto
import Foundation
import StrongAuthProtocol

/// Why a device operation was refused. The face maps each case to its status and message.
public enum DeviceError: Error, Equatable, Sendable {
    case invalidName
    case invalidPublicKey(String)
    case invalidSignatureEncoding(String)
    case noPhoneNumber
    case deviceNotFound
    case challengeNotFound
    /// The device is not in a state that allows this (e.g. verifying an ACTIVE device).
    case deviceState(Device.Status)
    /// Expired, failed, or already answered (a replay).
    case challengeClosed
    /// The signature does not verify under the device's key.
    case wrongSignature
    /// Too many wrong answers: binding or challenges are blocked until `until`.
    case locked(until: Date?)
    /// An OTP SMS budget of the user or the phone number is spent (SMS pumping), or
    /// the user has `maxPendingPerUser` unfinished devices: try again in `retryAfter` seconds.
    case tooManySMS(retryAfter: Int)
    case tooManyPendingDevices(retryAfter: Int)
    /// A push answer other than VERIFIED or DENIED.
    case invalidAnswer
    /// A PowerAuth activation: it signs with PowerAuth signatures, not with an ECDSA key here.
    case powerAuthDevice
    /// The client the user's token was issued to is gone or no longer active.
    case clientInactive
}

/// Lifetimes and limits of device binding and device challenges.
public struct DeviceConfiguration: Sendable, Equatable {
    public var otpLifetime: TimeInterval
    public var challengeLifetime: TimeInterval
    /// Answers per challenge; the wrong binding answers per user across challenges are the
    /// `bindingOTP` factor's (`AttemptLimits`).
    public var maxAttemptsPerChallenge: Int
    /// PSD2 RTS art. 24: a second device also needs approval from an already bound one.
    public var requireApprovalForAdditionalDevices: Bool
    /// Devices in CREATED or PENDING_COMMIT per user (`devices.maxPendingPerUser`): each binding
    /// sends an SMS and leaves a row, so they must not pile up. A device counts until it could
    /// no longer finish (`pendingLifetime`).
    public var maxPendingPerUser: Int
    /// The OTP SMS budgets per user and per phone number (`sms.*`), shared with the step-up.
    public var sms: SMSLimits

    /// How long an unfinished device counts against `maxPendingPerUser`: its OTP's lifetime and
    /// then the approval's (created when the OTP is answered, `challengeLifetime`).
    public var pendingLifetime: TimeInterval { otpLifetime + challengeLifetime }

    public init(
        otpLifetime: TimeInterval = 300, challengeLifetime: TimeInterval = 300, maxAttemptsPerChallenge: Int = AttemptLimits.standard.challenge,
        requireApprovalForAdditionalDevices: Bool = true, maxPendingPerUser: Int = 3, sms: SMSLimits = SMSLimits()
    ) {
        self.maxPendingPerUser = max(1, maxPendingPerUser)
        self.sms = sms
        self.otpLifetime = otpLifetime
        self.challengeLifetime = challengeLifetime
        self.maxAttemptsPerChallenge = maxAttemptsPerChallenge
        self.requireApprovalForAdditionalDevices = requireApprovalForAdditionalDevices
    }
}

/// Device binding with P-256 keys (Kontist, docs/devices.md): bind a key with an SMS OTP signed by it,
/// then pass MFA by signing device challenges and receive confirmed tokens.
public struct DeviceService: Sendable {
    public typealias Repositories = DeviceRepository & UserRepository & AuditLog & NotificationOutbox & PowerAuthRepository & TokenRepository

    let store: any Repositories
    let tokens: TokenService
    let masterKey: MasterKey
    let time: any TimeSource
    public let configuration: DeviceConfiguration
    static let otpPurpose = "otp"
    /// Commit, block, unblock and remove: the one lifecycle of every device kind.
    var lifecycle: DeviceLifecycle { DeviceLifecycle(store: store, time: time) }

    public init(store: any Repositories, tokens: TokenService, masterKey: MasterKey, time: any TimeSource, configuration: DeviceConfiguration) {
        self.store = store
        self.tokens = tokens
        self.masterKey = masterKey
        self.time = time
        self.configuration = configuration
    }

    // MARK: Binding

    /// `POST /api/user/devices`: stores the key as a CREATED device and sends an SMS OTP that the
    /// device must sign to prove it holds the key and receives the user's SMS.
    public func createDevice(userID: String, name: String, publicKeyHex: String, source: String?) async throws -> (Device, Challenge) {
        let trimmedName = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...100).contains(trimmedName.count), !trimmedName.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw DeviceError.invalidName
        }
        let key: P256.Signing.PublicKey
        do {
            key = try P256Codec.publicKey(hex: publicKeyHex)
        } catch {
            throw DeviceError.invalidPublicKey(error.description)
        }
        guard let user = try await store.user(id: userID) else { throw DeviceError.deviceNotFound }
        guard let phone = user.phone else { throw DeviceError.noPhoneNumber }
        if let until = user.bindingLockedUntil, until > time.now() { throw DeviceError.locked(until: until) }

        let now = time.now()
        let device = Device(
            id: SecureRandom.uuid(), userID: userID, kind: .ecdsaP256, name: trimmedName,
            publicKeyHex: Hex.encode(key.x963Representation), status: .created, createdAt: now)
        let otp = Self.generateOTP()
        let challengeID = SecureRandom.uuid()
        let challenge = Challenge(
            id: challengeID, kind: .deviceBinding, userID: userID, deviceID: device.id,
            payload: try masterKey.seal(Array(otp.utf8), purpose: Self.otpPurpose, associatedData: challengeID),
            maxAttempts: configuration.maxAttemptsPerChallenge, createdAt: now,
            expiresAt: now.addingTimeInterval(configuration.otpLifetime))
        // Only server-chosen text: a caller-chosen device name would turn the SMS into a free
        // text message to the user's phone (spam, phishing links) paid by the bank.
        let message = "Your StrongAuth code to bind a new device is \(otp). It is valid for \(Int(configuration.otpLifetime / 60)) minutes."
        let notification = OutboxNotification(
            id: SecureRandom.uuid(), kind: .smsOTP, userID: userID, recipient: phone,
            sealedBody: try masterKey.seal(Array(message.utf8), purpose: NotificationSealing.purpose, associatedData: "notification"),
            nextAttemptAt: now, createdAt: now)
        // The caps are checked and the SMS counted in the transaction that stores the binding:
        // concurrent bindings on any number of nodes together stay within them.
        let limits = DeviceBindingLimits(
            maxPending: configuration.maxPendingPerUser, pendingSince: now.addingTimeInterval(-configuration.pendingLifetime),
            pendingLifetime: configuration.pendingLifetime,
            sms: configuration.sms.budgets(userID: userID, realm: user.realmID, phone: phone, masterKey: masterKey),
            smsWindow: configuration.sms.window)
        switch try await store.insertDeviceBinding(device: device, challenge: challenge, notification: notification, limits: limits) {
        case .inserted:
            break
        case .tooManyPending(let retryAt):
            try await auditRefusedBinding(userID: userID, reason: "pending_limit", source: source, at: now)
            throw DeviceError.tooManyPendingDevices(retryAfter: Self.seconds(until: retryAt, from: now, atMost: configuration.pendingLifetime))
        case .smsExhausted(let retryAt):
            try await auditRefusedBinding(userID: userID, reason: "sms_limit", source: source, at: now)
            throw DeviceError.tooManySMS(retryAfter: Self.seconds(until: retryAt, from: now, atMost: configuration.sms.window))
        }
        try await store.append(
            AuditRecord(actor: "user:\(userID)", action: .deviceCreated, subject: "device:\(device.id)", sourceAddress: source, outcome: .success),
            at: now)
        return (device, challenge)
    }

    private func auditRefusedBinding(userID: String, reason: String, source: String?, at now: Date) async throws {
        try await store.append(
            AuditRecord(
                actor: "user:\(userID)", action: .deviceCreated, subject: "user:\(userID)", sourceAddress: source, outcome: .failure,
                details: ["reason": reason]),
            at: now)
    }

    /// Whole seconds from `now` until `date`, 1 to `limit` (a `Retry-After` value): another node
    /// may have started the window a moment after this request's `now`.
    public static func seconds(until date: Date, from now: Date, atMost limit: TimeInterval) -> Int {
        min(max(1, Int(limit)), max(1, Int(date.timeIntervalSince(now).rounded(.up))))
    }

    /// `POST /api/user/devices/{deviceId}/verify`: the device's signature over the SMS OTP
    /// activates it — or, when the user already has an ACTIVE device of either kind and approval
    /// is required (RTS art. 24), parks it in PENDING_COMMIT with an approval of the engine
    /// (`ApprovalService.newDeviceApproval`, stored in the same step) and tells every bound
    /// device. Returns the device's new status.
    @discardableResult
    public func verifyDevice(userID: String, deviceID: String, challengeID: String, signatureHex: String, source: String?) async throws
        -> Device.Status
    {
        let (device, challenge) = try await load(userID: userID, deviceID: deviceID, challengeID: challengeID, kind: .deviceBinding)
        guard device.status == .created else { throw DeviceError.deviceState(device.status) }
        let otp = try masterKey.open(challenge.payload, purpose: Self.otpPurpose, associatedData: challenge.id)
        // Whether this is the user's first device is decided by the store in the step that
        // activates it (`completeBindingChallenge`), never from an earlier read: two bindings
        // verified at once must not both see "no device bound yet".
        // The approval that lets the device in if it ends up PENDING_COMMIT; stored only then.
        let username = try await store.user(id: userID)?.username ?? userID
        let approval = ApprovalService.newDeviceApproval(
            for: device, username: username, lifetime: configuration.challengeLifetime, at: time.now())
        let target = try await answerBinding(
            challenge, device: device, signatureHex: signatureHex, message: otp, approval: approval, source: source)
        if target == .pendingCommit {
            let now = time.now()
            // Every bound device, of either kind: a PowerAuth phone approves in the mobile token
            // API, an ECDSA phone in `/api/user/approvals` or with `approve-device:…`.
            let approvers = try await store.devices(userID: userID).filter { $0.status == .active && $0.id != deviceID && $0.kind != .passkey }
            let message = "Approve the new device \(device.name) on your account?"
            try await store.enqueue(try pushes(to: approvers, userID: userID, message: message, at: now))
        }
        return target
    }

    /// The message an already bound device signs to approve a new one: it names the new device
    /// and its key, so the approval cannot be moved to another device or key.
    public static func approvalMessage(deviceID: String, publicKeyHex: String) -> String {
        "approve-device:\(deviceID):\(publicKeyHex.lowercased())"
    }

    /// A short fingerprint of a device key for people to compare: the first 8 bytes of SHA-256
    /// over the key's bytes (hex of `04‖X‖Y`), upper-case hex in groups of four. Shown and signed
    /// in the approval of a new device, so the approving phone sees which key it lets in.
    public static func keyFingerprint(publicKeyHex: String) -> String {
        let bytes = Hex.decode(publicKeyHex) ?? Array(publicKeyHex.lowercased().utf8)
        let hex = Hex.encode(Array(SHA256.hash(data: bytes)).prefix(8)).uppercased()
        return stride(from: 0, to: hex.count, by: 4).map { offset -> String in
            let start = hex.index(hex.startIndex, offsetBy: offset)
            return String(hex[start..<hex.index(start, offsetBy: 4)])
        }.joined(separator: " ")
    }

    /// `POST /api/user/devices/{deviceId}/approve`: an ACTIVE device of the same user approves a
    /// PENDING_COMMIT device with a signature over `approvalMessage`.
    public func approveDevice(userID: String, deviceID: String, approverDeviceID: String, signatureHex: String, source: String?) async throws {
        guard let device = try await store.device(id: deviceID), device.userID == userID, device.status != .removed,
            let approver = try await store.device(id: approverDeviceID), approver.userID == userID, approver.id != deviceID
        else { throw DeviceError.deviceNotFound }
        guard device.kind == .ecdsaP256, approver.kind == .ecdsaP256 else { throw DeviceError.powerAuthDevice }
        guard DeviceAction.commit.allows(from: device.status) else { throw DeviceError.deviceState(device.status) }
        guard approver.status == .active else { throw DeviceError.deviceState(approver.status) }
        let signature = try Self.parseSignature(signatureHex)
        let message = Array(Self.approvalMessage(deviceID: deviceID, publicKeyHex: device.publicKeyHex).utf8)
        let now = time.now()
        guard try P256Codec.publicKey(hex: approver.publicKeyHex).isValidSignature(signature, for: message) else {
            try await auditWrongSignature(
                userID: userID, action: .deviceApproval, deviceID: deviceID, source: source, details: ["approver": approverDeviceID])
        }
        // The checks above are for clear errors; the decision is the store's single step, which
        // activates the device only while the approver is still ACTIVE (not blocked meanwhile).
        do {
            guard try await store.approvePendingDevice(id: deviceID, approverID: approverDeviceID, userID: userID, at: now) else {
                throw DeviceError.deviceState(try await store.device(id: approverDeviceID)?.status ?? .removed)
            }
        } catch StoreError.conflict {
            throw DeviceError.deviceState(try await store.device(id: deviceID)?.status ?? .removed)
        }
        try await store.append(
            AuditRecord(
                actor: "user:\(userID)", action: .deviceApproval, subject: "device:\(deviceID)", sourceAddress: source,
                outcome: .success, details: ["approver": approverDeviceID]),
            at: now)
    }

    // MARK: MFA challenges

    /// `POST /api/user/devices/{deviceId}/challenges`: a fresh `stringToSign` for an ACTIVE device.
    /// `token`: the caller's access token, whose liveness is decided with the insert (it is
    /// refused with `AccessTokenNotLive`, before the device's own refusals).
    public func createChallenge(userID: String, deviceID: String, token: AccessTokenLivenessQuery) async throws -> Challenge {
        let now = time.now()
        let challenge = Challenge(
            id: SecureRandom.timeOrderedUUID(at: now), kind: .deviceSignature, userID: userID, deviceID: deviceID,
            payload: SecureRandom.uuid(), maxAttempts: configuration.maxAttemptsPerChallenge, createdAt: now,
            expiresAt: now.addingTimeInterval(configuration.challengeLifetime))
        // Stored only if the device is the user's ACTIVE ECDSA device and the token is live (one
        // statement); when it is not, the token's liveness, then the device, are read to say why.
        guard try await store.insertDeviceChallenge(challenge, whileLive: token) else {
            guard try await store.accessTokenLiveness(token).isLive else { throw AccessTokenNotLive() }
            guard let device = try await store.device(id: deviceID), device.userID == userID, device.status != .removed else {
                throw DeviceError.deviceNotFound
            }
            guard device.kind == .ecdsaP256 else { throw DeviceError.powerAuthDevice }
            throw DeviceError.deviceState(device.status)
        }
        return challenge
    }

    /// `POST …/challenges/{challengeId}/verify`: a correct signature over `stringToSign` yields
    /// confirmed tokens bound to the device (`cnf.kid`), for the client the user token came from,
    /// with at most that token's `scopes` (a derived token never widens the original), and bound
    /// to the same DPoP key when that token was (`dpopKeyThumbprint`, its `cnf.jkt`).
    /// `clientID` is the user token's client, read with the device and the challenge in one read;
    /// it must still be active. `token`: the caller's access token, whose liveness is read with
    /// them and decided first (`AccessTokenNotLive`).
    public func verifyChallenge(
        userID: String, clientID: String, scopes: Scopes, deviceID: String, challengeID: String, signatureHex: String,
        source: String?, dpopKeyThumbprint: String? = nil, token: AccessTokenLivenessQuery
    ) async throws -> IssuedTokens {
        let context = try await store.challengeAnswerContext(deviceID: deviceID, challengeID: challengeID, clientID: clientID, token: token)
        guard context.liveness.isLive else { throw AccessTokenNotLive() }
        guard let client = context.client, client.status == .active else { throw DeviceError.clientInactive }
        let (device, challenge) = try Self.owned(
            context.device, challenge: context.challenge, userID: userID, kind: .deviceSignature)
        guard device.status == .active else { throw DeviceError.deviceState(device.status) }
        let signature = try Self.parseSignature(signatureHex)
        guard try P256Codec.publicKey(hex: device.publicKeyHex).isValidSignature(signature, for: Array(challenge.payload.utf8)) else {
            try await refuseWrongAnswer(to: challenge, device: device, source: source)
        }
        // One unit of work: the challenge answered (the decision, with its attempt counted), the
        // device used, the confirmed family stored and the answer audited, in one transaction;
        // the access token is signed once that has committed.
        let pending = tokens.prepareUserTokens(
            userID: userID, client: client, scopes: scopes.intersection(client.scopes), amr: ["pwd", "hwk"],
            withRefreshToken: client.grants.contains(.refreshToken), confirmationDeviceID: device.id, dpopKeyThumbprint: dpopKeyThumbprint)
        let answered = try await store.answerDeviceChallenge(
            id: challenge.id, deviceID: device.id, refreshToken: pending.refreshTokenRecord,
            audit: AuditRecord(
                actor: "user:\(userID)", action: .challengeAnswer(challenge.kind), subject: "device:\(device.id)", sourceAddress: source,
                outcome: .success, details: ["challenge": challenge.id]),
            at: pending.issuedAt)
        guard answered else { throw DeviceError.challengeClosed }
        return try await tokens.signUserTokens(pending)
    }

    // MARK: Self-service

    public func devices(userID: String) async throws -> [Device] {
        try await store.devices(userID: userID)
    }

    /// Removes one of the user's own devices of either kind (`DELETE /api/user/devices/{id}`):
    /// its confirmed tokens stop working at once, and a PowerAuth activation is removed the
    /// PowerAuth way (its MAC tokens deleted, its integrator called back). A device that is not
    /// the user's, or that cannot be removed (already REMOVED, or expired unfinished), is absent.
    public func removeDevice(userID: String, deviceID: String, source: String?) async throws {
        guard let device = try await store.device(id: deviceID), device.userID == userID else { throw DeviceError.deviceNotFound }
        do {
            try await lifecycle.apply(.remove, to: device, actor: "user:\(userID)", source: source)
        } catch is DeviceLifecycleError {
            throw DeviceError.deviceNotFound
        }
    }

    // MARK: Shared

    /// The user's device and its challenge, in one read.
    private func load(userID: String, deviceID: String, challengeID: String, kind: Challenge.Kind) async throws -> (Device, Challenge) {
        let loaded = try await store.device(id: deviceID, challengeID: challengeID)
        return try Self.owned(loaded?.0, challenge: loaded?.1, userID: userID, kind: kind)
    }

    /// The user's own device (not REMOVED) and its challenge of `kind`; otherwise the 404 that says which is missing.
    private static func owned(_ device: Device?, challenge: Challenge?, userID: String, kind: Challenge.Kind) throws -> (Device, Challenge) {
        guard let device, device.userID == userID, device.status != .removed else { throw DeviceError.deviceNotFound }
        guard let challenge, challenge.kind == kind else { throw DeviceError.challengeNotFound }
        return (device, challenge)
    }

    /// Checks one answer to a binding challenge: reserve an attempt (of the challenge and of the
    /// user's device-binding factor), check the signature, then close the challenge and move the
    /// device out of CREATED — each step atomic. Returns where the device went (ACTIVE, or
    /// PENDING_COMMIT awaiting `approval`).
    private func answerBinding(
        _ challenge: Challenge, device: Device, signatureHex: String, message: [UInt8], approval: Approval?, source: String?
    ) async throws -> Device.Status {
        let signature = try Self.parseSignature(signatureHex)
        let now = time.now()
        guard let attempt = try await store.reserveAttempt(.challenge, subject: .challenge(id: challenge.id), at: now)?.attempts else {
            throw DeviceError.challengeClosed
        }
        let counted = try await store.reserveAttempt(.bindingOTP, subject: .user(id: device.userID), at: now)
        guard counted != nil else { throw DeviceError.locked(until: nil) }
        let key = try P256Codec.publicKey(hex: device.publicKeyHex)
        guard key.isValidSignature(signature, for: message) else {
            try await store.failChallengeIfExhausted(id: challenge.id)
            try await auditWrongSignature(
                userID: device.userID, action: .challengeAnswer(challenge.kind), deviceID: device.id, source: source,
                details: ["challenge": challenge.id, "attempt": String(attempt)])
        }
        let status = try await store.completeBindingChallenge(
            id: challenge.id, deviceID: device.id, userID: device.userID,
            approvalRequired: configuration.requireApprovalForAdditionalDevices, approval: approval, at: now)
        guard let status else { throw DeviceError.challengeClosed }
        try await store.resetAttempts(.bindingOTP, subject: .user(id: device.userID))
        try await store.append(
            AuditRecord(
                actor: "user:\(device.userID)", action: .challengeAnswer(challenge.kind), subject: "device:\(device.id)",
                sourceAddress: source, outcome: .success, details: ["challenge": challenge.id]),
            at: now)
        return status
    }

    /// A signature over a device challenge that did not verify: the attempt is counted (the
    /// challenge FAILS once they are used up) and audited, then the answer is refused. Closed
    /// when no attempt was left to count (answered, expired or exhausted before).
    private func refuseWrongAnswer(to challenge: Challenge, device: Device, source: String?) async throws -> Never {
        guard let attempt = try await store.reserveAttempt(.challenge, subject: .challenge(id: challenge.id), at: time.now())?.attempts
        else { throw DeviceError.challengeClosed }
        try await store.failChallengeIfExhausted(id: challenge.id)
        try await auditWrongSignature(
            userID: device.userID, action: .challengeAnswer(challenge.kind), deviceID: device.id, source: source,
            details: ["challenge": challenge.id, "attempt": String(attempt)])
    }

    /// Records a signature that did not verify, then refuses the request.
    func auditWrongSignature(
        userID: String, action: AuditAction, deviceID: String, source: String?, details: [String: String]
    ) async throws -> Never {
        try await store.append(
            AuditRecord(
                actor: "user:\(userID)", action: action, subject: "device:\(deviceID)", sourceAddress: source, outcome: .failure,
                details: details.merging(["reason": "wrong_signature"]) { $1 }),
            at: time.now())
        throw DeviceError.wrongSignature
    }

    /// A device signature from the wire, or `invalidSignatureEncoding` saying what is wrong with it.
    static func parseSignature(_ hex: String) throws -> P256.Signing.ECDSASignature {
        do {
            return try P256Codec.signature(hex: hex)
        } catch {
            throw DeviceError.invalidSignatureEncoding(error.description)
        }
    }

    /// Tells every ACTIVE device of the user, by push through the outbox (e.g. a new approval).
    /// The message carries no data of the request itself: the device fetches it.
    public func announce(userID: String, message: String) async throws {
        let pushes = try await announcements(userID: userID, message: message)
        guard !pushes.isEmpty else { return }
        try await store.enqueue(pushes)
    }

    /// The pushes `announce` would queue, for a caller that stores them in its own transaction.
    public func announcements(userID: String, message: String) async throws -> [OutboxNotification] {
        try announcements(to: try await store.devices(userID: userID), userID: userID, message: message)
    }

    /// The pushes `announce` would queue, to those of `devices` (the user's, already read) that take them.
    public func announcements(to devices: [Device], userID: String, message: String) throws -> [OutboxNotification] {
        // Passkeys live in browsers and OS authenticators: nothing to push to.
        let active = devices.filter { $0.userID == userID && $0.status == .active && $0.kind != .passkey }
        return try pushes(to: active, userID: userID, message: message, at: time.now())
    }

    /// One push per device, sealed for the outbox.
    func pushes(to devices: [Device], userID: String, message: String, at now: Date) throws -> [OutboxNotification] {
        try devices.map { device in
            OutboxNotification(
                id: SecureRandom.timeOrderedUUID(at: now), kind: .push, userID: userID, recipient: device.id,
                sealedBody: try masterKey.seal(Array(message.utf8), purpose: NotificationSealing.purpose, associatedData: "notification"),
                nextAttemptAt: now, createdAt: now)
        }
    }

    /// A 6-digit OTP, uniformly drawn.
    static func generateOTP() -> String {
        var generator = SystemRandomNumberGenerator()
        return String(format: "%06d", Int.random(in: 0..<1_000_000, using: &generator))
    }
}

/// How notification bodies are sealed at rest.
public enum NotificationSealing {
    public static let purpose = "notification"
}
