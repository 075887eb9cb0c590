import Foundation
import SQLKit
import StrongAuthCore

/// The retention job's deletes: each a bounded batch (`SQLStore.deleteBatch`), found through an
/// index on the expiry (migration 25; the notifications' through their `(status, next_attempt_at)`
/// index).
extension SQLStore: RetentionRepository {
    public func deleteExpiredChallenges(before cutoff: Date, limit: Int) async throws -> Int {
        try await deleteBatch(
            from: "challenges", key: "id",
            where: "expires_at < \(bind: cutoff.epochMilliseconds)", limit: limit)
    }

    public func deleteExpiredRefreshTokens(before cutoff: Date, limit: Int) async throws -> Int {
        let postgres = pool.engine == .postgres
        return try await pool.withTransaction { db in
            let families = try await db.sql(
                """
                DELETE FROM refresh_tokens WHERE id IN (
                    SELECT id FROM refresh_tokens WHERE expires_at < \(bind: cutoff.epochMilliseconds) LIMIT \(bind: limit))
                RETURNING family_id
                """
            ).all().map { try $0.string("family_id") }
            // A family goes with its last refresh token (its access tokens expired before it:
            // `Retention.accessTokenLifetime`). On PostgreSQL two nodes may each delete one of a
            // family's last two tokens at once, and each would still see the other's: locking the
            // families first (in one order, so two sweeps cannot deadlock) makes the second wait
            // for the first to commit, and its check, a statement later, sees both deletions.
            let candidates = Set(families).sorted()
            for chunk in Self.statementChunks(of: candidates) {
                if postgres {
                    try await db.sql("SELECT id FROM token_families WHERE id IN (\(binds: Array(chunk))) ORDER BY id FOR UPDATE").run()
                }
                try await db.sql(
                    """
                    DELETE FROM token_families WHERE id IN (\(binds: Array(chunk)))
                      AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family_id = token_families.id)
                    """
                ).run()
            }
            return families.count
        }
    }

    public func deleteExpiredAccessTokenRevocations(before cutoff: Date, limit: Int) async throws -> Int {
        try await deleteBatch(
            from: "revoked_access_tokens", key: "jti",
            where: "expires_at < \(bind: cutoff.epochMilliseconds)", limit: limit)
    }

    public func deleteExpiredActionTokens(before cutoff: Date, limit: Int) async throws -> Int {
        try await deleteBatch(
            from: "action_tokens", key: "token_hash",
            where: "expires_at < \(bind: cutoff.epochMilliseconds)", limit: limit)
    }

    public func deleteFinishedNotifications(before cutoff: Date, limit: Int) async throws -> Int {
        try await deleteBatch(
            from: "notifications", key: "id",
            where: "status IN ('sent', 'dead') AND next_attempt_at < \(bind: cutoff.epochMilliseconds)", limit: limit)
    }

    /// `SQLStore.deleteBatch` on the writer, alone.
    private func deleteBatch(from table: StaticString, key: StaticString, where condition: StoreSQL, limit: Int) async throws -> Int {
        try await pool.withWriteConnection { db in
            try await Self.deleteBatch(from: table, key: key, where: condition, limit: limit, on: db)
        }
    }
}
