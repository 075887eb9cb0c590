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
/// the `file` notification channel (SMS codes in a plain file) unless explicitly allowed, and
/// `/metrics` on the public port (it is served only on `metrics.port`).
@Suite("Production mode: no file notifications unless allowed, /metrics only on its own listener")
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
        #expect(await refusal(["mode": .string("production"), "notifications.channel": .string("log")]) == nil)
        #expect(
            await refusal([
                "mode": .string("production"), "notifications.channel": .string("http"),
                "notifications.httpURL": .string("https://sms.example/send"),
            ]) == nil)
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
        let production = try await settings(["mode": .string("production"), "notifications.channel": .string("log")])
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
            let flags: [String: ConfigContent] = [
                "mode": .string("production"), "master.key": .string(Self.masterKey), "notifications.channel": .string("log"),
            ]
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
        try await TestServer.with(["mode": .string("production"), "master.key": .string(Self.masterKey), "notifications.channel": .string("log")]) {
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
