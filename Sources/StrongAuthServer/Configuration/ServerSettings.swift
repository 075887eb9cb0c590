import Configuration
import Foundation
import Logging
import StrongAuthCore

/// Everything configurable, read once at start-up from the layered configuration
/// (flags > `STRONGAUTH_*` environment > JSON file > defaults). See the README's table.
public struct ServerSettings: Sendable {
    /// `development` generates what is missing (master key, signing key); `production` refuses to.
    public enum Mode: String, Sendable {
        case development
        case production
    }

    public var mode: Mode
    public var host: String
    public var port: Int
    public var dataDirectory: String
    public var databaseURL: String
    /// Reader connections on SQLite (`database.sqliteReaders`, 1–64, default 16); each holds two
    /// open files. The test suites, which open hundreds of databases at once, use 2.
    public var sqliteReaders: Int
    /// Connections of a node to PostgreSQL (`database.postgresConnections`, 1–200, default 20),
    /// all kept open while it serves: PostgreSQL's own limit (`max_connections`, 100 by default)
    /// must cover every node's, plus a few for CLI commands.
    public var postgresConnections: Int
    /// Base64 of 32 bytes; `nil` means `data/master.key` (generated in development).
    public var masterKey: String?
    public var issuer: String
    public var accessTokenLifetime: TimeInterval
    public var refreshTokenLifetime: TimeInterval
    /// The password's lockout (`lockout.*`), also the operators' password and TOTP.
    public var lockout: LockoutPolicy
    /// Wrong device-binding answers and step-up OTPs per user (`devices.binding*`).
    public var bindingLockout: LockoutPolicy
    /// Which assurance each sensitive action needs; `assurance.maxAgeSeconds` is how recent the
    /// two-factor authentication must be (RFC 9470 `max_age`).
    public var assurance: AssurancePolicy
    public var passwordHashCost: Int
    public var maxBodyBytes: Int
    /// How long SIGTERM waits for the requests in flight and the background jobs before it
    /// cancels them (`http.shutdownGraceSeconds`; `ShutdownDeadline`).
    public var shutdownGracePeriod: Duration = .seconds(10)
    public var logLevel: Logger.Level
    public var logFormat: String
    public var devices: DeviceConfiguration
    public var notificationChannel: NotificationChannel
    public var powerAuth: PowerAuthConfiguration
    /// A separate port for the private integration API (`/powerauth-cloud`); `nil` serves it on
    /// the main port. PowerAuth Cloud REST API: it "must not be published to the public internet".
    public var integrationPort: Int?
    /// Delivery attempts of one webhook before it is given up (`dead`).
    public var webhookMaxAttempts: Int
    /// Seconds a node holds a claimed webhook delivery; one whose node died mid-delivery is sent
    /// again after it (`webhooks.leaseSeconds`).
    public var webhookLease: TimeInterval
    /// finAPI process controller limits (`processes.*`).
    public var processes: ProcessConfiguration
    /// How long expired challenges, refresh tokens, revocations and finished notifications are
    /// kept before the retention job deletes them (`retention.expiredRecordsHours`).
    public var retention = RetentionPolicy()
    /// Challenge-response sessions (ABN AMRO login protocol, docs/sessions.md): idle timeout, challenge lifetime, attempts, cookie.
    public var sessions: SessionConfiguration
    /// Shine's action requests (`approvals.*`): how long one may be confirmed, how long its
    /// short-lived token lives.
    public var approvals = ApprovalConfiguration()
    /// Per-node rate limits on the credential endpoints (`rateLimits.*`).
    public var rateLimits: RateLimitSettings
    /// The proxies whose `Forwarded` / `X-Forwarded-For` are believed (`http.trustedProxies`).
    public var trustedProxies: TrustedProxies = .none
    /// How failed authentications are counted per window before the audit chain (`audit.*`).
    public var auditFailures: AuditFailurePolicy = .standard
    /// The back office and self-service pages (`web.*`).
    public var web: WebSettings
    /// Whether production mode may use the `file` notification channel
    /// (`notifications.allowFileInProduction`; see `readProductionSafety`).
    public var allowFileNotificationsInProduction = false
    /// The metrics listener (`metrics.*`); see `metricsOnMainPort`.
    public var metrics = MetricsSettings()
    /// The back-office listener (`admin.*`); see `adminOnMainPort`.
    public var adminListener = AdminListenerSettings()
    /// Whether production mode may run with an `http://` issuer (`http.allowHttpIssuerInProduction`).
    public var allowHTTPIssuerInProduction = false
    /// Whether production mode may run on SQLite (`database.allowSqliteInProduction`).
    public var allowSQLiteInProduction = false

    /// The one table of attempt limits (`AttemptLimits`) as configured: the timed locks the store
    /// applies, and the maximums the services write into new challenges, access tools and
    /// activations.
    public var attemptLimits: AttemptLimits {
        AttemptLimits(
            password: lockout, bindingOTP: bindingLockout, challenge: devices.maxAttemptsPerChallenge, accessTool: sessions.maxAttempts,
            powerAuth: powerAuth.maxFailedAttempts)
    }
    /// How long a retired signing key is kept before it is deleted (`keys.retiredRetentionSeconds`;
    /// see `readKeys`).
    public var retiredSigningKeyRetention: TimeInterval = 0
    /// Further master keys (base64, `master.previousKeys`, comma-separated) that open sealed
    /// values but never seal: the old key while a rotation re-seals, or the next key before it
    /// becomes current (docs/keys.md).
    public var previousMasterKeys: [String] = []
    /// How DPoP proofs are judged (`oauth.dpop.*`, RFC 9449).
    public var dpop = DPoPConfiguration()
    /// The WebAuthn relying party of passkeys (`webauthn.*`, docs/passkeys.md).
    public var webAuthn = WebAuthnConfiguration()

    /// Reads the settings; throws for values that cannot work (a port out of range, …).
    public init(reader config: ConfigReader) throws {
        mode = Mode(rawValue: config.string(forKey: "mode", default: "development")) ?? .development
        host = config.string(forKey: "http.host", default: "127.0.0.1")
        port = config.int(forKey: "http.port", default: 8080)
        guard (0...65535).contains(port) else { throw SettingsError("http.port must be 0–65535") }
        dataDirectory = config.string(forKey: "data.dir", default: "data")
        databaseURL = config.string(
            forKey: "database.url", isSecret: true, default: "sqlite:\(dataDirectory)/strongauth.sqlite")
        sqliteReaders = config.int(forKey: "database.sqliteReaders", default: 16)
        guard (1...64).contains(sqliteReaders) else { throw SettingsError("database.sqliteReaders must be 1–64") }
        postgresConnections = config.int(forKey: "database.postgresConnections", default: 20)
        guard (1...200).contains(postgresConnections) else { throw SettingsError("database.postgresConnections must be 1–200") }
        masterKey = config.string(forKey: "master.key", isSecret: true)
        let publicHost = host == "0.0.0.0" || host == "::" ? "127.0.0.1" : host
        issuer = config.string(forKey: "issuer", default: "http://\(publicHost):\(port)")
        accessTokenLifetime = TimeInterval(config.int(forKey: "tokens.accessLifetimeSeconds", default: 900))
        refreshTokenLifetime = TimeInterval(config.int(forKey: "tokens.refreshLifetimeSeconds", default: 30 * 86_400))
        let standard = AttemptLimits.standard
        lockout = LockoutPolicy(
            maxFailures: config.int(forKey: "lockout.maxFailures", default: standard.password.maxFailures),
            lockDuration: TimeInterval(config.int(forKey: "lockout.durationSeconds", default: Int(standard.password.lockDuration))))
        let assuranceMaxAge = config.int(forKey: "assurance.maxAgeSeconds", default: Int(AssurancePolicy.defaultMaxAge))
        guard assuranceMaxAge > 0 else { throw SettingsError("assurance.maxAgeSeconds must be positive") }
        assurance = AssurancePolicy(maxAge: TimeInterval(assuranceMaxAge))
        passwordHashCost = config.int(forKey: "password.hashCost", default: 11)
        guard (4...31).contains(passwordHashCost) else { throw SettingsError("password.hashCost must be 4–31") }
        maxBodyBytes = config.int(forKey: "http.maxBodyBytes", default: 64 * 1024)
        let shutdownGraceSeconds = config.int(forKey: "http.shutdownGraceSeconds", default: 10)
        guard (1...300).contains(shutdownGraceSeconds) else { throw SettingsError("http.shutdownGraceSeconds must be 1–300") }
        shutdownGracePeriod = .seconds(shutdownGraceSeconds)
        logLevel = Logger.Level(rawValue: config.string(forKey: "log.level", default: "info")) ?? .info
        logFormat = config.string(forKey: "log.format", default: "text")
        guard accessTokenLifetime > 0, refreshTokenLifetime > 0 else { throw SettingsError("token lifetimes must be positive") }
        devices = DeviceConfiguration(
            otpLifetime: TimeInterval(config.int(forKey: "devices.otpLifetimeSeconds", default: 300)),
            challengeLifetime: TimeInterval(config.int(forKey: "devices.challengeLifetimeSeconds", default: 300)),
            maxAttemptsPerChallenge: config.int(forKey: "devices.maxAttempts", default: standard.challenge),
            requireApprovalForAdditionalDevices: config.bool(forKey: "devices.requireApproval", default: true))
        bindingLockout = LockoutPolicy(
            maxFailures: config.int(forKey: "devices.bindingMaxFailures", default: standard.bindingOTP.maxFailures),
            lockDuration: TimeInterval(config.int(forKey: "devices.bindingLockSeconds", default: Int(standard.bindingOTP.lockDuration))))
        guard devices.otpLifetime > 0, devices.challengeLifetime > 0, devices.maxAttemptsPerChallenge > 0 else {
            throw SettingsError("device lifetimes and attempts must be positive")
        }
        powerAuth = PowerAuthConfiguration()
        integrationPort = nil
        webhookMaxAttempts = 12
        webhookLease = 30
        processes = ProcessConfiguration()
        sessions = SessionConfiguration()
        rateLimits = RateLimitSettings()
        web = WebSettings()
        switch config.string(forKey: "notifications.channel", default: "file") {
        case "file":
            notificationChannel = .file(
                path: config.string(forKey: "notifications.file", default: "\(dataDirectory)/notifications.jsonl"))
        case "log":
            notificationChannel = .log
        case "http":
            guard let url = config.string(forKey: "notifications.httpURL"), url.hasPrefix("http") else {
                throw SettingsError("notifications.channel http needs notifications.httpURL (STRONGAUTH_NOTIFICATIONS_HTTP_URL)")
            }
            notificationChannel = .http(url: url)
        case let other:
            throw SettingsError("notifications.channel must be file, log or http, not '\(other)'")
        }
        try readPowerAuth(config)
        try readProcesses(config)
        try readRetention(config)
        try readSessions(config)
        try readApprovals(config)
        try readRateLimits(config)
        try readWeb(config)
        try readAuditFailures(config)
        try readSMSLimits(config)
        try readProductionSafety(config)
        try readKeys(config)
        try readDPoP(config)
        try readWebAuthn(config)
    }

    /// Reads `retention.expiredRecordsHours` (default 24, at most a year).
    mutating func readRetention(_ config: ConfigReader) throws {
        let hours = config.int(forKey: "retention.expiredRecordsHours", default: 24)
        guard (1...8760).contains(hours) else { throw SettingsError("retention.expiredRecordsHours must be 1–8760") }
        retention = RetentionPolicy(keepExpired: TimeInterval(hours) * 3600)
    }

    /// Reads the action requests' lifetimes (defaults: Shine's API documentation, three minutes
    /// to confirm, one minute for the token).
    mutating func readApprovals(_ config: ConfigReader) throws {
        let request = config.int(forKey: "approvals.actionRequestLifetimeSeconds", default: 180)
        let token = config.int(forKey: "approvals.actionTokenLifetimeSeconds", default: 60)
        guard (10...3600).contains(request), (10...3600).contains(token) else {
            throw SettingsError("approvals.actionRequestLifetimeSeconds and approvals.actionTokenLifetimeSeconds must be 10–3600")
        }
        approvals = ApprovalConfiguration(actionRequestLifetime: TimeInterval(request), actionTokenLifetime: TimeInterval(token))
    }

    /// Reads the sessions part of the settings. The cookie is `Secure` by default when the
    /// issuer (the public URL) is https.
    mutating func readSessions(_ config: ConfigReader) throws {
        sessions = SessionConfiguration(
            idleTimeout: TimeInterval(config.int(forKey: "sessions.idleTimeoutSeconds", default: 300)),
            challengeLifetime: TimeInterval(config.int(forKey: "sessions.challengeLifetimeSeconds", default: 120)),
            maxAttempts: config.int(forKey: "sessions.maxAttempts", default: AttemptLimits.standard.accessTool),
            secureCookie: config.bool(forKey: "sessions.secureCookie", default: issuer.lowercased().hasPrefix("https://")))
        guard sessions.idleTimeout > 0, sessions.challengeLifetime > 0, (1...99).contains(sessions.maxAttempts) else {
            throw SettingsError("sessions: idle timeout and challenge lifetime must be positive, maxAttempts 1–99")
        }
    }

    /// Reads the PowerAuth part of the settings.
    mutating func readPowerAuth(_ config: ConfigReader) throws {
        powerAuth = PowerAuthConfiguration(
            activationLifetime: TimeInterval(config.int(forKey: "powerauth.activationLifetimeSeconds", default: 300)),
            maxFailedAttempts: config.int(forKey: "powerauth.maxFailedAttempts", default: AttemptLimits.standard.powerAuth),
            counterLookahead: config.int(forKey: "powerauth.counterLookahead", default: 20),
            tokenTimestampTolerance: TimeInterval(config.int(forKey: "powerauth.tokenTimestampToleranceSeconds", default: 7200)),
            requestExpiration: TimeInterval(config.int(forKey: "powerauth.requestExpirationSeconds", default: 60)),
            possessionAttemptLimit: config.int(forKey: "powerauth.possessionAttemptLimit", default: 10),
            possessionAttemptWindow: TimeInterval(config.int(forKey: "powerauth.possessionAttemptWindowSeconds", default: 900)),
            tokenTimestampForwardTolerance: TimeInterval(config.int(forKey: "powerauth.tokenTimestampForwardToleranceSeconds", default: 1800)))
        guard powerAuth.activationLifetime > 0, (1...255).contains(powerAuth.maxFailedAttempts), (1...100).contains(powerAuth.counterLookahead)
        else { throw SettingsError("powerauth: activation lifetime must be positive, maxFailedAttempts 1–255, counterLookahead 1–100") }
        guard powerAuth.tokenTimestampTolerance > 0, powerAuth.tokenTimestampForwardTolerance >= 0 else {
            throw SettingsError("powerauth: tokenTimestampToleranceSeconds must be positive, tokenTimestampForwardToleranceSeconds not negative")
        }
        guard powerAuth.requestExpiration > 0, powerAuth.possessionAttemptLimit > 0, powerAuth.possessionAttemptWindow > 0 else {
            throw SettingsError("powerauth: requestExpirationSeconds, possessionAttemptLimit and possessionAttemptWindowSeconds must be positive")
        }
        integrationPort = config.int(forKey: "powerauth.integrationPort")
        if let integrationPort, !(0...65535).contains(integrationPort) || integrationPort == port && port != 0 {
            throw SettingsError("powerauth.integrationPort must be 0–65535 and differ from http.port")
        }
        webhookMaxAttempts = config.int(forKey: "webhooks.maxAttempts", default: 12)
        guard webhookMaxAttempts > 0 else { throw SettingsError("webhooks.maxAttempts must be positive") }
        webhookLease = TimeInterval(config.int(forKey: "webhooks.leaseSeconds", default: 30))
        guard (1...3600).contains(webhookLease) else { throw SettingsError("webhooks.leaseSeconds must be 1–3600") }
    }

    /// The notifications file when the file channel is configured.
    public var notificationFilePath: String? {
        if case .file(let path) = notificationChannel { return path }
        return nil
    }

    /// The layered reader: `flags` first, then `STRONGAUTH_*` variables, then the JSON file named
    /// by `--config`/`STRONGAUTH_CONFIG_FILE`, then the defaults in `init(reader:)`.
    public static func reader(
        flags: [String: ConfigContent], environment: [String: String] = ProcessInfo.processInfo.environment,
        configFile: String? = nil
    ) async throws -> ConfigReader {
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        for (key, value) in flags {
            values[AbsoluteConfigKey(key.split(separator: ".").map(String.init))] = .init(
                value, isSecret: key.contains("key") || key.contains("database"))
        }
        // STRONGAUTH_HTTP_PORT → key http.port (the provider maps keys to SNAKE_CASE itself).
        let prefix = "STRONGAUTH_"
        var stripped: [String: String] = [:]
        for (name, value) in environment where name.hasPrefix(prefix) {
            stripped[String(name.dropFirst(prefix.count))] = value
        }
        var providers: [any ConfigProvider] = [
            InMemoryProvider(name: "flags", values: values),
            EnvironmentVariablesProvider(
                environmentVariables: stripped,
                secretsSpecifier: .dynamic { key, _ in key.contains("KEY") || key.contains("DATABASE") || key.contains("SECRET") }),
        ]
        if let file = configFile ?? stripped["CONFIG_FILE"] {
            providers.append(try await FileProvider<JSONSnapshot>(filePath: .init(file)))
        }
        return ConfigReader(providers: providers)
    }
}

/// A configuration value that cannot work.
public struct SettingsError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
