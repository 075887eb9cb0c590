import Foundation
import StrongAuthProtocol

/// How a self-service session proves a second factor beside the password.
public enum StepUpMethod: String, Sendable {
    /// An approval pushed to one of the user's ACTIVE devices, decided there with its signature.
    case approval
    /// An SMS OTP to the registered phone, for a user without an ACTIVE device.
    case smsOTP = "sms_otp"
    /// A passkey assertion with user verification (possession and knowledge or inherence in one
    /// gesture): a web sign-in with a passkey, or the hosted login's passkey. Never a step-up a
    /// session waits for: the passkey answers an approval like any device, or signs in directly.
    case passkey
}

/// A step-up a self-service session waits for: the approval or SMS challenge (`id`), and the
/// sensitive action it was asked for, done once it succeeds.
public struct WebStepUp: Sendable, Equatable {
    public var id: String
    public var method: StepUpMethod
    /// A `SelfServiceAction` name (`activate_device`, `remove_device`, `delete_account`,
    /// `change_password`, `change_phone`).
    public var action: String
    /// What the action is about (the application of a new device, the device to remove).
    public var target: String
    /// After it, the step-up can no longer raise the session.
    public var expiresAt: Date

    public init(id: String, method: StepUpMethod, action: String, target: String, expiresAt: Date) {
        self.id = id
        self.method = method
        self.action = action
        self.target = target
        self.expiresAt = expiresAt
    }
}

/// What self-service does only on a two-factor session (PSD2 RTS art. 4, 24): the self-service
/// form of an action in the core policy table (`policyAction`).
public enum SelfServiceAction: Sendable, Equatable {
    /// A new PowerAuth registration of the application: the device becomes ACTIVE at its key exchange.
    case activateDevice(applicationID: String)
    case removeDevice(id: String)
    /// Delete the account: devices, tokens and sessions go, the username becomes free.
    case deleteAccount
    /// Allow a password change: the new password is typed after the step-up, on the two-factor
    /// session (so it never waits in the session row), together with the current one.
    case changePassword
    /// Change the phone number to `number` (E.164, validated before the step-up starts).
    case changePhoneNumber(String)
    /// Open the page that adds a passkey: a passkey is a new bound device (RTS art. 24), so the
    /// session needs a recent second factor, as the API's registration options do.
    case addPasskey

    public var name: String {
        switch self {
        case .activateDevice: "activate_device"
        case .removeDevice: "remove_device"
        case .deleteAccount: "delete_account"
        case .changePassword: "change_password"
        case .changePhoneNumber: "change_phone"
        case .addPasskey: "add_passkey"
        }
    }

    public var target: String {
        switch self {
        case .activateDevice(let applicationID): applicationID
        case .removeDevice(let id): id
        case .deleteAccount, .changePassword, .addPasskey: ""
        case .changePhoneNumber(let number): number
        }
    }

    public init?(name: String, target: String) {
        switch name {
        case "activate_device": self = .activateDevice(applicationID: target)
        case "remove_device": self = .removeDevice(id: target)
        case "delete_account": self = .deleteAccount
        case "change_password": self = .changePassword
        case "change_phone": self = .changePhoneNumber(target)
        case "add_passkey": self = .addPasskey
        default: return nil
        }
    }

    /// The row of `AssurancePolicy` this action is: activating a new device is approving a new
    /// device (RTS art. 24), removing one is removing one.
    public var policyAction: SensitiveAction {
        switch self {
        case .activateDevice, .addPasskey: .approveDevice
        case .removeDevice: .removeDevice
        case .deleteAccount: .deleteAccount
        case .changePassword: .changePassword
        case .changePhoneNumber: .changePhoneNumber
        }
    }

    /// What the device shows (and signs) and the SMS names: what is being done.
    public var text: String {
        switch self {
        case .activateDevice: "Activate a new device in self-service"
        case .removeDevice(let id): "Remove the device \(id.prefix(8)) in self-service"
        case .deleteAccount: "Delete your account"
        case .changePassword: "Change your password"
        // The new number only partly: the approval travels through push services and lands in logs.
        case .changePhoneNumber(let number): "Change the phone number to \(AccountService.mask(number))"
        case .addPasskey: "Add a passkey in self-service"
        }
    }

    /// Whether this action needs a step-up of its own even on a two-factor session: a new device
    /// is bound only by the second factor asked for it (see `StepUpService`), and deleting the
    /// account cannot be undone, so the phone confirms "Delete your account" itself rather than a
    /// session raised minutes ago for something else.
    public var needsOwnStepUp: Bool {
        switch self {
        case .activateDevice, .deleteAccount: true
        case .removeDevice, .changePassword, .changePhoneNumber, .addPasskey: false
        }
    }
}

/// Lifetimes and limits of the self-service step-up.
public struct StepUpConfiguration: Sendable, Equatable {
    /// The one policy table (`assurance.maxAgeSeconds`): which level each action needs and how
    /// long a second factor keeps the session at two factors.
    public var policy: AssurancePolicy
    /// How long the pushed approval, or the SMS OTP, may be answered.
    public var lifetime: TimeInterval
    /// Wrong OTPs per SMS challenge.
    public var maxOTPAttempts: Int
    /// Step-up SMS OTPs sent per user and window (`web.stepUpSmsPerHour`): SMS pumping and cost.
    /// Counted as a budget `stepup:<user>` next to the OTP SMS budgets of `sms`, in the same step.
    public var smsLimit: SMSSendLimit
    /// The OTP SMS budgets per user and per phone number that every OTP SMS draws on (`sms.*`):
    /// a step-up SMS and a device binding SMS count against the same ones.
    public var sms: SMSLimits

    public init(
        policy: AssurancePolicy = .default, lifetime: TimeInterval = 300, maxOTPAttempts: Int = AttemptLimits.standard.challenge,
        smsLimit: SMSSendLimit = SMSSendLimit(),
        sms: SMSLimits = SMSLimits()
    ) {
        self.sms = sms
        self.policy = policy
        self.lifetime = lifetime
        self.maxOTPAttempts = maxOTPAttempts
        self.smsLimit = smsLimit
    }
}

/// Why a step-up did not (yet) succeed.
public enum StepUpError: Error, Equatable, Sendable {
    /// No ACTIVE device and no registered phone: nothing can give a second factor; the bank must
    /// register a phone number first.
    case noSecondFactor
    /// The session waits for no step-up of that kind (or another one replaced it).
    case noStepUp
    /// The device has not decided yet.
    case pending
    /// The approval was rejected, canceled or failed, or the step-up expired: start again.
    case refused(String)
    /// A wrong OTP; `remaining` more tries on this code.
    case wrongCode(remaining: Int)
    /// The SMS code is spent, expired or out of tries, or the user's OTP factor is locked.
    case closed
    /// The user was sent as many step-up SMS as `StepUpConfiguration.smsLimit` allows, or the
    /// user's or the phone number's OTP SMS budget (`StepUpConfiguration.sms`) is spent: try
    /// again in `retryAfter` seconds.
    case tooManySMS(retryAfter: Int)
}

/// The self-service step-up (docs/security-model.md): a password sign-in is one factor. Activating a new
/// device, removing one, deleting the account or changing the password or phone number first
/// asks for a second factor — an approval pushed to an ACTIVE device of the user (the approval
/// engine, with what is being done as its text) or, for a user without an ACTIVE device, an SMS
/// OTP to the registered phone (at most `smsLimit` per user and window). Success raises the
/// session to two factors for `maxAge` (its `auth_time` and method are stored on the session)
/// and does the action.
///
/// A password-only session never yields an ACTIVE device: activation always waits for a step-up
/// of its own, even on a session raised a minute ago for something else. When the user already
/// has a bound device, the step-up approval decided on that device *is* the approval of the new
/// device (RTS art. 24): the registration exists only after it, so its key exchange (which
/// activates it at once) cannot happen without it. Blocking a device stays one-factor: anyone
/// who finds a phone lost must be able to block it with what they remember.
public struct StepUpService: Sendable {
    public typealias Repositories = BackOfficeRepository & DeviceRepository & UserRepository & AuditLog & NotificationOutbox & ApprovalRepository
        & AccountRepository & SMSBudgetRepository

    private let store: any Repositories
    private let approvals: ApprovalService
    private let masterKey: MasterKey
    private let time: any TimeSource
    public let configuration: StepUpConfiguration
    static let otpPurpose = "otp"

    public init(
        store: any Repositories, approvals: ApprovalService, masterKey: MasterKey, time: any TimeSource,
        configuration: StepUpConfiguration = StepUpConfiguration()
    ) {
        self.store = store
        self.approvals = approvals
        self.masterKey = masterKey
        self.time = time
        self.configuration = configuration
    }

    /// Whether the session satisfies what the policy table asks for `action`: a second factor
    /// (acr 2fa) younger than `max_age` — and never for an action that needs its own step-up.
    public func allows(_ action: SelfServiceAction, session: WebSession) -> Bool {
        guard !action.needsOwnStepUp else { return false }
        let acr = session.secondFactorAt == nil ? AssuranceLevel.oneFactor : .twoFactor
        return configuration.policy.requirement(for: action.policyAction).isSatisfied(
            acr: acr.rawValue, authTime: session.secondFactorAt, now: time.now())
    }

    /// Starts the step-up for `action`: an approval pushed to the user's ACTIVE devices, else an
    /// SMS OTP to the registered phone, else `noSecondFactor`. The session then waits for it.
    public func begin(_ action: SelfServiceAction, session: WebSession, source: String?) async throws -> WebStepUp {
        let userID = session.principalID
        guard let user = try await store.user(id: userID) else { throw StepUpError.noSecondFactor }
        let started = try await startSecondFactor(
            for: user, confirming: action.text, title: "Self-service", audit: .selfServiceStepUpStarted, details: ["action": action.name],
            source: source)
        let stepUp = WebStepUp(id: started.id, method: started.method, action: action.name, target: action.target, expiresAt: started.expiresAt)
        guard try await store.beginWebStepUp(tokenHash: session.tokenHash, stepUp: stepUp, at: time.now()) else { throw StepUpError.noStepUp }
        try await audit(
            userID, .selfServiceStepUpStarted, outcome: .success, source: source,
            ["action": action.name, "method": stepUp.method.rawValue, "stepUp": stepUp.id])
        return stepUp
    }

    /// A second factor for `user` confirming `text` (what the device shows and signs, or the SMS
    /// names): an approval pushed to the user's ACTIVE devices, else an SMS OTP to the registered
    /// phone within its budgets, else `noSecondFactor`. Shared by the self-service step-up and the
    /// hosted login (`AuthorizationService`); refusals are audited as `audit` with `details`.
    public func startSecondFactor(
        for user: User, confirming text: String, title: String, audit auditAction: AuditAction, details: [String: String], source: String?
    ) async throws -> (id: String, method: StepUpMethod, expiresAt: Date) {
        let userID = user.id
        let now = time.now()
        let expiresAt = now.addingTimeInterval(configuration.lifetime)
        if try await store.devices(userID: userID).contains(where: { $0.status == .active }) {
            let approval = try await approvals.createSelfServiceApproval(
                user: user, text: text, title: title, lifetime: configuration.lifetime, source: source)
            return (approval.id, .approval, approval.expiresAt)
        } else if let phone = user.phone {
            // Counted before anything is sent, in the store (one conditional upsert per budget,
            // all or none), so several nodes together send no more than the limits either: the
            // step-up's own per-user limit and the OTP SMS budgets of the user and the number.
            let budgets =
                [SMSBudget(key: "stepup:\(userID)", limit: configuration.smsLimit.maxPerWindow)]
                + configuration.sms.budgets(userID: userID, realm: user.realmID, phone: phone, masterKey: masterKey)
            if case .exhausted(let retryAt) = try await store.reserveSMS(budgets, at: now, window: configuration.sms.window) {
                try await audit(userID, auditAction, outcome: .failure, source: source, details.merging(["reason": "sms_limit"]) { $1 })
                throw StepUpError.tooManySMS(retryAfter: DeviceService.seconds(until: retryAt, from: now, atMost: configuration.sms.window))
            }
            let otp = Self.generateOTP()
            let challengeID = SecureRandom.uuid()
            let challenge = Challenge(
                id: challengeID, kind: .webStepUp, userID: userID, deviceID: "",
                payload: try masterKey.seal(Array(otp.utf8), purpose: Self.otpPurpose, associatedData: challengeID),
                maxAttempts: configuration.maxOTPAttempts, createdAt: now, expiresAt: expiresAt)
            // The code is named with what it confirms, so an SMS never authorizes something unseen.
            let message = "Your StrongAuth code to confirm \"\(text)\" is \(otp). It is valid for \(Int(configuration.lifetime / 60)) minutes."
            let notification = OutboxNotification(
                id: SecureRandom.uuid(), kind: .smsOTP, userID: userID, recipient: phone,
                sealedBody: try masterKey.seal(Array(message.utf8), purpose: NotificationSealing.purpose, associatedData: "notification"),
                nextAttemptAt: now, createdAt: now)
            try await store.insertChallenge(challenge, notifications: [notification])
            return (challengeID, .smsOTP, expiresAt)
        } else {
            try await audit(userID, auditAction, outcome: .failure, source: source, details.merging(["reason": "no_second_factor"]) { $1 })
            throw StepUpError.noSecondFactor
        }
    }

    /// The approval the session waits for (to show its status), `nil` for an SMS step-up.
    public func approval(of session: WebSession) async throws -> Approval? {
        guard let stepUp = session.stepUp, stepUp.method == .approval,
            let approval = try await store.approval(id: stepUp.id), approval.userID == session.principalID
        else { return nil }
        return approval
    }

    /// Completes an approval step-up once the device approved it: raises the session (once) and
    /// returns the action to do now.
    public func completeApproval(session: WebSession, source: String?) async throws -> SelfServiceAction {
        guard let stepUp = session.stepUp, stepUp.method == .approval, let action = SelfServiceAction(name: stepUp.action, target: stepUp.target),
            let approval = try await store.approval(id: stepUp.id), approval.userID == session.principalID
        else { throw StepUpError.noStepUp }
        let now = time.now()
        switch approval.status(at: now) {
        case .pending: throw StepUpError.pending
        case .approved: break
        case let other:
            try await audit(
                session.principalID, .selfServiceStepUp, outcome: .failure, source: source, ["stepUp": stepUp.id, "reason": other.rawValue])
            throw StepUpError.refused(other.rawValue)
        }
        return try await raise(session, stepUp: stepUp, action: action, source: source)
    }

    /// Checks the SMS OTP typed into the browser: each try first reserves an attempt on the
    /// challenge and on the user's OTP factor (atomic, counted before the check), so no number
    /// of parallel guesses gets more than the limit. The right code raises the session (once).
    public func verifyOTP(session: WebSession, code: String, source: String?) async throws -> SelfServiceAction {
        guard let stepUp = session.stepUp, stepUp.method == .smsOTP, let action = SelfServiceAction(name: stepUp.action, target: stepUp.target)
        else { throw StepUpError.noStepUp }
        try await checkOTP(challengeID: stepUp.id, userID: session.principalID, code: code, audit: .selfServiceStepUp, source: source)
        return try await raise(session, stepUp: stepUp, action: action, source: source)
    }

    /// The SMS OTP check of `startSecondFactor`'s challenge `challengeID` for `userID`: each try
    /// first reserves an attempt on the challenge and on the user's OTP factor (atomic, counted
    /// before the check); the right code completes the challenge once. Refusals are audited as
    /// `audit`; success is the caller's to record.
    public func checkOTP(challengeID: String, userID: String, code: String, audit auditAction: AuditAction, source: String?) async throws {
        guard let challenge = try await store.challenge(id: challengeID), challenge.kind == .webStepUp, challenge.userID == userID else {
            throw StepUpError.noStepUp
        }
        let now = time.now()
        // Wrong step-up OTPs per user across challenges count on the `bindingOTP` factor: the
        // step-up OTP is what binds a first device.
        guard let attempt = try await store.reserveAttempt(.challenge, subject: .challenge(id: challenge.id), at: now) else {
            throw StepUpError.closed
        }
        guard try await store.reserveAttempt(.bindingOTP, subject: .user(id: userID), at: now) != nil else {
            try await audit(userID, auditAction, outcome: .failure, source: source, ["stepUp": challengeID, "reason": "locked"])
            throw StepUpError.closed
        }
        let expected = String(decoding: try masterKey.open(challenge.payload, purpose: Self.otpPurpose, associatedData: challenge.id), as: UTF8.self)
        let presented = code.trimmingCharacters(in: .whitespaces)
        guard presented.utf8.count == expected.utf8.count, ConstantTime.equals(presented, expected) else {
            try await store.failChallengeIfExhausted(id: challenge.id)
            try await audit(
                userID, auditAction, outcome: .failure, source: source,
                ["stepUp": challengeID, "reason": "wrong_code", "attempt": String(attempt.attempts ?? 0)])
            throw StepUpError.wrongCode(remaining: attempt.remaining)
        }
        guard try await store.completeChallenge(id: challenge.id, at: now, activatingDevice: nil) else { throw StepUpError.closed }
        try await store.resetAttempts(.bindingOTP, subject: .user(id: userID))
    }

    private func raise(_ session: WebSession, stepUp: WebStepUp, action: SelfServiceAction, source: String?) async throws -> SelfServiceAction {
        guard try await store.completeWebStepUp(tokenHash: session.tokenHash, stepUpID: stepUp.id, at: time.now()) else {
            try await audit(session.principalID, .selfServiceStepUp, outcome: .failure, source: source, ["stepUp": stepUp.id, "reason": "expired"])
            throw StepUpError.refused("EXPIRED")
        }
        try await audit(
            session.principalID, .selfServiceStepUp, outcome: .success, source: source,
            ["stepUp": stepUp.id, "method": stepUp.method.rawValue, "action": stepUp.action])
        return action
    }

    private func audit(_ userID: String, _ action: AuditAction, outcome: AuditRecord.Outcome, source: String?, _ details: [String: String])
        async throws
    {
        try await store.append(
            AuditRecord(
                actor: "user:\(userID)", action: action, subject: "user:\(userID)", sourceAddress: source, outcome: outcome, details: details),
            at: time.now())
    }

    /// A 6-digit OTP, uniformly drawn.
    static func generateOTP() -> String {
        var generator = SystemRandomNumberGenerator()
        return String(format: "%06d", Int.random(in: 0..<1_000_000, using: &generator))
    }
}
