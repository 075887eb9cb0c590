import Foundation
import SQLKit
import StrongAuthCore

extension SQLStore: ApprovalRepository {
    public func upsertTemplate(_ template: OperationTemplate) async throws {
        try await pool.withWriteConnection { db in
            try await db.sql(
                """
                INSERT INTO operation_templates (application_id, name, operation_type, data_template, expiration_seconds, max_failure_count,
                    signature_types, title, message)
                VALUES (\(bind: template.applicationID), \(bind: template.name), \(bind: template.operationType), \(bind: template.dataTemplate),
                        \(bind: Int(template.expiration)), \(bind: template.maxFailureCount), \(bind: template.signatureTypes.joined(separator: " ")),
                        \(bind: template.title), \(bind: template.message))
                ON CONFLICT (application_id, name) DO UPDATE SET operation_type = excluded.operation_type,
                    data_template = excluded.data_template, expiration_seconds = excluded.expiration_seconds,
                    max_failure_count = excluded.max_failure_count, signature_types = excluded.signature_types,
                    title = excluded.title, message = excluded.message
                """
            ).run()
        }
    }

    public func template(applicationID: String, name: String) async throws -> OperationTemplate? {
        try await pool.withConnection { db in
            try await db.sql(
                "SELECT * FROM operation_templates WHERE application_id = \(bind: applicationID) AND name = \(bind: name)"
            ).first()
        }.map(Self.template(from:))
    }

    public func operationTargets(template name: String, username: String, integrationUserName: String) async throws
        -> (integrationUser: IntegrationUser?, targets: OperationTargets)
    {
        // The caller, the template `name` of each of its applications (by the primary key), and
        // the recipient of its realm once per device that is not REMOVED: one row per template ×
        // device, anchored so that each part is read even when another is absent. On PostgreSQL
        // one statement (one round trip) that joins the caller too, its applications split with
        // `string_to_array`; SQLite has no arrays and no round trips to save, so it reads the
        // caller first, on the same lease.
        let (caller, rows): (IntegrationUser?, [any SQLRow])
        if pool.engine == .postgres {
            rows = try await pool.withConnection { db in
                try await db.sql(
                    Self.operationTargetsQuery(
                        template: name, username: username, callerColumns: ", \(unsafeRaw: Self.prefixedIntegrationUserColumns)",
                        callerJoin: "LEFT JOIN integration_users i ON i.name = \(bind: integrationUserName)",
                        callerApplications: "t.application_id = ANY(string_to_array(i.applications, ' '))", callerRealm: "i.realm_id")
                ).all()
            }
            caller = try rows.first.flatMap { row in
                try row.optionalString("iu_name") == nil ? nil : try Self.integrationUser(from: row, prefix: "iu_")
            }
        } else {
            (caller, rows) = try await pool.withConnection { db in
                guard let caller = try await Self.integrationUserRow(name: integrationUserName, on: db).map(Self.integrationUser(from:)) else {
                    return (nil, [])
                }
                let applications: StoreSQL =
                    caller.applicationIDs.isEmpty ? "1 = 0" : "t.application_id IN (\(binds: caller.applicationIDs))"
                let rows = try await db.sql(
                    Self.operationTargetsQuery(
                        template: name, username: username, callerColumns: "", callerJoin: "", callerApplications: applications,
                        callerRealm: "\(bind: caller.realmID)")
                ).all()
                return (caller, rows)
            }
        }
        guard let caller else { return (nil, OperationTargets(template: nil, recipient: nil)) }
        var templates: [String: (template: OperationTemplate, application: PowerAuthApplication?)] = [:]
        var devices: [Device] = []
        var deviceIDs: Set<String> = []
        for row in rows {
            if try row.optionalString("t_application_id") != nil {
                let template = try Self.template(from: row, prefix: "t_")
                templates[template.applicationID] = (
                    template, try row.optionalString("a_id") == nil ? nil : try Self.application(from: row, prefix: "a_")
                )
            }
            if let deviceID = try row.optionalString("d_id"), deviceIDs.insert(deviceID).inserted {
                devices.append(try Self.device(from: row, prefix: "d_"))
            }
        }
        let recipient = try rows.first?.optionalString("u_id").map { (userID: $0, devices: devices) }
        // The template of the first of the caller's applications that has one, in its order.
        let template = caller.applicationIDs.lazy.compactMap { templates[$0] }.first
        return (caller, OperationTargets(template: template, recipient: recipient))
    }

    /// `operationTargets`' statement: `callerApplications` tests that `t.application_id` is one of
    /// the caller's applications, `callerRealm` is the recipient's realm; `callerColumns` and `callerJoin` add the
    /// caller itself (as `i`, columns `iu_…`) where it is read in the same statement.
    private static func operationTargetsQuery(
        template name: String, username: String, callerColumns: StoreSQL, callerJoin: StoreSQL, callerApplications: StoreSQL,
        callerRealm: StoreSQL
    ) -> StoreSQL {
        """
        SELECT \(unsafeRaw: Self.prefixedTemplateColumns), \(unsafeRaw: Self.prefixedApplicationColumns), u.id AS u_id,
               \(unsafeRaw: Self.prefixedDeviceColumns)\(callerColumns)
        FROM (SELECT 1 AS anchor) AS anchor
        \(callerJoin)
        LEFT JOIN operation_templates t ON t.name = \(bind: name) AND \(callerApplications)
        LEFT JOIN powerauth_applications a ON a.id = t.application_id
        LEFT JOIN users u ON u.realm_id = \(callerRealm) AND u.username = \(bind: username)
        LEFT JOIN devices d ON d.user_id = u.id AND d.status <> 'REMOVED'
        ORDER BY d.created_at, d.id
        """
    }

    public func actionRequestRecipient(uid: String, realm: String) async throws -> (user: User, devices: [Device])? {
        // The id match first, as user(id:) before user(realm:username:); then its devices.
        let rows = try await pool.withConnection { db in
            try await db.sql(
                """
                SELECT u.*, \(unsafeRaw: Self.prefixedDeviceColumns)
                FROM (SELECT * FROM users WHERE id = \(bind: uid) OR (realm_id = \(bind: realm) AND username = \(bind: uid))
                      ORDER BY CASE WHEN id = \(bind: uid) THEN 0 ELSE 1 END LIMIT 1) u
                LEFT JOIN devices d ON d.user_id = u.id AND d.status <> 'REMOVED'
                ORDER BY d.created_at, d.id
                """
            ).all()
        }
        guard let first = rows.first else { return nil }
        let devices = try rows.compactMap { row in try row.optionalString("d_id") == nil ? nil : try Self.device(from: row, prefix: "d_") }
        return (try Self.user(from: first), devices)
    }

    static func template(from row: any SQLRow) throws -> OperationTemplate { try template(from: row, prefix: "") }

    /// The columns of `operation_templates t`, each named `t_` + the column.
    static let prefixedTemplateColumns = [
        "application_id", "name", "operation_type", "data_template", "expiration_seconds", "max_failure_count", "signature_types", "title",
        "message",
    ].map { "t.\($0) AS t_\($0)" }.joined(separator: ", ")

    /// A template from columns named `prefix` + the column.
    static func template(from row: any SQLRow, prefix: String) throws -> OperationTemplate {
        OperationTemplate(
            applicationID: try row.string(prefix + "application_id"), name: try row.string(prefix + "name"),
            operationType: try row.string(prefix + "operation_type"), dataTemplate: try row.string(prefix + "data_template"),
            expiration: TimeInterval(try row.int(prefix + "expiration_seconds")), maxFailureCount: try row.int(prefix + "max_failure_count"),
            signatureTypes: try row.words(prefix + "signature_types"), title: try row.string(prefix + "title"),
            message: try row.string(prefix + "message"))
    }

    public func insertApproval(_ approval: Approval, webhooks: [WebhookDelivery], notifications: [OutboxNotification], audit: AuditRecord?)
        async throws
    {
        if pool.engine == .postgres {
            // One statement instead of a transaction. The audit record's subject is the approval
            // inserted beside it, which its realm subquery cannot see: give it the user's realm.
            var rows = [Self.approvalRow(approval)] + webhooks.map(Self.webhookRow) + notifications.map(Self.notificationRow)
            if let audit {
                rows.append(Self.auditRow(audit, at: approval.createdAt, realm: "(SELECT realm_id FROM users WHERE id = \(bind: approval.userID))"))
            }
            let statement = Self.oneStatement(decision: nil, inserts: rows)
            _ = try await pool.withWriteConnection { db in try await db.sql(statement).first() }
            return
        }
        try await pool.withTransaction { db in
            try await Self.insert(approval, into: db)
            try await Self.insert(webhooks, into: db)
            for notification in notifications { try await Self.insert(notification, into: db) }
            if let audit { try await Self.insert(audit, at: approval.createdAt, into: db) }
        }
    }

    /// Inserts the approval row (also inside other transactions: a new device's approval is
    /// stored with its binding).
    static func insert(_ approval: Approval, into db: any SQLDatabase) async throws {
        try await approvalRow(approval).run(on: db)
    }

    static func approvalRow(_ approval: Approval) -> RowInsert {
        RowInsert(
            table: "approvals",
            columns: """
                id, kind, user_id, external_user_id, application_id, template, operation_type, parameters, data, status, failure_count,
                max_failure_count, signature_types, external_id, status_reason, created_at, expires_at, updated_at, client_id, payload,
                title, message
                """,
            values: """
                \(bind: approval.id), \(bind: approval.kind.rawValue), \(bind: approval.userID), \(bind: approval.externalUserID),
                \(bind: approval.applicationID), \(bind: approval.template), \(bind: approval.operationType),
                \(bind: JSONObjectWriter.sortedStringObject(approval.parameters)), \(bind: approval.data), \(bind: approval.status.rawValue),
                \(bind: approval.failureCount), \(bind: approval.maxFailureCount), \(bind: approval.signatureTypes.joined(separator: " ")),
                \(bind: approval.externalID), \(bind: approval.statusReason), \(bind: approval.createdAt.epochMilliseconds),
                \(bind: approval.expiresAt.epochMilliseconds), \(bind: approval.updatedAt.epochMilliseconds),
                \(bind: approval.clientID), \(bind: approval.payload), \(bind: approval.title), \(bind: approval.message)
                """)
    }

    public func approval(id: String) async throws -> Approval? {
        try await pool.withConnection { db in try await Self.approvalRow(id: id, on: db) }.map(Self.approval(from:))
    }

    private static func approvalRow(id: String, on db: any SQLDatabase) async throws -> (any SQLRow)? {
        try await db.sql("SELECT * FROM approvals WHERE id = \(bind: id)").first()
    }

    public func approval(id: String, integrationUserName: String) async throws -> (approval: Approval?, integrationUser: IntegrationUser?) {
        // One statement (one round trip on PostgreSQL), anchored on one constant row so that each
        // is read even when the other is absent.
        let row = try await pool.withConnection { db in
            try await db.sql(
                """
                SELECT ap.*, \(unsafeRaw: Self.prefixedIntegrationUserColumns)
                FROM (SELECT 1 AS anchor) AS anchor
                LEFT JOIN approvals ap ON ap.id = \(bind: id)
                LEFT JOIN integration_users i ON i.name = \(bind: integrationUserName)
                """
            ).first()
        }
        guard let row else { return (nil, nil) }
        return (
            try row.optionalString("id") == nil ? nil : try Self.approval(from: row),
            try row.optionalString("iu_name") == nil ? nil : try Self.integrationUser(from: row, prefix: "iu_")
        )
    }

    public func approval(id: String, answeredBy deviceID: String, token: AccessTokenLivenessQuery) async throws
        -> (approval: Approval?, device: Device?, application: PowerAuthApplication?, liveness: AccessTokenLiveness)
    {
        // Anchored on one constant row, so that each is read even when the other is absent.
        let row = try await pool.withConnection { db in
            try await db.sql(
                """
                SELECT ap.*, \(unsafeRaw: Self.prefixedDeviceColumns), \(unsafeRaw: Self.prefixedApplicationColumns),
                       \(Self.livenessColumns(token))
                FROM (SELECT 1 AS anchor) AS anchor
                LEFT JOIN approvals ap ON ap.id = \(bind: id)
                LEFT JOIN devices d ON d.id = \(bind: deviceID)
                LEFT JOIN powerauth_applications a ON a.id = ap.application_id
                """
            ).first()
        }
        let liveness = try Self.liveness(from: row, token)
        guard let row else { return (nil, nil, nil, liveness) }
        let approval = try row.optionalString("id") == nil ? nil : try Self.approval(from: row)
        let device = try row.optionalString("d_id") == nil ? nil : try Self.device(from: row, prefix: "d_")
        let application = try row.optionalString("a_id") == nil ? nil : try Self.application(from: row, prefix: "a_")
        return (approval, device, application, liveness)
    }

    public func pendingApprovals(userID: String, at now: Date, limit: Int, token: AccessTokenLivenessQuery) async throws
        -> (approvals: [ApprovalSummary], liveness: AccessTokenLiveness)
    {
        // The liveness row, joined to each approval (and alone when there is none); only the
        // columns the list shows, sorted once (no materialized subquery).
        let rows = try await pool.withConnection { db in
            try await db.sql(
                """
                SELECT live.*, ap.id, ap.kind, ap.operation_type, ap.data, ap.status, ap.created_at, ap.expires_at, ap.title, ap.message
                FROM (SELECT \(Self.livenessColumns(token))) AS live
                LEFT JOIN approvals ap
                  ON ap.user_id = \(bind: userID) AND ap.status = 'PENDING' AND ap.expires_at > \(bind: now.epochMilliseconds)
                ORDER BY ap.created_at DESC, ap.id LIMIT \(bind: limit)
                """
            ).all()
        }
        let approvals = try rows.filter { try $0.optionalString("id") != nil }.map(Self.approvalSummary(from:))
        return (approvals, try Self.liveness(from: rows.first, token))
    }

    static func approvalSummary(from row: any SQLRow) throws -> ApprovalSummary {
        ApprovalSummary(
            id: try row.string("id"), kind: Approval.Kind(rawValue: try row.string("kind")) ?? .operation,
            operationType: try row.string("operation_type"), data: try row.string("data"),
            status: Approval.Status(rawValue: try row.string("status")) ?? .failed, createdAt: try row.date("created_at"),
            expiresAt: try row.date("expires_at"), title: try row.optionalString("title"), message: try row.optionalString("message"))
    }

    public func approvals(userID: String, pendingOnly: Bool, at now: Date, limit: Int) async throws -> [Approval] {
        try await pool.withConnection { db in
            if pendingOnly {
                return try await db.sql(
                    """
                    SELECT * FROM approvals WHERE user_id = \(bind: userID) AND status = 'PENDING' AND expires_at > \(bind: now.epochMilliseconds)
                    ORDER BY created_at DESC, id LIMIT \(bind: limit)
                    """
                ).all()
            }
            return try await db.sql(
                "SELECT * FROM approvals WHERE user_id = \(bind: userID) ORDER BY created_at DESC, id LIMIT \(bind: limit)"
            ).all()
        }.map(Self.approval(from:))
    }

    static func approval(from row: any SQLRow) throws -> Approval {
        let parameters = JSONStringObjectReader.stringObject(try row.string("parameters"))
        return Approval(
            id: try row.string("id"), kind: Approval.Kind(rawValue: try row.string("kind")) ?? .operation, userID: try row.string("user_id"),
            externalUserID: try row.string("external_user_id"), applicationID: try row.optionalString("application_id"),
            template: try row.string("template"), operationType: try row.string("operation_type"), parameters: parameters,
            data: try row.string("data"), status: Approval.Status(rawValue: try row.string("status")) ?? .failed,
            failureCount: try row.int("failure_count"), maxFailureCount: try row.int("max_failure_count"),
            signatureTypes: try row.words("signature_types"),
            externalID: try row.optionalString("external_id"), statusReason: try row.optionalString("status_reason"),
            createdAt: try row.date("created_at"), expiresAt: try row.date("expires_at"), updatedAt: try row.date("updated_at"),
            clientID: try row.optionalString("client_id"), payload: try row.optionalString("payload"),
            title: try row.optionalString("title"), message: try row.optionalString("message"))
    }

    public func decideApproval(
        id: String, to: Approval.Status, reason: String?, webhooks: [WebhookDelivery], actionToken: ActionToken?, audit: AuditRecord?,
        at now: Date
    ) async throws -> Bool {
        let nowMs = now.epochMilliseconds
        // The decision: only a PENDING, unexpired approval moves.
        let decision: StoreSQL = """
            UPDATE approvals SET status = \(bind: to.rawValue), status_reason = \(bind: reason), updated_at = \(bind: nowMs)
            WHERE id = \(bind: id) AND status = 'PENDING' AND expires_at > \(bind: nowMs) RETURNING id
            """
        let rows =
            (actionToken.map { [Self.actionTokenRow($0)] } ?? []) + webhooks.map(Self.webhookRow)
            + (audit.map { [Self.auditRow($0, at: now)] } ?? [])
        if pool.engine == .postgres {
            // One statement: every row selects FROM the decision (`oneStatement`).
            let statement = Self.oneStatement(decision: decision, inserts: rows)
            let decided = try await pool.withWriteConnection { db in try await db.sql(statement).first() }
            return decided != nil
        }
        return try await pool.withTransaction { db in
            guard try await db.sql(decision).first() != nil else { return false }
            for row in rows { try await row.run(on: db) }
            return true
        }
    }

    static func actionTokenRow(_ token: ActionToken) -> RowInsert {
        RowInsert(
            table: "action_tokens", columns: "token_hash, approval_id, client_id, action, payload_hash, expires_at",
            values: """
                \(bind: token.tokenHash), \(bind: token.approvalID), \(bind: token.clientID), \(bind: token.action),
                \(bind: token.payloadHash), \(bind: token.expiresAt.epochMilliseconds)
                """)
    }

    public func expiredPendingApprovals(at now: Date, limit: Int) async throws -> [Approval] {
        try await pool.withConnection { db in
            try await db.sql(
                """
                SELECT * FROM approvals WHERE status = 'PENDING' AND expires_at <= \(bind: now.epochMilliseconds)
                ORDER BY expires_at LIMIT \(bind: limit)
                """
            ).all()
        }.map(Self.approval(from:))
    }

    public func expireApproval(id: String, webhooks: [WebhookDelivery], at now: Date) async throws -> Bool {
        let nowMs = now.epochMilliseconds
        return try await pool.withTransaction { db in
            guard
                try await db.sql(
                    """
                    UPDATE approvals SET status = 'EXPIRED', updated_at = \(bind: nowMs)
                    WHERE id = \(bind: id) AND status = 'PENDING' AND expires_at <= \(bind: nowMs) RETURNING id
                    """
                ).first() != nil
            else { return false }
            try await Self.insert(webhooks, into: db)
            return true
        }
    }

    public func useActionToken(tokenHash: String, action: String, payloadHash: String, clientID: String, audit: AuditRecord, at now: Date)
        async throws -> Approval?
    {
        let nowMs = now.epochMilliseconds
        let use: StoreSQL = """
            UPDATE action_tokens SET used_at = \(bind: nowMs)
            WHERE token_hash = \(bind: tokenHash) AND used_at IS NULL AND expires_at > \(bind: nowMs)
              AND action = \(bind: action) AND payload_hash = \(bind: payloadHash) AND client_id = \(bind: clientID)
            RETURNING approval_id
            """
        if pool.engine == .postgres {
            // One statement: the journal row selects FROM the decision, naming the request it used.
            let journal = Self.auditRow(
                audit, at: now, realm: "(SELECT u.realm_id FROM approvals a JOIN users u ON u.id = a.user_id WHERE a.id = used.approval_id)",
                subject: "'approval:' || used.approval_id")
            let row = try await pool.withWriteConnection { db in
                try await db.sql(
                    """
                    WITH used AS (\(use)),
                    \(journal.part("journal", from: "used"))
                    SELECT a.* FROM approvals a JOIN used ON a.id = used.approval_id
                    """
                ).first()
            }
            return try row.map(Self.approval(from:))
        }
        return try await pool.withTransaction { db in
            guard let id = try await db.sql(use).first()?.string("approval_id"), let row = try await Self.approvalRow(id: id, on: db) else {
                return nil
            }
            var record = audit
            record.subject = "approval:\(id)"
            try await Self.insert(record, at: now, into: db)
            return try Self.approval(from: row)
        }
    }

}
