import ArgumentParser
import Configuration
import Foundation
import Hummingbird
import Logging
import StrongAuthServer
import StrongAuthStore

/// `strongauth serve`: the HTTP server. Zero configuration: SQLite under ./data, dev keys
/// generated, 127.0.0.1:8080. SIGTERM/SIGINT shut it down gracefully.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Run the server.")

    @OptionGroup var common: CommonOptions

    @Option(name: .customLong("http-port"), help: "Port to listen on (default 8080; env STRONGAUTH_HTTP_PORT).")
    var port: Int?

    @Option(name: .customLong("http-host"), help: "Address to listen on (default 127.0.0.1; env STRONGAUTH_HTTP_HOST).")
    var host: String?

    @Flag(
        name: .customLong("allow-sqlite-in-production"),
        help: "Let production mode run on SQLite: one node, no failover (database.allowSqliteInProduction).")
    var allowSQLiteInProduction = false

    func run() async throws {
        var flags: [String: ConfigContent] = [:]
        if let port { flags["http.port"] = .int(port) }
        if let host { flags["http.host"] = .string(host) }
        if allowSQLiteInProduction { flags["database.allowSqliteInProduction"] = .bool(true) }
        let settings = try await common.settings(extra: flags)
        let logger = bootstrapLogging(format: settings.logFormat, level: settings.logLevel)
        let runtime = try await StrongAuthRuntime.start(settings: settings, logger: logger, serving: true)
        let database =
            runtime.store.pool.engine == .sqlite
            ? settings.databaseURL : PostgresPool.redacted(settings.databaseURL)
        let app = try buildApplication(runtime: runtime) { port in
            print(
                """
                StrongAuth is listening on http://\(settings.host):\(port)  (database: \(database), mode: \(settings.mode.rawValue))
                  health:   curl http://\(settings.host):\(port)/health
                  API:      http://\(settings.host):\(port)/openapi.yaml
                  Get an admin credential (an OAuth client; its secret is printed once):
                    strongauth clients create --id admin --scopes admin --grants client_credentials\(common.databaseURL.map { " --database '\($0)'" } ?? "")
                """)
            fflush(nil)
        }
        try await serve(app, runtime: runtime, settings: settings, logger: logger)
    }
}

/// Runs `app` until SIGTERM/SIGINT (a drain bounded by `http.shutdownGraceSeconds`, then a hard
/// deadline: `ShutdownDeadline`), then shuts the runtime down, also when the server failed.
func serve(_ app: some ApplicationProtocol, runtime: StrongAuthRuntime, settings: ServerSettings, logger: Logger) async throws {
    let server = ShutdownDeadline.serviceGroup(running: app, gracePeriod: settings.shutdownGracePeriod, logger: logger)
    do {
        try await server.run()
    } catch {
        await runtime.shutdown()
        throw error
    }
    await runtime.shutdown()
}

/// `strongauth migrate`: applies pending database migrations (serve does this too).
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migrate", abstract: "Apply database migrations.")

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let settings = try await common.settings()
        let logger = bootstrapLogging(format: settings.logFormat, level: .warning)
        let store = try await SQLStore.open(url: settings.databaseURL, sqliteReaders: 1, logger: logger)
        do {
            let applied = try await Migrator.migrate(store.pool)
            await store.pool.shutdown()
            try printJSON(["database": store.pool.engine.rawValue, "applied": applied])
        } catch {
            await store.pool.shutdown()
            throw error
        }
    }
}
