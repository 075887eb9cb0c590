import Foundation
import Logging
import PostgresKit
import PostgresNIO
import SQLKit

/// PostgreSQL through postgres-nio's `PostgresClient` (its own connection pool).
///
/// The client must be running before connections are leased, so the pool runs it in a task
/// of its own from creation until `shutdown()`: the server, the CLI and the tests all get a
/// usable pool without wiring it into a service group.
public final class PostgresPool: DatabasePool {
    public let engine = DatabaseEngine.postgres
    private let client: PostgresClient
    private let runTask: Task<Void, Never>

    /// Connects to a `postgres://user:password@host:port/database[?sslmode=require]` URL.
    /// `searchPath` confines every connection to one schema (the conformance tests give each
    /// test a schema of its own).
    public init(url: String, maximumConnections: Int = 20, searchPath: String? = nil, logger: Logger) throws {
        var configuration = try Self.configuration(from: url)
        configuration.options.maximumConnections = maximumConnections
        if let searchPath {
            configuration.options.additionalStartupParameters.append(("search_path", searchPath))
        }
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
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
        try await client.withConnection { connection in
            try await body(connection.sql())
        }
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
        runTask.cancel()
        await runTask.value
    }
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
