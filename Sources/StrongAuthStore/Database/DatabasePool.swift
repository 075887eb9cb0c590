import Logging
import SQLKit

/// Which SQL engine a pool talks to. The SQL is shared; the few dialect differences
/// (write locks, triggers) branch on this.
public enum DatabaseEngine: String, Sendable {
    case sqlite
    case postgres
}

/// Connections to one database, for one-statement work and for transactions.
///
/// Every multi-statement state change runs in `withTransaction`, so it is all-or-nothing
/// (nothing half-written) and serialised against concurrent writers (SQLite: `BEGIN IMMEDIATE`;
/// PostgreSQL: row locks taken by the conditional `UPDATE`s themselves, advisory locks where a
/// whole table is the unit, as for the audit chain).
public protocol DatabasePool: Sendable {
    var engine: DatabaseEngine { get }
    /// A connection for reads (and, on PostgreSQL, anything).
    func withConnection<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    /// A connection for a single-statement write (SQLite: the one writer connection, the
    /// statement a member of its group commit; PostgreSQL: any connection, the statement alone).
    func withWriteConnection<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    /// A transaction: all of `body` or nothing.
    func withTransaction<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    /// Closes every connection.
    func shutdown() async
    /// `true` when the database answers a trivial query (for `/ready`), promptly either way.
    func isReachable() async -> Bool
}

extension DatabasePool {
    /// `true` when the database answers a trivial query (for `/ready`).
    public func isReachable() async -> Bool {
        (try? await withConnection { db in try await db.sql("SELECT 1 AS one").run() }) != nil
    }
}

/// Runs `body` in a transaction on `db`: commits when it returns, rolls back when it throws.
func runTransaction<T>(
    on db: any SQLDatabase, begin: String, _ body: (any SQLDatabase) async throws -> T
) async throws -> T {
    try await db.sql(StoreSQL(begin)).run()
    do {
        let result = try await body(db)
        try await db.sql("COMMIT").run()
        return result
    } catch {
        // Roll back even when this task was cancelled: a cancelled ROLLBACK would leave the
        // connection (on SQLite, the one writer) inside the transaction for the next caller.
        await Task { try? await db.sql("ROLLBACK").run() }.value
        throw error
    }
}
