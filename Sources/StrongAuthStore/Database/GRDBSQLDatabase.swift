import Foundation
import GRDB
import Logging
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit
import Synchronization

/// SQLKit's `SQLDatabase` over one GRDB connection: the repositories keep speaking SQLKit, and
/// each statement runs at once on the calling thread from GRDB's prepared-statement cache.
///
/// Why not sqlite-nio's connection: it prepares every statement anew and runs each one on a
/// thread pool, handing every row back through an event loop — three thread switches per
/// statement, which cost more than the statement itself (docs/benchmarks.md, "SQLite through
/// GRDB"). SQLite answers a prepared statement in microseconds, so running it in line is
/// cheaper than any hand-off; the pool runs the whole lease on its own threads
/// (`SQLiteThreadExecutor`) and hands the connection to one task at a time, so GRDB's own queue
/// is never contended and `inDatabase` runs the closure on the calling thread.
///
/// SQLite's own busy handler is off: it would sleep on the calling thread — one of the few
/// threads every task shares — while another process (a second node, a CLI command) holds the
/// lock. A statement that finds the database locked is retried after an asynchronous pause
/// instead (`GRDBConnection.retryingWhileBusy`).
///
/// Binds and rows go through SQLiteKit's `SQLiteDataEncoder`/`SQLiteDataDecoder`, so every
/// value is encoded and decoded exactly as it was over sqlite-nio.
struct GRDBSQLDatabase: SQLDatabase {
    let connection: GRDBConnection
    let logger: Logger
    let eventLoop: any EventLoop

    var version: (any SQLDatabaseReportedVersion)? { nil }
    var dialect: any SQLDialect { SQLiteDialect() }
    var queryLogLevel: Logger.Level? { nil }

    func execute(sql query: any SQLKit.SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        eventLoop.makeFutureWithTask { try await execute(sql: query, onRow) }
    }

    func execute(sql query: any SQLKit.SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        try await connection.retryingWhileBusy { try run(query, onRow) }
    }

    func withSession<R>(_ closure: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await closure(self)
    }

    private func run(_ query: any SQLKit.SQLExpression, _ onRow: (any SQLRow) -> Void) throws {
        let (sql, binds) = serialize(query)
        let encoder = SQLiteDataEncoder()
        let arguments = StatementArguments(try binds.map { DatabaseValue(try encoder.encode($0)) })
        try connection.run(sql, arguments) { columns, values in
            onRow(SQLiteRowValues(columns: columns, values: values))
        }
    }
}

/// One SQLite connection (a GRDB `DatabaseQueue`) and the SQL texts whose prepared statements
/// it keeps.
///
/// Only data statements are cached (`SELECT`, `INSERT`, `UPDATE`, `DELETE`, `WITH`): schema
/// changes, pragmas and transaction control run once and are prepared each time. The cache is
/// capped at `maximumCachedStatements` texts: the store's SQL is static text with binds, but a
/// builder's `IN (…)` list yields one text per length, and a connection must not grow without
/// bound on such input.
///
/// A kept statement must never outlive the schema it was prepared for: SQLite re-prepares it
/// after another connection changed the schema, but GRDB remembers its column names, so a
/// `SELECT *` would name the new columns wrongly. Each lease therefore starts with
/// `dropStatementsIfSchemaChanged()` (one read of the schema cookie in the file header, as GRDB's
/// own reader pool does).
final class GRDBConnection: Sendable {
    let queue: DatabaseQueue
    private struct CacheState {
        var texts: Set<String> = []
        var schemaVersion: Int32?
    }
    private let cache = Mutex(CacheState())
    static let maximumCachedStatements = 512

    init(queue: DatabaseQueue) { self.queue = queue }

    /// How long a statement keeps retrying while another connection holds the lock it needs
    /// (what `busy_timeout` was).
    static let busyPatience = Duration.seconds(10)

    /// Runs `body` (one statement) and, while it fails with `SQLITE_BUSY` outside a transaction
    /// (nothing ran yet, so running it again is safe), again after a pause that grows from
    /// 0.5 ms to 50 ms, for at most `busyPatience`. Inside a transaction a busy statement is
    /// not retried: the transaction (`BEGIN IMMEDIATE`) holds the write lock, so it cannot
    /// happen there, and if it did, the error rolls the whole transaction back.
    func retryingWhileBusy<T>(_ body: () throws -> T) async throws -> T {
        try await Self.retryingWhileBusy(insideTransaction: { queue.inDatabase { $0.isInsideTransaction } }, body)
    }

    /// `retryingWhileBusy` for work that may hold no connection yet (opening one).
    static func retryingWhileBusy<T>(insideTransaction: () -> Bool = { false }, _ body: () throws -> T) async throws -> T {
        let deadline = ContinuousClock.now + busyPatience
        var pause = Duration.microseconds(500)
        while true {
            do {
                return try body()
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
                guard !insideTransaction(), ContinuousClock.now + pause < deadline else { throw error }
                try await Task.sleep(for: pause)
                pause = min(pause * 2, .milliseconds(50))
            }
        }
    }

    /// Forgets every kept statement when the schema changed since this connection last looked.
    func dropStatementsIfSchemaChanged() async throws {
        try await retryingWhileBusy { try dropStatementsIfSchemaChangedOnce() }
    }

    private func dropStatementsIfSchemaChangedOnce() throws {
        try queue.inDatabase { db in
            let version = try db.schemaVersion()
            let changed = cache.withLock { state in
                defer { state.schemaVersion = version }
                guard let known = state.schemaVersion, known != version else { return false }
                state.texts.removeAll()
                return true
            }
            guard changed else { return }
            // Reading the cookie does not reload this connection's copy of the schema; running a
            // statement over sqlite_master does (SQLite notices the new cookie when it steps), so
            // statements prepared from now on see the new schema.
            _ = try Row.fetchOne(db, sql: "SELECT 1 FROM sqlite_master LIMIT 1")
            db.clearSchemaCache()
        }
    }

    /// Runs `sql` with `arguments` and hands each row to `onRow` (the column names, then the values).
    func run(_ sql: String, _ arguments: StatementArguments, _ onRow: ([String], [SQLiteData]) -> Void) throws {
        let cacheable = mayCache(sql)
        try queue.inDatabase { db in
            let statement = cacheable ? try db.cachedStatement(sql: sql) : try db.makeStatement(sql: sql)
            try statement.setArguments(arguments)
            let columns = statement.columnNames
            if columns.isEmpty {
                try statement.execute()
                return
            }
            let rows = try Row.fetchCursor(statement)
            while let row = try rows.next() {
                var values: [SQLiteData] = []
                values.reserveCapacity(columns.count)
                for index in 0..<columns.count {
                    values.append(SQLiteData(row[index] as DatabaseValue))
                }
                onRow(columns, values)
            }
        }
    }

    /// How many SQL texts this connection keeps prepared.
    var cachedStatementCount: Int { cache.withLock { $0.texts.count } }

    private func mayCache(_ sql: String) -> Bool {
        guard Self.isDataStatement(sql) else { return false }
        return cache.withLock { state in
            if state.texts.contains(sql) { return true }
            guard state.texts.count < Self.maximumCachedStatements else { return false }
            state.texts.insert(sql)
            return true
        }
    }

    /// Whether `sql` reads or writes rows (and so is worth keeping prepared).
    static func isDataStatement(_ sql: String) -> Bool {
        let head = sql.utf8.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "(") }.prefix(6)
        let keyword = String(decoding: head, as: UTF8.self).uppercased()
        return ["SELECT", "INSERT", "UPDATE", "DELETE"].contains(keyword) || keyword.hasPrefix("WITH")
    }
}

/// One row, copied out of the statement (SQLKit may keep rows after the statement moves on).
private struct SQLiteRowValues: SQLRow {
    let columns: [String]
    let values: [SQLiteData]

    var allColumns: [String] { columns }

    func contains(column: String) -> Bool { columns.contains(column) }

    func decodeNil(column: String) throws -> Bool {
        guard let index = columns.firstIndex(of: column) else { return true }
        return values[index] == .null
    }

    func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        guard let index = columns.firstIndex(of: column) else { throw MissingColumn(column: column) }
        let value = values[index]
        // NULL into an optional without the decoder's nested-decoder detour (a nullable column's
        // usual value).
        if value == .null, let optional = D.self as? any NullDecodable.Type, let none = optional.decodedNull as? D { return none }
        return try Self.decoder.decode(D.self, from: value)
    }

    /// One decoder for every row: `SQLiteDataDecoder()` makes a `JSONDecoder` each time, which
    /// cost ~4 % of a grant's CPU when made per column.
    private static let decoder = SQLiteDataDecoder()
}

/// `Optional`, whose NULL decodes to `nil`.
private protocol NullDecodable {
    static var decodedNull: Self { get }
}

extension Optional: NullDecodable {
    fileprivate static var decodedNull: Self { nil }
}

/// A column a query asked for and the row does not have.
struct MissingColumn: Error, CustomStringConvertible {
    let column: String
    var description: String { "no column \(column) in the row" }
}

extension DatabaseValue {
    init(_ data: SQLiteData) {
        switch data {
        case .integer(let value): self = Int64(value).databaseValue
        case .float(let value): self = value.databaseValue
        case .text(let value): self = value.databaseValue
        case .blob(let buffer): self = Data(buffer.readableBytesView).databaseValue
        case .null: self = .null
        }
    }
}

extension SQLiteData {
    init(_ value: DatabaseValue) {
        switch value.storage {
        case .null: self = .null
        case .int64(let value): self = .integer(Int(value))
        case .double(let value): self = .float(value)
        case .string(let value): self = .text(value)
        case .blob(let data): self = .blob(ByteBuffer(bytes: data))
        }
    }
}
