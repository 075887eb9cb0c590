import Foundation
import StrongAuthProtocol

/// The kinds of credential holder an operator manages after creating them (the CLI and
/// `/admin/v1`, docs/admin-api.md). The raw value is the prefix of the audit subject
/// (`client:shop`), the same prefixes the audit log attributes to realms.
public enum ManagedKind: String, Sendable, CaseIterable {
    case client
    case application
    case integrationUser = "integration-user"
    case `operator`
    case user
}

/// What a conditional lifecycle update found.
public enum LifecycleOutcome: Sendable, Equatable {
    /// The row was in the expected state and is now in the new one.
    case changed
    /// The row exists in this realm and already was in the target state: nothing to audit.
    case unchanged
    /// No such row in this realm (another realm's object answers exactly like a missing one).
    case notFound
}

/// Why a lifecycle request was refused.
public enum LifecycleError: Error, Sendable, Equatable {
    /// Nothing of that kind and id in the caller's realm.
    case notFound(ManagedKind, String)
    /// The change would break something else; `detail` says what to do instead.
    case conflict(String)
}

/// The conditional updates behind the lifecycle commands. Each decides in one statement (or one
/// transaction) keyed by id *and* realm, so that a change made on one node holds on every node at
/// once and an object of another realm cannot be touched.
public protocol CredentialLifecycleRepository: Sendable {
    /// The realm's clients, applications, integration users, operators (not deleted), by id or name.
    func clients(realm: String) async throws -> [OAuthClient]
    func managedApplications(realm: String) async throws -> [PowerAuthApplication]
    func integrationUsers(realm: String) async throws -> [IntegrationUser]
    func operators(realm: String) async throws -> [Operator]
    /// Up to `limit` of the realm's users by username, after `after` (a username) if given.
    func users(realm: String, after: String?, limit: Int) async throws -> [User]
    /// `active ⇄ disabled` (users: `disabled` is the operator's lock). Disabling an operator or a
    /// user ends their web sessions in the same transaction, locking a user also revokes their
    /// refresh-token families (at `now`); unlocking a user clears the password and device-binding
    /// lockouts.
    func setStatus(_ kind: ManagedKind, id: String, realm: String, active: Bool, at now: Date) async throws -> LifecycleOutcome
    /// A new keyed hash of a client secret or an integration user's password; the old one
    /// stops matching with this statement. `false`: no such live holder in the realm.
    func replaceSecretHash(_ kind: ManagedKind, id: String, realm: String, hash: String) async throws -> Bool
    /// A new sealed TOTP secret: the replay step, the TOTP lockout and the operator's sessions
    /// are reset with it.
    func replaceOperatorTOTP(id: String, realm: String, sealedSecret: String) async throws -> Bool
    /// Deletes in one transaction. Clients and applications become tombstones (`status =
    /// 'deleted'`, their ids never reused); a client's token families are revoked with it.
    /// An application with registrations is kept and `.unchanged` returned (the caller refuses).
    func delete(_ kind: ManagedKind, id: String, realm: String, at now: Date) async throws -> LifecycleOutcome
}

/// A client secret, integration-user password or TOTP secret, shown once.
public struct IssuedSecret: Sendable, Equatable {
    public var secret: String
    /// Operators: the otpauth:// URI for an authenticator app.
    public var otpauthURI: String?
}

/// Listing, showing, disabling, enabling, deleting and re-keying what the CLI creates; every change
/// audited once, with the actor (`operator:cli`, `operator:<id>` or `client:<id>`), in the realm.
public struct CredentialLifecycleService: Sendable {
    public typealias Repositories = CredentialLifecycleRepository & ClientRepository & UserRepository & PowerAuthRepository
        & BackOfficeRepository & AuditLog

    private let store: any Repositories
    private let secretHasher: KeyedHash
    private let operators: OperatorService
    private let administration: AdministrationService
    private let time: any TimeSource

    public init(
        store: any Repositories, secretHasher: KeyedHash, operators: OperatorService, administration: AdministrationService,
        time: any TimeSource
    ) {
        self.store = store
        self.secretHasher = secretHasher
        self.operators = operators
        self.administration = administration
        self.time = time
    }

    // MARK: Reading (realm-scoped: another realm's object is `notFound`)

    public func client(id: String, realm: String) async throws -> OAuthClient {
        guard let client = try await store.client(id: id), client.realmID == realm, client.status != .deleted else {
            throw LifecycleError.notFound(.client, id)
        }
        return client
    }

    public func application(id: String, realm: String) async throws -> PowerAuthApplication {
        guard let application = try await store.application(id: id), application.realmID == realm, application.status != .deleted else {
            throw LifecycleError.notFound(.application, id)
        }
        return application
    }

    public func integrationUser(name: String, realm: String) async throws -> IntegrationUser {
        guard let user = try await store.integrationUser(name: name), user.realmID == realm else {
            throw LifecycleError.notFound(.integrationUser, name)
        }
        return user
    }

    /// An operator by id or, failing that, by username (usernames of operators are unique).
    public func `operator`(_ idOrUsername: String, realm: String) async throws -> Operator {
        if let found = try await store.operator(id: idOrUsername), found.realmID == realm { return found }
        if let found = try await store.operator(username: idOrUsername), found.realmID == realm { return found }
        throw LifecycleError.notFound(.operator, idOrUsername)
    }

    /// A user by id or, failing that, by username in the realm (the CLI names users by username).
    public func user(_ idOrUsername: String, realm: String) async throws -> User {
        if let user = try await store.user(id: idOrUsername), user.realmID == realm { return user }
        if let user = try await store.user(realm: realm, username: idOrUsername) { return user }
        throw LifecycleError.notFound(.user, idOrUsername)
    }

    /// The stored key of a holder named by the caller (users and operators: the id behind a username).
    private func key(_ kind: ManagedKind, _ id: String, realm: String) async throws -> String {
        switch kind {
        case .user: try await user(id, realm: realm).id
        case .operator: try await `operator`(id, realm: realm).id
        default: id
        }
    }

    // MARK: Changing

    /// Enables or disables (users: unlocks or locks). The database decides on every request, so
    /// the change holds on every node with this statement; nothing is cached.
    public func setActive(_ kind: ManagedKind, id: String, active: Bool, realm: String, actor: String, source: String? = nil)
        async throws
    {
        let key = try await key(kind, id, realm: realm)
        switch try await store.setStatus(kind, id: key, realm: realm, active: active, at: time.now()) {
        case .notFound: throw LifecycleError.notFound(kind, id)
        case .unchanged: return
        case .changed:
            let change: LifecycleChange = kind == .user ? (active ? .unlocked : .locked) : (active ? .enabled : .disabled)
            try await audit(kind, key, change, realm: realm, actor: actor, source: source)
        }
    }

    /// A new client secret or integration-user password (256 random bits, stored as a keyed
    /// hash): the old one is refused from this statement on, on every node. Tokens already issued
    /// stay valid (as after Keycloak's "Regenerate secret"); disable or delete to end them.
    public func rotateSecret(_ kind: ManagedKind, id: String, realm: String, actor: String, source: String? = nil) async throws
        -> IssuedSecret
    {
        let prefix: String
        switch kind {
        case .client: prefix = SecretPrefix.clientSecret
        case .integrationUser: prefix = "sa_iu_"
        default: throw LifecycleError.conflict("only clients and integration users have a secret to rotate")
        }
        // A public client has no secret (RFC 6749 §2.1): giving it one would turn it into a
        // confidential client behind the registration's back.
        if kind == .client, let client = try await store.client(id: id), client.realmID == realm, client.isPublic || client.jwks != nil {
            throw LifecycleError.conflict("a public or private_key_jwt client has no secret to rotate")
        }
        let secret = SecureRandom.token(prefix: prefix)
        guard try await store.replaceSecretHash(kind, id: id, realm: realm, hash: secretHasher.hash(secret)) else {
            throw LifecycleError.notFound(kind, id)
        }
        try await audit(kind, id, .secretRotated, realm: realm, actor: actor, source: source)
        return IssuedSecret(secret: secret)
    }

    /// A new TOTP secret for an operator who lost their authenticator; their sessions end.
    public func resetTOTP(operatorID id: String, realm: String, actor: String, source: String? = nil) async throws -> IssuedSecret {
        let found = try await `operator`(id, realm: realm)
        let fresh = try operators.newTOTPSecret(operatorID: found.id, username: found.username)
        guard try await store.replaceOperatorTOTP(id: found.id, realm: realm, sealedSecret: fresh.sealed) else {
            throw LifecycleError.notFound(.operator, id)
        }
        try await audit(.operator, found.id, .totpReset, realm: realm, actor: actor, source: source)
        return IssuedSecret(secret: fresh.base32, otpauthURI: fresh.otpauthURI)
    }

    /// Deletes. A client's refresh-token families are revoked in the same transaction and its
    /// id stays taken, so its access tokens stay dead; an application with registrations is
    /// refused (disable it instead); a user goes with everything bound to it.
    public func delete(_ kind: ManagedKind, id: String, realm: String, actor: String, source: String? = nil) async throws {
        if kind == .user {
            let user = try await user(id, realm: realm)
            guard try await administration.deleteUser(id: user.id, actor: actor, source: source) else {
                throw LifecycleError.notFound(.user, id)
            }
            return
        }
        let key = try await key(kind, id, realm: realm)
        switch try await store.delete(kind, id: key, realm: realm, at: time.now()) {
        case .notFound: throw LifecycleError.notFound(kind, id)
        case .unchanged:
            throw LifecycleError.conflict("application '\(id)' has registrations; disable it instead (its registrations then stop working)")
        case .changed: try await audit(kind, key, .deleted, realm: realm, actor: actor, source: source)
        }
    }

    private func audit(_ kind: ManagedKind, _ id: String, _ change: LifecycleChange, realm: String, actor: String, source: String?)
        async throws
    {
        try await store.append(
            AuditRecord(
                actor: actor, action: .lifecycle(kind, change), subject: "\(kind.rawValue):\(id)", sourceAddress: source, outcome: .success,
                realm: realm),
            at: time.now())
    }
}

extension ManagedKind {
    /// The name in audit actions (`client.disabled`, `powerauth.integration_user.secret_rotated`):
    /// PowerAuth's kinds under `powerauth.`, as their other actions are.
    var actionName: String {
        switch self {
        case .application: "powerauth.application"
        case .integrationUser: "powerauth.integration_user"
        default: rawValue
        }
    }
}

/// What the credential lifecycle did to one credential (the last part of its audit action).
public enum LifecycleChange: String, Sendable, CaseIterable {
    case enabled, disabled, locked, unlocked, deleted
    case secretRotated = "secret_rotated"
    case totpReset = "totp_reset"
}
