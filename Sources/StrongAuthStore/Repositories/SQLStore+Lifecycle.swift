import Foundation
import SQLKit
import StrongAuthCore

extension SQLStore: CredentialLifecycleRepository {
    /// The table and key column of each kind.
    private static func table(_ kind: ManagedKind) -> (table: String, key: String) {
        switch kind {
        case .client: ("clients", "id")
        case .application: ("powerauth_applications", "id")
        case .integrationUser: ("integration_users", "name")
        case .operator: ("operators", "id")
        case .user: ("users", "id")
        }
    }

    // MARK: Lists

    public func clients(realm: String) async throws -> [OAuthClient] {
        try await pool.withConnection { db in
            try await db.sql("SELECT * FROM clients WHERE realm_id = \(bind: realm) AND status <> 'deleted' ORDER BY id").all()
        }.map(Self.client(from:))
    }

    public func managedApplications(realm: String) async throws -> [PowerAuthApplication] {
        try await pool.withConnection { db in
            try await db.sql(
                "SELECT * FROM powerauth_applications WHERE realm_id = \(bind: realm) AND status <> 'deleted' ORDER BY id"
            ).all()
        }.map(Self.application(from:))
    }

    public func integrationUsers(realm: String) async throws -> [IntegrationUser] {
        try await pool.withConnection { db in
            try await db.sql("SELECT * FROM integration_users WHERE realm_id = \(bind: realm) ORDER BY name").all()
        }.map(Self.integrationUser(from:))
    }

    public func operators(realm: String) async throws -> [Operator] {
        try await pool.withConnection { db in
            try await db.sql("SELECT * FROM operators WHERE realm_id = \(bind: realm) ORDER BY username").all()
        }.map(Self.operator(from:))
    }

    public func users(realm: String, after: String?, limit: Int) async throws -> [User] {
        try await pool.withConnection { db in
            try await db.sql(
                """
                SELECT * FROM users WHERE realm_id = \(bind: realm) AND username > \(bind: after ?? "")
                ORDER BY username LIMIT \(bind: max(1, min(limit, 1000)))
                """
            ).all()
        }.map(Self.user(from:))
    }

    // MARK: Changes

    public func setStatus(_ kind: ManagedKind, id: String, realm: String, active: Bool, at now: Date) async throws -> LifecycleOutcome {
        let (table, key) = Self.table(kind)
        let (from, to) = active ? ("disabled", "active") : ("active", "disabled")
        return try await pool.withTransaction { db in
            if kind == .user, active {
                // Unlocking a user also gives the password and binding factors their attempts back.
                let row = try await db.sql(
                    """
                    UPDATE users SET status = 'active', failed_password_attempts = 0, password_locked_until = NULL,
                      failed_binding_attempts = 0, binding_locked_until = NULL
                    WHERE id = \(bind: id) AND realm_id = \(bind: realm) RETURNING id
                    """
                ).first()
                return row == nil ? .notFound : .changed
            }
            let changed = try await db.sql(
                """
                UPDATE \(unsafeRaw: table) SET status = \(bind: to)
                WHERE \(unsafeRaw: key) = \(bind: id) AND realm_id = \(bind: realm) AND status = \(bind: from)
                RETURNING \(unsafeRaw: key) AS key
                """
            ).first()
            guard changed != nil else {
                let exists = try await db.sql(
                    """
                    SELECT 1 AS found FROM \(unsafeRaw: table)
                    WHERE \(unsafeRaw: key) = \(bind: id) AND realm_id = \(bind: realm) AND status <> 'deleted'
                    """
                ).first()
                return exists == nil ? .notFound : .unchanged
            }
            // A locked user or disabled operator is signed out everywhere at once; a locked user's
            // refresh-token families die too (refresh itself does not look at the user's status).
            if !active, kind == .user || kind == .operator {
                try await Self.endWebSessions(kind, id: id, in: db)
            }
            if !active, kind == .user {
                try await db.sql(
                    "UPDATE token_families SET revoked_at = \(bind: now.epochMilliseconds) WHERE user_id = \(bind: id) AND revoked_at IS NULL"
                ).run()
            }
            return .changed
        }
    }

    public func replaceSecretHash(_ kind: ManagedKind, id: String, realm: String, hash: String) async throws -> Bool {
        let (table, key) = Self.table(kind)
        let column: String
        switch kind {
        case .client: column = "secret_hash"
        case .integrationUser: column = "password_hash"
        default: return false
        }
        return try await pool.withWriteConnection { db in
            try await db.sql(
                """
                UPDATE \(unsafeRaw: table) SET \(unsafeRaw: column) = \(bind: hash)
                WHERE \(unsafeRaw: key) = \(bind: id) AND realm_id = \(bind: realm) AND status <> 'deleted'
                RETURNING \(unsafeRaw: key) AS key
                """
            ).first() != nil
        }
    }

    public func replaceOperatorTOTP(id: String, realm: String, sealedSecret: String) async throws -> Bool {
        try await pool.withTransaction { db in
            let row = try await db.sql(
                """
                UPDATE operators SET sealed_totp_secret = \(bind: sealedSecret), last_totp_step = 0, failed_totp_attempts = 0,
                  totp_locked_until = NULL
                WHERE id = \(bind: id) AND realm_id = \(bind: realm) RETURNING id
                """
            ).first()
            guard row != nil else { return false }
            try await Self.endWebSessions(.operator, id: id, in: db)
            return true
        }
    }

    public func delete(_ kind: ManagedKind, id: String, realm: String, at now: Date) async throws -> LifecycleOutcome {
        switch kind {
        case .client:
            return try await pool.withTransaction { db in
                // A tombstone: the id stays taken, the secret matches nothing (a keyed hash is never
                // empty), and every refresh-token family dies in the same transaction.
                let row = try await db.sql(
                    """
                    UPDATE clients SET status = 'deleted', secret_hash = ''
                    WHERE id = \(bind: id) AND realm_id = \(bind: realm) AND status <> 'deleted' RETURNING id
                    """
                ).first()
                guard row != nil else { return .notFound }
                try await db.sql(
                    """
                    UPDATE token_families SET revoked_at = \(bind: now.epochMilliseconds)
                    WHERE client_id = \(bind: id) AND revoked_at IS NULL
                    """
                ).run()
                return .changed
            }
        case .application:
            return try await pool.withTransaction { db in
                let row = try await db.sql(
                    """
                    UPDATE powerauth_applications SET status = 'deleted'
                    WHERE id = \(bind: id) AND realm_id = \(bind: realm) AND status <> 'deleted'
                      AND NOT EXISTS (
                        SELECT 1 FROM powerauth_activations a JOIN devices d ON d.id = a.device_id
                        WHERE a.application_id = \(bind: id) AND d.status <> 'REMOVED')
                    RETURNING id
                    """
                ).first()
                if row != nil { return .changed }
                let exists = try await db.sql(
                    "SELECT 1 AS found FROM powerauth_applications WHERE id = \(bind: id) AND realm_id = \(bind: realm) AND status <> 'deleted'"
                ).first()
                return exists == nil ? .notFound : .unchanged
            }
        case .integrationUser:
            return try await pool.withWriteConnection { db in
                try await db.sql(
                    "DELETE FROM integration_users WHERE name = \(bind: id) AND realm_id = \(bind: realm) RETURNING name"
                ).first() == nil ? .notFound : .changed
            }
        case .operator:
            return try await pool.withTransaction { db in
                let row = try await db.sql("DELETE FROM operators WHERE id = \(bind: id) AND realm_id = \(bind: realm) RETURNING id").first()
                guard row != nil else { return .notFound }
                try await Self.endWebSessions(.operator, id: id, in: db)
                return .changed
            }
        case .user:
            guard let user = try await user(id: id), user.realmID == realm else { return .notFound }
            return try await deleteUser(id: user.id) ? .changed : .notFound
        }
    }

    /// Ends every back-office or self-service session of an operator or user (on whichever node).
    private static func endWebSessions(_ kind: ManagedKind, id: String, in db: any SQLDatabase) async throws {
        let sessionKind = kind == .operator ? "operator" : "user"
        try await db.sql("DELETE FROM web_sessions WHERE kind = \(bind: sessionKind) AND principal_id = \(bind: id)").run()
    }
}
