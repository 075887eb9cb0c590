import Logging
import NIOCore
import NIOEmbedded
import PostgresKit
import SQLKit
import SQLiteKit
import Testing

@testable import StrongAuthStore

/// `StoreSQL` keeps the text a `SQLQueryString` would serialize for SQLite, and hands any other
/// dialect the same statement with that dialect's placeholders — only where binds are.
@Suite("Store SQL text")
struct StoreSQLTests {
    /// A database that only serializes (no connection): for comparing texts per dialect.
    private struct Serializing: SQLDatabase {
        let dialect: any SQLDialect
        var logger: Logger { Logger(label: "test") }
        var eventLoop: any EventLoop { EmbeddedEventLoop() }
        var version: (any SQLDatabaseReportedVersion)? { nil }
        func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
            eventLoop.makeSucceededVoidFuture()
        }
    }

    private func serialized(_ query: any SQLExpression, _ dialect: any SQLDialect) -> (sql: String, binds: [String]) {
        let (sql, binds) = Serializing(dialect: dialect).serialize(query)
        return (sql, binds.map { "\($0)" })
    }

    private func sample(_ id: String, _ ids: [String]) -> (ours: StoreSQL, sqlKit: SQLQueryString) {
        let ours: StoreSQL =
            "SELECT '?' AS q FROM t WHERE id = \(bind: id) AND x IN (\(binds: ids)) AND \(unsafeRaw: "col")" + " = \(bind: 7)"
        let sqlKit: SQLQueryString =
            "SELECT '?' AS q FROM t WHERE id = \(bind: id) AND x IN (\(binds: ids)) AND \(unsafeRaw: "col")" + " = \(bind: 7)"
        return (ours, sqlKit)
    }

    @Test("the same statement and binds as SQLQueryString on SQLite and PostgreSQL; a literal ? stays text")
    func sameAsSQLKit() {
        for ids in [[], ["a"], ["a", "b", "c"]] {
            let (ours, sqlKit) = sample("x", ids)
            for dialect in [SQLiteDialect() as any SQLDialect, PostgresDialect()] {
                let (ourText, ourBinds) = serialized(ours, dialect)
                let (theirText, theirBinds) = serialized(sqlKit, dialect)
                #expect(ourText == theirText)
                #expect(ourBinds == theirBinds)
            }
            // PostgreSQL's statement cache numbers the placeholders itself, as the dialect does.
            #expect(ours.numberedText() == serialized(sqlKit, PostgresDialect()).sql)
            // SQLKit numbers SQLite's placeholders (`?1`, `?2`); SQLite numbers a bare `?` the same way.
            let numbered = serialized(sqlKit, SQLiteDialect()).sql
            #expect(ours.text == numbered.replacing(/\?[0-9]+/, with: "?"))
        }
        #expect(
            serialized(sample("x", ["a", "b"]).ours, PostgresDialect()).sql == "SELECT '?' AS q FROM t WHERE id = $1 AND x IN ($2, $3) AND col = $4")
    }

    @Test("parts joined and nested keep each bind in its place")
    func composition() {
        let parts: [StoreSQL] = ["a = \(bind: 1)", "b = \(bind: "two")", "c IS NULL", "d = \(bind: 4)"]
        let joined: StoreSQL = "SELECT 1 WHERE \(parts.joined(separator: " AND ")) AND e = \(bind: 5)"
        #expect(joined.text == "SELECT 1 WHERE a = ? AND b = ? AND c IS NULL AND d = ? AND e = ?")
        #expect(serialized(joined, PostgresDialect()).sql == "SELECT 1 WHERE a = $1 AND b = $2 AND c IS NULL AND d = $3 AND e = $4")
        #expect(serialized(joined, PostgresDialect()).binds == ["1", "two", "4", "5"])
        var appended: StoreSQL = "x = \(bind: 1)"
        appended += ", y = \(bind: 2)"
        #expect(serialized(appended, PostgresDialect()).sql == "x = $1, y = $2")
        #expect(appended.numberedText() == "x = $1, y = $2")
        #expect(joined.numberedText() == serialized(joined, PostgresDialect()).sql)
        let many: StoreSQL = "VALUES \((0..<12).map { "(\(bind: $0))" as StoreSQL }.joined(separator: ", "))"
        #expect(many.numberedText() == serialized(many, PostgresDialect()).sql)
        #expect(many.numberedText().hasSuffix("($11), ($12)"))
    }

    @Test("runs on both databases: binds in their places, a literal ? returned as text", arguments: TestDatabases.engines)
    func runs(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let row = try await store.pool.withConnection { db in
                try await db.sql("SELECT '?' AS q, \(bind: "first") AS a, CAST(\(bind: 42) AS INTEGER) AS n, \(bind: "?") AS b").first()
            }
            #expect(try row?.decode(column: "q", as: String.self) == "?")
            #expect(try row?.decode(column: "a", as: String.self) == "first")
            #expect(try row?.decode(column: "n", as: Int.self) == 42)
            #expect(try row?.decode(column: "b", as: String.self) == "?")
        }
    }
}
