import Foundation
import GRDBSQLite
import Logging
import SQLKit
import SQLiteKit
import StrongAuthCore
import Synchronization
import Testing

@testable import StrongAuthStore

/// The SQLite pool runs statements on the caller's thread from GRDB's prepared-statement cache
/// (`GRDBConnection`): data statements are kept, schema changes and pragmas are not, the cache is
/// bounded, a kept statement never answers with a stale shape after the schema changed
/// underneath it, and a lock held by another process is waited for without holding a thread.
@Suite("SQLite connections")
struct SQLiteConnectionTests {
    static let logger = Logger(label: "test")

    static func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("strongauth-connections-\(UUID().uuidString).sqlite").path
    }

    static func withPool<T>(readers: Int = 1, _ body: (SQLitePool) async throws -> T) async throws -> T {
        let path = temporaryPath()
        let pool = try await SQLitePool.open(path: path, readers: readers, logger: logger)
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        do {
            let result = try await body(pool)
            await pool.shutdown()
            return result
        } catch {
            await pool.shutdown()
            throw error
        }
    }

    @Test("SQLite keeps no allocation statistics (their one mutex would be shared by every connection's allocations)")
    func noAllocationStatistics() async throws {
        try await Self.withPool(readers: 2) { pool in
            try await pool.withConnection { db in _ = try await db.raw("SELECT 1 AS one").first() }
            #expect(SQLiteLibrary.setUp == SQLITE_OK)  // set before SQLite initialized
            // Counted, this is what the open connections and their caches hold: hundreds of KiB.
            #expect(sqlite3_memory_used() == 0)
        }
    }

    @Test("only statements that read or write rows or control a transaction are kept prepared")
    func dataStatementsOnly() {
        for sql in [
            "SELECT 1", "select 1", "  INSERT INTO t VALUES (?)", "UPDATE t SET a = 1", "DELETE FROM t", "WITH x AS (SELECT 1) SELECT * FROM x",
            "(SELECT 1) UNION (SELECT 2)", "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK", "SAVEPOINT member", "RELEASE member",
            "ROLLBACK TO member",
        ] {
            #expect(GRDBConnection.mayKeepPrepared(sql), "\(sql)")
        }
        for sql in [
            "CREATE TABLE t (a INTEGER)", "ALTER TABLE t ADD COLUMN b TEXT", "DROP TABLE t", "PRAGMA journal_mode=WAL", "VACUUM INTO ?",
        ] {
            #expect(!GRDBConnection.mayKeepPrepared(sql), "\(sql)")
        }
    }

    @Test("a repeated statement is prepared once; schema changes are not kept; the cache stops growing at its cap and still answers")
    func boundedCache() async throws {
        try await Self.withPool { pool in
            try await pool.withWriteConnection { db in
                try await db.raw("CREATE TABLE t (a INTEGER, b TEXT)").run()
                for value in 0..<10 { try await db.raw("INSERT INTO t (a, b) VALUES (\(bind: value), \(bind: "v\(value)"))").run() }
            }
            // The INSERT, and the BEGIN IMMEDIATE and COMMIT of the write's own transaction (group commit).
            #expect(pool.writerCachedStatementCount == 3)
            let cap = GRDBConnection.maximumCachedStatements
            try await pool.withWriteConnection { db in
                // One text per IN-list length: distinct SQL, as a builder makes from user input.
                for length in 1...(cap + 20) {
                    let binds = (0..<length).map { $0 % 10 }
                    let count = try await db.raw("SELECT COUNT(*) AS n FROM t WHERE a IN (\(binds: binds))").first()?
                        .decode(column: "n", as: Int.self)
                    #expect(count == min(length, 10))
                }
            }
            #expect(pool.writerCachedStatementCount == cap)
        }
    }

    @Test("a kept SELECT * after ALTER TABLE (on this connection and another) answers with the new columns")
    func schemaChangeUnderACachedStatement() async throws {
        try await Self.withPool { pool in
            try await pool.withWriteConnection { db in
                try await db.raw("CREATE TABLE t (a INTEGER)").run()
                try await db.raw("INSERT INTO t (a) VALUES (1)").run()
            }
            let columns: @Sendable (any SQLDatabase) async throws -> [String] = { db in
                try await db.raw("SELECT * FROM t").first()?.allColumns ?? []
            }
            #expect(try await pool.withWriteConnection(columns) == ["a"])
            #expect(try await pool.withConnection(columns) == ["a"])
            try await pool.withWriteConnection { db in try await db.raw("ALTER TABLE t ADD COLUMN b TEXT DEFAULT 'x'").run() }
            #expect(try await pool.withWriteConnection(columns) == ["a", "b"])
            #expect(try await pool.withConnection(columns) == ["a", "b"])
            let b = try await pool.withConnection { db in try await db.raw("SELECT * FROM t").first()?.decode(column: "b", as: String.self) }
            #expect(b == "x")
        }
    }

    @Test("binds and columns of every SQLite type round-trip as they did over sqlite-nio")
    func valueTypes() async throws {
        try await Self.withPool { pool in
            let blob = Data([0, 1, 2, 255])
            let row: (any SQLRow)? = try await pool.withWriteConnection { db in
                try await db.raw("CREATE TABLE v (i INTEGER, f REAL, s TEXT, b BLOB, n TEXT, flag INTEGER)").run()
                return try await db.raw(
                    "INSERT INTO v VALUES (\(bind: Int64.max), \(bind: 2.5), \(bind: "é ü"), \(bind: blob), \(bind: String?.none), \(bind: true)) RETURNING *"
                ).first()
            }
            let values = try #require(row)
            #expect(try values.decode(column: "i", as: Int64.self) == Int64.max)
            #expect(try values.decode(column: "f", as: Double.self) == 2.5)
            #expect(try values.decode(column: "s", as: String.self) == "é ü")
            #expect(try values.decode(column: "b", as: Data.self) == blob)
            #expect(try values.decodeNil(column: "n"))
            #expect(try values.decode(column: "n", as: String?.self) == nil)
            #expect(try values.decode(column: "flag", as: Bool.self))
            #expect(throws: (any Error).self) { try values.decode(column: "missing", as: Int.self) }
        }
    }

    @Test("text with a NUL, empty text and an empty blob round-trip exactly; a wrong number of binds is refused")
    func edgeValues() async throws {
        try await Self.withPool { pool in
            let row: (any SQLRow)? = try await pool.withWriteConnection { db in
                try await db.raw("CREATE TABLE e (s TEXT, empty TEXT, b BLOB)").run()
                return try await db.raw("INSERT INTO e VALUES (\(bind: "a\u{0}b"), \(bind: ""), \(bind: Data())) RETURNING *").first()
            }
            let values = try #require(row)
            #expect(try values.decode(column: "s", as: String.self) == "a\u{0}b")
            #expect(try values.decode(column: "empty", as: String.self) == "")
            #expect(try !values.decodeNil(column: "b"))
            #expect(try values.decode(column: "b", as: Data.self) == Data())
            await #expect(throws: (any Error).self) {
                try await pool.withConnection { db in try await db.raw("SELECT \(unsafeRaw: "?") AS x").run() }
            }
        }
    }

    @Test("every column type the row reads directly decodes exactly as SQLiteKit's decoder does")
    func directDecodingAgreesWithTheDecoder() async throws {
        let stored: [(String, SQLiteData)] = [
            ("t", .text("abc")), ("d", .text("2026-12-04T10:00:00Z")), ("z", .integer(0)), ("o", .integer(1)), ("two", .integer(2)),
            ("neg", .integer(-5)), ("big", .integer(Int.max)), ("f", .float(1.5)), ("ts", .float(1_790_000_000.25)), ("n", .null),
        ]
        try await Self.withPool { pool in
            let row: (any SQLRow)? = try await pool.withConnection { db in
                try await db.raw(
                    "SELECT 'abc' AS t, '2026-12-04T10:00:00Z' AS d, 0 AS z, 1 AS o, 2 AS two, -5 AS neg, \(unsafeRaw: String(Int.max)) AS big, 1.5 AS f, 1790000000.25 AS ts, NULL AS n"
                ).first()
            }
            struct Reference: ReferenceDecoding {
                let stored: [String: SQLiteData]
                func decode<T: Decodable>(column: String, as type: T.Type) throws -> T {
                    try SQLiteDataDecoder().decode(T.self, from: stored[column] ?? .null)
                }
            }
            DecodingAgreement.expectAgreement(
                of: try #require(row), with: Reference(stored: Dictionary(uniqueKeysWithValues: stored)), columns: stored.map(\.0))
        }
    }

    @Test("every bind type the store sends is encoded directly exactly as SQLiteKit's encoder encodes it")
    func directEncodingAgreesWithTheEncoder() throws {
        let binds: [any Encodable] = [
            "abc", "", "ünïcødé", 0, 1, -5, Int.max, Int.min, Int64(42), Int64.min, 1.5, -0.0, Double.infinity, true, false,
            String?.some("x"), String?.none, Int?.some(7), Int?.none, Int64?.some(9), Int64?.none, Bool?.some(true), Double?.some(2.5),
            Date(timeIntervalSince1970: 1_790_000_000.25), [UInt8]([1, 2, 3]), Data([4, 5]), Int32(3), UInt8(200), Float(0.5),
        ]
        for bind in binds {
            #expect(try GRDBSQLDatabase.sqliteData(bind) == GRDBSQLDatabase.encodedByEncoder(bind), "\(bind)")
        }
    }

    @Test("space-separated list columns split byte-wise exactly as splitting by Character did")
    func spaceSeparatedWords() {
        for text in ["", " ", "openid", "openid accounts", "  a  b ", "possession_knowledge possession", "ä ü\u{00A0}x", "e\u{301} f"] {
            #expect(SpaceSeparated.words(text) == text.split(separator: " ").map(String.init), "\(text)")
        }
    }

    @Test("a failed statement inside a transaction rolls the whole transaction back and leaves the writer usable")
    func rollbackAfterError() async throws {
        try await Self.withPool { pool in
            try await pool.withWriteConnection { db in try await db.raw("CREATE TABLE u (k TEXT PRIMARY KEY)").run() }
            await #expect(throws: (any Error).self) {
                try await pool.withTransaction { db in
                    try await db.raw("INSERT INTO u (k) VALUES ('a')").run()
                    try await db.raw("INSERT INTO u (k) VALUES ('a')").run()
                }
            }
            let count = try await pool.withTransaction { db in
                try await db.raw("INSERT INTO u (k) VALUES ('b')").run()
                return try await db.raw("SELECT COUNT(*) AS n FROM u").first()?.decode(column: "n", as: Int.self)
            }
            #expect(count == 1)
        }
    }

    /// Several processes on one file (nodes, a CLI command) each have their own pool. SQLite's
    /// busy handler is off (it would sleep on the caller's thread); a statement that finds the
    /// lock taken is retried after asynchronous pauses — without that, these writes would fail
    /// at once with "database is locked".
    @Test("writers that find another connection's write lock wait for it asynchronously, then all succeed")
    func lockedDatabaseIsWaitedFor() async throws {
        let path = Self.temporaryPath()
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let holder = try await SQLitePool.open(path: path, readers: 1, logger: Self.logger)
        var opened: [SQLitePool] = []
        for _ in 0...ProcessInfo.processInfo.activeProcessorCount {
            opened.append(try await SQLitePool.open(path: path, readers: 1, logger: Self.logger))
        }
        let waiters = opened
        try await holder.withWriteConnection { db in try await db.raw("CREATE TABLE w (k INTEGER)").run() }
        let locked = AsyncStream<Void>.makeStream()
        let holding = Task {
            try await holder.withTransaction { db in
                try await db.raw("INSERT INTO w (k) VALUES (0)").run()
                locked.continuation.yield()
                try await Task.sleep(for: .milliseconds(600))
            }
        }
        for await _ in locked.stream { break }
        let writes = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, waiter) in waiters.enumerated() {
                    group.addTask {
                        try await waiter.withWriteConnection { db in try await db.raw("INSERT INTO w (k) VALUES (\(bind: index + 1))").run() }
                    }
                }
                try await group.waitForAll()
            }
        }
        try await holding.value
        try await writes.value
        let count = try await holder.withConnection { db in try await db.raw("SELECT COUNT(*) AS n FROM w").first()?.decode(column: "n", as: Int.self)
        }
        #expect(count == waiters.count + 1)
        for pool in [holder] + waiters { await pool.shutdown() }
    }
}

/// The pool's threads (`SQLiteThreadExecutor`) run every job of tasks that prefer them, from many
/// tasks at once, and nowhere else.
@Suite("SQLite threads")
struct SQLiteThreadExecutorTests {
    @Test("10,000 jobs from 100 tasks on 2 threads: each runs once, on the executor's threads")
    func everyJobOnce() async throws {
        let executor = SQLiteThreadExecutor(name: "sqlite-test", threads: 2)
        defer { executor.shutdown() }
        let counts = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<100 {
                group.addTask {
                    await withTaskExecutorPreference(executor) {
                        var ran = 0
                        for _ in 0..<100 {
                            await Task.yield()
                            if Self.currentThreadName() == "sqlite-test" { ran += 1 }
                        }
                        return ran
                    }
                }
            }
            return await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(counts.count == 100)
        #expect(counts.allSatisfy { $0 == 100 }, "\(counts.prefix(5))")
    }

    #if os(Linux)
        @Test("when the executor is made, its threads run and carry their name (the kernel's, as top and perf show it)")
        func threadsNamedOnceMade() {
            let name = "sqlite-n\(Int.random(in: 1000..<10000))"
            let executor = SQLiteThreadExecutor(name: name, threads: 3)
            defer { executor.shutdown() }
            #expect(Self.threadsNamed(name) == 3)
        }

        /// Foundation's `Thread.name` setter names the thread's pthread only once the thread that
        /// started it has recorded it, after `pthread_create` returns: a new thread that runs first
        /// — likely when both share one CPU — and names itself that way keeps the name it
        /// inherited (a reader thread made on the writer's thread was a second "sqlite-writer",
        /// and conformance/test_processors.py found no reader). Made from a thread pinned to one
        /// CPU, as a pinned node makes them.
        @Test("each thread carries the executor's name, also when it runs before the thread that made it (one CPU)")
        func threadsNamedOnOneCPU() async throws {
            // At most a second of it: the busy thread takes a CPU from the tests running beside.
            let (pinned, made, unnamed) = await withCheckedContinuation { (continuation: CheckedContinuation<(Bool, Int, Int), Never>) in
                Thread {
                    guard Self.pinCurrentThreadToOneCPU() else { return continuation.resume(returning: (false, 0, 0)) }
                    // Another thread busy on the same CPU: the scheduler switches between the
                    // three, so a new thread often runs before the one that started it continues.
                    let busy = Atomic<Bool>(true)
                    let deadline = ContinuousClock.now + .seconds(1)
                    Thread { while busy.load(ordering: .relaxed) && ContinuousClock.now < deadline {} }.start()
                    let tag = Int.random(in: 100..<1000)
                    var (made, unnamed) = (0, 0)
                    for round in 0..<200 where ContinuousClock.now < deadline {
                        let name = "sqlite-p\(round)-\(tag)"
                        let executor = SQLiteThreadExecutor(name: name, threads: 4)
                        unnamed += 4 - Self.threadsNamed(name)
                        made += 4
                        executor.shutdown()
                    }
                    busy.store(false, ordering: .relaxed)
                    continuation.resume(returning: (true, made, unnamed))
                }.start()
            }
            #expect(pinned)
            #expect(made > 0)
            #expect(unnamed == 0, "\(unnamed) of \(made) threads did not carry their executor's name")
        }

        /// How many of this process's threads the kernel knows by `name`.
        static func threadsNamed(_ name: String) -> Int {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
            return tasks.filter { task in
                (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
                    == name
            }.count
        }

        /// Pins the calling thread to the first CPU it may use (on Linux the mask is the thread's;
        /// the threads it starts inherit it). glibc's `sched_getaffinity`/`sched_setaffinity` are
        /// GNU extensions Swift's Glibc module does not declare: looked up by name.
        static func pinCurrentThreadToOneCPU() -> Bool {
            typealias Affinity = @convention(c) (pid_t, Int, UnsafeMutableRawPointer) -> Int32
            guard let get = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sched_getaffinity"),
                let set = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sched_setaffinity")
            else { return false }
            let getAffinity = unsafeBitCast(get, to: Affinity.self)
            let setAffinity = unsafeBitCast(set, to: Affinity.self)
            var allowed = [UInt8](repeating: 0, count: 128)  // a cpu_set_t: 1,024 CPUs
            guard allowed.withUnsafeMutableBytes({ getAffinity(0, $0.count, $0.baseAddress!) }) == 0,
                let index = allowed.firstIndex(where: { $0 != 0 })
            else { return false }
            var one = [UInt8](repeating: 0, count: 128)
            one[index] = allowed[index] & (~allowed[index] &+ 1)
            return one.withUnsafeMutableBytes { setAffinity(0, $0.count, $0.baseAddress!) } == 0
        }
    #endif

    @Test("a read runs on the pool's reader threads, a write and a transaction on its writer thread")
    func leasesRunOnThePoolsThreads() async throws {
        try await SQLiteConnectionTests.withPool { pool in
            let reader = try await pool.withConnection { db in
                try await db.raw("SELECT 1 AS one").run()
                return Self.currentThreadName()
            }
            let writer = try await pool.withWriteConnection { db in
                try await db.raw("CREATE TABLE t (a INTEGER)").run()
                return Self.currentThreadName()
            }
            let transaction = try await pool.withTransaction { db in
                try await db.raw("INSERT INTO t (a) VALUES (1)").run()
                return Self.currentThreadName()
            }
            #expect(reader == "sqlite-reader")
            #expect(writer == "sqlite-writer")
            #expect(transaction == "sqlite-writer")
        }
    }

    /// A lease hops to the pool's threads (every statement runs there: `GRDBConnection.run`
    /// asserts it in debug builds, i.e. in every test), and its caller goes on where it was once
    /// the lease ends — not on the thread SQLite runs on, where a request's signature checks would
    /// hold up reads. (What would break it: the store's functions running on their caller's
    /// executor, e.g. Swift's `NonisolatedNonsendingByDefault`, without the hop back.)
    @Test("once a lease or a store call returns, its caller goes on off the pool's threads")
    func callerLeavesThePoolsThreads() async throws {
        try await SQLiteConnectionTests.withPool { pool in
            try await Migrator.migrate(pool)
            #expect(Self.currentThreadName() == nil)
            let store = SQLStore(pool: pool)
            try await store.insertUser(Fixtures.user("alice"))
            #expect(Self.currentThreadName() == nil)
            #expect(try await store.user(realm: StrongAuthCore.Realm.defaultID, username: "alice") != nil)
            #expect(Self.currentThreadName() == nil)
            let read = try await pool.withConnection { db in
                try await db.raw("SELECT 1 AS one").run()
                return Self.currentThreadName()
            }
            #expect(read == "sqlite-reader")
            #expect(Self.currentThreadName() == nil)
            _ = try await pool.withTransaction { db in try await db.raw("CREATE TABLE t (a INTEGER)").run() }
            #expect(Self.currentThreadName() == nil)
        }
    }

    static func currentThreadName() -> String? { SQLiteThreadExecutor.currentThreadName }

    /// A row's column lookup starts where the previous one ended: whatever the order of the
    /// lookups, it finds what a scan from the first column finds — the first of repeated names
    /// included (a join's `SELECT *`) — and refuses a name the row does not have.
    @Test("a row finds each column as a scan from the first column would, in any order of lookups, repeated names included")
    func columnLookups() throws {
        var generator = SystemRandomNumberGenerator()
        for names in [
            ["id"], ["id", "kind", "user_id", "a_id", "a_name", "d_id", "d_public_key_pem_and_more"],
            ["id", "status", "id", "created_at", "status", "a_much_longer_column_name_than_fifteen", "x"], [],
        ] {
            let values = names.indices.map { SQLiteData.integer($0) }
            for _ in 0..<200 {
                let row = SQLiteRowValues(columns: names, values: values)
                let lookups = (0..<12).map { _ in
                    Int.random(in: 0...2, using: &generator) == 0 ? "absent" : names.randomElement(using: &generator) ?? "absent"
                }
                for name in lookups {
                    #expect(row.index(of: name) == names.firstIndex(of: name), "\(name) in \(names) after \(lookups)")
                    if let first = names.firstIndex(of: name) {
                        #expect(try row.int(name) == first)
                    } else {
                        #expect(throws: (any Error).self) { try row.int(name) }
                        #expect(try row.decodeNil(column: name))
                    }
                }
            }
        }
    }
}
