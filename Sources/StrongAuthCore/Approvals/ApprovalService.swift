import Crypto
import Foundation
import StrongAuthProtocol

/// The approval engine (docs/approvals.md, docs/powerauth.md): operations created by integrators, decided on
/// a user's device. Every decision is one conditional update; what the device approves must be
/// exactly the data it was shown (dynamic linking, RTS art. 5), or the failure count rises and,
/// at the maximum, the operation FAILS.
public struct ApprovalService: Sendable {
    public typealias Repositories = ApprovalRepository & PowerAuthRepository & ClientRepository & UserRepository & AuditLog

    let store: any Repositories
    let time: any TimeSource
    /// Derives action requests' short-lived tokens and hashes them for storage.
    let tokenKey: KeyedHash
    let secretHasher: KeyedHash
    /// Devices: pushes announcing new approvals, and the keys of ECDSA-bound devices.
    let devices: DeviceService
    public let configuration: ApprovalConfiguration
    /// Checks the credentials of operation routes that read the integration user with the operation.
    var integrationUserCheck: IntegrationUserCheck { IntegrationUserCheck(store: store, secretHasher: secretHasher, time: time) }

    public init(
        store: any Repositories, time: any TimeSource, tokenKey: KeyedHash, secretHasher: KeyedHash, devices: DeviceService,
        configuration: ApprovalConfiguration = ApprovalConfiguration()
    ) {
        self.store = store
        self.time = time
        self.tokenKey = tokenKey
        self.secretHasher = secretHasher
        self.devices = devices
        self.configuration = configuration
    }

    // MARK: Integrator side (`/powerauth-cloud/v2/operations`)

    /// A PENDING operation from one of the caller's applications' templates, for the integration
    /// user whose credentials (`caller`) are checked against the user read together with the
    /// template and the recipient — one read, not two; `PowerAuthServiceError.unauthorized`,
    /// before anything about the request is validated, when they are wrong. `expiresAt` may
    /// shorten the template's expiry, never lengthen it.
    public func createOperation(
        caller: IntegrationCredentials, userID externalUserID: String, templateName: String, parameters: [String: String],
        externalID: String?, expiresAt requestedExpiry: Date?, source: String?
    ) async throws -> Approval {
        let (user, targets) = try await store.operationTargets(template: templateName, username: externalUserID, integrationUserName: caller.name)
        guard let integrationUser = try await integrationUserCheck.user(user, presenting: caller, source: source) else {
            throw PowerAuthServiceError.unauthorized
        }
        do {
            try Validate.username(externalUserID)
        } catch {
            throw ApprovalError.validation(field: "userId", message: "must be 1–128 printable characters without spaces")
        }
        guard parameters.count <= 32 else { throw ApprovalError.validation(field: "parameters", message: "at most 32 parameters") }
        if let externalID, !(1...256).contains(externalID.utf8.count) {
            throw ApprovalError.validation(field: "externalId", message: "1–256 characters")
        }
        guard let (template, application) = targets.template else { throw ApprovalError.templateNotFound }
        let data = try template.render(parameters)
        let now = time.now()
        var expiresAt = now.addingTimeInterval(template.expiration)
        if let requestedExpiry {
            guard requestedExpiry > now else { throw ApprovalError.validation(field: "timestampExpires", message: "must be in the future") }
            expiresAt = min(expiresAt, requestedExpiry)
        }
        let recipient = targets.recipient
        // A user met for the first time is created (and has no device to tell yet).
        let userID: String
        if let recipient {
            userID = recipient.userID
        } else {
            userID = try await store.ensureUser(realm: integrationUser.realmID, externalUserID: externalUserID, at: now)
        }
        let screen = template.screen(parameters)
        let approval = Approval(
            id: SecureRandom.timeOrderedUUID(at: now), kind: .operation, userID: userID, externalUserID: externalUserID,
            applicationID: template.applicationID, template: template.name, operationType: template.operationType,
            parameters: parameters, data: data, maxFailureCount: template.maxFailureCount, signatureTypes: template.signatureTypes,
            externalID: externalID, createdAt: now, expiresAt: expiresAt, updatedAt: now, title: screen.title, message: screen.message)
        try await insert(
            approval, webhooks: try operationWebhooks(for: approval, status: .pending, application: application, at: now),
            devices: recipient?.devices ?? [], actor: "integration-user:\(integrationUser.name)", source: source)
        return approval
    }

    /// The integration user `caller` names, when its credentials are right;
    /// `PowerAuthServiceError.unauthorized` otherwise (a route's refusal of a bad request waits
    /// for this, so a wrong caller learns nothing about its request).
    public func integrationUser(_ caller: IntegrationCredentials, source: String?) async throws -> IntegrationUser {
        guard let user = try await integrationUserCheck.authenticate(caller, source: source) else { throw PowerAuthServiceError.unauthorized }
        return user
    }

    /// `GET /v2/operations/{id}` for an integration user of the operation's application.
    public func operation(id: String, for integrationUser: IntegrationUser) async throws -> Approval {
        try operation(try await store.approval(id: id), for: integrationUser)
    }

    /// `GET /v2/operations/{id}`: the operation, for the integration user whose credentials
    /// (`caller`) are checked against the user read with it — one read, not two;
    /// `PowerAuthServiceError.unauthorized` when they are wrong, whether or not the operation exists.
    public func operation(id: String, caller: IntegrationCredentials, source: String?) async throws -> Approval {
        let (approval, user) = try await store.approval(id: id, integrationUserName: caller.name)
        guard let integrationUser = try await integrationUserCheck.user(user, presenting: caller, source: source) else {
            throw PowerAuthServiceError.unauthorized
        }
        return try operation(approval, for: integrationUser)
    }

    /// `approval` if it is an operation of one of the integration user's applications.
    private func operation(_ approval: Approval?, for integrationUser: IntegrationUser) throws -> Approval {
        guard let approval, approval.kind == .operation, let applicationID = approval.applicationID,
            integrationUser.mayUse(applicationID: applicationID)
        else { throw ApprovalError.notFound }
        return approval
    }

    /// The user's operations in the integration user's applications, newest first.
    public func operations(externalUserID: String, pendingOnly: Bool, for integrationUser: IntegrationUser) async throws -> [Approval] {
        guard let user = try await store.user(realm: integrationUser.realmID, username: externalUserID) else { return [] }
        return try await store.approvals(userID: user.id, pendingOnly: pendingOnly, at: time.now(), limit: 100).filter {
            $0.kind == .operation && $0.applicationID.map(integrationUser.mayUse(applicationID:)) == true
        }
    }

    /// `DELETE /v2/operations/{id}`: PENDING → CANCELED.
    public func cancel(id: String, by integrationUser: IntegrationUser, source: String?) async throws -> Approval {
        let approval = try await operation(id: id, for: integrationUser)
        return try await decide(approval, to: .canceled, reason: nil, actor: "integration-user:\(integrationUser.name)", source: source)
    }

    // MARK: Device side

    /// The user's pending approvals (one list for every face).
    public func pending(userID: String) async throws -> [Approval] {
        try await store.approvals(userID: userID, pendingOnly: true, at: time.now(), limit: 100)
    }

    /// The same list for a caller whose access token's liveness is read with it (`token`):
    /// `AccessTokenNotLive` when it is no longer live.
    public func pending(userID: String, token: AccessTokenLivenessQuery) async throws -> [ApprovalSummary] {
        let read = try await store.pendingApprovals(userID: userID, at: time.now(), limit: 100, token: token)
        guard read.liveness.isLive else { throw AccessTokenNotLive() }
        return read.approvals
    }

    /// A device of the user approves `id`, having signed `data` with `signatureType` (the face
    /// verified the signature itself). Other data than the approval's is a failure (counted).
    public func approve(id: String, userID: String, deviceID: String, data: String, signatureType: String, source: String?) async throws
        -> Approval
    {
        guard let approval = try await store.approval(id: id), approval.userID == userID else { throw ApprovalError.notFound }
        return try await approve(approval, deviceID: deviceID, data: data, signatureType: signatureType, source: source)
    }

    /// `approve(id:…)` on the approval already read (and found to be the user's); `application`:
    /// its application, when read with it (for the callback).
    private func approve(
        _ approval: Approval, deviceID: String, data: String, signatureType: String, source: String?,
        application: AlreadyRead<PowerAuthApplication> = .notRead
    ) async throws -> Approval {
        let now = time.now()
        guard approval.status(at: now) == .pending else { throw ApprovalError.state(approval.status(at: now)) }
        guard ConstantTime.equals(data, approval.data), approval.signatureTypes.contains(signatureType.lowercased()) else {
            return try await countFailure(approval, deviceID: deviceID, source: source)
        }
        if approval.template == Self.newDeviceTemplate, approval.applicationID == nil {
            return try await decideNewDevice(approval, approve: true, approverID: deviceID, reason: nil, source: source)
        }
        return try await decide(approval, to: .approved, reason: nil, actor: "device:\(deviceID)", source: source, application: application)
    }

    /// A device of the user rejects `id` (with an optional reason, e.g. `UNEXPECTED_OPERATION`).
    public func reject(id: String, userID: String, deviceID: String, reason: String?, source: String?) async throws -> Approval {
        guard let approval = try await store.approval(id: id), approval.userID == userID else { throw ApprovalError.notFound }
        return try await reject(approval, deviceID: deviceID, reason: reason, source: source)
    }

    /// `reject(id:…)` on the approval already read (and found to be the user's); `application`:
    /// its application, when read with it (for the callback).
    private func reject(
        _ approval: Approval, deviceID: String, reason: String?, source: String?, application: AlreadyRead<PowerAuthApplication> = .notRead
    ) async throws -> Approval {
        if let reason, !(1...64).contains(reason.utf8.count) {
            throw ApprovalError.validation(field: "reason", message: "1–64 characters")
        }
        if approval.template == Self.newDeviceTemplate, approval.applicationID == nil {
            return try await decideNewDevice(approval, approve: false, approverID: deviceID, reason: reason, source: source)
        }
        return try await decide(approval, to: .rejected, reason: reason, actor: "device:\(deviceID)", source: source, application: application)
    }

    /// A failed approval attempt (a wrong signature or other data): counted, FAILED at the maximum.
    public func countFailure(_ approval: Approval, deviceID: String, source: String?) async throws -> Approval {
        let now = time.now()
        var failed = approval
        failed.status = .failed
        guard
            let count = try await store.reserveAttempt(
                .approvalAnswer, subject: .approval(id: approval.id, webhooksAtLimit: try await webhooks(for: failed, status: .failed, at: now)),
                at: now)
        else { throw ApprovalError.state(try await store.approval(id: approval.id)?.status(at: now) ?? .expired) }
        try await audit(
            approval, action: .approvalFailure, actor: "device:\(deviceID)", source: source, outcome: .failure,
            details: ["failures": String(count.attempts ?? 0)])
        throw ApprovalError.dataMismatch(remainingAttempts: count.remaining)
    }

    /// The sweeper's pass: every PENDING approval past its expiry becomes EXPIRED (and its
    /// integrator is told). Reads already treat them as expired; this makes it durable and
    /// announced. Returns how many it expired.
    @discardableResult
    public func sweepExpired(limit: Int = 100) async throws -> Int {
        let now = time.now()
        var expired = 0
        for approval in try await store.expiredPendingApprovals(at: now, limit: limit) {
            var ended = approval
            ended.status = .expired
            if try await store.expireApproval(id: approval.id, webhooks: try await webhooks(for: ended, status: .expired, at: now), at: now) {
                expired += 1
            }
        }
        return expired
    }

    /// What a device is told when something awaits its approval (no data of the request itself).
    static let announcement = "A new request awaits your approval in your banking app."

    /// An ECDSA-bound device (Kontist, docs/devices.md) approves: it sends the data it showed and its
    /// signature over `approvalMessage(id:data:)` — the approval's id and exactly that data, so one
    /// signature approves one approval, once (RTS art. 4 and 5). A signature over the data alone
    /// would approve every later approval with the same data (every login's `A2`). A signature
    /// that does not verify, or other data than the approval's, counts a failure.
    public func approveWithDevice(
        id: String, userID: String, deviceID: String, data: String, signatureHex: String, source: String?, token: AccessTokenLivenessQuery
    ) async throws -> Approval {
        let (approval, application, key, signature) = try await ecdsaAnswer(
            id: id, userID: userID, deviceID: deviceID, signatureHex: signatureHex, token: token)
        guard key.isValidSignature(signature, for: Array(Self.approvalMessage(id: approval.id, data: data).utf8)) else {
            return try await countFailure(approval, deviceID: deviceID, source: source)
        }
        return try await approve(
            approval, deviceID: deviceID, data: data, signatureType: "possession_knowledge", source: source, application: .read(application))
    }

    /// The message an ECDSA-bound device signs to approve: domain-separated (`approve:` can never
    /// be a rejection, a device binding or a push answer), naming the approval, then its data
    /// verbatim. The id is a UUID (no `:`), so the data after it is unambiguous. Served to the
    /// device as `stringToSign` in the pending list.
    public static func approvalMessage(id: String, data: String) -> String { "approve:\(id):\(data)" }

    /// The message an ECDSA-bound device signs to reject (it names the approval).
    public static func rejectionMessage(id: String) -> String { "\(id):REJECTED" }

    /// An ECDSA-bound device rejects, signing `rejectionMessage`.
    public func rejectWithDevice(
        id: String, userID: String, deviceID: String, signatureHex: String, reason: String?, source: String?, token: AccessTokenLivenessQuery
    ) async throws -> Approval {
        let (approval, application, key, signature) = try await ecdsaAnswer(
            id: id, userID: userID, deviceID: deviceID, signatureHex: signatureHex, token: token)
        guard key.isValidSignature(signature, for: Array(Self.rejectionMessage(id: id).utf8)) else {
            return try await countFailure(approval, deviceID: deviceID, source: source)
        }
        return try await reject(approval, deviceID: deviceID, reason: reason, source: source, application: .read(application))
    }

    /// The user's approval and its application (read together with the answering device and the
    /// liveness of the caller's `token`, which is decided first), the device's key and the parsed
    /// signature.
    private func ecdsaAnswer(id: String, userID: String, deviceID: String, signatureHex: String, token: AccessTokenLivenessQuery)
        async throws -> (Approval, PowerAuthApplication?, P256.Signing.PublicKey, P256.Signing.ECDSASignature)
    {
        let read = try await store.approval(id: id, answeredBy: deviceID, token: token)
        guard read.liveness.isLive else { throw AccessTokenNotLive() }
        guard let approval = read.approval, approval.userID == userID, let device = read.device, device.userID == userID
        else { throw ApprovalError.notFound }
        guard device.kind == .ecdsaP256, device.status == .active else {
            throw ApprovalError.validation(field: "deviceId", message: "an ACTIVE device bound with an ECDSA key")
        }
        let signature: P256.Signing.ECDSASignature
        do {
            signature = try P256Codec.signature(hex: signatureHex)
        } catch {
            throw ApprovalError.validation(field: "signature", message: error.description)
        }
        return (approval, read.application, try P256Codec.publicKey(hex: device.publicKeyHex), signature)
    }

    // MARK: Shared

    func decide(
        _ approval: Approval, to status: Approval.Status, reason: String?, actor: String, source: String?,
        application: AlreadyRead<PowerAuthApplication> = .notRead
    ) async throws -> Approval {
        let now = time.now()
        var decided = approval
        decided.status = status
        decided.statusReason = reason
        decided.updatedAt = now
        // A confirmed action request gets its short-lived token in the same transaction.
        let actionToken: ActionToken? =
            status == .approved && approval.kind == .actionRequest
            ? ActionToken(
                tokenHash: secretHasher.hash(actionRequestToken(for: approval.id)), approvalID: approval.id,
                clientID: approval.clientID ?? "", action: approval.template, payloadHash: Self.payloadHash(approval.payload ?? "null"),
                expiresAt: now.addingTimeInterval(configuration.actionTokenLifetime))
            : nil
        // The decision and its audit record in one transaction.
        guard
            try await store.decideApproval(
                id: approval.id, to: status, reason: reason,
                webhooks: try await webhooks(for: decided, status: status, at: now, application: application),
                actionToken: actionToken, audit: auditRecord(decided, action: .approval(status), actor: actor, source: source), at: now)
        else { throw ApprovalError.state(try await store.approval(id: approval.id)?.status(at: now) ?? .expired) }
        return decided
    }

    /// The callback announcing the approval's new status to whoever created it: an operation's
    /// application (`OPERATION_STATUS_CHANGED`) or an action request's client
    /// (`ACTION_REQUEST_STATUS_CHANGED`, with Shine's status names; `EXPIRED` when it ran out),
    /// if they have a callback URL. Never the short-lived token: polling hands that out.
    func webhooks(
        for approval: Approval, status: Approval.Status, at now: Date, application: AlreadyRead<PowerAuthApplication> = .notRead,
        client: AlreadyRead<OAuthClient> = .notRead
    ) async throws -> [WebhookDelivery] {
        switch approval.kind {
        case .operation:
            guard let applicationID = approval.applicationID else { return [] }
            let owner =
                if case .read(let application) = application { application } else { try await store.application(id: applicationID) }
            return try operationWebhooks(for: approval, status: status, application: owner, at: now)
        case .actionRequest:
            guard let clientID = approval.clientID else { return [] }
            let owner = if case .read(let client) = client { client } else { try await store.client(id: clientID) }
            guard let owner, owner.id == clientID, let url = owner.webhookURL else { return [] }
            let event: [String: String] = [
                "actionRequestId": approval.id, "status": status == .expired ? "EXPIRED" : Approval.shineStatus(status),
                "action": approval.template, "uid": approval.externalUserID, "clientId": clientID,
            ]
            return [try WebhookDelivery.event("ACTION_REQUEST_STATUS_CHANGED", to: .client(clientID), url: url, fields: event, at: now)]
        }
    }

    /// An operation's `OPERATION_STATUS_CHANGED` callback to its application (already read), if
    /// the application has a callback URL.
    func operationWebhooks(for approval: Approval, status: Approval.Status, application: PowerAuthApplication?, at now: Date) throws
        -> [WebhookDelivery]
    {
        guard let applicationID = approval.applicationID, let application, application.id == applicationID,
            let url = application.callbackURL
        else { return [] }
        var event: [String: String] = [
            "operationId": approval.id, "status": status.rawValue, "userId": approval.externalUserID,
            "applicationId": applicationID, "template": approval.template,
        ]
        if let externalID = approval.externalID { event["externalId"] = externalID }
        return [try WebhookDelivery.event("OPERATION_STATUS_CHANGED", to: .application(applicationID), url: url, fields: event, at: now)]
    }

    /// Stores a new PENDING approval as one unit of work: the approval, the `webhooks`
    /// announcing it, its audit record (`actor` created it) and the pushes telling the user's
    /// ACTIVE devices, in one transaction.
    /// `devices`: the user's devices when the caller has read them already (else they are read).
    func insert(_ approval: Approval, webhooks: [WebhookDelivery], devices read: [Device]? = nil, actor: String, source: String?) async throws {
        let notifications =
            if let read {
                try devices.announcements(to: read, userID: approval.userID, message: Self.announcement)
            } else {
                try await devices.announcements(userID: approval.userID, message: Self.announcement)
            }
        try await store.insertApproval(
            approval, webhooks: webhooks, notifications: notifications,
            audit: auditRecord(approval, action: .approvalCreated, actor: actor, source: source))
    }

    func audit(
        _ approval: Approval, action: AuditAction, actor: String, source: String?, outcome: AuditRecord.Outcome = .success,
        details: [String: String] = [:]
    ) async throws {
        try await store.append(
            auditRecord(approval, action: action, actor: actor, source: source, outcome: outcome, details: details), at: time.now())
    }

    /// What the audit records of `approval` say (the template always among the details).
    func auditRecord(
        _ approval: Approval, action: AuditAction, actor: String, source: String?, outcome: AuditRecord.Outcome = .success,
        details: [String: String] = [:]
    ) -> AuditRecord {
        AuditRecord(
            actor: actor, action: action, subject: "approval:\(approval.id)", sourceAddress: source, outcome: outcome,
            details: details.merging(["template": approval.template]) { first, _ in first })
    }
}

/// A row the caller has already read (`read`, possibly absent), or not (`notRead`: read it where
/// it is needed) — so that a request that read it with something else does not read it again.
enum AlreadyRead<Value: Sendable>: Sendable {
    case notRead
    case read(Value?)
}
