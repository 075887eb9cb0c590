import Foundation
import Logging
import SQLKit
import Testing

@testable import StrongAuthStore

/// A serving node's pool is fixed in size: every connection opens at start and stays open, so
/// that postgres-nio starts no idle timer per lease (a quarter of a node's CPU per PostgreSQL
/// read, docs/benchmarks.md). A CLI command's or a test's pool still opens what it uses. Counted
/// in `pg_stat_activity` by the pool's `application_name`.
@Suite("PostgreSQL pool: fixed for a serving node, on demand otherwise", .enabled(if: TestDatabases.postgresURL != nil))
struct PostgresPoolSizeTests {
    /// The connections PostgreSQL sees with `name`, once their count reaches `expected` (or the
    /// last count seen after `patience`: connections open in the background).
    static func connections(named name: String, reaching expected: Int, patience: Duration = .seconds(20)) async throws -> Int {
        let admin = try PostgresPool(
            url: try #require(TestDatabases.postgresURL), maximumConnections: 1, applicationName: "strongauth-test-admin",
            logger: Logger(label: "test"))
        let clock = ContinuousClock()
        let deadline = clock.now + patience
        var count = 0
        do {
            while true {
                count =
                    try await admin.withConnection { db in
                        try await db.raw("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = \(bind: name)").first()?
                            .decode(column: "n", as: Int.self)
                    } ?? 0
                if count == expected || clock.now >= deadline { break }
                try await Task.sleep(for: .milliseconds(100))
            }
        } catch {
            await admin.shutdown()
            throw error
        }
        await admin.shutdown()
        return count
    }

    @Test("keepsConnectionsOpen opens every connection at start, before any call")
    func fixed() async throws {
        let name = "strongauth-fixed-\(UUID().uuidString.prefix(8))"
        let pool = try PostgresPool(
            url: try #require(TestDatabases.postgresURL), maximumConnections: 3, keepsConnectionsOpen: true, applicationName: name,
            logger: Logger(label: "test"))
        #expect(try await Self.connections(named: name, reaching: 3) == 3)
        // Calls run on those connections; none is added.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<12 { group.addTask { try await pool.withConnection { db in try await db.raw("SELECT 1 AS one").run() } } }
            try await group.waitForAll()
        }
        #expect(try await Self.connections(named: name, reaching: 3, patience: .zero) == 3)
        await pool.shutdown()
        #expect(try await Self.connections(named: name, reaching: 0) == 0)
    }

    @Test("without it, a pool opens connections as calls need them: idle, at most the health check's one")
    func onDemand() async throws {
        let name = "strongauth-demand-\(UUID().uuidString.prefix(8))"
        let pool = try PostgresPool(
            url: try #require(TestDatabases.postgresURL), maximumConnections: 3, applicationName: name, logger: Logger(label: "test"))
        // The pool's once-a-second health check (`SELECT 1`) needs one connection; nothing else
        // was asked for, so the count stays below the fixed pool's three.
        try await Task.sleep(for: .seconds(2))
        #expect(try await Self.connections(named: name, reaching: 1, patience: .seconds(3)) <= 1)
        try await pool.withConnection { db in try await db.raw("SELECT 1 AS one").run() }
        #expect(try await Self.connections(named: name, reaching: 1) >= 1)
        await pool.shutdown()
    }

    @Test("SQLStore.open passes the size and the choice to the pool")
    func storeOpen() async throws {
        let url = try #require(TestDatabases.postgresURL)
        let serving = try await SQLStore.open(url: url, postgresConnections: 2, keepsPostgresConnectionsOpen: true, logger: Logger(label: "test"))
        let pool = try #require(serving.pool as? PostgresPool)
        #expect(pool.configuration.options.maximumConnections == 2)
        #expect(pool.configuration.options.minimumConnections == 2)
        await pool.shutdown()
        let command = try await SQLStore.open(url: url, postgresConnections: 2, logger: Logger(label: "test"))
        let onDemand = try #require(command.pool as? PostgresPool)
        #expect(onDemand.configuration.options.minimumConnections == 0)
        await onDemand.shutdown()
    }
}
