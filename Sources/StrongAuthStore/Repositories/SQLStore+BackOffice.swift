import Foundation
import SQLKit
import StrongAuthCore

extension SQLStore: BackOfficeRepository {
    // MARK: Operators

    public func insertOperator(_ operator: Operator) async throws {
        let inserted = try await pool.withWriteConnection { db in
            try await db.sql(
                """
                INSERT INTO operators (id, username, password_hash, sealed_totp_secret, status, last_totp_step, created_at, realm_id)
                VALUES (\(bind: `operator`.id), \(bind: `operator`.username), \(bind: `operator`.passwordHash),
                        \(bind: `operator`.sealedTOTPSecret), \(bind: `operator`.status.rawValue), \(bind: `operator`.lastTOTPStep),
                        \(bind: `operator`.createdAt.epochMilliseconds), \(bind: `operator`.realmID))
                ON CONFLICT DO NOTHING RETURNING id
                """
            ).first()
        }
        guard inserted != nil else { throw StoreError.conflict("operator '\(`operator`.username)'") }
    }

    public func `operator`(id: String) async throws -> Operator? {
        try await pool.withConnection { db in
            try await db.sql("SELECT * FROM operators WHERE id = \(bind: id)").first()
        }.map(Self.operator(from:))
    }

    public func `operator`(username: String) async throws -> Operator? {
        try await pool.withConnection { db in
            try await db.sql("SELECT * FROM operators WHERE username = \(bind: username)").first()
        }.map(Self.operator(from:))
    }

    static func `operator`(from row: any SQLRow) throws -> Operator {
        Operator(
            id: try row.string("id"), username: try row.string("username"), passwordHash: try row.string("password_hash"),
            sealedTOTPSecret: try row.string("sealed_totp_secret"),
            status: Operator.Status(rawValue: try row.string("status")) ?? .disabled,
            lastTOTPStep: try row.decode(column: "last_totp_step", as: Int64.self), createdAt: try row.date("created_at"),
            realmID: try row.string("realm_id"))
    }

    public func acceptTOTPStep(operatorID: String, step: Int64) async throws -> Bool {
        try await pool.withWriteConnection { db in
            try await db.sql(
                """
                UPDATE operators SET last_totp_step = \(bind: step)
                WHERE id = \(bind: operatorID) AND last_totp_step < \(bind: step) RETURNING id
                """
            ).first()
        } != nil
    }

    // MARK: Web sessions

    public func insertWebSession(_ session: WebSession) async throws {
        try await pool.withWriteConnection { db in
            try await db.sql(
                """
                INSERT INTO web_sessions (token_hash, kind, principal_id, created_at, last_seen_at, expires_at, second_factor_at,
                                          second_factor_method)
                VALUES (\(bind: session.tokenHash), \(bind: session.kind.rawValue), \(bind: session.principalID),
                        \(bind: session.createdAt.epochMilliseconds), \(bind: session.createdAt.epochMilliseconds),
                        \(bind: session.expiresAt.epochMilliseconds), \(bind: session.secondFactorAt?.epochMilliseconds),
                        \(bind: session.secondFactorMethod?.rawValue))
                """
            ).run()
        }
    }

    public func touchWebSession(tokenHash: String, at now: Date, newExpiry: Date, notCreatedBefore: Date) async throws -> WebSession? {
        let row = try await pool.withWriteConnection { db in
            try await db.sql(
                """
                UPDATE web_sessions SET last_seen_at = \(bind: now.epochMilliseconds), expires_at = \(bind: newExpiry.epochMilliseconds)
                WHERE token_hash = \(bind: tokenHash) AND expires_at > \(bind: now.epochMilliseconds)
                  AND created_at > \(bind: notCreatedBefore.epochMilliseconds)
                RETURNING token_hash, kind, principal_id, created_at, expires_at, second_factor_at, second_factor_method,
                          step_up_id, step_up_method, step_up_action, step_up_target, step_up_expires_at
                """
            ).first()
        }
        guard let row, let kind = WebSessionKind(rawValue: try row.string("kind")) else { return nil }
        var stepUp: WebStepUp?
        if let id = try row.optionalString("step_up_id"), let method = StepUpMethod(rawValue: try row.optionalString("step_up_method") ?? ""),
            let action = try row.optionalString("step_up_action"), let expiresAt = try row.optionalDate("step_up_expires_at")
        {
            stepUp = WebStepUp(id: id, method: method, action: action, target: try row.optionalString("step_up_target") ?? "", expiresAt: expiresAt)
        }
        return WebSession(
            tokenHash: try row.string("token_hash"), kind: kind, principalID: try row.string("principal_id"),
            createdAt: try row.date("created_at"), expiresAt: try row.date("expires_at"),
            secondFactorAt: try row.optionalDate("second_factor_at"),
            secondFactorMethod: try row.optionalString("second_factor_method").flatMap(StepUpMethod.init(rawValue:)), stepUp: stepUp)
    }

    public func beginWebStepUp(tokenHash: String, stepUp: WebStepUp, at now: Date) async throws -> Bool {
        try await pool.withWriteConnection { db in
            try await db.sql(
                """
                UPDATE web_sessions SET step_up_id = \(bind: stepUp.id), step_up_method = \(bind: stepUp.method.rawValue),
                       step_up_action = \(bind: stepUp.action), step_up_target = \(bind: stepUp.target),
                       step_up_expires_at = \(bind: stepUp.expiresAt.epochMilliseconds)
                WHERE token_hash = \(bind: tokenHash) AND expires_at > \(bind: now.epochMilliseconds) RETURNING token_hash
                """
            ).first() != nil
        }
    }

    public func completeWebStepUp(tokenHash: String, stepUpID: String, at now: Date) async throws -> Bool {
        try await pool.withWriteConnection { db in
            try await db.sql(
                """
                UPDATE web_sessions SET second_factor_at = \(bind: now.epochMilliseconds), second_factor_method = step_up_method,
                       step_up_id = NULL, step_up_method = NULL, step_up_action = NULL, step_up_target = NULL, step_up_expires_at = NULL
                WHERE token_hash = \(bind: tokenHash) AND step_up_id = \(bind: stepUpID) AND expires_at > \(bind: now.epochMilliseconds)
                  AND step_up_expires_at > \(bind: now.epochMilliseconds)
                RETURNING token_hash
                """
            ).first() != nil
        }
    }

    public func deleteWebSession(tokenHash: String) async throws {
        try await pool.withWriteConnection { db in
            try await db.sql("DELETE FROM web_sessions WHERE token_hash = \(bind: tokenHash)").run()
        }
    }

    public func deleteExpiredWebSessions(at now: Date) async throws -> Int {
        try await pool.withWriteConnection { db in
            try await db.sql("DELETE FROM web_sessions WHERE expires_at <= \(bind: now.epochMilliseconds) RETURNING token_hash").all().count
        }
    }

    // MARK: Read models

    public func backOfficeCounts(realm: String, at now: Date) async throws -> BackOfficeCounts {
        try await pool.withConnection { db in
            let users = try await db.sql("SELECT COUNT(*) AS n FROM users WHERE realm_id = \(bind: realm)").first()?.int("n") ?? 0
            var devices: [String: Int] = [:]
            for row in try await db.sql(
                """
                SELECT d.status, COUNT(*) AS n FROM devices d JOIN users u ON u.id = d.user_id
                WHERE u.realm_id = \(bind: realm) GROUP BY d.status
                """
            ).all() {
                devices[try row.string("status")] = try row.int("n")
            }
            let pending =
                try await db.sql(
                    """
                    SELECT COUNT(*) AS n FROM approvals a JOIN users u ON u.id = a.user_id
                    WHERE u.realm_id = \(bind: realm) AND a.status = 'PENDING' AND a.expires_at > \(bind: now.epochMilliseconds)
                    """
                ).first()?.int("n") ?? 0
            var webhooks: [String: Int] = [:]
            // A delivery is of the realm of its subscriber (a PowerAuth application or an OAuth client).
            for row in try await db.sql(
                "SELECT w.status, COUNT(*) AS n FROM webhook_deliveries w WHERE \(Self.webhookInRealm(realm)) GROUP BY w.status"
            ).all() {
                webhooks[try row.string("status")] = try row.int("n")
            }
            return BackOfficeCounts(users: users, devicesByStatus: devices, pendingApprovals: pending, webhooksByStatus: webhooks)
        }
    }

    /// `webhook_deliveries w` belongs to `realm` through its subscriber.
    static func webhookInRealm(_ realm: String) -> StoreSQL {
        """
        ((w.subscriber_kind = 'application'
            AND EXISTS (SELECT 1 FROM powerauth_applications p WHERE p.id = w.subscriber_id AND p.realm_id = \(bind: realm)))
         OR (w.subscriber_kind = 'client'
            AND EXISTS (SELECT 1 FROM clients c WHERE c.id = w.subscriber_id AND c.realm_id = \(bind: realm))))
        """
    }

    public func searchUsers(realm: String, query: String, limit: Int) async throws -> [User] {
        // LIKE wildcards in the query are matched literally.
        let escaped = query.lowercased().replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_")
        return try await pool.withConnection { db in
            try await db.sql(
                """
                SELECT * FROM users WHERE realm_id = \(bind: realm)
                  AND (LOWER(username) LIKE \(bind: "%\(escaped)%") ESCAPE '\\' OR id = \(bind: query))
                ORDER BY created_at DESC, id LIMIT \(bind: limit)
                """
            ).all()
        }.map(Self.user(from:))
    }

    public func allDevices(userID: String) async throws -> [Device] {
        try await pool.withConnection { db in
            try await db.sql("SELECT * FROM devices WHERE user_id = \(bind: userID) ORDER BY created_at DESC, id").all()
        }.map(Self.device(from:))
    }

    public func recentDevices(realm: String, status: Device.Status?, limit: Int) async throws -> [Device] {
        let statusCondition: StoreSQL = status.map { "AND devices.status = \(bind: $0.rawValue)" } ?? ""
        return try await pool.withConnection { db in
            try await db.sql(
                """
                SELECT devices.* FROM devices JOIN users u ON u.id = devices.user_id
                WHERE u.realm_id = \(bind: realm) \(statusCondition)
                ORDER BY devices.created_at DESC, devices.id LIMIT \(bind: limit)
                """
            ).all()
        }.map(Self.device(from:))
    }

    public func recentApprovals(realm: String, userID: String?, limit: Int) async throws -> [Approval] {
        let userCondition: StoreSQL = userID.map { "AND approvals.user_id = \(bind: $0)" } ?? ""
        return try await pool.withConnection { db in
            try await db.sql(
                """
                SELECT approvals.* FROM approvals JOIN users u ON u.id = approvals.user_id
                WHERE u.realm_id = \(bind: realm) \(userCondition)
                ORDER BY approvals.created_at DESC, approvals.id LIMIT \(bind: limit)
                """
            ).all()
        }.map(Self.approval(from:))
    }

    public func webhookDeliveries(realm: String, limit: Int) async throws -> [WebhookDelivery] {
        try await pool.withConnection { db in
            try await db.sql(
                """
                SELECT w.* FROM webhook_deliveries w WHERE \(Self.webhookInRealm(realm))
                ORDER BY w.created_at DESC, w.id DESC LIMIT \(bind: limit)
                """
            ).all()
        }.map(Self.webhook(from:))
    }

    public func applications(realm: String) async throws -> [PowerAuthApplication] {
        try await pool.withConnection { db in
            try await db.sql(
                "SELECT * FROM powerauth_applications WHERE status = 'active' AND realm_id = \(bind: realm) ORDER BY id"
            ).all()
        }.map(Self.application(from:))
    }

    public func recentAuditEvents(realm: String, subject: String?, failuresOnly: Bool, before sequence: Int64?, limit: Int) async throws
        -> [AuditEvent]
    {
        while try await sealAuditJournal(limit: 500) > 0 {}
        var conditions: [StoreSQL] = [
            realm == Realm.defaultID ? "(realm_id = \(bind: realm) OR realm_id IS NULL)" : "realm_id = \(bind: realm)"
        ]
        if let subject { conditions.append("subject = \(bind: subject)") }
        if failuresOnly { conditions.append("outcome = 'failure'") }
        if let sequence { conditions.append("sequence < \(bind: sequence)") }
        let whereClause: StoreSQL = "WHERE " + conditions.joined(separator: " AND ")
        return try await pool.withConnection { db in
            try await db.sql("SELECT * FROM audit_events \(whereClause) ORDER BY sequence DESC LIMIT \(bind: limit)").all()
        }.map(Self.auditEvent(from:))
    }
}
