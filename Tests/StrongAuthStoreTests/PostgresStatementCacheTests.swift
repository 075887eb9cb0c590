import Foundation
import Logging
import PostgresNIO
import SQLKit
import Testing

@testable import StrongAuthStore

/// Statement reuse on PostgreSQL (`PostgresStatementCache`): a data statement is prepared once
/// per connection and then run by name, and the answers stay exactly those of the plain path —
/// for binds of other types, after a schema change, on a fresh connection, after a failure.
@Suite("PostgreSQL pool: prepared statements")
struct PostgresStatementCacheTests {
    @Test("only data statements are named; DDL and transaction control take the plain path")
    func cacheableStatements() {
        for sql in [
            "SELECT 1", "  select * FROM t", "\nINSERT INTO t VALUES ($1)", "update t SET a = 1", "DELETE FROM t",
            "WITH x AS (SELECT 1) SELECT * FROM x",
        ] {
            #expect(PostgresStatementCache.isCacheable(sql), "\(sql)")
        }
        for sql in [
            "CREATE TABLE t (a INT)", "ALTER TABLE t ADD b INT", "DROP TABLE t", "BEGIN", "COMMIT", "ROLLBACK", "SET search_path TO x", "WITHOUT",
            "SELEC", "",
        ] {
            #expect(!PostgresStatementCache.isCacheable(sql), "\(sql)")
        }
    }

    @Test("a statement is prepared once per connection and then run by name", .enabled(if: TestDatabases.postgresURL != nil))
    func preparedOnce() async throws {
        try await Self.withPool { pool in
            try await pool.withConnection { db in
                try await db.raw("CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT NOT NULL)").run()
            }
            for id in 1...5 {
                try await pool.withConnection { db in
                    try await db.raw("INSERT INTO items (id, name) VALUES (\(bind: id), \(bind: "item \(id)"))").run()
                }
            }
            for id in 1...5 {
                let name = try await pool.withConnection { db in
                    try await db.raw("SELECT name FROM items WHERE id = \(bind: id)").first()?.decode(column: "name", as: String.self)
                }
                #expect(name == "item \(id)")
            }
            let prepared = try await pool.withConnection { db in
                try await db.raw("SELECT statement FROM pg_prepared_statements WHERE name LIKE 'sa%'").all()
                    .map { try $0.decode(column: "statement", as: String.self) }
            }
            // One server-side statement each for the INSERT and the SELECT, however often they ran.
            #expect(prepared.filter { $0.hasPrefix("INSERT INTO items") }.count == 1)
            #expect(prepared.filter { $0.hasPrefix("SELECT name FROM items") }.count == 1)
            #expect(!prepared.contains { $0.hasPrefix("CREATE") })
            #expect(try #require(pool.statements).statistics.namedExecutions >= 10)
        }
    }

    @Test("the same text with binds of other types is another statement", .enabled(if: TestDatabases.postgresURL != nil))
    func bindTypes() async throws {
        try await Self.withPool { pool in
            let binds: [(any Encodable & Sendable, String)] = [
                (42, "bigint"), ("42", "text"), (true, "boolean"), (Optional<Int>.none, "bigint"), (Optional<String>.none, "text"),
                (Data([1, 2]), "bytea"), (Date(timeIntervalSince1970: 1_800_000_000), "timestamp with time zone"),
            ]
            for _ in 0..<3 {
                for (value, type) in binds {
                    let answer = try await pool.withConnection { db in
                        try await db.raw("SELECT pg_typeof(\(bind: value))::text AS type").first()?.decode(column: "type", as: String.self)
                    }
                    #expect(answer == type)
                }
            }
            let echoed = try await pool.withConnection { db in
                try await db.raw("SELECT \(bind: "a\u{e9}b")::text AS a, \(bind: Int.max) AS b").first()
            }
            #expect(try echoed?.decode(column: "a", as: String.self) == "a\u{e9}b")
            #expect(try echoed?.decode(column: "b", as: Int.self) == Int.max)
        }
    }

    @Test("after a migration changes a table, a cached statement answers with the new columns", .enabled(if: TestDatabases.postgresURL != nil))
    func schemaChange() async throws {
        try await Self.withPool { pool in
            try await pool.withConnection { db in
                try await db.raw("CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT NOT NULL)").run()
                try await db.raw("INSERT INTO items (id, name) VALUES (1, 'one')").run()
            }
            @Sendable func columns() async throws -> [String] {
                try await pool.withConnection { db in try await db.raw("SELECT * FROM items WHERE id = \(bind: 1)").first()?.allColumns ?? [] }
            }
            for _ in 0..<3 { #expect(try await columns() == ["id", "name"]) }

            // `SELECT *` now has another result type: PostgreSQL refuses the prepared statement
            // (0A000); outside a transaction the call is answered on the plain path, and the
            // statement is prepared afresh.
            try await pool.withConnection { db in try await db.raw("ALTER TABLE items ADD COLUMN note TEXT DEFAULT 'x'").run() }
            for _ in 0..<3 { #expect(try await columns() == ["id", "name", "note"]) }
            #expect(try #require(pool.statements).statistics.retirements == 1)

            // Inside a transaction the refusal aborts that transaction (at most once per statement
            // and change); the next call sees the new columns.
            try await pool.withConnection { db in try await db.raw("ALTER TABLE items DROP COLUMN note").run() }
            let inTransaction = try? await pool.withTransaction { db in
                try await db.raw("SELECT * FROM items WHERE id = \(bind: 1)").first()?.allColumns ?? []
            }
            #expect(inTransaction == nil || inTransaction == ["id", "name"])
            for _ in 0..<3 { #expect(try await columns() == ["id", "name"]) }

            // A table dropped and created anew with other types: re-planned by PostgreSQL.
            try await pool.withConnection { db in
                try await db.raw("DROP TABLE items").run()
                try await db.raw("CREATE TABLE items (id BIGINT PRIMARY KEY, name BIGINT NOT NULL)").run()
                try await db.raw("INSERT INTO items (id, name) VALUES (1, 7)").run()
            }
            let name = try await pool.withConnection { db in
                try await db.raw("SELECT * FROM items WHERE id = \(bind: 1)").first()?.decode(column: "name", as: Int.self)
            }
            #expect(name == 7)
        }
    }

    @Test("a connection replaced after its backend died prepares the statement anew", .enabled(if: TestDatabases.postgresURL != nil))
    func replacedConnection() async throws {
        try await Self.withPool { pool in
            @Sendable func backend() async throws -> Int? {
                try await pool.withConnection { db in
                    try await db.raw("SELECT pg_backend_pid() AS pid, \(bind: "probe") AS tag").first()?.decode(column: "pid", as: Int.self)
                }
            }
            let first = try #require(try await backend())
            #expect(try await backend() == first)
            let admin = try PostgresPool(url: try #require(TestDatabases.postgresURL), maximumConnections: 1, logger: Logger(label: "test"))
            try await admin.withConnection { db in try await db.raw("SELECT pg_terminate_backend(CAST(\(bind: first) AS INTEGER))").run() }
            await admin.shutdown()

            // The dead connection fails (the pool marks the database unavailable and recovers);
            // then the same statement runs on a fresh connection, where it was never prepared.
            var second: Int?
            for _ in 0..<100 where second == nil {
                second = try? await backend()
                if second == nil { try await Task.sleep(for: .milliseconds(100)) }
            }
            let fresh = try #require(second)
            #expect(fresh != first)
            #expect(try await backend() == fresh)
        }
    }

    @Test("bad input on a named statement is still bad input, and the name stays", .enabled(if: TestDatabases.postgresURL != nil))
    func badInput() async throws {
        try await Self.withPool { pool in
            try await pool.withConnection { db in try await db.raw("CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT NOT NULL)").run() }
            @Sendable func insert(_ id: Int, _ name: String) async throws {
                try await pool.withConnection { db in try await db.raw("INSERT INTO items (id, name) VALUES (\(bind: id), \(bind: name))").run() }
            }
            try await insert(1, "one")
            try await insert(2, "two")
            // SQLSTATE 22021 (a NUL in text): the faces' 400, as on the plain path.
            await #expect(throws: DatabaseInputError.self) { try await insert(3, "nul\u{0}") }
            #expect(try #require(pool.statements).statistics.retirements == 0)
            try await insert(3, "three")
            let names = try await pool.withConnection { db in
                try await db.raw("SELECT name FROM items ORDER BY id").all().map { try $0.decode(column: "name", as: String.self) }
            }
            #expect(names == ["one", "two", "three"])
        }
    }

    @Test("a statement first prepared inside an aborted transaction works afterwards", .enabled(if: TestDatabases.postgresURL != nil))
    func preparedInAbortedTransaction() async throws {
        try await Self.withPool { pool in
            // postgres-nio keeps a failed preparation for the connection's lifetime; the cache
            // gives such a statement a new name, so the failure is not served again.
            let failed = try? await pool.withTransaction { db in
                _ = try? await db.raw("SELECT 1 / \(bind: 0) AS x").run()
                return try await db.raw("SELECT \(bind: 5) + 1 AS six").first()?.decode(column: "six", as: Int.self)
            }
            #expect(failed == nil)
            let six = try await pool.withConnection { db in
                try await db.raw("SELECT \(bind: 5) + 1 AS six").first()?.decode(column: "six", as: Int.self)
            }
            #expect(six == 6)
            #expect(try #require(pool.statements).statistics.retirements >= 1)
        }
    }

    /// A pool of one connection (so every statement meets the earlier ones) on a schema of its own.
    @Test(
        "rows of named statements decode every common column type exactly as PostgresKit's row does",
        .enabled(if: TestDatabases.postgresURL != nil))
    func directDecodingAgreesWithPostgresKit() async throws {
        try await Self.withPool { pool in
            try await pool.withConnection { db in
                try await db.raw(
                    """
                    CREATE TABLE v (t TEXT, e TEXT, n TEXT, i BIGINT, z BIGINT, o BIGINT, b BOOLEAN, ts TIMESTAMPTZ, d DOUBLE PRECISION,
                    j JSONB, u UUID)
                    """
                ).run()
                try await db.raw(
                    """
                    INSERT INTO v VALUES ('abc', '', NULL, 9223372036854775807, 0, 1, true, '2026-12-04T10:00:00.25Z', 2.5,
                    '{"a":1}', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')
                    """
                ).run()
            }
            let columns = ["t", "e", "n", "i", "z", "o", "b", "ts", "d", "j", "u"]
            let direct: any SQLRow = try await pool.withConnection { db in
                _ = try await db.raw("SELECT * FROM v").all()
                // Twice: the second run is by name, through the same path.
                return try #require(try await db.raw("SELECT * FROM v").first())
            }
            struct Reference: ReferenceDecoding {
                let row: any SQLRow
                func decode<T: Decodable>(column: String, as type: T.Type) throws -> T { try row.decode(column: column, as: T.self) }
            }
            let reference = Reference(row: try #require((direct as? PostgresRowValues)?.row.sql()))
            #expect(direct is PostgresRowValues)
            DecodingAgreement.expectAgreement(of: direct, with: reference, columns: columns)
            for column in columns {
                #expect(try direct.decodeNil(column: column) == reference.row.decodeNil(column: column))
            }
            #expect(Set(direct.allColumns) == Set(columns))
        }
    }

    static func withPool(_ body: (PostgresPool) async throws -> Void) async throws {
        let url = try #require(TestDatabases.postgresURL)
        let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let admin = try PostgresPool(url: url, maximumConnections: 1, reusesStatements: false, logger: Logger(label: "test"))
        try await admin.withConnection { db in try await db.raw("CREATE SCHEMA \(unsafeRaw: schema)").run() }
        let pool = try PostgresPool(url: url, maximumConnections: 1, searchPath: schema, logger: Logger(label: "test"))
        do {
            try await body(pool)
        } catch {
            await pool.shutdown()
            try? await admin.withConnection { db in try await db.raw("DROP SCHEMA \(unsafeRaw: schema) CASCADE").run() }
            await admin.shutdown()
            throw error
        }
        await pool.shutdown()
        try await admin.withConnection { db in try await db.raw("DROP SCHEMA \(unsafeRaw: schema) CASCADE").run() }
        await admin.shutdown()
    }
}
