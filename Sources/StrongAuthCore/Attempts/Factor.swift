import Foundation

/// Every secret whose wrong answers StrongAuth counts and limits (PSD2 RTS art. 4(3)(b): at most
/// a few consecutive failures of one factor, then a block). One vocabulary for all of them:
/// `AttemptRepository.reserveAttempt(_:subject:at:)` counts an attempt of a factor against a
/// subject, `AttemptLimits` is the one table of their limits.
///
/// Two kinds of counting, by when the attempt is counted:
/// - *before the check* (`countsBeforeCheck`): the attempt is reserved, then the secret is
///   checked, and a success resets the count. Concurrent guesses on several nodes can never get
///   more tries than the limit, because each one needs its own reservation first.
/// - *after a failed check*: the count is the protocol's own failure counter (PowerAuth's
///   `failedAttempts`, a mobile-token operation's `failureCount`), which a valid signature
///   also resets or which ends with the operation.
public enum Factor: String, Sendable, CaseIterable {
    /// The user's password: the OAuth password grant, self-service sign-in, a password change.
    case password
    /// Answers to device-binding challenges and step-up SMS OTPs, across all of the user's
    /// bindings: the step-up OTP is what binds a first device, so they share one counter.
    case bindingOTP = "binding_otp"
    /// Answers to one challenge (a device binding, a push approval, a step-up OTP): per challenge.
    case challenge
    /// Answers to login challenges with one access tool of the user (ABN AMRO login protocol:
    /// `attemptsLeft`).
    case accessTool = "access_tool"
    /// Failed PowerAuth signatures (knowledge or biometry with possession) of an ACTIVE
    /// activation (PowerAuth "Activation Status": `failedAttempts`, `maxFailedAttempts`).
    case powerAuthSignature = "powerauth_signature"
    /// Wrong activation OTPs of a CREATED or PENDING_COMMIT activation (PowerAuth "Additional
    /// Activation OTP"); the same counter as the signatures.
    case powerAuthActivationOTP = "powerauth_activation_otp"
    /// Wrong answers to one pending approval (PowerAuth mobile token operations: `failureCount`,
    /// `maxFailureCount`).
    case approvalAnswer = "approval_answer"
    /// The operator's password at back-office sign-in.
    case operatorPassword = "operator_password"
    /// The operator's TOTP code at back-office sign-in.
    case operatorTOTP = "operator_totp"

    /// Whose counter an attempt of this factor counts on.
    public var subjectKind: AttemptSubject.Kind {
        switch self {
        case .password, .bindingOTP: .user
        case .challenge: .challenge
        case .accessTool: .accessTool
        case .powerAuthSignature, .powerAuthActivationOTP: .activation
        case .approvalAnswer: .approval
        case .operatorPassword, .operatorTOTP: .operator
        }
    }

    /// Whether the attempt is reserved before the secret is checked (see the type's comment).
    public var countsBeforeCheck: Bool {
        switch self {
        case .password, .bindingOTP, .challenge, .accessTool, .operatorPassword, .operatorTOTP: true
        case .powerAuthSignature, .powerAuthActivationOTP, .approvalAnswer: false
        }
    }

    /// What reaching the limit does.
    public var atLimit: AttemptLimits.Consequence {
        switch self {
        case .password, .bindingOTP, .operatorPassword, .operatorTOTP: .lockedForAWhile
        case .challenge: .challengeClosed
        case .accessTool: .blockedUntilReset
        case .powerAuthSignature: .blockedUntilReset
        case .powerAuthActivationOTP: .removed
        case .approvalAnswer: .failed
        }
    }

    /// The user's factors whose counters an operator's unlock resets.
    public static let userLockouts: [Factor] = [.password, .bindingOTP]
}

/// The one table of attempt limits. The defaults are the deployment defaults of the settings
/// (docs/configuration.md); an installation overrides them there.
///
/// | Factor                   | Counter of            | Default  | At the limit                                   | Setting                                          |
/// |--------------------------|-----------------------|----------|------------------------------------------------|--------------------------------------------------|
/// | `password`               | user                  | 5        | locked 900 s                                   | `lockout.maxFailures`, `lockout.durationSeconds` |
/// | `bindingOTP`             | user                  | 10       | locked 3600 s                                  | `devices.bindingMaxFailures`, `devices.bindingLockSeconds` |
/// | `operatorPassword`       | operator              | 5        | locked 900 s                                   | as `password`                                    |
/// | `operatorTOTP`           | operator              | 5        | locked 900 s                                   | as `password`                                    |
/// | `challenge`              | challenge             | 5        | the challenge takes no more answers            | `devices.maxAttempts` (step-up OTP: 5)           |
/// | `accessTool`             | user's access tool    | 3        | the tool is blocked until reset or unblocked   | `sessions.maxAttempts`                           |
/// | `powerAuthSignature`     | PowerAuth activation  | 5        | ACTIVE → BLOCKED (`MAX_FAILED_ATTEMPTS`)       | `powerauth.maxFailedAttempts`                    |
/// | `powerAuthActivationOTP` | PowerAuth activation  | 5        | → REMOVED                                      | `powerauth.maxFailedAttempts` (same counter)     |
/// | `approvalAnswer`         | approval              | 5        | PENDING → FAILED                               | the operation template's `maxFailureCount`       |
///
/// The timed locks (`lockout(for:)`) are applied by the store when it reserves; the other
/// maximums are written into the counted row when it is created (a challenge's `maxAttempts`,
/// an access tool's `attemptsLeft`, an activation's `maxFailedAttempts`, an approval's
/// `maxFailureCount`), so a configuration change never alters a count already running.
public struct AttemptLimits: Sendable, Equatable {
    /// What reaching a factor's limit does.
    public enum Consequence: String, Sendable {
        /// Refused until the lock runs out; then the count restarts.
        case lockedForAWhile = "locked_for_a_while"
        /// The challenge takes no more answers; a new one must be started.
        case challengeClosed = "challenge_closed"
        /// Refused until an operator (or, for an access tool, a correct reset) unblocks it.
        case blockedUntilReset = "blocked_until_reset"
        /// The unfinished activation is removed.
        case removed
        /// The approval ends as FAILED.
        case failed
    }

    public var password: LockoutPolicy
    public var bindingOTP: LockoutPolicy
    public var operatorPassword: LockoutPolicy
    public var operatorTOTP: LockoutPolicy
    /// Answers per challenge (device binding, push approval, step-up OTP).
    public var challenge: Int
    public var accessTool: Int
    /// Shared by `powerAuthSignature` and `powerAuthActivationOTP` (one column per activation).
    public var powerAuth: Int
    /// Wrong answers per approval the server itself creates (new device, self-service, action
    /// requests); integrators choose their templates' own.
    public var approvalAnswer: Int

    public init(
        password: LockoutPolicy = LockoutPolicy(maxFailures: 5, lockDuration: 900),
        bindingOTP: LockoutPolicy = LockoutPolicy(maxFailures: 10, lockDuration: 3600),
        operatorPassword: LockoutPolicy? = nil, operatorTOTP: LockoutPolicy? = nil,
        challenge: Int = 5, accessTool: Int = 3, powerAuth: Int = 5, approvalAnswer: Int = 5
    ) {
        self.password = password
        self.bindingOTP = bindingOTP
        self.operatorPassword = operatorPassword ?? password
        self.operatorTOTP = operatorTOTP ?? password
        self.challenge = challenge
        self.accessTool = accessTool
        self.powerAuth = powerAuth
        self.approvalAnswer = approvalAnswer
    }

    /// The deployment defaults: the table above.
    public static let standard = AttemptLimits()

    /// The most attempts of `factor` before its limit applies.
    public func maxAttempts(_ factor: Factor) -> Int {
        switch factor {
        case .password, .bindingOTP, .operatorPassword, .operatorTOTP: lockout(for: factor)?.maxFailures ?? 1
        case .challenge: challenge
        case .accessTool: accessTool
        case .powerAuthSignature, .powerAuthActivationOTP: powerAuth
        case .approvalAnswer: approvalAnswer
        }
    }

    /// The timed lock of the factors that lock for a while; `nil` for the others.
    public func lockout(for factor: Factor) -> LockoutPolicy? {
        switch factor {
        case .password: password
        case .bindingOTP: bindingOTP
        case .operatorPassword: operatorPassword
        case .operatorTOTP: operatorTOTP
        case .challenge, .accessTool, .powerAuthSignature, .powerAuthActivationOTP, .approvalAnswer: nil
        }
    }
}
