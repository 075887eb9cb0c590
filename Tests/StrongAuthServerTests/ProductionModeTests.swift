import Configuration
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import StrongAuthServer
import Testing

/// Production mode refuses the development conveniences that leak secrets or internals —
/// the `file` notification channel (SMS codes in a plain file), an `http://` issuer, SQLite and
/// `/admin` on the public port, each unless the setting named in the refusal allows it — and
/// never serves `/metrics` on the public port (only on `metrics.port`).
@Suite("Production mode: refusals that name their setting, /metrics and /admin on listeners of their own")
struct ProductionModeTests {
    /// A throwaway master key (base64 of 32 bytes), so that production mode can start.
    static let masterKey = Data(repeating: 7, count: 32).base64EncodedString()

    func settings(_ flags: [String: ConfigContent] = [:], environment: [String: String] = [:]) async throws -> ServerSettings {
        try ServerSettings(reader: try await ServerSettings.reader(flags: flags, environment: environment))
    }

    func refusal(_ flags: [String: ConfigContent], environment: [String: String] = [:]) async -> String? {
        do {
            _ = try await settings(flags, environment: environment)
            return nil
        } catch let error as SettingsError {
            return error.description
        } catch {
            return "\(error)"
        }
    }

    @Test("production with the file channel (the default one) is refused with a message naming the way out")
    func productionRefusesFileChannel() async throws {
        let implicit = await refusal(["mode": .string("production")])
        #expect(implicit?.contains("notifications.allowFileInProduction") == true, "\(implicit ?? "accepted")")
        let explicit = await refusal(["mode": .string("production"), "notifications.channel": .string("file")])
        #expect(explicit?.contains("notifications.channel") == true, "\(explicit ?? "accepted")")
        let environment = await refusal([:], environment: ["STRONGAUTH_MODE": "production", "STRONGAUTH_NOTIFICATIONS_CHANNEL": "file"])
        #expect(environment != nil)
        let notAllowed = await refusal(["mode": .string("production"), "notifications.allowFileInProduction": .bool(false)])
        #expect(notAllowed != nil)
        // The other channels, and development with any channel, are fine.
        #expect(await refusal(Self.acceptable(["notifications.channel": .string("log")])) == nil)
        #expect(
            await refusal(
                Self.acceptable([
                    "notifications.channel": .string("http"), "notifications.httpURL": .string("https://sms.example/send"),
                ])) == nil)
        #expect(await refusal(["notifications.channel": .string("file")]) == nil)
        #expect(try await settings().notificationFilePath == "data/notifications.jsonl")
    }

    @Test("production with the file channel explicitly allowed starts, and says so in the log with a warning")
    func productionFileAllowedStarts() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("strongauth-prodfile-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let settings = try await settings(
            [:],
            environment: [
                "STRONGAUTH_MODE": "production", "STRONGAUTH_NOTIFICATIONS_ALLOW_FILE_IN_PRODUCTION": "true",
                "STRONGAUTH_DATABASE_ALLOW_SQLITE_IN_PRODUCTION": "true", "STRONGAUTH_ISSUER": "https://auth.test",
                "STRONGAUTH_ADMIN_PORT": "0",
                "STRONGAUTH_MASTER_KEY": Self.masterKey, "STRONGAUTH_DATA_DIR": directory.path,
                "STRONGAUTH_PASSWORD_HASH_COST": "4", "STRONGAUTH_HTTP_PORT": "0", "STRONGAUTH_DATABASE_SQLITE_READERS": "2",
            ])
        #expect(settings.mode == .production && settings.notificationFilePath != nil)
        let recorder = LogRecorder()
        let runtime = try await StrongAuthRuntime.start(
            settings: settings, logger: Logger(label: "test") { _ in LevelRecordingLogHandler(recorder: recorder) })
        do {
            try await buildApplication(runtime: runtime).test(.router) { client in
                let ready = try await client.executeRequest(uri: "/ready", method: .get, headers: [:], body: nil)
                #expect(ready.status == .ok)
            }
            #expect(recorder.lines.contains { $0.hasPrefix("warning ") && $0.contains("notifications.allowFileInProduction") }, "\(recorder.lines)")
            await runtime.shutdown()
        } catch {
            await runtime.shutdown()
            throw error
        }
    }

    @Test("metrics.port and metrics.host: read from flags and STRONGAUTH_METRICS_*, 127.0.0.1 by default, clashes refused")
    func metricsSettings() async throws {
        let defaults = try await settings()
        #expect(defaults.metrics.port == nil && defaults.metrics.host == "127.0.0.1")
        #expect(defaults.metricsOnMainPort, "development keeps /metrics on the main port")
        let configured = try await settings(environment: ["STRONGAUTH_METRICS_PORT": "9464", "STRONGAUTH_METRICS_HOST": "10.0.0.5"])
        #expect(configured.metrics.port == 9464 && configured.metrics.host == "10.0.0.5")
        #expect(!configured.metricsOnMainPort)
        let production = try await settings(Self.acceptable())
        #expect(!production.metricsOnMainPort && production.metrics.port == nil)
        await #expect(throws: SettingsError.self) { try await settings(["metrics.port": .int(70_000)]) }
        await #expect(throws: SettingsError.self) { try await settings(["metrics.port": .int(8080)]) }
        await #expect(throws: SettingsError.self) {
            try await settings(["metrics.port": .int(9000), "powerauth.integrationPort": .int(9000)])
        }
    }

    @Test("production: GET /metrics on the main router is 404 problem+json, with or without metrics.port")
    func productionMetricsNotOnMainPort() async throws {
        for extra: [String: ConfigContent] in [[:], ["metrics.port": .int(0)]] {
            let flags = Self.productionServer
            try await TestServer.with(flags.merging(extra) { $1 }) { server in
                try await server.test { client in
                    let metrics = try await client.executeRequest(uri: "/metrics", method: .get, headers: [:], body: nil)
                    #expect(metrics.status == .notFound)
                    #expect(metrics.headers[.contentType] == "application/problem+json")
                    #expect(!String(buffer: metrics.body).contains("http_server_request"))
                    // The rest of the operations endpoints stay where they are.
                    #expect(try await client.executeRequest(uri: "/health", method: .get, headers: [:], body: nil).status == .ok)
                    #expect(try await client.executeRequest(uri: "/ready", method: .get, headers: [:], body: nil).status == .ok)
                }
            }
        }
    }

    /// What a production configuration that is otherwise acceptable needs besides `extra`: a
    /// master key, a channel other than `file`, an https issuer, PostgreSQL, an admin listener.
    static func acceptable(_ extra: [String: ConfigContent] = [:]) -> [String: ConfigContent] {
        let base: [String: ConfigContent] = [
            "mode": .string("production"), "master.key": .string(masterKey), "notifications.channel": .string("log"),
            "issuer": .string("https://auth.bank.example"), "database.url": .string("postgres://strongauth@db.internal/strongauth"),
            "admin.port": .int(9443),
        ]
        return base.merging(extra) { $1 }
    }

    /// `acceptable()` on the test server's SQLite file, allowed explicitly.
    static var productionServer: [String: ConfigContent] {
        var flags = acceptable(["database.allowSqliteInProduction": .bool(true)])
        flags["database.url"] = nil
        return flags
    }

    @Test("the acceptable production configuration is accepted (so each refusal below has one cause)")
    func acceptableProductionConfiguration() async throws {
        #expect(await refusal(Self.acceptable()) == nil)
    }

    @Test("production with an http:// issuer is refused, naming issuer and http.allowHttpIssuerInProduction")
    func productionRefusesHTTPIssuer() async throws {
        for issuer in ["http://auth.bank.example", "HTTP://auth.bank.example", "ftp://auth.bank.example"] {
            let refused = await refusal(Self.acceptable(["issuer": .string(issuer)]))
            #expect(refused?.contains("issuer") == true && refused?.contains("http.allowHttpIssuerInProduction") == true, "\(refused ?? "accepted")")
        }
        // The default issuer (http://127.0.0.1:8080, made from http.host/http.port) is refused too.
        var implicit = Self.acceptable()
        implicit["issuer"] = nil
        #expect(await refusal(implicit)?.contains("STRONGAUTH_ISSUER") == true)
        // Allowed explicitly (a private network without TLS); not in development at all.
        #expect(await refusal(Self.acceptable(["issuer": .string("http://sca.internal"), "http.allowHttpIssuerInProduction": .bool(true)])) == nil)
        #expect(
            await refusal(
                [:],
                environment: [
                    "STRONGAUTH_MODE": "production", "STRONGAUTH_MASTER_KEY": Self.masterKey, "STRONGAUTH_NOTIFICATIONS_CHANNEL": "log",
                    "STRONGAUTH_ISSUER": "http://sca.internal", "STRONGAUTH_HTTP_ALLOW_HTTP_ISSUER_IN_PRODUCTION": "true",
                    "STRONGAUTH_DATABASE_URL": "postgres://strongauth@db.internal/strongauth", "STRONGAUTH_ADMIN_PORT": "9443",
                ]) == nil)
        #expect(await refusal(["issuer": .string("http://127.0.0.1:8080")]) == nil)
    }

    @Test("production on SQLite is refused unless database.allowSqliteInProduction; PostgreSQL is fine")
    func productionRefusesSQLite() async throws {
        for url in ["sqlite:/var/lib/strongauth/strongauth.sqlite", "SQLite:data/x.sqlite"] {
            let refused = await refusal(Self.acceptable(["database.url": .string(url)]))
            #expect(
                refused?.contains("database.allowSqliteInProduction") == true && refused?.contains("--allow-sqlite-in-production") == true
                    && refused?.contains("database.url") == true, "\(refused ?? "accepted")")
        }
        var implicit = Self.acceptable()
        implicit["database.url"] = nil
        #expect(await refusal(implicit) != nil, "the default database is SQLite")
        #expect(await refusal(Self.acceptable(["database.url": .string("sqlite:x.sqlite"), "database.allowSqliteInProduction": .bool(true)])) == nil)
        #expect(await refusal(Self.acceptable(["database.url": .string("postgresql://u@h/db")])) == nil)
        #expect(await refusal(["database.url": .string("sqlite:x.sqlite")]) == nil, "development runs on SQLite")
    }

    @Test("production with /admin on the public port is refused unless admin.port or admin.allowOnMainPortInProduction")
    func productionRefusesAdminOnMainPort() async throws {
        var onMain = Self.acceptable()
        onMain["admin.port"] = nil
        let refused = await refusal(onMain)
        #expect(
            refused?.contains("admin.port") == true && refused?.contains("admin.allowOnMainPortInProduction") == true,
            "\(refused ?? "accepted")")
        #expect(await refusal(onMain.merging(["admin.allowOnMainPortInProduction": .bool(true)]) { $1 }) == nil)
        #expect(await refusal(Self.acceptable(["admin.port": .int(0)])) == nil)
        // The admin listener must not share a port with another listener.
        // The admin listener must not share a port with another listener.
        await #expect(throws: SettingsError.self) { try await settings(["admin.port": .int(8080)]) }
        await #expect(throws: SettingsError.self) { try await settings(["admin.port": .int(9000), "metrics.port": .int(9000)]) }
        await #expect(throws: SettingsError.self) { try await settings(["admin.port": .int(9000), "powerauth.integrationPort": .int(9000)]) }
        await #expect(throws: SettingsError.self) { try await settings(["admin.port": .int(70_000)]) }
    }

    @Test("admin.port moves /admin off the main router onto the admin listener, which serves nothing else")
    func adminListener() async throws {
        try await TestServer.with(Self.productionServer) { server in
            try await server.test { client in
                for path in ["/admin/login", "/admin", "/admin/assets/app.css"] {
                    let main = try await client.executeRequest(uri: path, method: .get, headers: [:], body: nil)
                    #expect(main.status == .notFound, "\(path)")
                    #expect(main.headers[.contentType] == "application/problem+json")
                }
                let selfService = try await client.executeRequest(uri: "/self-service/login", method: .get, headers: [:], body: nil)
                #expect(selfService.status == .ok, "self-service stays on the public port")
            }
            try await Application(router: try buildAdminRouter(runtime: server.runtime)).test(.router) { client in
                let login = try await client.executeRequest(uri: "/admin/login", method: .get, headers: [:], body: nil)
                #expect(login.status == .ok)
                for path in ["/health", "/oauth/token", "/self-service/login", "/metrics", "/.well-known/jwks.json"] {
                    let other = try await client.executeRequest(uri: path, method: .get, headers: [:], body: nil)
                    #expect(other.status == .notFound, "\(path)")
                }
            }
        }
        // Without admin.port (development), /admin stays on the main router.
        try await TestServer.with { server in
            try await server.test { client in
                let login = try await client.executeRequest(uri: "/admin/login", method: .get, headers: [:], body: nil)
                #expect(login.status == .ok)
            }
        }
    }

    @Test("development with metrics.port: /metrics moves off the main port")
    func developmentMetricsPortMovesMetrics() async throws {
        try await TestServer.with(["metrics.port": .int(0)]) { server in
            try await server.test { client in
                let metrics = try await client.executeRequest(uri: "/metrics", method: .get, headers: [:], body: nil)
                #expect(metrics.status == .notFound)
            }
        }
    }

    @Test("the metrics listener's router serves /metrics (Prometheus text) and nothing else")
    func metricsRouter() async throws {
        try await TestServer.with(Self.productionServer) {
            server in
            // One request through the main router, so a request metric exists.
            try await server.test { client in
                _ = try await client.executeRequest(uri: "/health", method: .get, headers: [:], body: nil)
            }
            let metricsApp = Application(router: try buildMetricsRouter(runtime: server.runtime))
            try await metricsApp.test(.router) { client in
                let metrics = try await client.executeRequest(uri: "/metrics", method: .get, headers: [:], body: nil)
                #expect(metrics.status == .ok)
                #expect(metrics.headers[.contentType]?.hasPrefix("text/plain") == true)
                #expect(String(buffer: metrics.body).contains("http_server_request"))
                for path in ["/health", "/.well-known/jwks.json", "/admin/login", "/openapi.yaml"] {
                    let other = try await client.executeRequest(uri: path, method: .get, headers: [:], body: nil)
                    #expect(other.status == .notFound, "\(path)")
                }
            }
        }
    }
}

/// Records each log line with its level, for "was warned about" checks.
struct LevelRecordingLogHandler: LogHandler {
    let recorder: LogRecorder
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        recorder.append("\(event.level) \(event.message)")
    }
}
