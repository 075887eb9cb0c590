import Foundation
import GRDB
import Logging
import NIOPosix
import SQLKit
import Synchronization

/// SQLite connections to one file, in WAL mode: one writer, several readers.
///
/// SQLite allows one writer at a time. Writes and transactions all go through the single writer
/// connection, queued in-process, so they never spin on SQLite's busy handler against each
/// other; readers proceed in parallel (WAL). `synchronous=NORMAL` in WAL mode survives a
/// process crash (`kill -9`) without losing a committed transaction. Another process (a CLI
/// command next to a running server, a second node starting at once) holding the lock is waited
/// for asynchronously, up to 10 s (`GRDBConnection.retryingWhileBusy`).
///
/// Each connection is a GRDB `DatabaseQueue` behind SQLKit (`GRDBSQLDatabase`): a statement
/// runs in line, from a prepared-statement cache, on the pool's own threads
/// (`SQLiteThreadExecutor`: one for the writer, a few for the readers; SQLite may wait for the
/// disk, and the threads every task shares must not). A lease hops there once and back once.
/// The queues here hand a connection to one task at a time; a task that waits for a connection
/// is suspended, not blocked.
public final class SQLitePool: DatabasePool {
    public let engine = DatabaseEngine.sqlite
    private let writer: ConnectionQueue<GRDBConnection>
    /// The writer's open group commit (touched only by the task holding the writer).
    private let group = GroupCommit()
    private let readers: ConnectionQueue<GRDBConnection>
    private let logger: Logger
    private let eventLoop = MultiThreadedEventLoopGroup.singleton.any()
    /// Where writes, transactions, opening and closing run: one thread, as there is one writer
    /// connection (opening syncs the file; closing the last connection checkpoints it).
    private let writerExecutor: SQLiteThreadExecutor
    /// Where reads run: as many threads as the processors the process may use, up to 4 (reads
    /// are CPU work; a second thread on a single processor only added context switches).
    private let readerExecutor = SQLiteThreadExecutor(name: "sqlite-reader", threads: min(4, UsableProcessors.count))

    private init(writer: GRDBConnection, readers: [GRDBConnection], writerExecutor: SQLiteThreadExecutor, logger: Logger) {
        self.writer = ConnectionQueue([writer])
        self.readers = ConnectionQueue(readers)
        self.writerExecutor = writerExecutor
        self.logger = logger
    }

    /// Reader connections by default: enough that reads rarely wait for one under load.
    /// Each connection holds two open files (the database and its WAL).
    public static let defaultReaders = 16

    /// Opens one writer and `readers` reader connections to the file at `path` (created if
    /// missing). If any cannot be opened (too many open files, say), those already open are
    /// closed before the error is thrown.
    public static func open(path: String, readers readerCount: Int = defaultReaders, logger: Logger) async throws -> SQLitePool {
        let writerExecutor = SQLiteThreadExecutor(name: "sqlite-writer", threads: 1)
        do {
            return try await withTaskExecutorPreference(writerExecutor) {
                try await open(path: path, readers: readerCount, writerExecutor: writerExecutor, logger: logger)
            }
        } catch {
            writerExecutor.shutdown()
            throw error
        }
    }

    private static func open(path: String, readers readerCount: Int, writerExecutor: SQLiteThreadExecutor, logger: Logger) async throws
        -> SQLitePool
    {
        var configuration = Configuration()
        // No busy handler: a locked database is waited for asynchronously (`retryingWhileBusy`).
        configuration.busyMode = .immediateError
        configuration.foreignKeysEnabled = true
        // Transactions span several statements, each its own `inDatabase` call; the pool, not
        // GRDB, guarantees that one task holds the connection from BEGIN to COMMIT/ROLLBACK.
        configuration.allowsUnsafeTransactions = true
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous=NORMAL") }
        var opened: [GRDBConnection] = []
        do {
            func connect() async throws -> GRDBConnection {
                let queue = try await GRDBConnection.retryingWhileBusy { try SQLiteLibrary.queue(path: path, configuration: configuration) }
                return GRDBConnection(queue: queue)
            }
            let writer = try await connect()
            opened.append(writer)
            // journal_mode is persistent per file; the writer sets it before anyone reads. (Two
            // nodes starting at once: the second waits here while the first holds the lock.)
            try await writer.retryingWhileBusy { try writer.queue.inDatabase { db in try db.execute(sql: "PRAGMA journal_mode=WAL") } }
            // The writer's sub-journal in memory: each group member's savepoint (and each
            // statement that may abort half-way) keeps the original of every page it changes
            // there. On file, past 64 KiB, it cost a temporary file per group — created,
            // written page by page and unlinked — 12 `pwrite`s per device challenge
            // verification, more than its WAL frames (docs/benchmarks.md, sixteenth pass). It
            // holds what one group's transactions change (at most `GroupCommit.maximumMembers` of
            // them): a few pages each on the request paths; a cleanup job what expired since its
            // last run; the master key rotation pages of 200 values.
            // (What the writer's statements materialize — a subquery, a DISTINCT — stays in memory
            // too; the sorter, a `CREATE INDEX`'s among others, still spills to files.)
            try writer.queue.inDatabase { db in try db.execute(sql: "PRAGMA temp_store=MEMORY") }
            var readers: [GRDBConnection] = []
            for _ in 0..<max(1, readerCount) {
                let reader = try await connect()
                opened.append(reader)
                readers.append(reader)
            }
            return SQLitePool(writer: writer, readers: readers, writerExecutor: writerExecutor, logger: logger)
        } catch {
            for connection in opened { try? connection.close() }
            throw error
        }
    }

    /// The connection as SQLKit sees it.
    private func database(_ connection: GRDBConnection) -> any SQLDatabase {
        GRDBSQLDatabase(connection: connection, logger: logger, eventLoop: eventLoop)
    }

    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await withTaskExecutorPreference(readerExecutor) {
            try await readers.with { connection in try await body(database(connection)) }
        }
    }

    /// A single-statement write, as a member of the writer's group commit like any transaction
    /// (its own savepoint in an open group, else a transaction of its own). Run alone it would
    /// first have to commit the open group, then write its pages to the WAL by itself: a device
    /// challenge's creation wrote 7.3 pages this way against 1.1 in a group (docs/benchmarks.md,
    /// eleventh pass). Several statements in `body` commit, or fail, together.
    public func withWriteConnection<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await withTransaction(body)
    }

    /// A transaction, committed together with the transactions queued behind it (group commit).
    ///
    /// Under load many requests wait for the one writer; committing each alone writes the same
    /// B-tree pages (a table's last page, its indexes) to the WAL once per request, with its own
    /// locks. Instead, a transaction that finds the group open joins it under a savepoint, and
    /// one that finishes while others wait leaves the group open for them; the last one commits
    /// for all. Every member still runs alone on the writer, in order, so each conditional update
    /// decides exactly as it would have; and no member returns before the COMMIT that makes its
    /// writes durable — a failed COMMIT fails every member. A member that throws is rolled back
    /// to its savepoint; the others are unaffected.
    public func withTransaction<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let (result, ticket) = try await withTaskExecutorPreference(writerExecutor) {
            try await writer.with { connection in try await runMember(on: connection, body) }
        }
        try await ticket?.wait()
        return result
    }

    /// Runs `body` as a member of the writer's group: its result, and the ticket to wait on when
    /// the group was left open for those queued behind (nil when this member committed it).
    private func runMember<T: Sendable>(on connection: GRDBConnection, _ body: @Sendable (any SQLDatabase) async throws -> T)
        async throws -> (T, CommitTicket?)
    {
        let db = database(connection)
        let joined = group.isOpen
        if joined {
            do {
                try await db.sql("SAVEPOINT member").run()
            } catch {
                // The group cannot take this member; end it rather than leave its waiting
                // members to a COMMIT nobody may come to make.
                await Task(executorPreference: writerExecutor) {
                    try? await db.sql("ROLLBACK").run()
                    self.finishGroup(.failure(error))
                }.value
                throw error
            }
        } else {
            try await db.sql("BEGIN IMMEDIATE").run()
            group.isOpen = true
        }
        let result: T
        do {
            result = try await body(db)
            if joined { try await db.sql("RELEASE member").run() }
        } catch {
            await abandonMember(on: connection, db, joined: joined, error: error)
            throw error
        }
        // Tasks already queued for this thread register as the writer's waiters only when it is
        // their turn on it: one turn first, so that those that arrived meanwhile join the group.
        if !writer.hasWaiters { await Task.yield() }
        if writer.hasWaiters && group.pending.count + 1 < GroupCommit.maximumMembers {
            let ticket = CommitTicket()
            group.pending.append(ticket)
            return (result, ticket)
        }
        try await commitGroup(db)
        return (result, nil)
    }

    /// Undoes a member that threw: back to its savepoint when it joined a group that lives on
    /// (committed now if nobody is queued to do it), else the whole transaction. Runs even when
    /// the task was cancelled: the writer must never stay inside a transaction nobody will end.
    private func abandonMember(on connection: GRDBConnection, _ db: any SQLDatabase, joined: Bool, error: any Error) async {
        await Task(executorPreference: writerExecutor) {
            if joined, (try? await db.sql("ROLLBACK TO member").run()) != nil, (try? await db.sql("RELEASE member").run()) != nil,
                connection.isInsideTransaction
            {
                if !self.writer.hasWaiters { try? await self.commitGroup(db) }
                return
            }
            // The first member, or SQLite already rolled the whole transaction back (an I/O error,
            // a full disk): the group ends here, and with it every waiting member's writes.
            try? await db.sql("ROLLBACK").run()
            self.finishGroup(.failure(error))
        }.value
    }

    /// Commits the open group and tells its waiting members; on failure rolls back and fails them all.
    private func commitGroup(_ db: any SQLDatabase) async throws {
        do {
            try await db.sql("COMMIT").run()
        } catch {
            await Task(executorPreference: writerExecutor) { try? await db.sql("ROLLBACK").run() }.value
            self.finishGroup(.failure(error))
            throw error
        }
        finishGroup(.success(()))
    }

    private func finishGroup(_ outcome: Result<Void, any Error>) {
        let members = group.pending
        if case .success = outcome { group.commits += 1 }
        group.pending = []
        group.isOpen = false
        for member in members { member.resolve(outcome) }
    }

    deinit {
        writerExecutor.shutdown()
        readerExecutor.shutdown()
    }

    /// How many COMMITs the writer's transactions shared (for the tests of group commit).
    var groupCommits: Int { group.commits }

    /// How many tasks wait for the writer (for the tests of group commit).
    var queuedForWriter: Int { writer.waiterCount }

    /// How many jobs wait for the writer's thread — tasks on their way to the writer among them
    /// (for the tests of group commit).
    var queuedForWriterThread: Int { writerExecutor.queuedJobs }

    /// The statements the writer keeps prepared (for the tests of the cache).
    var writerCachedStatementCount: Int { writer.all.first?.cachedStatementCount ?? 0 }

    public func shutdown() async {
        let connections = writer.all + readers.all
        await withTaskExecutorPreference(writerExecutor) {
            for connection in connections {
                try? connection.close()
            }
        }
        writerExecutor.shutdown()
        readerExecutor.shutdown()
    }
}

/// Transactions that ran on the writer and wait for their group's COMMIT.
///
/// Only the task holding the writer connection reads or changes it (the connection queue hands
/// the writer to one task at a time, and each hand-off is a synchronisation point).
final class GroupCommit: @unchecked Sendable {
    /// Whether the writer is inside the group's `BEGIN IMMEDIATE`.
    var isOpen = false
    /// The members that finished and wait for the COMMIT.
    var pending: [CommitTicket] = []
    /// How many groups committed (for the tests: fewer than the transactions under load).
    var commits = 0
    /// At most this many transactions share one COMMIT (a bound on how long the first one waits).
    static let maximumMembers = 32
}

/// One member's wait for its group's COMMIT: resolved once, by whoever commits or fails the group.
final class CommitTicket: Sendable {
    private struct State {
        var outcome: Result<Void, any Error>?
        var waiter: CheckedContinuation<Void, any Error>?
    }
    private let state = Mutex(State())

    func resolve(_ outcome: Result<Void, any Error>) {
        let waiter: CheckedContinuation<Void, any Error>? = state.withLock { state in
            state.outcome = outcome
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(with: outcome)
    }

    /// Returns when the group committed; throws the COMMIT's error when it did not. Not
    /// cancellable: the writes are in the group either way, and the answer must say which.
    func wait() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let ready: Result<Void, any Error>? = state.withLock { state in
                if let outcome = state.outcome { return outcome }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}

/// A FIFO of idle connections with waiters; a lock-protected queue keeps acquire cheap.
final class ConnectionQueue<Connection: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var idle: [Connection]
    private let connections: [Connection]
    private var waiters: [CheckedContinuation<Connection, Never>] = []

    init(_ connections: [Connection]) {
        idle = connections
        self.connections = connections
    }

    func acquire() async -> Connection {
        await withCheckedContinuation { continuation in
            let ready: Connection? = lock.withLock {
                if let connection = idle.popLast() { return connection }
                waiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    func release(_ connection: Connection) {
        let waiter: CheckedContinuation<Connection, Never>? = lock.withLock {
            if waiters.isEmpty {
                idle.append(connection)
                return nil
            }
            return waiters.removeFirst()
        }
        waiter?.resume(returning: connection)
    }

    /// Whether tasks are queued for a connection.
    var hasWaiters: Bool { lock.withLock { !waiters.isEmpty } }

    /// How many tasks are queued for a connection.
    var waiterCount: Int { lock.withLock { waiters.count } }

    /// Every connection, idle or not (for shutdown).
    var all: [Connection] { lock.withLock { connections } }

    /// Runs `body` with a connection held exclusively.
    func with<T>(_ body: (Connection) async throws -> T) async throws -> T {
        let connection = await acquire()
        defer { release(connection) }
        return try await body(connection)
    }
}
