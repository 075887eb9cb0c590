import Foundation
import StrongAuthProtocol

/// Why a back-office or self-service action was refused.
public enum BackOfficeError: Error, Equatable, Sendable {
    /// No such thing, or not one the actor may see (another user's device reads as absent).
    case notFound
    /// The thing is not in a state that allows the action (e.g. unblocking an ACTIVE device).
    case invalidState(String)
    case validation(field: String, message: String)
}

/// A device with what the screens show of its PowerAuth side.
public struct DeviceOverview: Sendable {
    public var device: Device
    /// Set for PowerAuth registrations.
    public var registration: Registration?
    /// The status at `now` (an unfinished registration past its expiry reads REMOVED).
    public var status: Device.Status
    /// PowerAuth fingerprint, once keys were exchanged.
    public var fingerprint: String?
}

/// The use cases behind `/admin` and `/self-service`: reads across users for operators, the same
/// device actions for operators and for a user on their own devices, all audited with the actor
/// (`operator:<id>` or `user:<id>`) and the source address.
public struct BackOfficeService: Sendable {
    public typealias Repositories = StrongAuthRepositories & BackOfficeRepository

    private let store: any Repositories
    private let powerAuth: PowerAuthService
    private let webhooks: WebhookService
    private let passwordHasher: any PasswordHasher
    private let time: any TimeSource
    private let decoyPasswordHash: String

    public init(
        store: any Repositories, powerAuth: PowerAuthService, webhooks: WebhookService, passwordHasher: any PasswordHasher,
        time: any TimeSource, decoyPasswordHash: String
    ) {
        self.store = store
        self.powerAuth = powerAuth
        self.webhooks = webhooks
        self.passwordHasher = passwordHasher
        self.time = time
        self.decoyPasswordHash = decoyPasswordHash
    }

    public var now: Date { time.now() }
    /// Commit, block, unblock and remove: the one lifecycle of every device kind.
    var lifecycle: DeviceLifecycle { DeviceLifecycle(store: store, time: time) }

    // MARK: Self-service sign-in

    /// An end user signs in with the password of the password grant; the password factor's
    /// counter and lock are the same ones the token endpoint uses.
    public func signInUser(realm: String = Realm.defaultID, username: String, password: String, source: String?) async throws -> User {
        guard let user = try await store.user(realm: realm, username: username), user.status == .active else {
            _ = try await passwordHasher.verify(password, hash: decoyPasswordHash)
            throw OperatorSignInError.invalidCredentials
        }
        func audit(_ outcome: AuditRecord.Outcome, _ details: [String: String]) async throws {
            try await store.append(
                AuditRecord(
                    actor: "user:\(user.id)", action: .selfServiceSignIn, subject: "user:\(user.id)", sourceAddress: source,
                    outcome: outcome, details: details),
                at: time.now())
        }
        guard let attempt = try await store.reserveAttempt(.password, subject: .user(id: user.id), at: time.now()) else {
            // Not bounded by the lock (it is what refuses them): counted per window and source
            // (SECURITY.md). Wrong passwords stay one record each, bounded by the lockout.
            try await store.recordFailure(
                AuditRecord(
                    actor: "user:\(user.id)", action: .selfServiceSignIn, subject: "user:\(user.id)", sourceAddress: source,
                    outcome: .failure, details: ["reason": "locked"]),
                at: time.now())
            throw OperatorSignInError.invalidCredentials
        }
        guard try await passwordHasher.verify(password, hash: user.passwordHash) else {
            try await audit(.failure, ["reason": "wrong_password", "consecutive_failures": String(attempt.attempts ?? 0)])
            throw OperatorSignInError.invalidCredentials
        }
        try await store.resetAttempts(.password, subject: .user(id: user.id))
        try await audit(.success, [:])
        return user
    }

    // MARK: Reads

    //
    // Every read and action takes the realm of the operator (or signed-in user): another realm's
    // user, device, approval or delivery reads as absent, exactly like one that does not exist.

    public func counts(realm: String) async throws -> BackOfficeCounts { try await store.backOfficeCounts(realm: realm, at: time.now()) }

    public func recentFailures(realm: String, limit: Int = 10) async throws -> [AuditEvent] {
        try await store.recentAuditEvents(realm: realm, subject: nil, failuresOnly: true, before: nil, limit: limit)
    }

    public func searchUsers(_ query: String, realm: String, limit: Int = 50) async throws -> [User] {
        try await store.searchUsers(realm: realm, query: String(query.prefix(128)), limit: limit)
    }

    public func user(id: String, realm: String) async throws -> User {
        guard let user = try await store.user(id: id), user.realmID == realm else { throw BackOfficeError.notFound }
        return user
    }

    public func operatorName(id: String) async throws -> String? {
        try await store.operator(id: id)?.username
    }

    /// The user's devices; without `includeRemoved` only those that are not REMOVED.
    public func devices(userID: String, realm: String, includeRemoved: Bool) async throws -> [DeviceOverview] {
        _ = try await user(id: userID, realm: realm)
        var result: [DeviceOverview] = []
        for device in try await store.allDevices(userID: userID) {
            let overview = try await overview(of: device)
            if includeRemoved || overview.status != .removed { result.append(overview) }
        }
        return result
    }

    public func recentDevices(realm: String, status: Device.Status?, limit: Int = 100) async throws -> [DeviceOverview] {
        var result: [DeviceOverview] = []
        for device in try await store.recentDevices(realm: realm, status: status, limit: limit) {
            result.append(try await overview(of: device))
        }
        return result
    }

    /// One device of the realm; with `owner`, only if it is that user's.
    public func device(id: String, realm: String, owner: String? = nil) async throws -> DeviceOverview {
        guard let device = try await store.device(id: id), owner == nil || device.userID == owner,
            try await store.user(id: device.userID)?.realmID == realm
        else { throw BackOfficeError.notFound }
        return try await overview(of: device)
    }

    private func overview(of device: Device) async throws -> DeviceOverview {
        guard device.kind == .powerauth, let registration = try await store.registration(id: device.id) else {
            return DeviceOverview(device: device, registration: nil, status: device.status, fingerprint: nil)
        }
        return DeviceOverview(
            device: device, registration: registration, status: registration.status(at: time.now()),
            fingerprint: powerAuth.fingerprint(of: registration))
    }

    public func approvals(realm: String, userID: String? = nil, limit: Int = 100) async throws -> [Approval] {
        try await store.recentApprovals(realm: realm, userID: userID, limit: limit)
    }

    public func pendingApprovals(userID: String) async throws -> [Approval] {
        try await store.approvals(userID: userID, pendingOnly: true, at: time.now(), limit: 50)
    }

    public func approval(id: String, realm: String) async throws -> Approval {
        guard let approval = try await store.approval(id: id), try await store.user(id: approval.userID)?.realmID == realm else {
            throw BackOfficeError.notFound
        }
        return approval
    }

    public func applications(realm: String) async throws -> [PowerAuthApplication] { try await store.applications(realm: realm) }

    public func deliveries(realm: String, limit: Int = 100) async throws -> [WebhookDelivery] {
        try await store.webhookDeliveries(realm: realm, limit: limit)
    }

    public func delivery(id: String, realm: String) async throws -> WebhookDelivery {
        guard let delivery = try await store.webhookDelivery(id: id), try await self.realm(of: delivery.subscriber) == realm else {
            throw BackOfficeError.notFound
        }
        return delivery
    }

    /// The realm of a webhook's subscriber (an application or a client), if it still exists.
    private func realm(of subscriber: WebhookSubscriber) async throws -> String? {
        switch subscriber {
        case .application(let id): try await store.application(id: id)?.realmID
        case .client(let id): try await store.client(id: id)?.realmID
        }
    }

    /// The realm's audit events newest first, optionally about one subject (`device:<id>`, `approval:<id>`, …).
    public func auditEvents(realm: String, subject: String? = nil, before: Int64? = nil, limit: Int = 50) async throws -> [AuditEvent] {
        try await store.recentAuditEvents(realm: realm, subject: subject, failuresOnly: false, before: before, limit: limit)
    }

    /// The failed authentications counted in windows not yet sealed into the chain (SECURITY.md):
    /// the realm's own, and for the default realm also those naming no realm (unknown client ids).
    public func openFailureWindows(realm: String, limit: Int = 50) async throws -> [AuditFailureCount] {
        try await store.openFailureWindows(realm: realm, limit: limit)
    }

    public func verifyAuditChain() async throws -> AuditChain.Verification {
        try await AuditVerification.verifyAll(store)
    }

    /// The chain's verification as `realm`'s operators are told it: no global sequence numbers.
    public func verifyAuditChain(realm: String) async throws -> RealmAuditVerification {
        try await AuditVerification.verifyAll(store, realm: realm)
    }

    // MARK: Actions

    /// Ends a user's password and device-binding locks.
    public func unlockUser(id: String, realm: String, actor: String, source: String?) async throws {
        let user = try await user(id: id, realm: realm)
        for factor in Factor.userLockouts { try await store.resetAttempts(factor, subject: .user(id: user.id)) }
        try await audit(actor: actor, action: .userUnlocked, subject: "user:\(user.id)", source: source)
    }

    /// ACTIVE → BLOCKED with a reason (PowerAuth's rule for every kind: `BlockedReason.isValid`).
    public func blockDevice(id: String, realm: String, reason: String, owner: String? = nil, actor: String, source: String?) async throws {
        let reason = reason.isEmpty ? BlockedReason.notSpecified : reason
        guard BlockedReason.isValid(reason) else { throw BackOfficeError.validation(field: "reason", message: "1–64 of A–Z, 0–9, '_', '-'") }
        try await apply(.block, id: id, realm: realm, owner: owner, reason: reason, actor: actor, source: source)
    }

    /// BLOCKED → ACTIVE (a PowerAuth registration's failure count starts over).
    public func unblockDevice(id: String, realm: String, actor: String, source: String?) async throws {
        try await apply(.unblock, id: id, realm: realm, owner: nil, reason: nil, actor: actor, source: source)
    }

    /// Any live status → REMOVED; its tokens and signatures die with it.
    public func removeDevice(id: String, realm: String, owner: String? = nil, actor: String, source: String?) async throws {
        try await apply(.remove, id: id, realm: realm, owner: owner, reason: nil, actor: actor, source: source)
    }

    /// `action` through the lifecycle on a device of `realm` (and of `owner`, when given).
    private func apply(
        _ action: DeviceAction, id: String, realm: String, owner: String?, reason: String?, actor: String, source: String?
    ) async throws {
        let overview = try await device(id: id, realm: realm, owner: owner)
        do {
            try await lifecycle.apply(action, to: overview.device, reason: reason, actor: actor, source: source)
        } catch DeviceLifecycleError.state(let status) {
            throw BackOfficeError.invalidState("the device is \(status.rawValue)")
        } catch DeviceLifecycleError.approvalRequired {
            throw BackOfficeError.invalidState("the device waits for a bound device's approval")
        }
    }

    /// A CREATED PowerAuth registration for the user `externalUserID` (the username): its
    /// activation code goes on screen as text and QR code. It becomes ACTIVE at the key exchange
    /// (the person at the screen is already signed in, so no separate commit is asked for).
    public func createRegistration(externalUserID: String, applicationID: String, realm: String, actor: String, source: String?)
        async throws -> Registration
    {
        do {
            try Validate.username(externalUserID)
        } catch {
            throw BackOfficeError.validation(field: "userId", message: "must be 1–128 printable characters without spaces")
        }
        guard let application = try await store.application(id: applicationID), application.status == .active,
            application.realmID == realm
        else {
            throw BackOfficeError.validation(field: "applicationId", message: "no such active application")
        }
        return try await powerAuth.insertRegistration(
            externalUserID: externalUserID, application: application, otp: nil, otpValidation: .none, commitPhase: .onKeyExchange,
            flags: [], actor: actor, source: source)
    }

    /// Sends a dead webhook delivery again.
    public func retryDelivery(id: String, realm: String, actor: String, source: String?) async throws {
        let delivery = try await delivery(id: id, realm: realm)
        guard delivery.status == .dead else { throw BackOfficeError.invalidState("the delivery is \(delivery.status.rawValue)") }
        _ = try await webhooks.retry(id: id, by: [delivery.subscriber], actor: actor, source: source)
    }

    /// Records an operator's act that changes nothing else (sign-out, a viewed secret …).
    public func audit(actor: String, action: AuditAction, subject: String?, source: String?, details: [String: String] = [:]) async throws {
        try await store.append(
            AuditRecord(actor: actor, action: action, subject: subject, sourceAddress: source, outcome: .success, details: details),
            at: time.now())
    }
}
