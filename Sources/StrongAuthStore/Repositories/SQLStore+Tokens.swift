import Foundation
import SQLKit
import StrongAuthCore

extension SQLStore: TokenRepository {
    public func insertRefreshToken(_ record: RefreshTokenRecord) async throws {
        try await pool.withTransaction { db in
            // A confirmed family is born revoked unless its device is ACTIVE at this moment: the
            // device's row is locked here, so a block racing with the issue either waits for this
            // insert (and its trigger revokes the family) or has already happened (and the family
            // is stored revoked) — a family never outlives a block to revive on unblock.
            var deviceActive = true
            if let deviceID = record.deviceID {
                deviceActive =
                    try await db.sql(
                        """
                        UPDATE devices SET last_used_at = last_used_at WHERE id = \(bind: deviceID) AND status = 'ACTIVE' RETURNING id
                        """
                    ).first() != nil
            }
            try await Self.insertFamily(of: record, deviceActive: deviceActive, into: db)
        }
    }

    /// Stores a new family and its first refresh token on `db`, inside a transaction that has
    /// already locked the confirming device's row (if any) and found it ACTIVE or not: a family
    /// confirmed by a device that is no longer ACTIVE is born revoked.
    static func insertFamily(of record: RefreshTokenRecord, deviceActive: Bool, into db: any SQLDatabase) async throws {
        let revokedAt: Int64? = record.deviceID != nil && !deviceActive ? record.issuedAt.epochMilliseconds : nil
        try await familyRow(of: record, revokedAt: "\(bind: revokedAt)").run(on: db)
        try await refreshTokenRow(record).run(on: db)
    }

    /// The family `record` starts (kept if it exists), revoked at `revokedAt` (an expression).
    static func familyRow(of record: RefreshTokenRecord, revokedAt: StoreSQL) -> RowInsert {
        RowInsert(
            table: "token_families", columns: "id, client_id, user_id, device_id, created_at, auth_time, revoked_at",
            values: """
                \(bind: record.familyID), \(bind: record.clientID), \(bind: record.userID), \(bind: record.deviceID),
                \(bind: record.issuedAt.epochMilliseconds), \(bind: record.authTime?.epochMilliseconds), \(revokedAt)
                """,
            suffix: "ON CONFLICT DO NOTHING")
    }

    static func refreshTokenRow(_ record: RefreshTokenRecord) -> RowInsert {
        RowInsert(
            table: "refresh_tokens", columns: "id, token_hash, family_id, client_id, user_id, scopes, amr, issued_at, expires_at, used_at, dpop_jkt",
            values: """
                \(bind: record.id), \(bind: record.tokenHash), \(bind: record.familyID), \(bind: record.clientID), \(bind: record.userID),
                \(bind: record.scopes.wire), \(bind: record.amr.joined(separator: " ")), \(bind: record.issuedAt.epochMilliseconds),
                \(bind: record.expiresAt.epochMilliseconds), \(bind: record.usedAt?.epochMilliseconds), \(bind: record.dpopKeyThumbprint)
                """)
    }

    /// A family counts as revoked once its confirming device has left ACTIVE (revoked_at 0 then).
    private static let refreshTokenColumns = """
        r.id, r.token_hash, r.family_id, r.client_id, r.user_id, r.scopes, r.amr, r.issued_at, r.expires_at,
        r.used_at, r.dpop_jkt, f.device_id, f.auth_time,
        CASE WHEN f.revoked_at IS NOT NULL THEN f.revoked_at
             WHEN f.device_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.id = f.device_id AND d.status = 'ACTIVE') THEN 0
             ELSE NULL END AS revoked_at
        """

    static func refreshToken(from row: any SQLRow) throws -> RefreshTokenRecord {
        RefreshTokenRecord(
            id: try row.string("id"), tokenHash: try row.string("token_hash"), familyID: try row.string("family_id"),
            clientID: try row.string("client_id"), userID: try row.string("user_id"),
            scopes: Scopes(stored: try row.string("scopes")),
            amr: try row.words("amr"), deviceID: try row.optionalString("device_id"),
            authTime: try row.optionalDate("auth_time"), dpopKeyThumbprint: try row.optionalString("dpop_jkt"),
            issuedAt: try row.date("issued_at"),
            expiresAt: try row.date("expires_at"), usedAt: try row.optionalDate("used_at"),
            revokedAt: try row.optionalDate("revoked_at"))
    }

    public func refreshToken(hash: String) async throws -> RefreshTokenRecord? {
        try await pool.withConnection { db in
            try await db.sql(
                """
                SELECT \(unsafeRaw: Self.refreshTokenColumns)
                FROM refresh_tokens r JOIN token_families f ON f.id = r.family_id
                WHERE r.token_hash = \(bind: hash)
                """
            ).first()
        }.map(Self.refreshToken(from:))
    }

    public func rotateRefreshToken(
        hash: String, clientID: String, at now: Date, successorID: String, successorHash: String,
        successorExpiresAt: Date
    ) async throws -> RefreshRotationOutcome {
        let nowMs = now.epochMilliseconds
        return try await pool.withTransaction { db in
            // The deciding step: only one presentation can flip used_at from NULL.
            let consumed = try await db.sql(
                """
                UPDATE refresh_tokens SET used_at = \(bind: nowMs)
                WHERE token_hash = \(bind: hash) AND client_id = \(bind: clientID) AND used_at IS NULL
                  AND expires_at > \(bind: nowMs)
                  AND family_id IN (
                    SELECT f.id FROM token_families f WHERE f.revoked_at IS NULL
                      AND (f.device_id IS NULL OR EXISTS (SELECT 1 FROM devices d WHERE d.id = f.device_id AND d.status = 'ACTIVE')))
                RETURNING id, family_id, user_id, scopes, amr, dpop_jkt
                """
            ).first()
            if let consumed {
                let familyID = try consumed.string("family_id")
                let family = try await db.sql("SELECT device_id, auth_time FROM token_families WHERE id = \(bind: familyID)").first()
                let deviceID = try family?.optionalString("device_id")
                let authTime = try family?.optionalDate("auth_time")
                let successor = RefreshTokenRecord(
                    id: successorID, tokenHash: successorHash, familyID: try consumed.string("family_id"),
                    clientID: clientID, userID: try consumed.string("user_id"),
                    scopes: Scopes(stored: try consumed.string("scopes")),
                    amr: try consumed.words("amr"), deviceID: deviceID, authTime: authTime,
                    dpopKeyThumbprint: try consumed.optionalString("dpop_jkt"), issuedAt: now, expiresAt: successorExpiresAt)
                try await Self.refreshTokenRow(successor).run(on: db)
                return .rotated(successor)
            }
            guard
                let existing = try await db.sql(
                    """
                    SELECT \(unsafeRaw: Self.refreshTokenColumns)
                    FROM refresh_tokens r JOIN token_families f ON f.id = r.family_id
                    WHERE r.token_hash = \(bind: hash)
                    """
                ).first().map(Self.refreshToken(from:)),
                existing.clientID == clientID
            else { return .unknown }
            if existing.usedAt != nil {
                try await db.sql(
                    "UPDATE token_families SET revoked_at = \(bind: nowMs) WHERE id = \(bind: existing.familyID) AND revoked_at IS NULL"
                ).run()
                return .reused(familyID: existing.familyID)
            }
            return .inactive
        }
    }

    public func revokeFamily(id: String, at now: Date) async throws {
        try await pool.withWriteConnection { db in
            try await db.sql(
                "UPDATE token_families SET revoked_at = \(bind: now.epochMilliseconds) WHERE id = \(bind: id) AND revoked_at IS NULL"
            ).run()
        }
    }

    public func revokeAccessToken(jti: String, expiresAt: Date, at now: Date) async throws {
        try await pool.withWriteConnection { db in
            try await db.sql(
                """
                INSERT INTO revoked_access_tokens (jti, expires_at, revoked_at)
                VALUES (\(bind: jti), \(bind: expiresAt.epochMilliseconds), \(bind: now.epochMilliseconds))
                ON CONFLICT DO NOTHING
                """
            ).run()
        }
    }

    /// The same decision as `livenessColumns` + `AccessTokenLiveness.isLive`, as a condition (for
    /// a write that must happen only while the token is live).
    static func livenessCondition(_ query: AccessTokenLivenessQuery) -> StoreSQL {
        var parts: [StoreSQL] = [
            "NOT EXISTS (SELECT 1 FROM revoked_access_tokens WHERE jti = \(bind: query.jti))",
            "EXISTS (SELECT 1 FROM clients WHERE id = \(bind: query.clientID) AND status = 'active')",
        ]
        if let familyID = query.familyID {
            parts.append("EXISTS (SELECT 1 FROM token_families WHERE id = \(bind: familyID) AND revoked_at IS NULL)")
        }
        if let userID = query.userID {
            parts.append("EXISTS (SELECT 1 FROM users WHERE id = \(bind: userID) AND status = 'active')")
        }
        if let deviceID = query.deviceID {
            parts.append("EXISTS (SELECT 1 FROM devices WHERE id = \(bind: deviceID) AND status = 'ACTIVE')")
        }
        return parts.joined(separator: " AND ")
    }

    /// The subqueries that decide whether an access token is still live.
    static func livenessColumns(_ token: AccessTokenLivenessQuery) -> StoreSQL {
        """
        (SELECT COUNT(*) FROM revoked_access_tokens WHERE jti = \(bind: token.jti)) AS jti_revoked,
        (SELECT COUNT(*) FROM token_families WHERE id = \(bind: token.familyID ?? "") AND revoked_at IS NULL) AS family_live,
        (SELECT COUNT(*) FROM users WHERE id = \(bind: token.userID ?? "") AND status = 'active') AS user_active,
        (SELECT COUNT(*) FROM clients WHERE id = \(bind: token.clientID) AND status = 'active') AS client_active,
        (SELECT COUNT(*) FROM devices WHERE id = \(bind: token.deviceID ?? "") AND status = 'ACTIVE') AS device_active
        """
    }

    /// What `livenessColumns(token)` read; a missing row is a dead token.
    static func liveness(from row: (any SQLRow)?, _ token: AccessTokenLivenessQuery) throws -> AccessTokenLiveness {
        guard let row else { return AccessTokenLiveness(jtiRevoked: true, familyRevoked: true, subjectActive: false, clientActive: false) }
        let familyLive = try row.int("family_live") > 0
        let userActive = try row.int("user_active") > 0
        let deviceActive = try row.int("device_active") > 0
        return AccessTokenLiveness(
            jtiRevoked: try row.int("jti_revoked") > 0,
            // A family that no longer exists (its user was deleted) counts as revoked.
            familyRevoked: token.familyID != nil && !familyLive,
            subjectActive: token.userID == nil || userActive,
            clientActive: try row.int("client_active") > 0,
            deviceActive: token.deviceID == nil || deviceActive)
    }

    public func accessTokenLiveness(_ token: AccessTokenLivenessQuery) async throws -> AccessTokenLiveness {
        let row = try await pool.withConnection { db in try await db.sql("SELECT \(Self.livenessColumns(token))").first() }
        return try Self.liveness(from: row, token)
    }

    public func introspectionContext(introspectingClientID: String, token: AccessTokenLivenessQuery) async throws
        -> (client: OAuthClient?, liveness: AccessTokenLiveness)
    {
        let columns = Self.livenessColumns(token)
        let row = try await pool.withConnection { db in
            try await db.sql(
                """
                SELECT \(unsafeRaw: Self.selectedClientColumns), \(columns)
                FROM (SELECT 1 AS anchor) AS anchor LEFT JOIN clients c ON c.id = \(bind: introspectingClientID)
                """
            ).first()
        }
        let client = try row.flatMap { row in try row.optionalString("id") == nil ? nil : try Self.client(from: row) }
        return (client, try Self.liveness(from: row, token))
    }
}
