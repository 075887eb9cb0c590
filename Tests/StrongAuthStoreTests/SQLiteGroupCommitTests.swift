import Foundation
import SQLKit
import Synchronization
import Testing

@testable import StrongAuthStore

/// Group commit on the SQLite writer (`SQLitePool.withTransaction`): transactions queued behind
/// each other share one COMMIT, yet each returns only once its writes are committed, a member
/// that throws leaves no trace while the others keep theirs, and a COMMIT that fails fails them all.
@Suite("SQLite group commit")
struct SQLiteGroupCommitTests {
    struct Refused: Error {}

    /// Waits until `count` tasks are queued for the writer (the test then knows their order).
    static func untilQueued(_ pool: SQLitePool, _ count: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while pool.queuedForWriter < count {
            guard ContinuousClock.now < deadline else { throw Timeout() }
            try await Task.sleep(for: .milliseconds(1))
        }
    }
    struct Timeout: Error {}

    /// Starts a transaction that inserts with `sql` and then holds the writer until `queued` more
    /// tasks wait for it; returns once it holds the writer.
    static func holdingTransaction(_ pool: SQLitePool, _ sql: String, untilQueued queued: Int) async throws -> Task<Void, any Error> {
        let holding = Mutex(false)
        let first = Task {
            try await pool.withTransaction { db in
                try await db.raw(SQLQueryString(sql)).run()
                holding.withLock { $0 = true }
                try await Self.untilQueued(pool, queued)
            }
        }
        let deadline = ContinuousClock.now + .seconds(20)
        while !holding.withLock({ $0 }) {
            guard ContinuousClock.now < deadline else { throw Timeout() }
            try await Task.sleep(for: .milliseconds(1))
        }
        return first
    }

    static func count(_ pool: SQLitePool, _ sql: String) async throws -> Int {
        try await pool.withConnection { db in
            try await db.raw(SQLQueryString(sql)).first()?.decode(column: "n", as: Int.self) ?? -1
        }
    }

    @Test("queued transactions share COMMITs, and each one's rows are committed (seen by a reader) when it returns")
    func queuedTransactionsShareCommits() async throws {
        try await SQLiteConnectionTests.withPool(readers: 2) { pool in
            try await pool.withWriteConnection { db in try await db.raw("CREATE TABLE g (k INTEGER PRIMARY KEY)").run() }
            let before = pool.groupCommits
            let first = try await Self.holdingTransaction(pool, "INSERT INTO g (k) VALUES (0)", untilQueued: 40)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                for key in 1...40 {
                    tasks.addTask {
                        try await pool.withTransaction { db in try await db.raw("INSERT INTO g (k) VALUES (\(bind: key))").run() }
                        // Committed before withTransaction returned: another connection sees it.
                        let seen = try await Self.count(pool, "SELECT COUNT(*) AS n FROM g WHERE k = \(key)")
                        #expect(seen == 1, "row \(key) not committed when its transaction returned")
                    }
                }
                try await tasks.waitForAll()
            }
            try await first.value
            #expect(try await Self.count(pool, "SELECT COUNT(*) AS n FROM g") == 41)
            // The 40 queued behind the first joined its group, at most 32 to a COMMIT.
            let commits = pool.groupCommits - before
            #expect(commits >= 1 && commits <= 3, "41 transactions took \(commits) commits")
        }
    }

    @Test("a transaction that reaches the writer's thread while a member runs joins that member's group")
    func arrivalDuringAMemberJoinsItsGroup() async throws {
        try await SQLiteConnectionTests.withPool { pool in
            try await pool.withWriteConnection { db in try await db.raw("CREATE TABLE a (k INTEGER PRIMARY KEY)").run() }
            let before = pool.groupCommits
            let late = Mutex<Task<Void, any Error>?>(nil)
            try await pool.withTransaction { db in
                try await db.raw("INSERT INTO a (k) VALUES (1)").run()
                late.withLock { late in
                    late = Task { try await pool.withTransaction { db in try await db.raw("INSERT INTO a (k) VALUES (2)").run() } }
                }
                // Hold the writer's thread itself until the late transaction's task is queued on it:
                // it is not yet waiting for the connection, only for its turn on the thread.
                let deadline = ContinuousClock.now + .seconds(20)
                while pool.queuedForWriterThread == 0 {
                    guard ContinuousClock.now < deadline else { throw Timeout() }
                    usleep(100)
                }
            }
            try await late.withLock { $0 }?.value
            #expect(try await Self.count(pool, "SELECT COUNT(*) AS n FROM a") == 2)
            // Under load requests reach the writer's thread while it runs a member; each joining
            // the open group saves a COMMIT and its pages (docs/benchmarks.md, eleventh pass).
            #expect(pool.groupCommits - before == 1, "two transactions took \(pool.groupCommits - before) commits")
        }
    }

    /// A transaction holds the writer while `failing` (queued second) fails after writing and a
    /// last write (queued third) succeeds: only the first's and the last's rows may remain.
    static func expectFailingMemberRolledBackAlone(
        _ failing: @escaping @Sendable (SQLitePool) async throws -> Void, withWrite: Bool
    ) async throws {
        try await SQLiteConnectionTests.withPool { pool in
            try await pool.withWriteConnection { db in try await db.raw("CREATE TABLE m (k TEXT PRIMARY KEY)").run() }
            let first = try await Self.holdingTransaction(pool, "INSERT INTO m (k) VALUES ('first')", untilQueued: 2)
            let refused = Task { try await failing(pool) }
            try await Self.untilQueued(pool, 1)
            let insertLast: @Sendable (any SQLDatabase) async throws -> Void = { db in try await db.raw("INSERT INTO m (k) VALUES ('last')").run() }
            let last = Task { try await withWrite ? pool.withWriteConnection(insertLast) : pool.withTransaction(insertLast) }
            try await first.value
            await #expect(throws: (any Error).self) { try await refused.value }
            try await last.value
            let keys = try await pool.withConnection { db in
                try await db.raw("SELECT k FROM m ORDER BY k").all().map { try $0.decode(column: "k", as: String.self) }
            }
            #expect(keys == ["first", "last"])
        }
    }

    @Test("a member that throws is rolled back alone; the members before and after it keep their rows")
    func failedMemberRollsBackAlone() async throws {
        try await Self.expectFailingMemberRolledBackAlone(
            { pool in
                try await pool.withTransaction { db in
                    try await db.raw("INSERT INTO m (k) VALUES ('refused')").run()
                    throw Refused()
                }
            }, withWrite: false)
    }

    @Test("a COMMIT that fails (a deferred foreign key) fails every member of the group, and the writer stays usable")
    func failedCommitFailsEveryMember() async throws {
        try await SQLiteConnectionTests.withPool { pool in
            try await pool.withWriteConnection { db in
                try await db.raw("CREATE TABLE parent (id INTEGER PRIMARY KEY)").run()
                try await db.raw(
                    "CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)"
                ).run()
            }
            let first = try await Self.holdingTransaction(pool, "INSERT INTO parent (id) VALUES (1)", untilQueued: 2)
            // Its statement succeeds; the missing parent is noticed only at COMMIT.
            let orphan = Task { try await pool.withTransaction { db in try await db.raw("INSERT INTO child (id, parent) VALUES (1, 99)").run() } }
            try await Self.untilQueued(pool, 1)
            let last = Task { try await pool.withTransaction { db in try await db.raw("INSERT INTO parent (id) VALUES (2)").run() } }
            let outcomes = [await first.result, await orphan.result, await last.result]
            // The three shared one COMMIT, which failed: none may report success.
            for outcome in outcomes {
                if case .success = outcome { Issue.record("a member of a failed group reported success") }
            }
            #expect(try await Self.count(pool, "SELECT COUNT(*) AS n FROM parent") == 0)
            #expect(try await Self.count(pool, "SELECT COUNT(*) AS n FROM child") == 0)
            try await pool.withTransaction { db in try await db.raw("INSERT INTO parent (id) VALUES (3)").run() }
            #expect(try await Self.count(pool, "SELECT COUNT(*) AS n FROM parent") == 1)
        }
    }

    @Test("a single write queued behind a transaction joins its group: one COMMIT for both, and the writer is free afterwards")
    func singleWriteJoinsTheGroup() async throws {
        try await SQLiteConnectionTests.withPool { pool in
            try await pool.withWriteConnection { db in try await db.raw("CREATE TABLE s (k TEXT PRIMARY KEY)").run() }
            let before = pool.groupCommits
            let first = try await Self.holdingTransaction(pool, "INSERT INTO s (k) VALUES ('first')", untilQueued: 1)
            let single = Task {
                try await pool.withWriteConnection { db in
                    try await db.raw("INSERT INTO s (k) VALUES ('single')").run()
                    return try await db.raw("SELECT COUNT(*) AS n FROM s").first()?.decode(column: "n", as: Int.self) == 2
                }
            }
            try await first.value
            #expect(try await single.value)
            #expect(try await Self.count(pool, "SELECT COUNT(*) AS n FROM s") == 2)
            #expect(pool.groupCommits - before == 1, "a transaction and a write queued behind it took \(pool.groupCommits - before) commits")
            // Nothing was left open on the writer: a transaction starts (BEGIN IMMEDIATE) at once.
            try await pool.withTransaction { db in try await db.raw("INSERT INTO s (k) VALUES ('after')").run() }
        }
    }

    @Test("a single write that fails in a group leaves no trace; the group's other members keep their rows")
    func failedSingleWriteInAGroup() async throws {
        try await Self.expectFailingMemberRolledBackAlone(
            { pool in
                try await pool.withWriteConnection { db in
                    try await db.raw("INSERT INTO m (k) VALUES ('mine')").run()
                    try await db.raw("INSERT INTO m (k) VALUES ('first')").run()  // a constraint violation
                }
            }, withWrite: true)
    }
    #if os(Linux)
        /// The temporary files SQLite has open in this process (its names start with `etilqs_`;
        /// they are unlinked as they are opened, so only `/proc/self/fd` still shows them).
        static func openTemporaryFiles() -> [String] {
            let directory = "/proc/self/fd"
            let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            return descriptors.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/\($0)") }
                .filter { $0.contains("etilqs_") }
        }

        @Test("a group member that changes many pages keeps its savepoint's sub-journal in memory, not in a temporary file")
        func memberSubJournalInMemory() async throws {
            try await SQLiteConnectionTests.withPool { pool in
                try await pool.withWriteConnection { db in
                    try await db.raw("CREATE TABLE w (k INTEGER PRIMARY KEY, v BLOB NOT NULL)").run()
                    for key in 0..<400 { try await db.raw("INSERT INTO w (k, v) VALUES (\(bind: key), zeroblob(1000))").run() }
                }
                let first = try await Self.holdingTransaction(pool, "UPDATE w SET v = zeroblob(900) WHERE k = 0", untilQueued: 1)
                let seen = Task {
                    try await pool.withTransaction { db in
                        // ~100 existing pages (400 KB) changed under this member's savepoint: on file,
                        // SQLite spills its sub-journal past 64 KiB.
                        try await db.raw("UPDATE w SET v = zeroblob(1001)").run()
                        return Self.openTemporaryFiles()
                    }
                }
                try await first.value
                #expect(try await seen.value == [], "the sub-journal went to a temporary file")
                #expect(try await Self.count(pool, "SELECT COUNT(*) AS n FROM w WHERE length(v) = 1001") == 400)
            }
        }
    #endif
}
