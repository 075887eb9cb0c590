import Foundation
import SQLKit
import StrongAuthCore

extension SQLStore: AuthorizationCodeRepository {
    /// A used code is kept this long past its expiry, so that a late second presentation is
    /// still recognised as a reuse (and revokes what the first one issued).
    static let usedCodeRetention: TimeInterval = 86_400

    private static func encode(_ request: AuthorizationRequest) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(request), as: UTF8.self)
    }

    private static func decodeRequest(_ row: any SQLRow) throws -> AuthorizationRequest {
        try JSONDecoder().decode(AuthorizationRequest.self, from: Data(try row.string("request").utf8))
    }

    public func insertPushedAuthorizationRequest(id: String, request: AuthorizationRequest, at now: Date, expiresAt: Date) async throws {
        let json = try Self.encode(request)
        try await pool.withWriteConnection { db in
            try await db.sql(
                """
                INSERT INTO authorization_requests (id, client_id, request, pushed, created_at, expires_at)
                VALUES (\(bind: id), \(bind: request.clientID), \(bind: json), 1, \(bind: now.epochMilliseconds),
                        \(bind: expiresAt.epochMilliseconds))
                """
            ).run()
        }
    }

    public func takePushedAuthorizationRequest(id: String, clientID: String, at now: Date) async throws -> AuthorizationRequest? {
        let nowMs = now.epochMilliseconds
        return try await pool.withWriteConnection { db in
            try await db.sql(
                """
                UPDATE authorization_requests SET finished_at = \(bind: nowMs)
                WHERE id = \(bind: id) AND pushed = 1 AND client_id = \(bind: clientID) AND finished_at IS NULL
                  AND expires_at > \(bind: nowMs)
                RETURNING request
                """
            ).first()
        }.map(Self.decodeRequest)
    }

    public func insertAuthorizationLogin(_ login: AuthorizationLogin) async throws {
        let json = try Self.encode(login.request)
        try await pool.withWriteConnection { db in
            try await db.sql(
                """
                INSERT INTO authorization_requests (id, client_id, request, pushed, browser_hash, created_at, expires_at)
                VALUES (\(bind: login.id), \(bind: login.request.clientID), \(bind: json), 0, \(bind: login.browserHash),
                        \(bind: login.createdAt.epochMilliseconds), \(bind: login.expiresAt.epochMilliseconds))
                """
            ).run()
        }
    }

    public func authorizationLogin(id: String, browserHash: String, at now: Date) async throws -> AuthorizationLogin? {
        let row = try await pool.withConnection { db in
            try await db.sql(
                """
                SELECT * FROM authorization_requests
                WHERE id = \(bind: id) AND pushed = 0 AND browser_hash = \(bind: browserHash) AND finished_at IS NULL
                  AND expires_at > \(bind: now.epochMilliseconds)
                """
            ).first()
        }
        guard let row else { return nil }
        return AuthorizationLogin(
            id: try row.string("id"), request: try Self.decodeRequest(row), browserHash: try row.string("browser_hash"),
            userID: try row.optionalString("user_id"), passwordAt: try row.optionalDate("password_at"),
            secondFactor: try row.optionalString("second_factor").flatMap(StepUpMethod.init(rawValue:)),
            secondFactorID: try row.optionalString("second_factor_id"), createdAt: try row.date("created_at"),
            expiresAt: try row.date("expires_at"), finishedAt: try row.optionalDate("finished_at"))
    }

    public func recordLoginPassword(id: String, browserHash: String, userID: String, at now: Date) async throws -> Bool {
        let nowMs = now.epochMilliseconds
        return try await pool.withWriteConnection { db in
            try await db.sql(
                """
                UPDATE authorization_requests SET user_id = \(bind: userID), password_at = \(bind: nowMs)
                WHERE id = \(bind: id) AND pushed = 0 AND browser_hash = \(bind: browserHash) AND user_id IS NULL
                  AND finished_at IS NULL AND expires_at > \(bind: nowMs)
                RETURNING id
                """
            ).first() != nil
        }
    }

    public func recordLoginSecondFactor(id: String, browserHash: String, method: StepUpMethod, factorID: String, at now: Date) async throws
        -> Bool
    {
        let nowMs = now.epochMilliseconds
        return try await pool.withWriteConnection { db in
            try await db.sql(
                """
                UPDATE authorization_requests SET second_factor = \(bind: method.rawValue), second_factor_id = \(bind: factorID)
                WHERE id = \(bind: id) AND pushed = 0 AND browser_hash = \(bind: browserHash) AND user_id IS NOT NULL
                  AND finished_at IS NULL AND expires_at > \(bind: nowMs)
                RETURNING id
                """
            ).first() != nil
        }
    }

    public func finishLogin(id: String, browserHash: String, issuing code: AuthorizationCodeRecord, at now: Date) async throws -> Bool {
        let nowMs = now.epochMilliseconds
        let json = try Self.encode(code.request)
        return try await pool.withTransaction { db in
            guard
                try await db.sql(
                    """
                    UPDATE authorization_requests SET finished_at = \(bind: nowMs)
                    WHERE id = \(bind: id) AND pushed = 0 AND browser_hash = \(bind: browserHash) AND user_id = \(bind: code.userID)
                      AND finished_at IS NULL AND expires_at > \(bind: nowMs)
                    RETURNING id
                    """
                ).first() != nil
            else { return false }
            try await db.sql(
                """
                INSERT INTO authorization_codes (code_hash, client_id, user_id, request, acr, amr, auth_time, created_at, expires_at)
                VALUES (\(bind: code.codeHash), \(bind: code.clientID), \(bind: code.userID), \(bind: json), \(bind: code.acr),
                        \(bind: code.amr.joined(separator: " ")), \(bind: code.authTime.epochMilliseconds),
                        \(bind: code.createdAt.epochMilliseconds), \(bind: code.expiresAt.epochMilliseconds))
                """
            ).run()
            return true
        }
    }

    private static func code(from row: any SQLRow) throws -> AuthorizationCodeRecord {
        AuthorizationCodeRecord(
            codeHash: try row.string("code_hash"), clientID: try row.string("client_id"), userID: try row.string("user_id"),
            request: try decodeRequest(row), acr: try row.string("acr"), amr: try row.words("amr"),
            authTime: try row.date("auth_time"), createdAt: try row.date("created_at"), expiresAt: try row.date("expires_at"),
            usedAt: try row.optionalDate("used_at"), familyID: try row.optionalString("family_id"),
            accessTokenID: try row.optionalString("access_jti"), accessTokenExpiresAt: try row.optionalDate("access_expires_at"))
    }

    public func redeemAuthorizationCode(hash: String, clientID: String, at now: Date) async throws -> AuthorizationCodeRedemption {
        let nowMs = now.epochMilliseconds
        return try await pool.withWriteConnection { db in
            // The winner: the one update that finds it unused. Expiry is the caller's to check
            // on the returned record, so that an expired code is used up by its first presentation.
            if let row = try await db.sql(
                """
                UPDATE authorization_codes SET used_at = \(bind: nowMs)
                WHERE code_hash = \(bind: hash) AND client_id = \(bind: clientID) AND used_at IS NULL
                RETURNING *
                """
            ).first() {
                return .redeemed(try Self.code(from: row))
            }
            // Every later presentation marks the reuse (so tokens recorded after it are revoked
            // too) and reads what the first one issued.
            if let row = try await db.sql(
                """
                UPDATE authorization_codes SET reuse_detected_at = COALESCE(reuse_detected_at, \(bind: nowMs))
                WHERE code_hash = \(bind: hash) AND client_id = \(bind: clientID) AND used_at IS NOT NULL
                RETURNING *
                """
            ).first() {
                return .reused(try Self.code(from: row))
            }
            return .unknown
        }
    }

    public func recordAuthorizationCodeTokens(hash: String, familyID: String?, accessTokenID: String, accessTokenExpiresAt: Date)
        async throws -> Bool
    {
        try await pool.withWriteConnection { db in
            let row = try await db.sql(
                """
                UPDATE authorization_codes
                SET family_id = \(bind: familyID), access_jti = \(bind: accessTokenID),
                    access_expires_at = \(bind: accessTokenExpiresAt.epochMilliseconds)
                WHERE code_hash = \(bind: hash)
                RETURNING reuse_detected_at
                """
            ).first()
            return try row?.optionalDate("reuse_detected_at") != nil
        }
    }

    public func sweepAuthorizationCodes(at now: Date) async throws -> Int {
        let nowMs = now.epochMilliseconds
        let codesBefore = now.addingTimeInterval(-Self.usedCodeRetention).epochMilliseconds
        return try await pool.withWriteConnection { db in
            let requests = try await Self.deleteBatch(
                from: "authorization_requests", key: "id", where: "expires_at <= \(bind: nowMs)", limit: 5000, on: db)
            let codes = try await Self.deleteBatch(
                from: "authorization_codes", key: "code_hash", where: "expires_at <= \(bind: codesBefore)", limit: 5000, on: db)
            return requests + codes
        }
    }
}
