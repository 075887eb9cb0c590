import Foundation
import Logging
import SQLKit
import Synchronization
import Testing

@testable import StrongAuthStore

/// A PostgreSQL pool whose database is not there (PostgreSQL restarted under load): the
/// readiness probe answers `false` within its timeout instead of waiting for a connection, and
/// from then on every call fails at once with `DatabaseUnavailableError` (the faces' 503) instead
/// of queueing behind the client's reconnection attempts. Recovery against a real server that
/// comes back is `conformance/test_faults.py`.
@Suite("PostgreSQL pool: an unreachable database")
struct PostgresAvailabilityTests {
    @Test("the probe gives up within its timeout; calls then fail fast with DatabaseUnavailableError")
    func unreachable() async throws {
        // Port 9 on loopback (discard): nothing listens, every connection attempt is refused.
        let pool = try PostgresPool(
            url: "postgres://sa:sa@127.0.0.1:9/sa", maximumConnections: 2, probeTimeout: .milliseconds(500),
            logger: Logger(label: "test"))
        let clock = ContinuousClock()
        let started = clock.now
        #expect(await pool.isReachable() == false)
        // Bounds far above the timeout, for a loaded machine (other suites run in parallel on few
        // cores): what they exclude is waiting for postgres-nio's circuit breaker (a minute).
        #expect(clock.now - started < .seconds(20))
        #expect(pool.isMarkedUnavailable)

        let call = clock.now
        await #expect(throws: DatabaseUnavailableError.self) {
            try await pool.withConnection { db in try await db.raw("SELECT 1 AS one").run() }
        }
        #expect(clock.now - call < .seconds(5))
        await pool.shutdown()
    }

    @Test("a reachable database is ready", .enabled(if: TestDatabases.postgresURL != nil))
    func reachable() async throws {
        // A generous probe: this test is about the answer, not its speed (the bound is tested
        // above). With the default 2 s, the first connection of a debug build, opened while
        // every other suite starts on two cores, missed it in CI.
        let pool = try PostgresPool(
            url: try #require(TestDatabases.postgresURL), maximumConnections: 2, probeTimeout: .seconds(30), logger: Logger(label: "test"))
        #expect(await pool.isReachable())
        #expect(!pool.isMarkedUnavailable)
        await pool.shutdown()
    }

    /// A saturated pool is busy, not down: the probe queues behind the calls holding every
    /// connection and may outwait its timeout, but those calls are being served. Taking that for
    /// an outage failed every call with 503 and then replaced the client, which failed the
    /// transactions already running on it (`poolShutdown`, seen on a loaded machine with 30
    /// concurrent transactions on one row).
    @Test("a pool whose connections are all busy but served in turn stays available", .enabled(if: TestDatabases.postgresURL != nil))
    func saturatedButServing() async throws {
        // The probe must time out behind the queue, so the queue ahead of it (4 s) is longer
        // than its timeout (1.5 s); within that timeout some fifteen calls are served. (With
        // 1.2 s of queue and a 0.3 s probe, a loaded CI machine once served none in time.)
        let pool = try PostgresPool(
            url: try #require(TestDatabases.postgresURL), maximumConnections: 1, probeTimeout: .milliseconds(1500),
            logger: Logger(label: "test"))
        // Warm the one connection so the queue below is served by it from the start.
        try await pool.withConnection { db in try await db.raw("SELECT 1 AS one").run() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            // Forty calls of 0.1 s each through one connection: a queue that moves for 4 s.
            for _ in 0..<40 {
                group.addTask { try await pool.withConnection { db in try await db.raw("SELECT pg_sleep(0.1)").run() } }
            }
            try await Task.sleep(for: .milliseconds(150))
            #expect(await pool.isReachable(), "a busy pool that serves its queue is reachable")
            #expect(!pool.isMarkedUnavailable)
            try await group.waitForAll()
        }
        try await pool.withConnection { db in try await db.raw("SELECT 1 AS one").run() }
        await pool.shutdown()
    }

    /// A call whose statement never gets its answer (postgres-nio 1.33 loses a statement written
    /// as its connection dies) is failed by the watchdog once an outage has been seen, instead of
    /// holding its request — and a graceful shutdown — for ever.
    @Test("a call stuck on its connection since before an outage fails with DatabaseUnavailableError", .enabled(if: TestDatabases.postgresURL != nil))
    func stuckCallAcrossOutage() async throws {
        let pool = try PostgresPool(
            url: try #require(TestDatabases.postgresURL), maximumConnections: 2, probeTimeout: .seconds(10), logger: Logger(label: "test"))
        let gate = LeaseWatchTests.Gate()
        let stuck = Task {
            try await pool.withConnection { db in
                try await db.raw("SELECT 1 AS one").run()
                await gate.wait()  // a statement whose answer never comes, and that ignores cancellation
            }
        }
        while gate.count == 0 { try await Task.sleep(for: .milliseconds(10)) }
        pool.markUnavailable(because: nil)  // what a failed statement or probe of an outage does
        let clock = ContinuousClock()
        let started = clock.now
        await #expect(throws: DatabaseUnavailableError.self) { try await stuck.value }
        // The limit (3 s) plus the watchdog's second, with room for a loaded machine.
        #expect(clock.now - started < .seconds(15))
        gate.open()
        // The pool recovers by itself (the database answers) and serves again.
        while pool.isMarkedUnavailable { try await Task.sleep(for: .milliseconds(50)) }
        try await pool.withConnection { db in try await db.raw("SELECT 1 AS one").run() }
        await pool.shutdown()
    }

    /// The same lost statement when only its own connection dies (a backend terminated by an
    /// operator, a proxy's reset) while the database answers: no outage is ever seen, so the
    /// outage rule above never fires. The watchdog fails the call once its connection has been
    /// closed for a moment; the pool stays available. (A hang of this kind stopped a CI run in
    /// `PostgresStatementCacheTests`' terminated-backend test.)
    @Test(
        "a call stuck on a connection whose backend died, the database still up, fails with DatabaseUnavailableError",
        .enabled(if: TestDatabases.postgresURL != nil))
    func stuckCallOnDeadConnection() async throws {
        let url = try #require(TestDatabases.postgresURL)
        let pool = try PostgresPool(url: url, maximumConnections: 2, probeTimeout: .seconds(10), logger: Logger(label: "test"))
        let gate = LeaseWatchTests.Gate()
        let backend = Mutex<Int?>(nil)
        let stuck = Task {
            try await pool.withConnection { db in
                let pid = try await db.raw("SELECT pg_backend_pid() AS pid").first()?.decode(column: "pid", as: Int.self)
                backend.withLock { $0 = pid }
                await gate.wait()  // a statement whose answer never comes, and that ignores cancellation
            }
        }
        while gate.count == 0 { try await Task.sleep(for: .milliseconds(10)) }
        let pid = try #require(backend.withLock { $0 })
        let admin = try PostgresPool(url: url, maximumConnections: 1, logger: Logger(label: "test"))
        try await admin.withConnection { db in try await db.raw("SELECT pg_terminate_backend(CAST(\(bind: pid) AS INTEGER))").run() }
        await admin.shutdown()

        // Wait for the caller at most 20 s (the watchdog needs about 2), so that a regression
        // fails this test instead of hanging the suite.
        let outcome = Mutex<Result<Void, any Error>?>(nil)
        let waiter = Task {
            let result = await stuck.result
            outcome.withLock { $0 = result }
        }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(20)
        while outcome.withLock({ $0 }) == nil, clock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        let result = try #require(outcome.withLock { $0 }, "the call on the dead connection was never failed")
        #expect(throws: DatabaseUnavailableError.self) { try result.get() }
        #expect(!pool.isMarkedUnavailable, "one dead connection is not an outage")
        gate.open()
        await waiter.value
        // The pool serves on a fresh connection.
        try await pool.withConnection { db in try await db.raw("SELECT 1 AS one").run() }
        await pool.shutdown()
    }
}
