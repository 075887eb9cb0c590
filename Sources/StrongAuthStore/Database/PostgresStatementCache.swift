import Logging
import PostgresKit
import PostgresNIO
import SQLKit
import Synchronization

/// Named prepared statements for the store's SQL, so that PostgreSQL parses and plans each
/// statement once per connection instead of once per execution.
///
/// The store's statements are static text with binds, so there are few of them. Each
/// (SQL text, bind types) pair gets a name once per pool; every connection prepares a name the
/// first time it runs it (postgres-nio keeps the per-connection state: `Parse`/`Describe` once,
/// then `Bind`/`Execute` only) and a fresh connection — after an outage, the client replaced —
/// starts with none. The bind types are part of the key and are sent in `Parse`, exactly as for
/// the unnamed statement of the plain path, so a value is never read as another type.
///
/// Only data statements are named (`SELECT`, `INSERT`, `UPDATE`, `DELETE`, `WITH`): DDL,
/// `BEGIN`/`COMMIT` and the like take the plain path, and so does a statement with a bind that
/// postgres-nio cannot encode directly (postgres-kit's slower `Encodable` path decides those).
///
/// **Never stale.** PostgreSQL itself re-plans a prepared statement after DDL or a changed
/// `search_path`; what it cannot do is change a statement's result columns (`SELECT *` after a
/// migration added a column): it answers SQLSTATE 0A000 ("cached plan must not change result
/// type"). And postgres-nio remembers a failed `Parse` for a name for the connection's lifetime
/// (a statement prepared inside an aborted transaction, or before its table existed, would fail
/// the same way for ever). So a name whose statement fails with anything but bad data (class
/// 22), a constraint (23) or a transaction conflict (40) is retired: the statement gets a new
/// name, prepared afresh on each connection. A statement retired `maximumRenames` times takes the
/// plain path from then on. A 0A000 outside a transaction is retried once on the plain path (it
/// is raised before the statement runs), so a migration by another node costs no request.
final class PostgresStatementCache: Sendable {
    /// Distinct statements named at most; further ones take the plain path.
    let capacity: Int
    /// Renames after failures before a statement takes the plain path for good.
    static let maximumRenames = 8

    struct Key: Hashable {
        var sql: String
        var types: [PostgresDataType]
    }

    private struct Entry {
        var name: String?
        var renames = 0
    }

    private struct Names {
        var entries: [Key: Entry] = [:]
        var issued = 0
        /// Executions on a named statement and retirements, for tests and diagnostics.
        var namedExecutions = 0
        var retirements = 0
    }

    private let names = Mutex(Names())
    private let prefix: String

    init(capacity: Int = 512, prefix: String = "sa") {
        self.capacity = capacity
        self.prefix = prefix
    }

    /// The name for `key`, issuing one if the statement is new; nil when it takes the plain path.
    func name(for key: Key) -> String? {
        names.withLock { names in
            if let entry = names.entries[key] {
                if entry.name != nil { names.namedExecutions += 1 }
                return entry.name
            }
            guard names.entries.count < capacity else { return nil }
            names.issued += 1
            let name = "\(prefix)\(names.issued)"
            names.entries[key] = Entry(name: name)
            names.namedExecutions += 1
            return name
        }
    }

    /// Gives `key` a new name (prepared afresh on every connection), unless `name` was already
    /// retired by another failure; after `maximumRenames` the statement takes the plain path.
    func retire(_ key: Key, name: String) {
        names.withLock { names in
            guard var entry = names.entries[key], entry.name == name else { return }
            names.retirements += 1
            entry.renames += 1
            if entry.renames > Self.maximumRenames {
                entry.name = nil
            } else {
                names.issued += 1
                entry.name = "\(prefix)\(names.issued)"
            }
            names.entries[key] = entry
        }
    }

    /// How many executions used a named statement, and how many names were retired.
    var statistics: (namedExecutions: Int, retirements: Int) {
        names.withLock { ($0.namedExecutions, $0.retirements) }
    }

    /// Whether `sql` is a data statement worth naming (not DDL, not transaction control).
    static func isCacheable(_ sql: String) -> Bool {
        let keyword = sql.utf8.drop(while: { $0 == 0x20 || $0 == 0x0A || $0 == 0x09 || $0 == 0x0D }).prefix(6)
        for candidate in ["SELECT", "INSERT", "UPDATE", "DELETE"] where keyword.elementsEqual(candidate.utf8, by: Self.caseInsensitive) {
            return true
        }
        guard keyword.prefix(4).elementsEqual("WITH".utf8, by: Self.caseInsensitive), let next = keyword.dropFirst(4).first else {
            return false
        }
        return !next.isLetterOrDigit
    }

    private static func caseInsensitive(_ byte: UInt8, _ upper: UInt8) -> Bool {
        byte == upper || byte == upper | 0x20
    }

    /// Whether a failure says nothing about the prepared statement itself (the values, a
    /// constraint, a conflict with another transaction), so its name stays; so does one that
    /// ends the connection (its successor starts without prepared statements).
    static func keepsName(after error: PSQLError) -> Bool {
        guard error.code == .server, !PostgresPool.meansUnavailable(error) else { return true }
        let sqlState = error.serverInfo?[.sqlState] ?? ""
        return sqlState.hasPrefix("22") || sqlState.hasPrefix("23") || sqlState.hasPrefix("40")
    }

    /// The statement's result columns changed since it was prepared (a migration meanwhile).
    static func resultTypeChanged(_ error: any Error) -> Bool {
        (error as? PSQLError)?.serverInfo?[.sqlState] == "0A000"
    }
}

extension UInt8 {
    fileprivate var isLetterOrDigit: Bool {
        (0x30...0x39).contains(self) || (0x41...0x5A).contains(self) || (0x61...0x7A).contains(self) || self == 0x5F
    }
}

extension LiveConnectionDatabase {
    /// Runs `query` as a named prepared statement when it qualifies; otherwise (or when its
    /// result columns changed outside a transaction) through postgres-kit's plain path.
    func executeCaching(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        // The store's statements come finished; only their placeholders are numbered here.
        let (sql, binds) = (query as? StoreSQL).map { ($0.numberedText(), $0.binds) } ?? base.serialize(query)
        guard let statements, PostgresStatementCache.isCacheable(sql),
            let (bindings, types) = Self.directBindings(binds)
        else { return try await base.execute(sql: query, onRow) }
        let key = PostgresStatementCache.Key(sql: sql, types: types)
        guard let name = statements.name(for: key) else { return try await base.execute(sql: query, onRow) }
        if let queryLogLevel = base.queryLogLevel {
            logger.log(level: queryLogLevel, "Executing prepared query", metadata: ["sql": .string(sql), "name": .string(name)])
        }
        do {
            let statement = NamedStatement(bindings: bindings)
            let rows = try await NamedStatement.$text.withValue(.init(name: name, sql: sql, types: types)) {
                try await connection.execute(statement, logger: logger)
            }
            var columns: RowColumnNames?
            for try await row in rows {
                let values = PostgresRowValues(row, columns: columns)
                columns = values.columnNames
                onRow(values)
            }
        } catch let error as PSQLError where !PostgresStatementCache.keepsName(after: error) {
            statements.retire(key, name: name)
            if PostgresStatementCache.resultTypeChanged(error), !inTransaction {
                return try await base.execute(sql: query, onRow)
            }
            throw error
        }
    }

    /// The binds as postgres-nio encodes them directly (the same bytes and types postgres-kit
    /// sends), or nil if one needs postgres-kit's `Encodable` path.
    private static func directBindings(_ binds: [any Encodable & Sendable]) -> (PostgresBindings, [PostgresDataType])? {
        var bindings = PostgresBindings(capacity: binds.count)
        var types: [PostgresDataType] = []
        types.reserveCapacity(binds.count)
        for bind in binds {
            guard let type = append(bind, to: &bindings) else { return nil }
            types.append(type)
        }
        return (bindings, types)
    }

    /// One bind, encoded as postgres-kit 1.x encodes it: a value through its `PostgresEncodable`
    /// conformance; `nil` as a NULL typed by the optional's wrapped type (postgres-kit's legacy
    /// path). Nil for anything else.
    private static func append<Value: Encodable>(_ value: Value, to bindings: inout PostgresBindings) -> PostgresDataType? {
        if case Optional<Any>.none = value as Any {
            guard let type = (Value.self as? any NullBind.Type)?.wrappedPostgresType else { return nil }
            bindings.append(PostgresData(type: type, value: nil))
            return type
        }
        guard let encodable = value as? any PostgresThrowingDynamicTypeEncodable,
            (try? bindings.append(encodable, context: .default)) != nil
        else { return nil }
        return encodable.psqlType
    }
}

/// An optional whose `nil` binds as a NULL of its wrapped type.
private protocol NullBind {
    static var wrappedPostgresType: PostgresDataType? { get }
}

extension Optional: NullBind {
    static var wrappedPostgresType: PostgresDataType? { (Wrapped.self as? any PostgresEncodable.Type)?.psqlType }
}

/// postgres-nio names a prepared statement by its type's static `name` and `sql`; the store's
/// statements are text known only at run time, so the type reads them from a task-local value
/// bound around the one `execute` call (which reads them before it returns).
private struct NamedStatement: PostgresPreparedStatement {
    struct Text {
        var name: String
        var sql: String
        var types: [PostgresDataType]
    }

    @TaskLocal static var text = Text(name: "", sql: "", types: [])

    static var name: String { text.name }
    static var sql: String { text.sql }
    static var bindingDataTypes: [PostgresDataType] { text.types }

    typealias Row = PostgresRow

    let bindings: PostgresBindings

    func makeBindings() throws -> PostgresBindings { bindings }
    func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
}
