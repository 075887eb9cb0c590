import ArgumentParser
import Configuration
import Foundation
import Logging
import StrongAuthServer
import Synchronization

/// Options every command shares: where the data is and where the configuration file is.
struct CommonOptions: ParsableArguments {
    @Option(name: .customLong("database"), help: "Database URL: sqlite:PATH or postgres://user:pass@host:port/db (env STRONGAUTH_DATABASE_URL).")
    var databaseURL: String?

    @Option(name: .customLong("data-dir"), help: "Directory for the SQLite database and development keys (default: data).")
    var dataDirectory: String?

    @Option(name: .customLong("config"), help: "A JSON configuration file (env STRONGAUTH_CONFIG_FILE).")
    var configFile: String?

    /// Builds the layered settings with `extra` flags on top.
    func settings(extra: [String: ConfigContent] = [:]) async throws -> ServerSettings {
        var flags = extra
        if let databaseURL { flags["database.url"] = .string(databaseURL) }
        if let dataDirectory { flags["data.dir"] = .string(dataDirectory) }
        return try ServerSettings(reader: try await ServerSettings.reader(flags: flags, configFile: configFile))
    }
}

/// swift-log may be bootstrapped once per process; a command that opens the runtime twice
/// (`demo`) keeps the first set-up.
private let loggingBootstrapped = Mutex(false)

/// Sets up swift-log once per process: text or JSON lines on standard error.
func bootstrapLogging(format: String, level: Logger.Level) -> Logger {
    let first = loggingBootstrapped.withLock { done in
        defer { done = true }
        return !done
    }
    guard first else { return Logger(label: "strongauth") }
    LoggingSystem.bootstrap { label in
        if format == "json" { return JSONLogHandler(label: label, level: level) }
        return TextLogHandler(label: label, level: level)
    }
    return Logger(label: "strongauth")
}

/// Starts the runtime for a one-shot command, runs `body`, and always closes the database.
func withRuntime<T: Sendable>(
    _ options: CommonOptions, _ body: @Sendable (StrongAuthRuntime) async throws -> T
) async throws -> T {
    let settings = try await options.settings()
    let logger = bootstrapLogging(format: settings.logFormat, level: .warning)
    let runtime = try await StrongAuthRuntime.start(settings: settings, logger: logger)
    do {
        let result = try await body(runtime)
        await runtime.shutdown()
        return result
    } catch {
        await runtime.shutdown()
        throw error
    }
}

/// Prints `value` as pretty JSON on standard output (what scripts and tests read).
func printJSON(_ value: [String: Any]) throws {
    let data = try JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    print(String(decoding: data, as: UTF8.self))
}
