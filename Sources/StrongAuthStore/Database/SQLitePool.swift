import Foundation
import Logging
import NIOPosix
import SQLKit
import SQLiteKit
import SQLiteNIO

/// A small pool of SQLite connections to one file, in WAL mode.
///
/// WAL lets readers proceed while one writer writes; `synchronous=NORMAL` in WAL mode still
/// survives a process crash (`kill -9`) without losing a committed transaction. Writers queue on
/// `busy_timeout`, and transactions start with `BEGIN IMMEDIATE` so they take the write lock up
/// front instead of failing on upgrade.
public final class SQLitePool: DatabasePool {
    public let engine = DatabaseEngine.sqlite
    private let connections: ConnectionQueue

    private init(connections: [SQLiteConnection]) {
        self.connections = ConnectionQueue(connections)
    }

    /// Opens `size` connections to the database file at `path` (created if missing).
    public static func open(path: String, size: Int = 4, logger: Logger) async throws -> SQLitePool {
        var opened: [SQLiteConnection] = []
        for index in 0..<max(1, size) {
            let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
            // journal_mode is persistent per file; set it once, from the first connection.
            if index == 0 {
                _ = try await connection.query("PRAGMA journal_mode=WAL")
            }
            _ = try await connection.query("PRAGMA busy_timeout=10000")
            _ = try await connection.query("PRAGMA synchronous=NORMAL")
            _ = try await connection.query("PRAGMA foreign_keys=ON")
            opened.append(connection)
        }
        return SQLitePool(connections: opened)
    }

    public func withConnection<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let connection = await connections.acquire()
        defer { connections.release(connection) }
        return try await body(connection.sql())
    }

    public func withTransaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await withConnection { db in
            try await runTransaction(on: db, begin: "BEGIN IMMEDIATE", body)
        }
    }

    public func shutdown() async {
        for connection in await connections.drain() {
            try? await connection.close()
        }
    }
}

/// A FIFO of idle connections with waiters; a lock-protected queue keeps acquire cheap.
final class ConnectionQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var idle: [SQLiteConnection]
    private var all: [SQLiteConnection]
    private var waiters: [CheckedContinuation<SQLiteConnection, Never>] = []

    init(_ connections: [SQLiteConnection]) {
        idle = connections
        all = connections
    }

    func acquire() async -> SQLiteConnection {
        await withCheckedContinuation { continuation in
            let ready: SQLiteConnection? = lock.withLock {
                if let connection = idle.popLast() { return connection }
                waiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    func release(_ connection: SQLiteConnection) {
        let waiter: CheckedContinuation<SQLiteConnection, Never>? = lock.withLock {
            if waiters.isEmpty {
                idle.append(connection)
                return nil
            }
            return waiters.removeFirst()
        }
        waiter?.resume(returning: connection)
    }

    func drain() async -> [SQLiteConnection] {
        lock.withLock { all }
    }
}
