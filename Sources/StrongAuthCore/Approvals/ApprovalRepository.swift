import Foundation

/// Approvals and operation templates. Every way out of PENDING is one conditional update that
/// also refuses an expired approval, so two nodes can never both decide one approval.
public protocol ApprovalRepository: AttemptRepository {
    /// Stores a template; replaces one of the same application and name.
    func upsertTemplate(_ template: OperationTemplate) async throws
    func template(applicationID: String, name: String) async throws -> OperationTemplate?
    /// What creating an operation reads, in one read: the integration user `integrationUserName`
    /// (`nil` when absent: then nothing else), and in its realm and applications the template
    /// `name` of the first of its applications that has one, with its application (for the
    /// callback), and the user `username` with their devices that are not REMOVED (whom the
    /// operation is announced to); each `nil` when absent. The caller's credentials are checked
    /// against the user read here (`ApprovalService.createOperation(caller:…)`).
    func operationTargets(template name: String, username: String, integrationUserName: String) async throws
        -> (integrationUser: IntegrationUser?, targets: OperationTargets)
    /// Whom an action request's `uid` names, with their devices that are not REMOVED (whom it is
    /// announced to), in one read: the user whose id it is (of any realm), else the user of
    /// `realm` with that username — as `user(id:)` and then `user(realm:username:)` would find it.
    func actionRequestRecipient(uid: String, realm: String) async throws -> (user: User, devices: [Device])?

    /// Stores a new PENDING approval, the webhooks announcing it, the pushes telling the user's
    /// devices and its audit record, in one transaction.
    func insertApproval(_ approval: Approval, webhooks: [WebhookDelivery], notifications: [OutboxNotification], audit: AuditRecord?)
        async throws
    func approval(id: String) async throws -> Approval?
    /// The approval `id` and the integration user `integrationUserName`, each `nil` when absent, in
    /// one read: the operation routes check the caller's credentials against the user read here.
    func approval(id: String, integrationUserName: String) async throws -> (approval: Approval?, integrationUser: IntegrationUser?)
    /// The approval `id`, the device `deviceID` (a device answering it) and the approval's
    /// application (an operation's, for its callback), each `nil` when absent, and the liveness
    /// of the access token presented (`token`) — in one read.
    func approval(id: String, answeredBy deviceID: String, token: AccessTokenLivenessQuery) async throws
        -> (approval: Approval?, device: Device?, application: PowerAuthApplication?, liveness: AccessTokenLiveness)
    /// The user's approvals, newest first; only the PENDING, unexpired ones with `pendingOnly`.
    func approvals(userID: String, pendingOnly: Bool, at now: Date, limit: Int) async throws -> [Approval]
    /// The user's PENDING, unexpired approvals as the device's list shows them, newest first, and
    /// the liveness of the access token presented (`token`), in one read.
    func pendingApprovals(userID: String, at now: Date, limit: Int, token: AccessTokenLivenessQuery) async throws
        -> (approvals: [ApprovalSummary], liveness: AccessTokenLiveness)

    /// `PENDING → to` (APPROVED, REJECTED, CANCELED) while unexpired, in one conditional update,
    /// queueing `webhooks` and journaling `audit` only if it moved. `false` when it was no longer
    /// PENDING or expired. With `actionToken`, the confirmed action request's short-lived token is
    /// stored in the same transaction.
    func decideApproval(
        id: String, to: Approval.Status, reason: String?, webhooks: [WebhookDelivery], actionToken: ActionToken?, audit: AuditRecord?,
        at now: Date
    ) async throws -> Bool

    /// Uses a short-lived action token once, as one unit of work: the token is marked used (only
    /// unused, unexpired, of `clientID`, for this action and this exact payload: the one
    /// conditional update that decides), its action request is read, and `audit` is journaled
    /// about that request — its `subject` is set here to `approval:<id>`, as only the update
    /// knows which request the token confirmed. Returns the action request; `nil`, with nothing
    /// written, otherwise.
    func useActionToken(tokenHash: String, action: String, payloadHash: String, clientID: String, audit: AuditRecord, at now: Date)
        async throws -> Approval?

    /// PENDING approvals whose expiry has passed (for the sweeper), oldest first.
    func expiredPendingApprovals(at now: Date, limit: Int) async throws -> [Approval]
    /// `PENDING → EXPIRED` once the expiry has passed, in one conditional update, with `webhooks`.
    func expireApproval(id: String, webhooks: [WebhookDelivery], at now: Date) async throws -> Bool
}

extension ApprovalRepository {
    /// A new approval without pushes or audit record (fixtures and tests of other steps).
    public func insertApproval(_ approval: Approval, webhooks: [WebhookDelivery]) async throws {
        try await insertApproval(approval, webhooks: webhooks, notifications: [], audit: nil)
    }

    /// A decision without an audit record (tests of the decision alone).
    public func decideApproval(
        id: String, to: Approval.Status, reason: String?, webhooks: [WebhookDelivery], actionToken: ActionToken?, at now: Date
    ) async throws -> Bool {
        try await decideApproval(id: id, to: to, reason: reason, webhooks: webhooks, actionToken: actionToken, audit: nil, at: now)
    }
}

/// The short-lived token of a confirmed action request (Shine), as stored: by hash.
public struct ActionToken: Sendable, Equatable {
    public var tokenHash: String
    public var approvalID: String
    public var clientID: String
    public var action: String
    /// SHA-256 (hex) of the canonical JSON payload.
    public var payloadHash: String
    public var expiresAt: Date

    public init(tokenHash: String, approvalID: String, clientID: String, action: String, payloadHash: String, expiresAt: Date) {
        self.tokenHash = tokenHash
        self.approvalID = approvalID
        self.clientID = clientID
        self.action = action
        self.payloadHash = payloadHash
        self.expiresAt = expiresAt
    }
}

/// What creating an operation reads for its caller (`ApprovalRepository.operationTargets`).
public struct OperationTargets: Sendable {
    /// The template, from the first application that has it, with that application (for the
    /// callback); `nil` when none has it.
    public var template: (template: OperationTemplate, application: PowerAuthApplication?)?
    /// The user and its devices that are not REMOVED (whom the operation is announced to); `nil`
    /// when the user does not exist yet.
    public var recipient: (userID: String, devices: [Device])?

    public init(
        template: (template: OperationTemplate, application: PowerAuthApplication?)?, recipient: (userID: String, devices: [Device])?
    ) {
        self.template = template
        self.recipient = recipient
    }
}
