import Foundation
import SQLKit
import StrongAuthCore

extension SQLStore: ReplayGuardRepository {
    /// One INSERT: a new key is stored; an existing one is taken over only if it expired (the
    /// conditional DO UPDATE), otherwise nothing is written and no row comes back — seen. The
    /// primary key serialises concurrent inserts of one key on both engines, so exactly one wins.
    public func rememberOnce(scope: String, keyHash: String, until expiresAt: Date, at now: Date) async throws -> Bool {
        try await pool.withWriteConnection { db in
            try await db.sql(
                """
                INSERT INTO replay_guard (scope, key_hash, expires_at)
                VALUES (\(bind: scope), \(bind: keyHash), \(bind: expiresAt.epochMilliseconds))
                ON CONFLICT (scope, key_hash) DO UPDATE SET expires_at = excluded.expires_at
                    WHERE replay_guard.expires_at <= \(bind: now.epochMilliseconds)
                RETURNING scope
                """
            ).first() != nil
        }
    }

    public func sweepReplayGuard(at now: Date) async throws -> Int {
        try await pool.withWriteConnection { db in
            // In batches, so that one sweep never holds the write lock long.
            try await db.sql(
                """
                DELETE FROM replay_guard WHERE (scope, key_hash) IN (
                    SELECT scope, key_hash FROM replay_guard WHERE expires_at <= \(bind: now.epochMilliseconds) LIMIT 5000)
                RETURNING scope
                """
            ).all().count
        }
    }
}
