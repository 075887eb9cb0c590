import Foundation

/// A back-office operator: signs in to `/admin` with username, password and a TOTP code.
public struct Operator: Sendable, Equatable {
    public enum Status: String, Sendable {
        case active
        case disabled
    }

    public var id: String
    public var username: String
    /// bcrypt.
    public var passwordHash: String
    /// The TOTP secret, sealed under the master key with the operator id as associated data.
    public var sealedTOTPSecret: String
    public var status: Status
    /// The last TOTP time step accepted: a code is accepted once (RFC 6238 §5.2).
    public var lastTOTPStep: Int64
    public var createdAt: Date
    /// The realm whose users, devices, approvals and audit records the operator sees and changes.
    public var realmID: String

    public init(
        id: String, username: String, passwordHash: String, sealedTOTPSecret: String, status: Status = .active, lastTOTPStep: Int64 = 0,
        createdAt: Date, realmID: String = Realm.defaultID
    ) {
        self.realmID = realmID
        self.id = id
        self.username = username
        self.passwordHash = passwordHash
        self.sealedTOTPSecret = sealedTOTPSecret
        self.status = status
        self.lastTOTPStep = lastTOTPStep
        self.createdAt = createdAt
    }
}

/// Who a web session belongs to: an operator (`/admin`) or an end user (`/self-service`).
public enum WebSessionKind: String, Sendable {
    case `operator`
    case user
}

/// A signed-in browser: stored by the keyed hash of its cookie token only.
///
/// ```
/// (sign-in) ──▶ live ──(a request within the idle timeout: expiry moves on)──▶ live
///                 │──(idle timeout passes, or the absolute lifetime)──▶ expired (refused, swept)
///                 └──(logout)──▶ deleted
/// ```
public struct WebSession: Sendable, Equatable {
    public var tokenHash: String
    public var kind: WebSessionKind
    /// The operator's or user's id.
    public var principalID: String
    public var createdAt: Date
    public var expiresAt: Date
    /// The assurance (`auth_time` of the last second factor; `nil`: the password alone, one
    /// factor). A session counts as two-factor for `StepUpConfiguration.maxAge` after it.
    public var secondFactorAt: Date?
    /// How that second factor was given (`approval` or `sms_otp`): the session's `amr` beside the password.
    public var secondFactorMethod: StepUpMethod?
    /// The step-up this session waits for, if any (see `StepUpService`).
    public var stepUp: WebStepUp?

    public init(
        tokenHash: String, kind: WebSessionKind, principalID: String, createdAt: Date, expiresAt: Date, secondFactorAt: Date? = nil,
        secondFactorMethod: StepUpMethod? = nil, stepUp: WebStepUp? = nil
    ) {
        self.tokenHash = tokenHash
        self.kind = kind
        self.principalID = principalID
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.secondFactorAt = secondFactorAt
        self.secondFactorMethod = secondFactorMethod
        self.stepUp = stepUp
    }
}

/// Counts of the dashboard.
public struct BackOfficeCounts: Sendable, Equatable {
    public var users: Int
    /// Devices by status (REMOVED included).
    public var devicesByStatus: [String: Int]
    public var pendingApprovals: Int
    /// Webhook deliveries by status.
    public var webhooksByStatus: [String: Int]

    public init(users: Int, devicesByStatus: [String: Int], pendingApprovals: Int, webhooksByStatus: [String: Int]) {
        self.users = users
        self.devicesByStatus = devicesByStatus
        self.pendingApprovals = pendingApprovals
        self.webhooksByStatus = webhooksByStatus
    }
}

/// What the back office and self-service need from storage: operators, web sessions, and the
/// read models of the screens (searches and recent lists across users).
public protocol BackOfficeRepository: AttemptRepository {
    // MARK: Operators

    /// Stores a new operator; `StoreError.conflict` when the username is taken.
    func insertOperator(_ operator: Operator) async throws
    func `operator`(id: String) async throws -> Operator?
    func `operator`(username: String) async throws -> Operator?
    /// Accepts TOTP time step `step` once: `false` when that step or a later one was already used.
    func acceptTOTPStep(operatorID: String, step: Int64) async throws -> Bool

    // MARK: Web sessions

    func insertWebSession(_ session: WebSession) async throws
    /// The live session with this token hash, its expiry moved to `newExpiry`, in one conditional
    /// update (`… WHERE expires_at > now AND created_at > notBefore`); `nil` when expired or unknown.
    func touchWebSession(tokenHash: String, at now: Date, newExpiry: Date, notCreatedBefore: Date) async throws -> WebSession?
    func deleteWebSession(tokenHash: String) async throws
    /// Records the step-up the live session now waits for (replacing an earlier one); `false`
    /// when the session is gone.
    func beginWebStepUp(tokenHash: String, stepUp: WebStepUp, at now: Date) async throws -> Bool
    /// Raises the live session to two factors at `now` and clears its step-up, in one conditional
    /// update (`… WHERE step_up_id = stepUpID AND expires_at > now`): a step-up raises one
    /// session once, also when several nodes complete it at the same time. `false` otherwise.
    func completeWebStepUp(tokenHash: String, stepUpID: String, at now: Date) async throws -> Bool
    /// Deletes expired sessions; returns how many.
    @discardableResult
    func deleteExpiredWebSessions(at now: Date) async throws -> Int

    // MARK: Read models
    //
    // Every read model is of one realm (the operator's): another realm's objects are neither
    // listed nor counted.

    func backOfficeCounts(realm: String, at now: Date) async throws -> BackOfficeCounts
    /// The realm's users whose username or id contains `query` (case-insensitive), newest first.
    func searchUsers(realm: String, query: String, limit: Int) async throws -> [User]
    /// Every device of the user, REMOVED ones too, newest first.
    func allDevices(userID: String) async throws -> [Device]
    /// The newest devices of the realm's users, optionally of one status.
    func recentDevices(realm: String, status: Device.Status?, limit: Int) async throws -> [Device]
    /// The newest approvals of the realm's users (or of one user).
    func recentApprovals(realm: String, userID: String?, limit: Int) async throws -> [Approval]
    /// The newest webhook deliveries of the realm's subscribers (applications and clients).
    func webhookDeliveries(realm: String, limit: Int) async throws -> [WebhookDelivery]
    /// The realm's active PowerAuth applications.
    func applications(realm: String) async throws -> [PowerAuthApplication]
    /// The realm's audit events, newest first, optionally only failures or only those about
    /// `subject`. Installation-wide records (no realm: key rotation, records from before realms)
    /// belong to the default realm's back office.
    func recentAuditEvents(realm: String, subject: String?, failuresOnly: Bool, before sequence: Int64?, limit: Int) async throws
        -> [AuditEvent]
}
