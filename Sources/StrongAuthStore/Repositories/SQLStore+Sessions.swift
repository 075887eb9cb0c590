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

    static func loginIdentity(from row: any SQLRow) throws -> LoginIdentity { try loginIdentity(from: row, prefix: "") }

    /// A login identity from columns named `prefix` + the column (joined to other tables).
    static func loginIdentity(from row: any SQLRow, prefix: String) throws -> LoginIdentity {
        LoginIdentity(
            userID: try row.string(prefix + "user_id"), accountNumber: try row.string(prefix + "account_number"),
            cardNumber: try row.string(prefix + "card_number"), identificationCodeHash: try row.optionalString(prefix + "identification_code_hash"),
            lastLogonAt: try row.optionalDate(prefix + "last_logon_at"))
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
        try await pool.withWriteConnection { db in try await Self.insert(session, tokenHash: tokenHash, into: db) }
    }

    private static func insert(_ session: LoginSession, tokenHash: String, into db: any SQLDatabase) async throws {
        try await sessionRow(session, tokenHash: tokenHash).run(on: db)
    }

    private static func sessionRow(_ session: LoginSession, tokenHash: String) -> RowInsert {
        RowInsert(
            table: "login_sessions",
            columns: "id, token_hash, status, user_id, access_tool_usage, device_id, last_logon_date, created_at, last_seen_at, authorized_at",
            values: """
                \(bind: session.id), \(bind: tokenHash), \(bind: session.status.rawValue), \(bind: session.userID),
                \(bind: session.accessToolUsage?.rawValue), \(bind: session.deviceID), \(bind: session.lastLogonDate?.epochMilliseconds),
                \(bind: session.createdAt.epochMilliseconds), \(bind: session.lastSeenAt.epochMilliseconds),
                \(bind: session.authorizedAt?.epochMilliseconds)
                """)
    }

    public func touchLoginSession(tokenHash: String, authorizedOnly: Bool, seenAfter idleCutoff: Date, at now: Date) async throws
        -> LoginSession?
    {
        try await pool.withWriteConnection { db in
            try await Self.touchLoginSession(tokenHash: tokenHash, authorizedOnly: authorizedOnly, seenAfter: idleCutoff, at: now, on: db)
        }
    }

    private static func touchLoginSession(
        tokenHash: String, authorizedOnly: Bool, seenAfter idleCutoff: Date, at now: Date, on db: any SQLDatabase
    ) async throws -> LoginSession? {
        let statuses = authorizedOnly ? "'authorized'" : "'anonymous', 'authorized'"
        return try await db.sql(
            """
            UPDATE login_sessions SET last_seen_at = \(bind: now.epochMilliseconds)
            WHERE token_hash = \(bind: tokenHash) AND status IN (\(unsafeRaw: statuses))
              AND last_seen_at > \(bind: idleCutoff.epochMilliseconds)
            RETURNING *
            """
        ).first().map(Self.loginSession(from:))
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

    static func loginSession(from row: any SQLRow) throws -> LoginSession { try loginSession(from: row, prefix: "") }

    /// A session from columns named `prefix` + the column (joined to other tables).
    static func loginSession(from row: any SQLRow, prefix: String) throws -> LoginSession {
        LoginSession(
            id: try row.string(prefix + "id"), status: LoginSession.Status(rawValue: try row.string(prefix + "status")) ?? .ended,
            userID: try row.optionalString(prefix + "user_id"),
            accessToolUsage: try row.optionalString(prefix + "access_tool_usage").flatMap(AccessToolUsage.init(rawValue:)),
            deviceID: try row.optionalString(prefix + "device_id"), lastLogonDate: try row.optionalDate(prefix + "last_logon_date"),
            createdAt: try row.date(prefix + "created_at"), lastSeenAt: try row.date(prefix + "last_seen_at"),
            authorizedAt: try row.optionalDate(prefix + "authorized_at"))
    }

    // MARK: Challenges

    public func insertLoginChallenge(_ challenge: LoginChallenge) async throws {
        try await pool.withWriteConnection { db in try await Self.insert(challenge, into: db) }
    }

    private static func insert(_ challenge: LoginChallenge, into db: any SQLDatabase) async throws {
        try await challengeRow(challenge).run(on: db)
    }

    private static func challengeRow(_ challenge: LoginChallenge) -> RowInsert {
        RowInsert(
            table: "login_challenges",
            columns:
                "handle, kind, session_id, user_id, access_tool_usage, device_id, nonce, scenario_name, scenario_hash, status, created_at, expires_at",
            values: """
                \(bind: challenge.handle), \(bind: challenge.kind.rawValue), \(bind: challenge.sessionID), \(bind: challenge.userID),
                \(bind: challenge.accessToolUsage.rawValue), \(bind: challenge.deviceID), \(bind: challenge.nonceHex),
                \(bind: challenge.scenarioName), \(bind: challenge.scenarioHash), \(bind: challenge.status.rawValue),
                \(bind: challenge.createdAt.epochMilliseconds), \(bind: challenge.expiresAt.epochMilliseconds)
                """)
    }

    public func loginChallengeContext(
        accountNumber: String, cardNumber: String, tool: AccessTool, withDevices: Bool, decoySubjectHash: String, decoyFreshAfter: Date
    ) async throws -> LoginChallengeContext {
        let devices: StoreSQL =
            withDevices
            ? "LEFT JOIN devices d ON d.user_id = i.user_id AND d.kind = \(bind: Device.Kind.ecdsaP256.rawValue)"
            : "LEFT JOIN devices d ON FALSE"
        // Anchored on one constant row: the decoy counter is read whether the identity exists or
        // not. One row per device ever bound (or one without a device), oldest first.
        let rows = try await pool.withConnection { db in
            try await db.sql(
                """
                SELECT \(unsafeRaw: Self.prefixed("i", ["user_id", "account_number", "card_number", "identification_code_hash", "last_logon_at"])),
                       u.status AS u_status, t.attempts_left AS t_attempts_left, z.attempts_left AS z_attempts_left,
                       \(unsafeRaw: Self.prefixedDeviceColumns)
                FROM (SELECT 1 AS anchor) AS anchor
                LEFT JOIN login_identities i ON i.account_number = \(bind: accountNumber) AND i.card_number = \(bind: cardNumber)
                LEFT JOIN users u ON u.id = i.user_id
                LEFT JOIN access_tools t ON t.user_id = i.user_id AND t.tool = \(bind: tool.rawValue)
                LEFT JOIN decoy_login_attempts z ON z.subject_hash = \(bind: decoySubjectHash) AND z.tool = \(bind: tool.rawValue)
                  AND z.updated_at > \(bind: decoyFreshAfter.epochMilliseconds)
                \(devices)
                ORDER BY d.created_at, d.id
                """
            ).all()
        }
        guard let first = rows.first else {
            return LoginChallengeContext(identity: nil, userIsActive: false, attemptsLeft: nil, ecdsaDevicesEverBound: [], decoyAttemptsLeft: nil)
        }
        return LoginChallengeContext(
            identity: try first.optionalString("i_user_id") == nil ? nil : try Self.loginIdentity(from: first, prefix: "i_"),
            userIsActive: try first.optionalString("u_status") == User.Status.active.rawValue,
            attemptsLeft: try first.decode(column: "t_attempts_left", as: Int?.self),
            ecdsaDevicesEverBound: try rows.filter { try $0.optionalString("d_id") != nil }.map { try Self.device(from: $0, prefix: "d_") },
            decoyAttemptsLeft: try first.decode(column: "z_attempts_left", as: Int?.self))
    }

    public func issueLoginChallenge(
        _ challenge: LoginChallenge?, continuing tokenHash: String?, seenAfter idleCutoff: Date, orStarting fresh: LoginSession,
        freshTokenHash: String, at now: Date
    ) async throws -> LoginSession {
        if tokenHash == nil, pool.engine == .postgres {
            // No cookie (a login's usual start): two inserts in one statement, one round trip.
            let rows = [Self.sessionRow(fresh, tokenHash: freshTokenHash)] + (challenge.map { [Self.challengeRow(Self.bound($0, to: fresh))] } ?? [])
            try await pool.withWriteConnection { db in try await db.sql(Self.oneStatement(decision: nil, inserts: rows)).run() }
            return fresh
        }
        return try await pool.withTransaction { db in
            var session: LoginSession?
            if let tokenHash {
                session = try await Self.touchLoginSession(tokenHash: tokenHash, authorizedOnly: false, seenAfter: idleCutoff, at: now, on: db)
            }
            if session?.status != .anonymous {
                try await Self.insert(fresh, tokenHash: freshTokenHash, into: db)
                session = fresh
            }
            guard let session else { throw StoreError.conflict("login session") }
            if let challenge { try await Self.insert(Self.bound(challenge, to: session), into: db) }
            return session
        }
    }

    /// `challenge`, bound to `session`.
    private static func bound(_ challenge: LoginChallenge, to session: LoginSession) -> LoginChallenge {
        var challenge = challenge
        challenge.sessionID = session.id
        return challenge
    }

    public func loginChallenge(handle: String) async throws -> LoginChallenge? {
        try await pool.withConnection { db in
            try await db.sql("SELECT * FROM login_challenges WHERE handle = \(bind: handle)").first()
        }.map { try Self.loginChallenge(from: $0, prefix: "") }
    }

    /// A login challenge from columns named `prefix` + the column.
    static func loginChallenge(from row: any SQLRow, prefix: String) throws -> LoginChallenge {
        LoginChallenge(
            handle: try row.string(prefix + "handle"), kind: LoginChallenge.Kind(rawValue: try row.string(prefix + "kind")) ?? .login,
            sessionID: try row.string(prefix + "session_id"), userID: try row.string(prefix + "user_id"),
            accessToolUsage: AccessToolUsage(rawValue: try row.string(prefix + "access_tool_usage")) ?? .softToken,
            deviceID: try row.optionalString(prefix + "device_id"), nonce: LoginChallenge.nonce(hex: try row.string(prefix + "nonce")),
            scenarioName: try row.optionalString(prefix + "scenario_name"), scenarioHash: try row.optionalString(prefix + "scenario_hash"),
            status: LoginChallenge.Status(rawValue: try row.string(prefix + "status")) ?? .used, createdAt: try row.date(prefix + "created_at"),
            expiresAt: try row.date(prefix + "expires_at"))
    }

    /// `columns` of the table aliased `alias`, each named `alias_` + the column.
    static func prefixed(_ alias: String, _ columns: [String]) -> String {
        columns.map { "\(alias).\($0) AS \(alias)_\($0)" }.joined(separator: ", ")
    }

    private static let loginAnswerColumns = [
        prefixed(
            "s", ["id", "status", "user_id", "access_tool_usage", "device_id", "last_logon_date", "created_at", "last_seen_at", "authorized_at"]),
        prefixed(
            "c",
            [
                "handle", "kind", "session_id", "user_id", "access_tool_usage", "device_id", "nonce", "scenario_name", "scenario_hash", "status",
                "created_at", "expires_at",
            ]),
        prefixed("i", ["user_id", "account_number", "card_number", "identification_code_hash", "last_logon_at"]),
        prefixedDeviceColumns, "u.status AS u_status",
    ].joined(separator: ", ")

    public func loginAnswerContext(tokenHash: String, handle: String, seenAfter idleCutoff: Date) async throws -> LoginAnswerContext {
        // Anchored on one constant row, so that the session and the challenge are each read when the other is absent.
        let row = try await pool.withConnection { db in
            try await db.sql(
                """
                SELECT \(unsafeRaw: Self.loginAnswerColumns)
                FROM (SELECT 1 AS anchor) AS anchor
                LEFT JOIN login_sessions s ON s.token_hash = \(bind: tokenHash) AND s.status IN ('anonymous', 'authorized')
                  AND s.last_seen_at > \(bind: idleCutoff.epochMilliseconds)
                LEFT JOIN login_challenges c ON c.handle = \(bind: handle)
                LEFT JOIN login_identities i ON i.user_id = c.user_id
                LEFT JOIN users u ON u.id = c.user_id
                LEFT JOIN devices d ON d.id = c.device_id
                """
            ).first()
        }
        guard let row else {
            return LoginAnswerContext(session: nil, challenge: nil, identity: nil, userIsActive: false, device: nil)
        }
        return LoginAnswerContext(
            session: try row.optionalString("s_id") == nil ? nil : try Self.loginSession(from: row, prefix: "s_"),
            challenge: try row.optionalString("c_handle") == nil ? nil : try Self.loginChallenge(from: row, prefix: "c_"),
            identity: try row.optionalString("i_user_id") == nil ? nil : try Self.loginIdentity(from: row, prefix: "i_"),
            userIsActive: try row.optionalString("u_status") == User.Status.active.rawValue,
            device: try row.optionalString("d_id") == nil ? nil : try Self.device(from: row, prefix: "d_"))
    }

    public func reserveLoginAnswer(handle: String, sessionID: String, userID: String, tool: AccessTool, at now: Date) async throws
        -> LoginAnswerReservation
    {
        if pool.engine == .postgres {
            // One statement: the attempt is taken only if this answer used the challenge.
            let row = try await pool.withWriteConnection { db in
                try await db.sql(
                    """
                    WITH used AS (\(Self.useLoginChallengeSQL(handle: handle, sessionID: sessionID, at: now))),
                    counted AS (
                      \(Self.takeAccessToolAttemptSQL(userID: userID, tool: tool, at: now)) AND EXISTS (SELECT 1 FROM used)
                      RETURNING attempts_left)
                    SELECT EXISTS (SELECT 1 FROM used) AS used, (SELECT attempts_left FROM counted) AS attempts_left
                    """
                ).first()
            }
            guard let row, try row.decode(column: "used", as: Bool.self) else { return .closed }
            return try row.decode(column: "attempts_left", as: Int?.self).map { .counted(attemptsLeft: $0) } ?? .blocked
        }
        return try await pool.withTransaction { db in
            guard try await db.sql(Self.useLoginChallengeSQL(handle: handle, sessionID: sessionID, at: now)).first() != nil else {
                return .closed
            }
            let counted = try await db.sql("\(Self.takeAccessToolAttemptSQL(userID: userID, tool: tool, at: now)) RETURNING attempts_left").first()
            guard let counted else { return .blocked }
            return .counted(attemptsLeft: try counted.int("attempts_left"))
        }
    }

    public func completeLoginAnswer(
        userID: String, tool: AccessTool, maxAttempts: Int, authorization: LoginAuthorization?, deviceID: String?, audit: AuditRecord,
        at now: Date
    ) async throws -> Bool {
        let nowMs = now.epochMilliseconds
        let refill: StoreSQL = """
            UPDATE access_tools SET attempts_left = \(bind: maxAttempts), updated_at = \(bind: nowMs)
            WHERE user_id = \(bind: userID) AND tool = \(bind: tool.rawValue)
            """
        let authorize = authorization.map { Self.authorizeSessionSQL($0, userID: userID, deviceID: deviceID, at: now) }
        let logon: StoreSQL = "UPDATE login_identities SET last_logon_at = \(bind: nowMs) WHERE user_id = \(bind: userID)"
        let deviceUse: StoreSQL? = deviceID.map { "UPDATE devices SET last_used_at = \(bind: nowMs) WHERE id = \(bind: $0)" }
        if pool.engine == .postgres {
            // One statement: each step after the refill only if the session was authorized.
            let completed: StoreSQL =
                authorize.map {
                    "authorized AS (\($0) RETURNING id), logon AS (\(logon) AND EXISTS (SELECT 1 FROM authorized)),"
                } ?? "authorized AS (SELECT 1 AS id),"
            let device: StoreSQL = deviceUse.map { "device AS (\($0) AND EXISTS (SELECT 1 FROM authorized))," } ?? ""
            let row = try await pool.withWriteConnection { db in
                try await db.sql(
                    """
                    WITH refilled AS (\(refill)),
                    \(completed)
                    \(device)
                    \(Self.auditRow(audit, at: now).part("journal", from: "authorized"))
                    SELECT EXISTS (SELECT 1 FROM authorized) AS completed
                    """
                ).first()
            }
            return try row?.decode(column: "completed", as: Bool.self) ?? false
        }
        return try await pool.withTransaction { db in
            try await db.sql(refill).run()
            if let authorize {
                guard try await db.sql("\(authorize) RETURNING id").first() != nil else { return false }
                try await db.sql(logon).run()
            }
            if let deviceUse { try await db.sql(deviceUse).run() }
            try await Self.insert(audit, at: now, into: db)
            return true
        }
    }

    /// One attempt of the user's access tool taken, only while one is left (`RETURNING` or more
    /// conditions follow): the one conditional update behind every access-tool count.
    static func takeAccessToolAttemptSQL(userID: String, tool: AccessTool, at now: Date) -> StoreSQL {
        """
        UPDATE access_tools SET attempts_left = attempts_left - 1, updated_at = \(bind: now.epochMilliseconds)
        WHERE user_id = \(bind: userID) AND tool = \(bind: tool.rawValue) AND attempts_left > 0
        """
    }

    /// A live session (anonymous, or already the user's) authorized for `userID` under its rotated
    /// token; `RETURNING` follows where the caller needs to know.
    private static func authorizeSessionSQL(_ authorization: LoginAuthorization, userID: String, deviceID: String?, at now: Date) -> StoreSQL {
        let nowMs = now.epochMilliseconds
        return """
            UPDATE login_sessions SET status = 'authorized', token_hash = \(bind: authorization.newTokenHash), user_id = \(bind: userID),
                access_tool_usage = \(bind: authorization.accessToolUsage.rawValue), device_id = \(bind: deviceID),
                last_logon_date = \(bind: authorization.lastLogonDate.epochMilliseconds), last_seen_at = \(bind: nowMs),
                authorized_at = \(bind: nowMs)
            WHERE id = \(bind: authorization.sessionID) AND token_hash = \(bind: authorization.tokenHash) AND status IN ('anonymous', 'authorized')
              AND last_seen_at > \(bind: authorization.idleCutoff.epochMilliseconds) AND (user_id IS NULL OR user_id = \(bind: userID))
            """
    }

    public func useLoginChallenge(handle: String, sessionID: String, at now: Date) async throws -> Bool {
        try await pool.withWriteConnection { db in
            try await db.sql(Self.useLoginChallengeSQL(handle: handle, sessionID: sessionID, at: now)).first() != nil
        }
    }

    /// `open → used` for the session's unexpired challenge: the one conditional update that lets
    /// exactly one answer through.
    private static func useLoginChallengeSQL(handle: String, sessionID: String, at now: Date) -> StoreSQL {
        """
        UPDATE login_challenges SET status = 'used'
        WHERE handle = \(bind: handle) AND session_id = \(bind: sessionID) AND status = 'open'
          AND expires_at > \(bind: now.epochMilliseconds)
        RETURNING handle
        """
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
