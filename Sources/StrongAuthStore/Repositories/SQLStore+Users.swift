import Foundation
import SQLKit
import StrongAuthCore

extension SQLStore: UserRepository {
    public func insertUser(_ user: User) async throws {
        let inserted = try await pool.withWriteConnection { db in try await Self.insertUserRow(user, into: db) }
        guard inserted else { throw StoreError.conflict("user '\(user.username)'") }
    }

    /// Inserts the user's row; `false` when the id or username is taken. Shared with the
    /// transactions that store a user together with more rows.
    static func insertUserRow(_ user: User, into db: any SQLDatabase) async throws -> Bool {
        try await db.sql(
            """
            INSERT INTO users (id, username, password_hash, phone, email, owner_client_id, status,
                               failed_password_attempts, password_locked_until, created_at, realm_id)
            VALUES (\(bind: user.id), \(bind: user.username), \(bind: user.passwordHash), \(bind: user.phone),
                    \(bind: user.email), \(bind: user.ownerClientId), \(bind: user.status.rawValue),
                    \(bind: user.failedLoginAttempts), \(bind: user.lockedUntil?.epochMilliseconds),
                    \(bind: user.createdAt.epochMilliseconds), \(bind: user.realmID))
            ON CONFLICT DO NOTHING RETURNING id
            """
        ).first() != nil
    }

    public func user(id: String) async throws -> User? {
        try await pool.withConnection { db in
            try await db.sql("SELECT * FROM users WHERE id = \(bind: id)").first()
        }.map(Self.user(from:))
    }

    public func user(realm: String, username: String) async throws -> User? {
        try await pool.withConnection { db in
            try await db.sql("SELECT * FROM users WHERE realm_id = \(bind: realm) AND username = \(bind: username)").first()
        }.map(Self.user(from:))
    }

    static func user(from row: any SQLRow) throws -> User {
        User(
            id: try row.string("id"), username: try row.string("username"), passwordHash: try row.string("password_hash"),
            phone: try row.optionalString("phone"), email: try row.optionalString("email"),
            ownerClientId: try row.optionalString("owner_client_id"),
            status: User.Status(rawValue: try row.string("status")) ?? .disabled,
            failedLoginAttempts: try row.int("failed_password_attempts"),
            lockedUntil: try row.optionalDate("password_locked_until"),
            bindingLockedUntil: try row.optionalDate("binding_locked_until"), createdAt: try row.date("created_at"),
            realmID: try row.string("realm_id"))
    }

    public func deleteUser(id: String) async throws -> Bool {
        try await pool.withTransaction { db in
            // Each through an index (QueryPlanTests): the tokens by their families, the
            // challenges by the user's devices (or by none: push before an answer, web step-up).
            try await db.sql(
                "DELETE FROM refresh_tokens WHERE family_id IN (SELECT id FROM token_families WHERE user_id = \(bind: id))"
            ).run()
            try await db.sql("DELETE FROM token_families WHERE user_id = \(bind: id)").run()
            try await db.sql(
                """
                DELETE FROM challenges
                WHERE device_id IN (SELECT id FROM devices WHERE user_id = \(bind: id)) OR (device_id = '' AND user_id = \(bind: id))
                """
            ).run()
            try await db.sql("DELETE FROM notifications WHERE user_id = \(bind: id)").run()
            // Explicit rather than ON DELETE CASCADE, which SQLite honours only with foreign_keys on.
            try await db.sql(
                "DELETE FROM powerauth_tokens WHERE device_id IN (SELECT id FROM devices WHERE user_id = \(bind: id))"
            ).run()
            try await db.sql(
                "DELETE FROM powerauth_activations WHERE device_id IN (SELECT id FROM devices WHERE user_id = \(bind: id))"
            ).run()
            try await db.sql("DELETE FROM devices WHERE user_id = \(bind: id)").run()
            try await Self.deleteLoginState(userID: id, in: db)
            // Every self-service session of the user ends with it (on whichever node it lives).
            try await db.sql("DELETE FROM web_sessions WHERE kind = 'user' AND principal_id = \(bind: id)").run()
            return try await db.sql("DELETE FROM users WHERE id = \(bind: id) RETURNING id").first() != nil
        }
    }
}
