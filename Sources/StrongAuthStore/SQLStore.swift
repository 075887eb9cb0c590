import Foundation
import Logging
import SQLKit
import SQLiteKit
import StrongAuthCore

/// The one data layer: every repository of the core over SQLKit, on SQLite or PostgreSQL.
///
/// All SQL here is portable between the two engines (TEXT/BIGINT/INTEGER columns, millisecond
/// timestamps, `ON CONFLICT DO NOTHING`, `RETURNING`); the store conformance suite runs the same
/// tests against both.
public final class SQLStore: Sendable {
    public let pool: any DatabasePool
    /// How failed authentications are counted per window (`recordFailure`).
    public let failurePolicy: AuditFailurePolicy
    /// The timed locks `reserveAttempt` applies (`AttemptLimits`).
    public let attemptLimits: AttemptLimits

    public init(pool: any DatabasePool, failurePolicy: AuditFailurePolicy = .standard, attemptLimits: AttemptLimits = .standard) {
        self.pool = pool
        self.failurePolicy = failurePolicy
        self.attemptLimits = attemptLimits
    }

    /// Opens the database named by `url`: `sqlite:PATH` (or a bare path) or `postgres://…`;
    /// `sqliteReaders` reader connections on SQLite (each holds two open files); on PostgreSQL,
    /// at most `postgresConnections`, all kept open when `keepsPostgresConnectionsOpen` (a
    /// serving node; `PostgresPool.init`).
    public static func open(
        url: String, sqliteReaders: Int = SQLitePool.defaultReaders, postgresConnections: Int = 20,
        keepsPostgresConnectionsOpen: Bool = false, failurePolicy: AuditFailurePolicy = .standard,
        attemptLimits: AttemptLimits = .standard, logger: Logger
    ) async throws -> SQLStore {
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            let pool = try PostgresPool(
                url: url, maximumConnections: postgresConnections, keepsConnectionsOpen: keepsPostgresConnectionsOpen, logger: logger)
            return SQLStore(pool: pool, failurePolicy: failurePolicy, attemptLimits: attemptLimits)
        }
        if let colon = url.firstIndex(of: ":"), url[..<colon].allSatisfy(\.isLetter), url[..<colon].count > 1,
            !url.hasPrefix("sqlite:")
        {
            throw DatabaseURLError.unsupportedScheme(String(url[..<colon]))
        }
        let path = url.hasPrefix("sqlite:") ? String(url.dropFirst("sqlite:".count)) : url
        return SQLStore(
            pool: try await SQLitePool.open(path: path, readers: sqliteReaders, logger: logger), failurePolicy: failurePolicy,
            attemptLimits: attemptLimits)
    }
}

extension SQLStore {
    /// `items` in chunks of 32, then 8, then 1: a statement over many rows (`IN (…)`, multi-row
    /// `VALUES`) in three shapes in all, so that every one comes from the statement cache.
    static func statementChunks<Item>(of items: [Item]) -> [ArraySlice<Item>] {
        var chunks: [ArraySlice<Item>] = []
        var start = items.startIndex
        for size in [32, 8, 1] {
            while items.endIndex - start >= size {
                chunks.append(items[start..<start + size])
                start += size
            }
        }
        return chunks
    }

    /// Deletes up to `limit` rows of `table` matching `condition` (found by `key`, in one
    /// statement on `db`); returns how many. The sweeps' bounded batch: a `LIMIT` in a subquery,
    /// which both engines take in a `DELETE`, so that one sweep never holds the write lock long.
    static func deleteBatch(
        from table: StaticString, key: StaticString, where condition: StoreSQL, limit: Int, on db: any SQLDatabase
    ) async throws -> Int {
        let table = "\(table)", key = "\(key)"
        return try await db.sql(
            """
            DELETE FROM \(unsafeRaw: table) WHERE \(unsafeRaw: key) IN (
                SELECT \(unsafeRaw: key) FROM \(unsafeRaw: table) WHERE \(condition) LIMIT \(bind: limit))
            RETURNING \(unsafeRaw: key)
            """
        ).all().count
    }
}

// MARK: - Row helpers

/// The store reads its columns through these. An SQLite row's usual values (TEXT as `String`,
/// INTEGER as `Int`, NULL as `nil`) are taken directly, a PostgreSQL row's through PostgresNIO's
/// own decoders without `decode(column:as:)`'s casts; anything else goes through
/// `decode(column:as:)` exactly as before (`DecodingAgreement` holds both to the libraries').
extension SQLRow {
    func string(_ column: String) throws -> String {
        if let postgres = postgresRow { return try postgres.value(column, as: String.self) }
        if case .text(let text)? = try sqliteValue(column) { return text }
        return try decode(column: column, as: String.self)
    }
    func optionalString(_ column: String) throws -> String? {
        if let postgres = postgresRow { return try postgres.value(column, as: String?.self) }
        switch try sqliteValue(column) {
        case .text(let text)?: return text
        case .null?: return nil
        default: return try decode(column: column, as: String?.self)
        }
    }
    func int(_ column: String) throws -> Int {
        if let postgres = postgresRow { return try postgres.value(column, as: Int.self) }
        if case .integer(let integer)? = try sqliteValue(column) { return integer }
        return try decode(column: column, as: Int.self)
    }
    func date(_ column: String) throws -> Date {
        if let postgres = postgresRow { return Date(epochMilliseconds: try postgres.value(column, as: Int64.self)) }
        if case .integer(let milliseconds)? = try sqliteValue(column) { return Date(epochMilliseconds: Int64(milliseconds)) }
        return Date(epochMilliseconds: try decode(column: column, as: Int64.self))
    }
    func optionalDate(_ column: String) throws -> Date? {
        if let postgres = postgresRow { return try postgres.value(column, as: Int64?.self).map(Date.init(epochMilliseconds:)) }
        switch try sqliteValue(column) {
        case .integer(let milliseconds)?: return Date(epochMilliseconds: Int64(milliseconds))
        case .null?: return nil
        default: return try decode(column: column, as: Int64?.self).map(Date.init(epochMilliseconds:))
        }
    }

    /// A space-separated list column (scopes, grants, signature types, amr), split on its bytes:
    /// splitting by `Character` cost ~20 % of reading an approval row.
    func words(_ column: String) throws -> [String] {
        SpaceSeparated.words(try string(column))
    }

    /// The column's value if this is an SQLite row; nil for a PostgreSQL row. The type is asked
    /// by its metadata (one comparison), not by a dynamic cast from the existential. (Cast to the
    /// optional: the same one-pointer layout, without the compiler's `unsafeDowncast` advice,
    /// which needs an `AnyObject` the generic `Self` is not.)
    private func sqliteValue(_ column: String) throws -> SQLiteData? {
        guard Self.self == SQLiteRowValues.self else { return nil }
        return try unsafeBitCast(self, to: SQLiteRowValues?.self)?.value(column)
    }

    /// This row, if it is a PostgreSQL row (asked as `sqliteValue` asks).
    private var postgresRow: PostgresRowValues? {
        Self.self == PostgresRowValues.self ? unsafeBitCast(self, to: PostgresRowValues?.self) : nil
    }
}

extension Scopes {
    init(stored: String) { self.init(SpaceSeparated.words(stored)) }
}

/// The store's space-separated list columns.
enum SpaceSeparated {
    /// The non-empty words of `text`, split at ASCII spaces byte by byte.
    static func words(_ text: String) -> [String] {
        text.utf8.split(separator: UInt8(ascii: " ")).map { String(decoding: $0, as: UTF8.self) }
    }
}
