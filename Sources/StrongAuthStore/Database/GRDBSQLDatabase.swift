import Foundation
import GRDB
import GRDBSQLite
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

    /// One encoder for every statement (`SQLiteDataEncoder()` makes a `JSONEncoder` each time).
    private static let encoder = SQLiteDataEncoder()

    /// `bind` as `SQLiteDataEncoder` encodes it (sqlite-nio's `sqliteData` of each type), without
    /// its cast to `any SQLiteDataConvertible` — a protocol conformance lookup per value, ~11 % of
    /// the writer thread's time in a device challenge verification — for the store's own bind
    /// types; an optional holding one is unwrapped by the cast as by the encoder, and anything
    /// else (a `nil`, a `Date`, bytes) goes to the encoder.
    @inline(__always)
    static func sqliteData(_ bind: any Encodable) throws -> SQLiteData {
        switch bind {
        case let text as String: return .text(text)
        case let integer as Int: return .integer(integer)
        case let integer as Int64: return .integer(Int(integer))
        case let double as Double: return .float(double)
        case let flag as Bool: return .integer(flag ? 1 : 0)
        default: return try encoder.encode(bind)
        }
    }

    /// The encoder's own answer, for the tests that compare `sqliteData(_:)` with it.
    static func encodedByEncoder(_ bind: any Encodable) throws -> SQLiteData { try encoder.encode(bind) }

    func withSession<R>(_ closure: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await closure(self)
    }

    private func run(_ query: any SQLKit.SQLExpression, _ onRow: (any SQLRow) -> Void) throws {
        // The store's statements come finished, in SQLite's placeholders; anything else is serialized.
        let (sql, binds) = (query as? StoreSQL).map { ($0.text, $0.binds) } ?? serialize(query)
        let values = try binds.map { try Self.sqliteData($0) }
        try connection.run(sql, values) { columns, values in
            onRow(SQLiteRowValues(columns: columns, values: values))
        }
    }
}

/// One SQLite connection (a GRDB `DatabaseQueue`) and the SQL texts whose prepared statements
/// it keeps.
///
/// Only data statements (`SELECT`, `INSERT`, `UPDATE`, `DELETE`, `WITH`) and transaction control
/// (`BEGIN`, `COMMIT`, `ROLLBACK`, `SAVEPOINT`, `RELEASE`) are cached: schema changes and pragmas run once and are
/// prepared each time. The cache is capped at `maximumCachedStatements` texts: the store's SQL is
/// static text with binds, but a builder's `IN (…)` list yields one text per length, and a
/// connection must not grow without bound on such input.
///
/// A kept statement may outlive the schema it was prepared for (another connection migrates):
/// SQLite re-prepares it when it next steps, and `run` reads the column names again whenever
/// SQLite's count of the statement's preparations moved, so a `SELECT *` names the new columns
/// rightly.
final class GRDBConnection: Sendable {
    let queue: DatabaseQueue
    /// The texts kept prepared, each with the column names its statement last answered with.
    private let cachedTexts = Mutex([String: KnownColumns]())
    static let maximumCachedStatements = 512

    /// A prepared statement's column names, as read from it, and which preparation of which
    /// statement they were read from: SQLite re-prepares a statement after a schema change (its
    /// `SQLITE_STMTSTATUS_REPREPARE` count moves), and GRDB may drop a statement from its cache
    /// and prepare another; either may change the names. The statement is held (not its address)
    /// so that no other statement can take its place unnoticed. Used only by the task leasing the
    /// connection, under `cachedTexts`' lock.
    struct KnownColumns: @unchecked Sendable {
        var statement: Statement?
        var preparations: CInt = -1
        var names: RowColumnNames?
    }

    /// Closes the connection, after letting go of the statements its column names were read from.
    func close() throws {
        cachedTexts.withLock { $0.removeAll() }
        try queue.close()
    }

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
        try await Self.retryingWhileBusy(insideTransaction: { isInsideTransaction }, body)
    }

    /// Whether the connection is inside a transaction (SQLite's autocommit is off).
    var isInsideTransaction: Bool { queue.inDatabase { $0.isInsideTransaction } }

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

    /// Runs `sql` with `binds` and hands each row to `onRow` (the column names, then the values).
    ///
    /// The statement comes from GRDB's cache, but it is bound, stepped and read through SQLite's
    /// C API: GRDB's `StatementArguments`, `Row` and `DatabaseValue` cost more than the statement
    /// (docs/benchmarks.md). The column names are read once per preparation of the statement, so
    /// a statement SQLite re-prepared after a schema change (another connection's migration)
    /// names its new columns rightly — no schema check per lease is needed.
    func run(_ sql: String, _ binds: [SQLiteData], _ onRow: (RowColumnNames, [SQLiteData]) -> Void) throws {
        // SQLite blocks its caller (the disk, a long statement): never one of the threads every
        // task shares. Checked in debug builds, i.e. by every test that reaches the database.
        assert(SQLiteThreadExecutor.currentThreadName != nil, "an SQLite statement ran off the pool's threads: \(sql)")
        let known = mayCache(sql)
        try queue.inDatabase { db in
            let statement = known == nil ? try db.makeStatement(sql: sql) : try db.cachedStatement(sql: sql)
            // The statement object must outlive its handle's use: its deinit finalizes the handle.
            try withExtendedLifetime(statement) {
                try Self.execute(statement.sqliteStatement, of: db, sql: sql, binds: binds, onRow) {
                    known.map { knownColumns(of: statement, sql: sql, known: $0) } ?? Self.columnNames(of: statement.sqliteStatement)
                }
            }
        }
    }

    /// The column names `known` holds for `statement`, unless they were read from another
    /// statement or SQLite prepared this one anew since: then read again, and kept for the next execution.
    private func knownColumns(of statement: Statement, sql: String, known: KnownColumns) -> RowColumnNames {
        let preparations = sqlite3_stmt_status(statement.sqliteStatement, SQLITE_STMTSTATUS_REPREPARE, 0)
        if known.statement === statement, known.preparations == preparations, let names = known.names { return names }
        let names = Self.columnNames(of: statement.sqliteStatement)
        cachedTexts.withLock { $0[sql] = KnownColumns(statement: statement, preparations: preparations, names: names) }
        return names
    }

    /// The names of the statement's result columns (read once it has stepped: a statement SQLite
    /// re-prepared after a schema change names its columns anew).
    private static func columnNames(of handle: SQLiteStatement) -> RowColumnNames {
        RowColumnNames((0..<sqlite3_column_count(handle)).map { (index: CInt) -> String in String(cString: sqlite3_column_name(handle, index)) })
    }

    private static func execute(
        _ handle: SQLiteStatement, of db: Database, sql: String, binds: [SQLiteData], _ onRow: (RowColumnNames, [SQLiteData]) -> Void,
        columnNames: () -> RowColumnNames
    ) throws {
        // A statement is reset after each use, so it holds no read lock between uses; resetting
        // again here also clears what a failed use may have left.
        sqlite3_reset(handle)
        defer { sqlite3_reset(handle) }
        func failure(_ code: CInt) -> DatabaseError {
            let message = db.sqliteConnection.map { String(cString: sqlite3_errmsg($0)) }
            return DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: sql)
        }
        guard sqlite3_bind_parameter_count(handle) == CInt(binds.count) else {
            throw DatabaseError(
                resultCode: .SQLITE_MISUSE, message: "\(binds.count) values for \(sqlite3_bind_parameter_count(handle)) parameters", sql: sql)
        }
        for (offset, value) in binds.enumerated() {
            let code = bind(value, at: CInt(offset + 1), of: handle)
            guard code == SQLITE_OK else { throw failure(code) }
        }
        var columns: RowColumnNames?
        while true {
            let code = sqlite3_step(handle)
            if code == SQLITE_DONE { return }
            guard code == SQLITE_ROW else { throw failure(code) }
            let count = sqlite3_column_count(handle)
            let names = columns ?? columnNames()
            columns = names
            var values: [SQLiteData] = []
            values.reserveCapacity(Int(count))
            for index in 0..<count { values.append(value(at: index, of: handle)) }
            onRow(names, values)
        }
    }

    /// Binds `value` as SQLiteKit's encoder meant it (the same types sqlite-nio bound).
    private static func bind(_ value: SQLiteData, at index: CInt, of handle: SQLiteStatement) -> CInt {
        switch value {
        case .integer(let integer): return sqlite3_bind_int64(handle, index, Int64(integer))
        case .float(let double): return sqlite3_bind_double(handle, index, double)
        case .text(let text):
            // SQLite copies the bytes (SQLITE_TRANSIENT); an empty string is bound as a zero-length text, not NULL.
            return text.withCString { characters in sqlite3_bind_text(handle, index, characters, CInt(text.utf8.count), sqliteTransient) }
        case .blob(let buffer):
            return buffer.withUnsafeReadableBytes { bytes in
                // A zero-length blob, not NULL, when there are no bytes.
                sqlite3_bind_blob(handle, index, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), CInt(bytes.count), sqliteTransient)
            }
        case .null: return sqlite3_bind_null(handle, index)
        }
    }

    /// Column `index` of the current row, as sqlite-nio read it (text decoded as UTF-8 by its byte
    /// count, blobs copied).
    private static func value(at index: CInt, of handle: SQLiteStatement) -> SQLiteData {
        switch sqlite3_column_type(handle, index) {
        case SQLITE_INTEGER: return .integer(Int(sqlite3_column_int64(handle, index)))
        case SQLITE_FLOAT: return .float(sqlite3_column_double(handle, index))
        case SQLITE_TEXT:
            guard let text = sqlite3_column_text(handle, index) else { return .text("") }
            return .text(String(decoding: UnsafeBufferPointer(start: text, count: Int(sqlite3_column_bytes(handle, index))), as: UTF8.self))
        case SQLITE_BLOB:
            guard let blob = sqlite3_column_blob(handle, index) else { return .blob(ByteBuffer()) }
            return .blob(ByteBuffer(bytes: UnsafeRawBufferPointer(start: blob, count: Int(sqlite3_column_bytes(handle, index)))))
        default: return .null
        }
    }

    /// SQLITE_TRANSIENT: SQLite copies a bound value before the call returns.
    private static let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    /// How many SQL texts this connection keeps prepared.
    var cachedStatementCount: Int { cachedTexts.withLock { $0.count } }

    /// What is known of `sql`'s statement if it is (or now becomes) one kept prepared; `nil` if not.
    /// A text already kept is found by one lookup, before the keyword check that admits new ones.
    private func mayCache(_ sql: String) -> KnownColumns? {
        cachedTexts.withLock { texts in
            if let known = texts[sql] { return known }
            guard texts.count < Self.maximumCachedStatements, Self.mayKeepPrepared(sql) else { return nil }
            texts[sql] = KnownColumns()
            return KnownColumns()
        }
    }

    /// Whether `sql` reads or writes rows or controls a transaction or a group commit's savepoint
    /// (and so is worth keeping prepared).
    static func mayKeepPrepared(_ sql: String) -> Bool {
        let head = sql.utf8.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "(") }.prefix(9)
        let keyword = String(decoding: head, as: UTF8.self).uppercased()
        return ["SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"].contains {
            keyword.hasPrefix($0)
        }
    }
}

/// One row, copied out of the statement (SQLKit may keep rows after the statement moves on);
/// columns are found by name as `RowColumnNames` says.
final class SQLiteRowValues: NamedColumnsRow {
    let columnNames: RowColumnNames
    let values: [SQLiteData]
    /// Where the next lookup starts.
    private let nextColumn = Atomic<Int>(0)

    init(columns: RowColumnNames, values: [SQLiteData]) {
        columnNames = columns
        self.values = values
    }

    /// A row of its own column names (tests).
    convenience init(columns: [String], values: [SQLiteData]) {
        self.init(columns: RowColumnNames(columns), values: values)
    }

    var columns: [String] { columnNames.names }

    @inline(__always)
    func index(of column: String) -> Int? { columnNames.index(of: column, next: nextColumn) }

    func decodeNil(column: String) throws -> Bool {
        guard let index = index(of: column) else { return true }
        return values[index] == .null
    }

    func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        guard let index = index(of: column) else { throw MissingColumn(column: column) }
        let value = values[index]
        if let decoded: D = Self.decodedDirectly(value) { return decoded }
        // NULL into an optional without the decoder's nested-decoder detour (a nullable column's
        // usual value).
        if value == .null, let optional = D.self as? any NullDecodable.Type, let none = optional.decodedNull as? D { return none }
        return try Self.decoder.decode(D.self, from: value)
    }

    /// The store's common column types, read as `SQLiteDataDecoder` reads them but without its
    /// dynamic casts (~3 % of a request's CPU in the profile); `nil` leaves the value to the decoder.
    /// `Int64?` is every optional timestamp (`SQLRow.optionalDate`).
    @inline(__always)
    private static func decodedDirectly<D>(_ value: SQLiteData) -> D? {
        switch value {
        case .text(let text):
            if D.self == String.self { return text as? D }
            if D.self == String?.self { return String?.some(text) as? D }
        case .integer(let integer):
            if D.self == Int.self { return integer as? D }
            if D.self == Int?.self { return Int?.some(integer) as? D }
            if D.self == Int64.self { return Int64(integer) as? D }
            if D.self == Int64?.self { return Int64?.some(Int64(integer)) as? D }
            if D.self == Bool.self, integer == 0 || integer == 1 { return (integer == 1) as? D }
            if D.self == Bool?.self, integer == 0 || integer == 1 { return Bool?.some(integer == 1) as? D }
            if D.self == Date.self { return Date(timeIntervalSince1970: Double(integer)) as? D }
            if D.self == Date?.self { return Date?.some(Date(timeIntervalSince1970: Double(integer))) as? D }
            if D.self == Double.self { return Double(integer) as? D }
        case .float(let double):
            if D.self == Date.self { return Date(timeIntervalSince1970: double) as? D }
            if D.self == Date?.self { return Date?.some(Date(timeIntervalSince1970: double)) as? D }
            if D.self == Double.self { return double as? D }
        case .null:
            if D.self == String?.self { return String?.none as? D }
            if D.self == Int?.self { return Int?.none as? D }
            if D.self == Int64?.self { return Int64?.none as? D }
            if D.self == Date?.self { return Date?.none as? D }
            if D.self == Bool?.self { return Bool?.none as? D }
        case .blob: break
        }
        return nil
    }

    /// The value of `column`, for the store's typed accessors (`SQLRow.string(_:)` and the
    /// others): read without `decode(column:as:)`'s generic path, whose dynamic casts run for
    /// every column of every row (~4 % of a client read's CPU).
    @inline(__always)
    func value(_ column: String) throws -> SQLiteData {
        guard let index = index(of: column) else { throw MissingColumn(column: column) }
        return values[index]
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
