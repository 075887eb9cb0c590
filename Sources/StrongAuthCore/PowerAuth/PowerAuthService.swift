import Crypto
import Foundation
import StrongAuthProtocol

/// Why a PowerAuth request was refused. The faces map each case to PowerAuth's error shape.
public enum PowerAuthServiceError: Error, Equatable, Sendable {
    /// Bad input: which field and what is wrong with it.
    case validation(field: String, message: String)
    case applicationNotFound
    /// The integration user may not act on this application.
    case applicationForbidden
    case registrationNotFound
    /// The registration is not in a status that allows the change.
    case registrationState(Device.Status)
    /// No live registration holds this activation code (unknown, used, expired or removed).
    case activationCodeNotFound
    /// The activation OTP is wrong; the registration was removed when none are left.
    case wrongActivationOTP(remainingAttempts: Int)
    /// A PowerAuth signature (or token digest) did not verify.
    case authenticationFailed
    /// An ECIES cryptogram could not be decrypted (wrong key, MAC or layout).
    case decryptionFailed
    case tokenNotFound
    /// A 3.3 temporary key request or use was refused (bad JWT, unknown or expired key).
    case temporaryKey(String)
    /// The integration user's name or password is wrong (or the user is disabled).
    case unauthorized
    /// An ECIES request outside the freshness window, or one already received (a replay).
    case staleRequest(String)
}

/// HTTP Basic credentials of an integration user, as presented.
public struct IntegrationCredentials: Sendable {
    public var name: String
    public var password: String

    public init(name: String, password: String) {
        self.name = name
        self.password = password
    }
}

/// Lifetimes and limits of PowerAuth activations.
public struct PowerAuthConfiguration: Sendable, Equatable {
    /// How long an activation code (and an uncommitted registration) lives.
    public var activationLifetime: TimeInterval
    /// Failed knowledge/biometry signatures (and wrong activation OTPs) before a block.
    public var maxFailedAttempts: Int
    /// How far ahead of the server's counter a phone's signature may be.
    public var counterLookahead: Int
    /// How far in the past a token digest's timestamp may be (the reference's
    /// `powerauth.service.token.timestamp.validity`, 2 h by default); its nonce is remembered that long.
    public var tokenTimestampTolerance: TimeInterval
    /// How far in the future a token digest's timestamp may be (the reference's
    /// `powerauth.service.token.timestamp.forward.validity`, 30 min by default).
    public var tokenTimestampForwardTolerance: TimeInterval
    /// How long a protocol 3.3 temporary encryption key may be used.
    public var temporaryKeyLifetime: TimeInterval
    /// How far an ECIES request's timestamp (3.2+) may be from the server's clock, either way;
    /// its nonce is remembered that long. The reference's `requestExpirationInMilliseconds`
    /// (60 000 by default).
    public var requestExpiration: TimeInterval
    /// Possession-only signature attempts that may fail per activation within
    /// `possessionAttemptWindow` before further possession-only signatures are refused until the
    /// window is over. Never counted towards the block.
    public var possessionAttemptLimit: Int
    public var possessionAttemptWindow: TimeInterval

    public init(
        activationLifetime: TimeInterval = 300, maxFailedAttempts: Int = AttemptLimits.standard.powerAuth, counterLookahead: Int = 20,
        tokenTimestampTolerance: TimeInterval = 7200, temporaryKeyLifetime: TimeInterval = 300, requestExpiration: TimeInterval = 60,
        possessionAttemptLimit: Int = 10, possessionAttemptWindow: TimeInterval = 900, tokenTimestampForwardTolerance: TimeInterval = 1800
    ) {
        self.tokenTimestampForwardTolerance = tokenTimestampForwardTolerance
        self.activationLifetime = activationLifetime
        self.maxFailedAttempts = maxFailedAttempts
        self.counterLookahead = counterLookahead
        self.tokenTimestampTolerance = tokenTimestampTolerance
        self.temporaryKeyLifetime = temporaryKeyLifetime
        self.requestExpiration = requestExpiration
        self.possessionAttemptLimit = possessionAttemptLimit
        self.possessionAttemptWindow = possessionAttemptWindow
    }
}

/// An application with its secrets opened, for the requests that need them.
public struct OpenedApplication: Sendable {
    public var application: PowerAuthApplication
    /// The app secret in its Base64 text form: PowerAuth uses the text's bytes, not the decoded ones.
    public var applicationSecret: String
    public var masterPrivateKey: P256.KeyAgreement.PrivateKey
}

/// PowerAuth (PowerAuth Cloud REST API, docs/powerauth.md) over the one device model: applications and integration
/// users, registrations and their lifecycle, the key exchange, signature and token verification.
/// Every status change is audited and announced to the application's webhook.
public struct PowerAuthService: Sendable {
    public typealias Repositories = PowerAuthRepository & ApprovalRepository & AuditLog & ReplayGuardRepository & DeviceRepository

    let store: any Repositories
    let masterKey: MasterKey
    let secretHasher: KeyedHash
    let time: any TimeSource
    public let configuration: PowerAuthConfiguration
    /// This node's shortcut for verifications in step with the phone (never a decision).
    let hints = SignatureHints()
    /// ECIES nonces already received, shared by every node through the database.
    public var replayGuard: ReplayGuard { ReplayGuard(store: store, time: time) }
    /// Commit, block, unblock and remove: the one lifecycle of every device kind.
    var lifecycle: DeviceLifecycle { DeviceLifecycle(store: store, time: time) }

    static let applicationSecretPurpose = "powerauth-app-secret"
    static let masterKeyPurpose = "powerauth-master-key"
    static let callbackSecretPurpose = "powerauth-callback-secret"
    static let activationKeysPurpose = "powerauth-activation-keys"
    static let serverKeyPurpose = "powerauth-server-key"
    static let tokenSecretPurpose = "powerauth-token-secret"
    static let temporaryKeyPurpose = "powerauth-temporary-key"

    public init(
        store: any Repositories, masterKey: MasterKey, secretHasher: KeyedHash, time: any TimeSource,
        configuration: PowerAuthConfiguration
    ) {
        self.store = store
        self.masterKey = masterKey
        self.secretHasher = secretHasher
        self.time = time
        self.configuration = configuration
    }

    // MARK: Applications

    /// A new application: app key and secret (16 random bytes each, Base64) and a master P-256
    /// key pair. Returns the secret once; it is stored sealed. With a callback URL, also a
    /// callback secret (returned once) that signs every webhook.
    public func createApplication(id: String, name: String?, callbackURL: String?, realm: String = Realm.defaultID, actor: String)
        async throws
        -> (application: PowerAuthApplication, applicationSecret: String, callbackSecret: String?)
    {
        do {
            try Validate.identifier(id, field: "id")
        } catch let error as ValidationError {
            throw PowerAuthServiceError.validation(field: error.field, message: error.message)
        }
        if let callbackURL {
            do {
                try WebhookService.validate(url: callbackURL, field: "callbackUrl")
            } catch let error as ValidationError {
                throw PowerAuthServiceError.validation(field: error.field, message: error.message)
            }
        }
        let secret = Data(SecureRandom.bytes(16)).base64EncodedString()
        let masterPrivate = P256.KeyAgreement.PrivateKey()
        let callbackSecret = try callbackURL.map { _ in try WebhookService.newSecret(for: .application(id), masterKey: masterKey) }
        let now = time.now()
        let application = PowerAuthApplication(
            id: id, name: name ?? id, applicationKey: Data(SecureRandom.bytes(16)).base64EncodedString(),
            sealedApplicationSecret: try masterKey.seal(Array(secret.utf8), purpose: Self.applicationSecretPurpose, associatedData: id),
            sealedMasterPrivateKey: try masterKey.seal(
                Array(masterPrivate.rawRepresentation), purpose: Self.masterKeyPurpose, associatedData: id),
            masterPublicKey: masterPrivate.publicKey.x963Representation.base64EncodedString(),
            callbackURL: callbackURL,
            sealedCallbackSecret: callbackSecret?.sealed,
            createdAt: now, realmID: realm)
        try await store.insertApplication(application)
        for template in OperationTemplate.defaults(applicationID: id) { try await store.upsertTemplate(template) }
        try await store.append(
            AuditRecord(actor: actor, action: .powerAuthApplicationCreated, subject: "application:\(id)", outcome: .success), at: now)
        return (application, secret, callbackSecret?.secret)
    }

    /// The application with its secret and master key opened.
    public func openApplication(_ application: PowerAuthApplication) throws -> OpenedApplication {
        let secret = try applicationSecret(of: application)
        let privateKey = try P256.KeyAgreement.PrivateKey(
            rawRepresentation: try masterKey.open(
                application.sealedMasterPrivateKey, purpose: Self.masterKeyPurpose, associatedData: application.id))
        return OpenedApplication(
            application: application, applicationSecret: secret, masterPrivateKey: privateKey)
    }

    /// Only the app secret (Base64 text) of an application: what signatures need, without
    /// opening the master key too.
    public func applicationSecret(of application: PowerAuthApplication) throws -> String {
        String(
            decoding: try masterKey.open(
                application.sealedApplicationSecret, purpose: Self.applicationSecretPurpose, associatedData: application.id),
            as: UTF8.self)
    }

    /// The active application whose app key is `key`, opened; `applicationNotFound` otherwise.
    public func openApplication(key: String) async throws -> OpenedApplication {
        guard let application = try await store.application(key: key), application.status == .active else {
            throw PowerAuthServiceError.applicationNotFound
        }
        return try openApplication(application)
    }

    // MARK: Integration users

    /// A new integration user allowed to act on `applicationIDs`; its generated password
    /// (256 random bits) is returned once and stored as a keyed hash.
    public func createIntegrationUser(name: String, applicationIDs: [String], realm: String = Realm.defaultID, actor: String)
        async throws
        -> (user: IntegrationUser, password: String)
    {
        do {
            try Validate.identifier(name, field: "name")
        } catch let error as ValidationError {
            throw PowerAuthServiceError.validation(field: error.field, message: error.message)
        }
        guard !applicationIDs.isEmpty else {
            throw PowerAuthServiceError.validation(field: "app", message: "at least one application is required")
        }
        // An integration user acts in one realm: its applications must all be of that realm.
        for id in applicationIDs where try await store.application(id: id)?.realmID != realm {
            throw PowerAuthServiceError.validation(field: "app", message: "no application '\(id)' in realm '\(realm)'")
        }
        let password = SecureRandom.token(prefix: "sa_iu_")
        let now = time.now()
        let user = IntegrationUser(
            name: name, passwordHash: secretHasher.hash(password), applicationIDs: Array(Set(applicationIDs)).sorted(), createdAt: now,
            realmID: realm)
        try await store.insertIntegrationUser(user)
        try await store.append(
            AuditRecord(
                actor: actor, action: .powerAuthIntegrationUserCreated, subject: "integration-user:\(name)", outcome: .success,
                details: ["applications": user.applicationIDs.joined(separator: " ")]),
            at: now)
        return (user, password)
    }

    /// The active integration user with this name and password; `nil` otherwise (the failure is
    /// audited). The keyed hash is computed even for unknown names, so timing tells nothing.
    public func authenticateIntegrationUser(name: String, password: String, source: String?) async throws -> IntegrationUser? {
        try await integrationUserCheck.authenticate(IntegrationCredentials(name: name, password: password), source: source)
    }

    /// Checks integration users' credentials (also against a user already read with other rows).
    var integrationUserCheck: IntegrationUserCheck { IntegrationUserCheck(store: store, secretHasher: secretHasher, time: time) }
}
