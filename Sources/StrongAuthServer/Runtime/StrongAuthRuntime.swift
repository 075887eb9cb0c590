import Foundation
import Logging
import StrongAuthCore
import StrongAuthProtocol
import StrongAuthStore

/// Everything a running StrongAuth needs, wired once: the store (migrated), the master key,
/// the signing keys and the core services. The server, every CLI command and the tests start
/// from here, so they all see the same data the same way.
public struct StrongAuthRuntime: Sendable {
    public let settings: ServerSettings
    public let store: SQLStore
    public let masterKey: MasterKey
    public let signer: AccessTokenSigner
    public let tokens: TokenService
    public let administration: AdministrationService
    public let devices: DeviceService
    public let powerAuth: PowerAuthService
    public let approvals: ApprovalService
    public let webhooks: WebhookService
    /// Back-office operators (sign-in with password and TOTP).
    public let operators: OperatorService
    /// Browser sessions and CSRF tokens of `/admin` and `/self-service`.
    public let webSessions: WebSessionService
    /// The use cases of the back office and self-service pages.
    public let backOffice: BackOfficeService
    /// The second factor self-service asks for before sensitive actions (docs/security-model.md).
    public let stepUp: StepUpService
    /// Self-service account changes behind the step-up: delete, password, phone number (docs/security-model.md).
    public let account: AccountService
    public let sessions: SessionService
    /// The authorization endpoint, PAR and the hosted login (RFC 6749 §4.1, RFC 9126).
    public let authorization: AuthorizationService
    /// Passkeys: WebAuthn ceremonies and approvals with dynamic linking (docs/passkeys.md).
    public let passkeys: PasskeyService
    public let time: any TimeSource
    public let logger: Logger
    /// This node's rate-limit buckets (see `RateLimiter`: per node by design).
    public let rateLimiter = RateLimiter()
    /// The retention job's deletes of expired records (`retention.expiredRecordsHours`).
    public var retention: Retention {
        Retention(store: store, time: time, policy: settings.retention, accessTokenLifetime: settings.accessTokenLifetime)
    }

    /// Opens and migrates the database, loads (or, in development, creates) the keys. `serving`:
    /// a node that will answer requests keeps its PostgreSQL connections open
    /// (`database.postgresConnections`); a one-shot command opens what it uses.
    public static func start(
        settings: ServerSettings, logger: Logger, time: any TimeSource = SystemTimeSource(), serving: Bool = false
    ) async throws -> StrongAuthRuntime {
        let keyring = try loadMasterKey(settings: settings, logger: logger)
        if settings.databaseURL.hasPrefix("sqlite:") {
            try createPrivateDirectory(
                URL(fileURLWithPath: String(settings.databaseURL.dropFirst("sqlite:".count))).deletingLastPathComponent().path)
        }
        let store = try await SQLStore.open(
            url: settings.databaseURL, sqliteReaders: settings.sqliteReaders, postgresConnections: settings.postgresConnections,
            keepsPostgresConnectionsOpen: serving, failurePolicy: settings.auditFailures,
            attemptLimits: settings.attemptLimits, logger: logger)
        do {
            let applied = try await Migrator.migrate(store.pool)
            if !applied.isEmpty { logger.info("database migrated", metadata: ["applied": "\(applied)"]) }
            let masterKey = try await MasterKeyRotation.withHashRoot(keyring, store: store, now: time.now())
            let keyManagement = KeyManagement(store: store, masterKey: masterKey, time: time)
            let signer = try await AccessTokenSigner(
                keys: try await keyManagement.loadOrCreateSigningKeys(), reload: { try await keyManagement.loadSigningKeys() })
            let secretHasher = KeyedHash(key: masterKey.derive(purpose: "secret-hash"))
            let passwordHasher = BcryptPasswordHasher(cost: UInt8(settings.passwordHashCost))
            let tokens = try await TokenService(
                store: store, signer: signer, secretHasher: secretHasher, passwordHasher: passwordHasher, time: time,
                configuration: OAuthConfiguration(
                    issuer: settings.issuer, accessTokenLifetime: settings.accessTokenLifetime,
                    refreshTokenLifetime: settings.refreshTokenLifetime, dpop: settings.dpop),
                dpopNonceKey: masterKey.derive(purpose: "dpop-nonce"), logger: logger)
            let administration = AdministrationService(
                store: store, secretHasher: secretHasher, passwordHasher: passwordHasher, masterKey: masterKey, time: time)
            let devices = DeviceService(
                store: store, tokens: tokens, masterKey: masterKey, time: time, configuration: settings.devices)
            let powerAuth = PowerAuthService(
                store: store, masterKey: masterKey, secretHasher: secretHasher, time: time, configuration: settings.powerAuth)
            let webhooks = WebhookService(store: store, masterKey: masterKey, time: time)
            // Checked when a web sign-in names no one, so that costs what a wrong password costs.
            let decoyPasswordHash = try await passwordHasher.hash(SecureRandom.token(prefix: "decoy-"))
            let approvals = ApprovalService(
                store: store, time: time, tokenKey: KeyedHash(key: masterKey.derive(purpose: "action-token")),
                secretHasher: secretHasher, devices: devices, configuration: settings.approvals)
            let stepUp = StepUpService(
                store: store, approvals: approvals, masterKey: masterKey, time: time,
                configuration: StepUpConfiguration(
                    policy: settings.assurance, smsLimit: SMSSendLimit(maxPerWindow: settings.web.stepUpSMSPerHour, window: 3600),
                    sms: settings.devices.sms))
            return StrongAuthRuntime(
                settings: settings, store: store, masterKey: masterKey, signer: signer, tokens: tokens,
                administration: administration, devices: devices, powerAuth: powerAuth,
                approvals: approvals,
                webhooks: webhooks,
                operators: OperatorService(
                    store: store, passwordHasher: passwordHasher, totp: HummingbirdTOTPGenerator(), masterKey: masterKey,
                    time: time, decoyPasswordHash: decoyPasswordHash),
                webSessions: WebSessionService(
                    store: store, masterKey: masterKey, time: time, idleTimeout: settings.web.sessionIdleTimeout,
                    absoluteLifetime: settings.web.sessionAbsoluteLifetime),
                backOffice: BackOfficeService(
                    store: store, powerAuth: powerAuth, webhooks: webhooks, passwordHasher: passwordHasher,
                    time: time, decoyPasswordHash: decoyPasswordHash),
                stepUp: stepUp,
                account: AccountService(
                    store: store, administration: administration, passwordHasher: passwordHasher, masterKey: masterKey,
                    time: time),
                sessions: SessionService(
                    store: store, administration: administration, masterKey: masterKey, time: time, configuration: settings.sessions),
                authorization: AuthorizationService(
                    store: store, tokens: tokens, stepUp: stepUp, hasher: secretHasher, time: time, issuer: settings.issuer, logger: logger),
                passkeys: PasskeyService(
                    store: store, approvals: approvals, tokens: tokens, masterKey: masterKey, time: time, configuration: settings.webAuthn,
                    sms: settings.devices.sms),
                time: time, logger: logger)
        } catch {
            await store.pool.shutdown()
            throw error
        }
    }

    /// The outbox dispatcher for this runtime's channel (the server runs it as a service).
    public var notificationDispatcher: NotificationDispatcher {
        NotificationDispatcher(
            outbox: store, masterKey: masterKey, channel: settings.notificationChannel, time: time, logger: logger)
    }

    /// The webhook outbox dispatcher (the server runs it as a service).
    public var webhookDispatcher: WebhookDispatcher {
        WebhookDispatcher(
            outbox: store, webhooks: webhooks, time: time, logger: logger, maxAttempts: settings.webhookMaxAttempts,
            lease: settings.webhookLease)
    }

    /// Closes the database.
    public func shutdown() async {
        await store.pool.shutdown()
    }

    /// The master keyring: the current key (below) and `master.previousKeys`, which open sealed
    /// values but never seal (docs/keys.md).
    static func loadMasterKey(settings: ServerSettings, logger: Logger) throws -> MasterKey {
        let current = try loadCurrentMasterKey(settings: settings, logger: logger)
        return current.addingKeys(try settings.previousMasterKeys.map { try MasterKey(base64: $0) })
    }

    /// The master key from configuration, else from `data/master.key`, generated (0600) in development.
    static func loadCurrentMasterKey(settings: ServerSettings, logger: Logger) throws -> MasterKey {
        if let configured = settings.masterKey {
            return try MasterKey(base64: configured)
        }
        guard settings.mode == .development else {
            throw SettingsError("production mode needs an explicit master key: set STRONGAUTH_MASTER_KEY (base64 of 32 random bytes)")
        }
        let path = settings.dataDirectory + "/master.key"
        if let existing = FileManager.default.contents(atPath: path) {
            return try MasterKey(base64: String(decoding: existing, as: UTF8.self))
        }
        try createPrivateDirectory(settings.dataDirectory)
        let key = MasterKey.generate()
        do {
            // 0600 from the first byte, and never over a key another node wrote meanwhile:
            // whoever links first wins and everyone else reads that key.
            try SecretFile.create(atPath: path, contents: Array((key.base64 + "\n").utf8))
        } catch SecretFile.Failure.exists {
            guard let existing = FileManager.default.contents(atPath: path) else { throw SettingsError("cannot read \(path)") }
            return try MasterKey(base64: String(decoding: existing, as: UTF8.self))
        } catch {
            throw SettingsError("cannot write \(path): \(error)")
        }
        logger.notice("generated a development master key", metadata: ["path": "\(path)"])
        return key
    }

    private static func createPrivateDirectory(_ path: String) throws {
        guard !path.isEmpty, !FileManager.default.fileExists(atPath: path) else { return }
        try FileManager.default.createDirectory(
            atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }
}
