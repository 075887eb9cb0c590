import Foundation
import Logging
import PostgresKit
import PostgresNIO
import SQLKit
import Synchronization

/// PostgreSQL through postgres-nio's `PostgresClient` (its own connection pool).
///
/// The client must be running before connections are leased, so the pool runs it in a task
/// of its own from creation until `shutdown()`: the server, the CLI and the tests all get a
/// usable pool without wiring it into a service group.
///
/// **When the database goes away** (restarted, failed over, unreachable), `PostgresClient`
/// reconnects by itself, but a lease waits meanwhile — up to its circuit breaker's minute —
/// and a query on a connection the server closed fails. So the pool keeps one bit of health:
/// a failure that means "no database" (a lost or refused connection, the server shutting down
/// or starting up) marks it unavailable, and then every call fails at once with
/// `DatabaseUnavailableError` (the faces answer 503) instead of queueing, while one probe task
/// asks the database `SELECT 1` (each try bounded by `probeTimeout`) until it answers and marks
/// the pool available again. `isReachable()` (`/ready`) is such a bounded probe too. No node is
/// restarted; nothing is decided from the bit but "try again later".
public final class PostgresPool: DatabasePool {
    public let engine = DatabaseEngine.postgres
    private let client: PostgresClient
    private let runTask: Task<Void, Never>
    private let logger: Logger
    /// How long one probe (`/ready`, or the recovery loop) waits for a connection and `SELECT 1`.
    public let probeTimeout: Duration
    /// Read on every call (one relaxed atomic load); written only when the health changes.
    private let available = Atomic<Bool>(true)
    /// The recovery loop while the database is unreachable.
    private let recovery = Mutex<Task<Void, Never>?>(nil)

    /// Connects to a `postgres://user:password@host:port/database[?sslmode=require]` URL.
    /// `searchPath` confines every connection to one schema (the conformance tests give each
    /// test a schema of its own).
    public init(
        url: String, maximumConnections: Int = 20, searchPath: String? = nil, probeTimeout: Duration = .seconds(2), logger: Logger
    ) throws {
        var configuration = try Self.configuration(from: url)
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(5)
        if let searchPath {
            configuration.options.additionalStartupParameters.append(("search_path", searchPath))
        }
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        self.probeTimeout = probeTimeout
        runTask = Task { await client.run() }
    }

    /// Parses a libpq-style URL into a client configuration.
    static func configuration(from url: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url),
            components.scheme == "postgres" || components.scheme == "postgresql",
            let host = components.host, !host.isEmpty
        else { throw DatabaseURLError.invalid(url: Self.redacted(url)) }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        let sslMode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "disable"
        let tls: PostgresClient.Configuration.TLS =
            switch sslMode {
            case "require", "verify-full", "verify-ca": .require(.makeClientConfiguration())
            case "prefer": .prefer(.makeClientConfiguration())
            default: .disable
            }
        return PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: components.user ?? "postgres",
            password: components.password, database: database.isEmpty ? nil : database, tls: tls)
    }

    /// The URL without its password, for messages and logs.
    public static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url) else { return "<unparseable database URL>" }
        if components.password != nil { components.password = "***" }
        return components.string ?? "<database URL>"
    }

    public func withConnection<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        guard available.load(ordering: .relaxed) else { throw DatabaseUnavailableError(reason: "the database is not reachable") }
        do {
            return try await client.withConnection { connection in
                try await body(connection.sql())
            }
        } catch where Self.meansUnavailable(error) {
            markUnavailable(because: error)
            throw DatabaseUnavailableError(reason: "the database connection failed")
        }
    }

    /// Whether the database answers `SELECT 1` within `probeTimeout` (for `/ready`); also moves
    /// the pool's health either way.
    public func isReachable() async -> Bool {
        if await probe() {
            available.store(true, ordering: .relaxed)
            return true
        }
        markUnavailable(because: nil)
        return false
    }

    /// Whether calls fail at once with `DatabaseUnavailableError` right now.
    public var isMarkedUnavailable: Bool { !available.load(ordering: .relaxed) }

    /// One bounded `SELECT 1`: a lease that waits longer than `probeTimeout` is cancelled.
    private func probe() async -> Bool {
        let client = client
        let timeout = probeTimeout
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                (try? await client.withConnection { connection in
                    try await connection.sql().raw("SELECT 1 AS one").run()
                }) != nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    /// Marks the pool unavailable and starts the one recovery loop (if none runs).
    private func markUnavailable(because error: (any Error)?) {
        available.store(false, ordering: .relaxed)
        let started: Bool = recovery.withLock { recovery in
            guard recovery == nil else { return false }
            recovery = Task { [weak self] in
                while !Task.isCancelled {
                    guard let self else { return }
                    if await self.probe() {
                        self.recovery.withLock { $0 = nil }
                        self.available.store(true, ordering: .relaxed)
                        self.logger.notice("the database is reachable again")
                        return
                    }
                    try? await Task.sleep(for: .milliseconds(250))
                }
            }
            return true
        }
        if started {
            logger.warning(
                "the database is not reachable; calls fail with 503 until it answers again",
                metadata: error.map { ["error": "\(String(reflecting: $0))"] } ?? [:])
        }
    }

    /// Errors that say "there is no database to talk to" rather than "this statement failed":
    /// a lost, refused or closed connection, SQLSTATE classes 08 (connection exception) and 57
    /// (the server shutting down, starting up, or cancelling for the operator), too many
    /// connections (53300), and the pool's circuit breaker.
    static func meansUnavailable(_ error: any Error) -> Bool {
        if let error = error as? PSQLError {
            switch error.code {
            case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed:
                return true
            case .server:
                let state = error.serverInfo?[.sqlState] ?? ""
                return state.hasPrefix("08") || state.hasPrefix("57P") || state == "53300"
            default:
                return false
            }
        }
        return String(describing: error).contains("CircuitBreakerTripped")
    }

    public func withWriteConnection<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await withConnection(body)
    }

    public func withTransaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await withConnection { db in
            try await runTransaction(on: db, begin: "BEGIN", body)
        }
    }

    public func shutdown() async {
        let loop = recovery.withLock { recovery in
            defer { recovery = nil }
            return recovery
        }
        loop?.cancel()
        await loop?.value
        runTask.cancel()
        await runTask.value
    }
}

/// The database cannot be reached right now (PostgreSQL restarting, the network down): the
/// request may be retried shortly. The faces answer 503 with `Retry-After`.
public struct DatabaseUnavailableError: Error, CustomStringConvertible {
    public var reason: String
    public init(reason: String) { self.reason = reason }
    public var description: String { "database unavailable: \(reason)" }
}

/// A database URL that cannot be used.
public enum DatabaseURLError: Error, CustomStringConvertible {
    case invalid(url: String)
    case unsupportedScheme(String)

    public var description: String {
        switch self {
        case .invalid(let url): "invalid PostgreSQL URL \(url); expected postgres://user:password@host:port/database"
        case .unsupportedScheme(let scheme): "unsupported database scheme '\(scheme)'; use sqlite:PATH or postgres://…"
        }
    }
}
