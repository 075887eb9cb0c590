import Foundation
import SQLKit
import StrongAuthCore

extension SQLStore: AccountRepository {
    public func changePassword(userID: String, from oldHash: String, to newHash: String, keepingWebSession tokenHash: String?, at now: Date)
        async throws -> Bool
    {
        try await pool.withTransaction { db in
            // The compare-and-set decides; only when it changed the row do the revocations follow.
            guard
                try await db.sql(
                    """
                    UPDATE users SET password_hash = \(bind: newHash)
                    WHERE id = \(bind: userID) AND password_hash = \(bind: oldHash) RETURNING id
                    """
                ).first() != nil
            else { return false }
            try await db.sql(
                """
                UPDATE token_families SET revoked_at = \(bind: now.epochMilliseconds)
                WHERE user_id = \(bind: userID) AND revoked_at IS NULL
                """
            ).run()
            try await db.sql(
                """
                DELETE FROM web_sessions WHERE kind = 'user' AND principal_id = \(bind: userID)
                  AND token_hash <> \(bind: tokenHash ?? "")
                """
            ).run()
            return true
        }
    }

    public func changePhone(userID: String, from oldPhone: String?, to newPhone: String, notice: OutboxNotification?) async throws -> Bool {
        try await pool.withTransaction { db in
            let unchanged: StoreSQL = oldPhone.map { "phone = \(bind: $0)" } ?? "phone IS NULL"
            guard
                try await db.sql(
                    "UPDATE users SET phone = \(bind: newPhone) WHERE id = \(bind: userID) AND \(unchanged) RETURNING id"
                ).first() != nil
            else { return false }
            if let notice { try await Self.insert(notice, into: db) }
            return true
        }
    }
}
