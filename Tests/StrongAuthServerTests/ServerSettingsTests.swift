import Configuration
import Foundation
import Logging
import StrongAuthServer
import Testing

@Suite("Configuration layering: flags > STRONGAUTH_* environment > file > defaults")
struct ServerSettingsTests {
    func settings(flags: [String: ConfigContent] = [:], environment: [String: String] = [:], file: String? = nil) async throws -> ServerSettings {
        var path: String?
        if let file {
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("strongauth-config-\(UUID().uuidString).json")
            try Data(file.utf8).write(to: url)
            path = url.path
        }
        return try ServerSettings(reader: try await ServerSettings.reader(flags: flags, environment: environment, configFile: path))
    }

    @Test("zero configuration: 127.0.0.1:8080, SQLite under data/, development mode")
    func defaults() async throws {
        let settings = try await settings()
        #expect(settings.host == "127.0.0.1" && settings.port == 8080)
        #expect(settings.databaseURL == "sqlite:data/strongauth.sqlite")
        #expect(settings.mode == .development)
        #expect(settings.lockout.maxFailures == 5)
        #expect(settings.maxBodyBytes == 65_536)
        #expect(settings.issuer == "http://127.0.0.1:8080")
    }

    @Test("each layer overrides the one below it, key by key")
    func layering() async throws {
        let file = #"{"http": {"port": 7000, "host": "0.0.0.0"}, "lockout": {"maxFailures": 3, "durationSeconds": 60}}"#
        let fromFile = try await settings(file: file)
        #expect(fromFile.port == 7000 && fromFile.host == "0.0.0.0" && fromFile.lockout.maxFailures == 3)

        let environment = [
            "STRONGAUTH_HTTP_PORT": "9000", "STRONGAUTH_LOCKOUT_MAX_FAILURES": "4", "HTTP_PORT": "1", "STRONGAUTH_PASSWORD_HASH_COST": "6",
        ]
        let fromEnvironment = try await settings(environment: environment, file: file)
        #expect(fromEnvironment.port == 9000, "STRONGAUTH_ beats the file; unprefixed variables are ignored")
        #expect(fromEnvironment.lockout.maxFailures == 4 && fromEnvironment.lockout.lockDuration == 60)
        #expect(fromEnvironment.passwordHashCost == 6)

        let fromFlags = try await settings(
            flags: ["http.port": .int(9100), "database.url": .string("postgres://x@db/y")], environment: environment, file: file)
        #expect(fromFlags.port == 9100 && fromFlags.databaseURL == "postgres://x@db/y")
        #expect(fromFlags.host == "0.0.0.0")
    }

    @Test("values that cannot work are refused at start-up")
    func invalidValues() async throws {
        await #expect(throws: SettingsError.self) { try await settings(flags: ["http.port": .int(70_000)]) }
        await #expect(throws: SettingsError.self) { try await settings(environment: ["STRONGAUTH_PASSWORD_HASH_COST": "40"]) }
    }

    @Test("a node's PostgreSQL connections: 20 by default, STRONGAUTH_DATABASE_POSTGRES_CONNECTIONS sets them, 0 and 201 are refused")
    func postgresConnections() async throws {
        #expect(try await settings().postgresConnections == 20)
        #expect(try await settings(environment: ["STRONGAUTH_DATABASE_POSTGRES_CONNECTIONS": "3"]).postgresConnections == 3)
        await #expect(throws: SettingsError.self) { try await settings(flags: ["database.postgresConnections": .int(0)]) }
        await #expect(throws: SettingsError.self) { try await settings(flags: ["database.postgresConnections": .int(201)]) }
    }

    @Test("the step-up SMS limit: 5 per hour by default, STRONGAUTH_WEB_STEP_UP_SMS_PER_HOUR sets it, 0 is refused")
    func stepUpSMSLimit() async throws {
        #expect(try await settings().web.stepUpSMSPerHour == 5)
        #expect(try await settings(environment: ["STRONGAUTH_WEB_STEP_UP_SMS_PER_HOUR": "7"]).web.stepUpSMSPerHour == 7)
        await #expect(throws: SettingsError.self) { try await settings(flags: ["web.stepUpSmsPerHour": .int(0)]) }
    }

    @Test("retention: expired records are kept 24 hours by default, STRONGAUTH_RETENTION_EXPIRED_RECORDS_HOURS sets it, 0 and 8761 are refused")
    func retention() async throws {
        #expect(try await settings().retention.keepExpired == 86_400)
        #expect(try await settings(environment: ["STRONGAUTH_RETENTION_EXPIRED_RECORDS_HOURS": "2"]).retention.keepExpired == 7200)
        await #expect(throws: SettingsError.self) { try await settings(flags: ["retention.expiredRecordsHours": .int(0)]) }
        await #expect(throws: SettingsError.self) { try await settings(flags: ["retention.expiredRecordsHours": .int(8761)]) }
    }

    @Test("production mode refuses to start without an explicit master key")
    func productionNeedsMasterKey() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("strongauth-prod-\(UUID().uuidString)")
        let production = try await settings(
            flags: [
                "mode": .string("production"), "data.dir": .string(directory.path), "notifications.channel": .string("log"),
                "issuer": .string("https://auth.test"), "database.allowSqliteInProduction": .bool(true), "admin.port": .int(0),
            ])
        await #expect(throws: SettingsError.self) {
            _ = try await StrongAuthRuntime.start(settings: production, logger: Logger(label: "test"))
        }
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("master.key").path))
    }

    @Test("development mode writes the master key with mode 0600 and reuses it")
    func developmentMasterKey() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("strongauth-dev-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let development = try await settings(flags: ["data.dir": .string(directory.path), "password.hashCost": .int(4)])
        let first = try await StrongAuthRuntime.start(settings: development, logger: Logger(label: "test"))
        let kid = first.signer.activeKID
        await first.shutdown()
        let keyPath = directory.appendingPathComponent("master.key").path
        let permissions = try FileManager.default.attributesOfItem(atPath: keyPath)[.posixPermissions] as? Int
        #expect(permissions == 0o600)
        // A second start opens the same sealed signing key with the same master key.
        let second = try await StrongAuthRuntime.start(settings: development, logger: Logger(label: "test"))
        #expect(second.signer.activeKID == kid)
        await second.shutdown()
    }
}
