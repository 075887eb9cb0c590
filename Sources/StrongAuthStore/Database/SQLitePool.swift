import Foundation
import GRDB
import Logging
import NIOPosix
import SQLKit

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
    private let readers: ConnectionQueue<GRDBConnection>
    private let logger: Logger
    private let eventLoop = MultiThreadedEventLoopGroup.singleton.any()
    /// Where writes, transactions, opening and closing run: one thread, as there is one writer
    /// connection (opening syncs the file; closing the last connection checkpoints it).
    private let writerExecutor: SQLiteThreadExecutor
    /// Where reads run: as many threads as cores (reads are CPU work, or waits for the disk).
    private let readerExecutor = SQLiteThreadExecutor(name: "sqlite-reader", threads: min(4, max(2, ProcessInfo.processInfo.activeProcessorCount)))

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
                GRDBConnection(queue: try await GRDBConnection.retryingWhileBusy { try DatabaseQueue(path: path, configuration: configuration) })
            }
            let writer = try await connect()
            opened.append(writer)
            // journal_mode is persistent per file; the writer sets it before anyone reads. (Two
            // nodes starting at once: the second waits here while the first holds the lock.)
            try await writer.retryingWhileBusy { try writer.queue.inDatabase { db in try db.execute(sql: "PRAGMA journal_mode=WAL") } }
            var readers: [GRDBConnection] = []
            for _ in 0..<max(1, readerCount) {
                let reader = try await connect()
                opened.append(reader)
                readers.append(reader)
            }
            return SQLitePool(writer: writer, readers: readers, writerExecutor: writerExecutor, logger: logger)
        } catch {
            for connection in opened { try? connection.queue.close() }
            throw error
        }
    }

    /// The connection as SQLKit sees it.
    private func database(_ connection: GRDBConnection) -> any SQLDatabase {
        GRDBSQLDatabase(connection: connection, logger: logger, eventLoop: eventLoop)
    }

    public func withConnection<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await withTaskExecutorPreference(readerExecutor) {
            try await readers.with { connection in try await body(database(connection)) }
        }
    }

    public func withWriteConnection<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await withTaskExecutorPreference(writerExecutor) {
            try await writer.with { connection in try await body(database(connection)) }
        }
    }

    public func withTransaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await withTaskExecutorPreference(writerExecutor) {
            try await writer.with { connection in
                try await runTransaction(on: database(connection), begin: "BEGIN IMMEDIATE", body)
            }
        }
    }

    deinit {
        writerExecutor.shutdown()
        readerExecutor.shutdown()
    }

    /// The statements the writer keeps prepared (for the tests of the cache).
    var writerCachedStatementCount: Int { writer.all.first?.cachedStatementCount ?? 0 }

    public func shutdown() async {
        let connections = writer.all + readers.all
        await withTaskExecutorPreference(writerExecutor) {
            for connection in connections {
                try? connection.queue.close()
            }
        }
        writerExecutor.shutdown()
        readerExecutor.shutdown()
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

    /// Every connection, idle or not (for shutdown).
    var all: [Connection] { lock.withLock { connections } }

    /// Runs `body` with a connection held exclusively.
    func with<T>(_ body: (Connection) async throws -> T) async throws -> T {
        let connection = await acquire()
        defer { release(connection) }
        return try await body(connection)
    }
}
