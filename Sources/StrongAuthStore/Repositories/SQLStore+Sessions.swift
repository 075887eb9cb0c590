import Foundation
import SQLKit
import StrongAuthCore

extension SQLStore: SessionRepository {
    // MARK: Identities and access tools

    public func insertUser(_ user: User, loginIdentity identity: LoginIdentity, maxAttempts: Int) async throws {
        let now = user.createdAt.epochMilliseconds
        try await pool.withTransaction { db in
            guard try await Self.insertUserRow(user, into: db) else { throw StoreError.conflict("user '\(user.username)'") }
            let inserted = try await db.sql(
                """
                INSERT INTO login_identities (user_id, account_number, card_number, identification_code_hash, created_at)
                VALUES (\(bind: user.id), \(bind: identity.accountNumber), \(bind: identity.cardNumber),
                        \(bind: identity.identificationCodeHash), \(bind: now))
                ON CONFLICT DO NOTHING RETURNING user_id
                """
            ).first()
            guard inserted != nil else {
                throw StoreError.conflict("login identity account \(identity.accountNumber) card \(identity.cardNumber)")
            }
            for tool in AccessTool.allCases {
                try await db.sql(
                    """
                    INSERT INTO access_tools (user_id, tool, attempts_left, updated_at)
                    VALUES (\(bind: user.id), \(bind: tool.rawValue), \(bind: maxAttempts), \(bind: now))
                    """
                ).run()
            }
        }
    }

    public func loginIdentity(accountNumber: String, cardNumber: String) async throws -> LoginIdentity? {
        try await pool.withConnection { db in
            try await db.sql(
                "SELECT * FROM login_identities WHERE account_number = \(bind: accountNumber) AND card_number = \(bind: cardNumber)"
            ).first()
        }.map(Self.loginIdentity(from:))
    }

    public func loginIdentity(userID: String) async throws -> LoginIdentity? {
        try await pool.withConnection { db in
            try await db.sql("SELECT * FROM login_identities WHERE user_id = \(bind: userID)").first()
        }.map(Self.loginIdentity(from:))
    }

    static func loginIdentity(from row: any SQLRow) throws -> LoginIdentity {
        LoginIdentity(
            userID: try row.string("user_id"), accountNumber: try row.string("account_number"), cardNumber: try row.string("card_number"),
            identificationCodeHash: try row.optionalString("identification_code_hash"), lastLogonAt: try row.optionalDate("last_logon_at"))
    }

    public func loginAttemptsLeft(userID: String, tool: AccessTool) async throws -> Int? {
        try await pool.withConnection { db in
            try await db.sql(
                "SELECT attempts_left FROM access_tools WHERE user_id = \(bind: userID) AND tool = \(bind: tool.rawValue)"
            ).first()
        }.map { try $0.int("attempts_left") }
    }

    public func resetLoginAttempts(userID: String, tool: AccessTool, maxAttempts: Int, at now: Date) async throws -> Bool {
        try await pool.withWriteConnection { db in
            try await db.sql(
                """
                UPDATE access_tools SET attempts_left = \(bind: maxAttempts), updated_at = \(bind: now.epochMilliseconds)
                WHERE user_id = \(bind: userID) AND tool = \(bind: tool.rawValue) RETURNING user_id
                """
            ).first()
        } != nil
    }

    // MARK: Sessions

    public func insertLoginSession(_ session: LoginSession, tokenHash: String) async throws {
        try await pool.withWriteConnection { db in
            try await db.sql(
                """
                INSERT INTO login_sessions (id, token_hash, status, user_id, access_tool_usage, device_id, last_logon_date,
                                            created_at, last_seen_at, authorized_at)
                VALUES (\(bind: session.id), \(bind: tokenHash), \(bind: session.status.rawValue), \(bind: session.userID),
                        \(bind: session.accessToolUsage?.rawValue), \(bind: session.deviceID),
                        \(bind: session.lastLogonDate?.epochMilliseconds), \(bind: session.createdAt.epochMilliseconds),
                        \(bind: session.lastSeenAt.epochMilliseconds), \(bind: session.authorizedAt?.epochMilliseconds))
                """
            ).run()
        }
    }

    public func touchLoginSession(tokenHash: String, authorizedOnly: Bool, seenAfter idleCutoff: Date, at now: Date) async throws
        -> LoginSession?
    {
        let statuses = authorizedOnly ? "'authorized'" : "'anonymous', 'authorized'"
        return try await pool.withWriteConnection { db in
            try await db.sql(
                """
                UPDATE login_sessions SET last_seen_at = \(bind: now.epochMilliseconds)
                WHERE token_hash = \(bind: tokenHash) AND status IN (\(unsafeRaw: statuses))
                  AND last_seen_at > \(bind: idleCutoff.epochMilliseconds)
                RETURNING *
                """
            ).first()
        }.map(Self.loginSession(from:))
    }

    public func authorizeLoginSession(
        id: String, tokenHash: String, newTokenHash: String, userID: String, accessToolUsage: AccessToolUsage, deviceID: String?,
        lastLogonDate: Date, seenAfter idleCutoff: Date, maxAttempts: Int, at now: Date
    ) async throws -> Bool {
        let nowMs = now.epochMilliseconds
        return try await pool.withTransaction { db in
            let moved = try await db.sql(
                """
                UPDATE login_sessions SET status = 'authorized', token_hash = \(bind: newTokenHash), user_id = \(bind: userID),
                    access_tool_usage = \(bind: accessToolUsage.rawValue), device_id = \(bind: deviceID),
                    last_logon_date = \(bind: lastLogonDate.epochMilliseconds), last_seen_at = \(bind: nowMs), authorized_at = \(bind: nowMs)
                WHERE id = \(bind: id) AND token_hash = \(bind: tokenHash) AND status IN ('anonymous', 'authorized')
                  AND last_seen_at > \(bind: idleCutoff.epochMilliseconds) AND (user_id IS NULL OR user_id = \(bind: userID))
                RETURNING id
                """
            ).first()
            guard moved != nil else { return false }
            try await db.sql("UPDATE login_identities SET last_logon_at = \(bind: nowMs) WHERE user_id = \(bind: userID)").run()
            try await db.sql(
                """
                UPDATE access_tools SET attempts_left = \(bind: maxAttempts), updated_at = \(bind: nowMs)
                WHERE user_id = \(bind: userID) AND tool = \(bind: accessToolUsage.tool.rawValue)
                """
            ).run()
            return true
        }
    }

    public func endLoginSession(tokenHash: String, seenAfter idleCutoff: Date, at now: Date) async throws -> LoginSession? {
        try await pool.withWriteConnection { db in
            try await db.sql(
                """
                UPDATE login_sessions SET status = 'ended', last_seen_at = \(bind: now.epochMilliseconds)
                WHERE token_hash = \(bind: tokenHash) AND status IN ('anonymous', 'authorized')
                  AND last_seen_at > \(bind: idleCutoff.epochMilliseconds)
                RETURNING *
                """
            ).first()
        }.map(Self.loginSession(from:))
    }

    static func loginSession(from row: any SQLRow) throws -> LoginSession {
        LoginSession(
            id: try row.string("id"), status: LoginSession.Status(rawValue: try row.string("status")) ?? .ended,
            userID: try row.optionalString("user_id"),
            accessToolUsage: try row.optionalString("access_tool_usage").flatMap(AccessToolUsage.init(rawValue:)),
            deviceID: try row.optionalString("device_id"), lastLogonDate: try row.optionalDate("last_logon_date"),
            createdAt: try row.date("created_at"), lastSeenAt: try row.date("last_seen_at"), authorizedAt: try row.optionalDate("authorized_at"))
    }

    // MARK: Challenges

    public func insertLoginChallenge(_ challenge: LoginChallenge) async throws {
        try await pool.withWriteConnection { db in
            try await db.sql(
                """
                INSERT INTO login_challenges (handle, kind, session_id, user_id, access_tool_usage, device_id, nonce, scenario_name,
                                              scenario_hash, status, created_at, expires_at)
                VALUES (\(bind: challenge.handle), \(bind: challenge.kind.rawValue), \(bind: challenge.sessionID), \(bind: challenge.userID),
                        \(bind: challenge.accessToolUsage.rawValue), \(bind: challenge.deviceID), \(bind: challenge.nonceHex),
                        \(bind: challenge.scenarioName), \(bind: challenge.scenarioHash), \(bind: challenge.status.rawValue),
                        \(bind: challenge.createdAt.epochMilliseconds), \(bind: challenge.expiresAt.epochMilliseconds))
                """
            ).run()
        }
    }

    public func loginChallenge(handle: String) async throws -> LoginChallenge? {
        try await pool.withConnection { db in
            try await db.sql("SELECT * FROM login_challenges WHERE handle = \(bind: handle)").first()
        }.map { row in
            LoginChallenge(
                handle: try row.string("handle"), kind: LoginChallenge.Kind(rawValue: try row.string("kind")) ?? .login,
                sessionID: try row.string("session_id"), userID: try row.string("user_id"),
                accessToolUsage: AccessToolUsage(rawValue: try row.string("access_tool_usage")) ?? .softToken,
                deviceID: try row.optionalString("device_id"), nonce: LoginChallenge.nonce(hex: try row.string("nonce")),
                scenarioName: try row.optionalString("scenario_name"), scenarioHash: try row.optionalString("scenario_hash"),
                status: LoginChallenge.Status(rawValue: try row.string("status")) ?? .used, createdAt: try row.date("created_at"),
                expiresAt: try row.date("expires_at"))
        }
    }

    public func useLoginChallenge(handle: String, sessionID: String, at now: Date) async throws -> Bool {
        try await pool.withWriteConnection { db in
            try await db.sql(
                """
                UPDATE login_challenges SET status = 'used'
                WHERE handle = \(bind: handle) AND session_id = \(bind: sessionID) AND status = 'open'
                  AND expires_at > \(bind: now.epochMilliseconds)
                RETURNING handle
                """
            ).first()
        } != nil
    }

    // MARK: Decoy counters

    public func decoyLoginAttemptsLeft(subjectHash: String, tool: AccessTool, freshAfter: Date) async throws -> Int? {
        try await pool.withConnection { db in
            try await db.sql(
                """
                SELECT attempts_left FROM decoy_login_attempts
                WHERE subject_hash = \(bind: subjectHash) AND tool = \(bind: tool.rawValue) AND updated_at > \(bind: freshAfter.epochMilliseconds)
                """
            ).first()
        }.map { try $0.int("attempts_left") }
    }

    public func answerDecoyLogin(
        subjectHash: String, tool: AccessTool, handle: String, maxAttempts: Int, capacity: Int, freshAfter: Date, at now: Date
    ) async throws -> DecoyLoginAnswer {
        let used = ",\(handle),"
        return try await pool.withWriteConnection { db in
            // A counter past the retention starts over, as if swept.
            try await db.sql(
                """
                DELETE FROM decoy_login_attempts
                WHERE subject_hash = \(bind: subjectHash) AND tool = \(bind: tool.rawValue) AND updated_at <= \(bind: freshAfter.epochMilliseconds)
                """
            ).run()
            // Every step only counts down or adds a used handle, so a lost race is decided by the next step.
            for _ in 0..<3 {
                if let counted = try await db.sql(
                    """
                    UPDATE decoy_login_attempts
                    SET attempts_left = attempts_left - 1, used_handles = used_handles || CAST(\(bind: "\(handle),") AS TEXT),
                        updated_at = \(bind: now.epochMilliseconds)
                    WHERE subject_hash = \(bind: subjectHash) AND tool = \(bind: tool.rawValue) AND attempts_left > 0
                      AND used_handles NOT LIKE CAST(\(bind: "%\(used)%") AS TEXT)
                    RETURNING attempts_left
                    """
                ).first() {
                    return .counted(attemptsLeft: try counted.int("attempts_left"))
                }
                if let row = try await db.sql(
                    """
                    SELECT attempts_left, used_handles FROM decoy_login_attempts
                    WHERE subject_hash = \(bind: subjectHash) AND tool = \(bind: tool.rawValue)
                    """
                ).first() {
                    if try row.decode(column: "used_handles", as: String.self).contains(used) { return .replayed }
                    if try row.int("attempts_left") <= 0 { return .blocked }
                    continue
                }
                if let inserted = try await db.sql(
                    """
                    INSERT INTO decoy_login_attempts (subject_hash, tool, attempts_left, used_handles, updated_at)
                    SELECT \(bind: subjectHash), \(bind: tool.rawValue), \(bind: max(maxAttempts - 1, 0)), \(bind: used), \(bind: now.epochMilliseconds)
                    WHERE (SELECT COUNT(*) FROM decoy_login_attempts) < \(bind: capacity)
                    ON CONFLICT DO NOTHING RETURNING attempts_left
                    """
                ).first() {
                    return .counted(attemptsLeft: try inserted.int("attempts_left"))
                }
                let count = try await db.sql("SELECT COUNT(*) AS n FROM decoy_login_attempts").first().map { try $0.int("n") } ?? 0
                if count >= capacity { return .full }
            }
            return .replayed
        }
    }

    public func purgeDecoyLoginAttempts(updatedBefore cutoff: Date) async throws -> Int {
        try await pool.withWriteConnection { db in
            try await db.sql(
                "DELETE FROM decoy_login_attempts WHERE updated_at <= \(bind: cutoff.epochMilliseconds) RETURNING subject_hash"
            ).all().count
        }
    }

    public func purgeLoginState(idleCutoff: Date, at now: Date) async throws -> Int {
        try await pool.withWriteConnection { db in
            let sessions = try await db.sql(
                """
                DELETE FROM login_sessions WHERE status = 'ended' OR last_seen_at <= \(bind: idleCutoff.epochMilliseconds) RETURNING id
                """
            ).all().count
            let challenges = try await db.sql(
                "DELETE FROM login_challenges WHERE expires_at <= \(bind: now.epochMilliseconds) RETURNING handle"
            ).all().count
            return sessions + challenges
        }
    }

    // MARK: Devices and keys

    public func ecdsaDevicesEverBound(userID: String) async throws -> [Device] {
        try await pool.withConnection { db in
            try await db.sql(
                """
                SELECT * FROM devices WHERE user_id = \(bind: userID) AND kind = \(bind: Device.Kind.ecdsaP256.rawValue)
                ORDER BY created_at, id
                """
            ).all()
        }.map(Self.device(from:))
    }

    public func sealedServerKey(id: String) async throws -> String? {
        try await pool.withConnection { db in
            try await db.sql("SELECT sealed_private_key FROM server_keys WHERE id = \(bind: id)").first()
        }.map { try $0.string("sealed_private_key") }
    }

    public func insertSealedServerKey(id: String, sealed: String, at now: Date) async throws {
        try await pool.withWriteConnection { db in
            try await db.sql(
                """
                INSERT INTO server_keys (id, sealed_private_key, created_at) VALUES (\(bind: id), \(bind: sealed), \(bind: now.epochMilliseconds))
                ON CONFLICT DO NOTHING
                """
            ).run()
        }
    }

    /// Everything of the login face bound to a user (part of deleting the user).
    static func deleteLoginState(userID: String, in db: any SQLDatabase) async throws {
        try await db.sql("DELETE FROM login_challenges WHERE user_id = \(bind: userID)").run()
        try await db.sql("DELETE FROM login_sessions WHERE user_id = \(bind: userID)").run()
        try await db.sql("DELETE FROM access_tools WHERE user_id = \(bind: userID)").run()
        try await db.sql("DELETE FROM login_identities WHERE user_id = \(bind: userID)").run()
    }
}
