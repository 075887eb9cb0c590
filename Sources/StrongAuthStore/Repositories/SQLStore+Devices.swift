import Foundation
import SQLKit
import StrongAuthCore

extension SQLStore: DeviceRepository {
    public func insertDeviceBinding(device: Device, challenge: Challenge, notification: OutboxNotification, limits: DeviceBindingLimits?)
        async throws -> DeviceBindingOutcome
    {
        let lockUser = pool.engine == .postgres
        do {
            try await pool.withTransaction { db in
                if let limits {
                    try await Self.checkBindingLimits(limits, userID: device.userID, lockUser: lockUser, at: device.createdAt, on: db)
                }
                try await Self.insertBinding(device: device, challenge: challenge, notification: notification, on: db)
            }
        } catch let refusal as SMSRefusal {
            return refusal.outcome
        }
        if let limits { await sweepSMSBudgets(before: device.createdAt, window: limits.smsWindow) }
        return .inserted
    }

    /// The caps of a new binding, inside its transaction; throws `SMSRefusal` (rolling back what
    /// was counted) over one. On PostgreSQL the user's row is locked first, so two bindings of
    /// one user on any nodes count the unfinished devices one after the other (on SQLite the
    /// transaction holds the one writer lock already, BEGIN IMMEDIATE).
    static func checkBindingLimits(_ limits: DeviceBindingLimits, userID: String, lockUser: Bool, at now: Date, on db: any SQLDatabase)
        async throws
    {
        if lockUser { _ = try await db.sql("SELECT id FROM users WHERE id = \(bind: userID) FOR UPDATE").first() }
        let row = try await db.sql(
            """
            SELECT COUNT(*) AS pending, MIN(created_at) AS oldest FROM devices
            WHERE user_id = \(bind: userID) AND status IN ('CREATED', 'PENDING_COMMIT')
                AND created_at > \(bind: limits.pendingSince.epochMilliseconds)
            """
        ).first()
        let pending = try row?.decode(column: "pending", as: Int.self) ?? 0
        if pending >= limits.maxPending {
            let oldest = try row?.decode(column: "oldest", as: Int64?.self) ?? now.epochMilliseconds
            let retryAt = Date(timeIntervalSince1970: TimeInterval(oldest) / 1000 + limits.pendingLifetime)
            throw SMSRefusal(outcome: .tooManyPending(retryAt: retryAt))
        }
        if let retryAt = try await reserve(limits.sms, at: now, window: limits.smsWindow, on: db) {
            throw SMSRefusal(outcome: .smsExhausted(retryAt: retryAt))
        }
    }

    static func insertBinding(device: Device, challenge: Challenge, notification: OutboxNotification, on db: any SQLDatabase) async throws {
        try await Self.insert(device, into: db)
        try await Self.insert(challenge, into: db)
        try await Self.insert(notification, into: db)
    }

    /// The device row of a Kontist binding or a passkey (a PowerAuth registration writes more columns).
    static func insert(_ device: Device, into db: any SQLDatabase) async throws {
        try await db.sql(
            """
            INSERT INTO devices (id, user_id, kind, name, public_key, status, blocked_reason, created_at, activated_at, last_used_at)
            VALUES (\(bind: device.id), \(bind: device.userID), \(bind: device.kind.rawValue), \(bind: device.name),
                    \(bind: device.publicKeyHex), \(bind: device.status.rawValue), \(bind: device.blockedReason),
                    \(bind: device.createdAt.epochMilliseconds), \(bind: device.activatedAt?.epochMilliseconds),
                    \(bind: device.lastUsedAt?.epochMilliseconds))
            """
        ).run()
    }

    public func device(id: String) async throws -> Device? {
        try await pool.withConnection { db in
            try await db.sql("SELECT * FROM devices WHERE id = \(bind: id)").first()
        }.map(Self.device(from:))
    }

    public func devices(userID: String) async throws -> [Device] {
        try await pool.withConnection { db in
            try await db.sql(
                "SELECT * FROM devices WHERE user_id = \(bind: userID) AND status <> 'REMOVED' ORDER BY created_at, id"
            ).all()
        }.map(Self.device(from:))
    }

    /// The columns of `challenges c`, each named `c_` + the column (a challenge read with its device).
    static let prefixedChallengeColumns = [
        "id", "kind", "user_id", "device_id", "payload", "status", "attempts", "max_attempts", "created_at", "expires_at",
    ].map { "c.\($0) AS c_\($0)" }.joined(separator: ", ")

    static func device(from row: any SQLRow) throws -> Device { try device(from: row, prefix: "") }

    /// The device columns of `devices d`, each named `d_` + the column, for a device joined to other tables.
    static let prefixedDeviceColumns = [
        "id", "user_id", "kind", "name", "public_key", "status", "blocked_reason", "created_at", "activated_at", "last_used_at",
    ].map { "d.\($0) AS d_\($0)" }.joined(separator: ", ")

    /// A device from columns named `prefix` + the column (a device joined to other tables).
    static func device(from row: any SQLRow, prefix: String) throws -> Device {
        Device(
            id: try row.string(prefix + "id"), userID: try row.string(prefix + "user_id"),
            kind: Device.Kind(rawValue: try row.string(prefix + "kind")) ?? .ecdsaP256, name: try row.string(prefix + "name"),
            publicKeyHex: try row.string(prefix + "public_key"), status: Device.Status(rawValue: try row.string(prefix + "status")) ?? .removed,
            blockedReason: try row.optionalString(prefix + "blocked_reason"), createdAt: try row.date(prefix + "created_at"),
            activatedAt: try row.optionalDate(prefix + "activated_at"), lastUsedAt: try row.optionalDate(prefix + "last_used_at"))
    }

    public func transitionDevice(
        id: String, from: Set<Device.Status>, to: Device.Status, reason: String?, at now: Date
    ) async throws -> Bool {
        let allowed = from.map(\.rawValue).sorted()
        return try await pool.withWriteConnection { db in
            try await db.sql(
                """
                UPDATE devices SET status = \(bind: to.rawValue), blocked_reason = \(bind: reason),
                  activated_at = CASE WHEN \(bind: to.rawValue) = 'ACTIVE' AND activated_at IS NULL THEN \(bind: now.epochMilliseconds)
                                      ELSE activated_at END
                WHERE id = \(bind: id) AND status IN (\(binds: allowed)) RETURNING id
                """
            ).first() != nil
        }
    }

    public func touchDevice(id: String, at now: Date) async throws {
        try await pool.withWriteConnection { db in
            try await db.sql("UPDATE devices SET last_used_at = \(bind: now.epochMilliseconds) WHERE id = \(bind: id)").run()
        }
    }

    public func insertDeviceChallenge(_ challenge: Challenge, whileLive token: AccessTokenLivenessQuery?) async throws -> Bool {
        let live: StoreSQL = token.map { " AND \(Self.livenessCondition($0))" } ?? ""
        return try await pool.withWriteConnection { db in
            try await db.sql(
                """
                INSERT INTO challenges (id, kind, user_id, device_id, payload, status, attempts, max_attempts, created_at, expires_at)
                SELECT \(bind: challenge.id), \(bind: challenge.kind.rawValue), \(bind: challenge.userID), id, \(bind: challenge.payload),
                       \(bind: challenge.status.rawValue), \(bind: challenge.attempts), \(bind: challenge.maxAttempts),
                       \(bind: challenge.createdAt.epochMilliseconds), \(bind: challenge.expiresAt.epochMilliseconds)
                FROM devices
                WHERE id = \(bind: challenge.deviceID) AND user_id = \(bind: challenge.userID) AND status = 'ACTIVE'
                  AND kind = \(bind: Device.Kind.ecdsaP256.rawValue)\(live)
                RETURNING id
                """
            ).first() != nil
        }
    }

    public func device(id: String, challengeID: String) async throws -> (Device, Challenge?)? {
        guard
            let row = try await pool.withConnection({ db in
                try await db.sql(
                    """
                    SELECT d.*, \(unsafeRaw: Self.prefixedChallengeColumns)
                    FROM devices d LEFT JOIN challenges c ON c.id = \(bind: challengeID) AND c.device_id = d.id
                    WHERE d.id = \(bind: id)
                    """
                ).first()
            })
        else { return nil }
        let challenge = try row.optionalString("c_id") == nil ? nil : try Self.challenge(from: row, prefix: "c_")
        return (try Self.device(from: row), challenge)
    }

    public func challengeAnswerContext(deviceID: String, challengeID: String, clientID: String, token: AccessTokenLivenessQuery) async throws
        -> (device: Device?, challenge: Challenge?, client: OAuthClient?, liveness: AccessTokenLiveness)
    {
        // Anchored on one constant row, so that each of the three is read even when another is absent.
        let row = try await pool.withConnection { db in
            try await db.sql(
                """
                SELECT d.*, \(unsafeRaw: Self.prefixedChallengeColumns),
                       \(unsafeRaw: Self.prefixedClientColumns), \(Self.livenessColumns(token))
                FROM (SELECT 1 AS anchor) AS anchor
                LEFT JOIN devices d ON d.id = \(bind: deviceID)
                LEFT JOIN challenges c ON c.id = \(bind: challengeID) AND c.device_id = d.id
                LEFT JOIN clients k ON k.id = \(bind: clientID)
                """
            ).first()
        }
        let liveness = try Self.liveness(from: row, token)
        guard let row else { return (nil, nil, nil, liveness) }
        let device = try row.optionalString("id") == nil ? nil : try Self.device(from: row)
        let challenge = try row.optionalString("c_id") == nil ? nil : try Self.challenge(from: row, prefix: "c_")
        let client = try row.optionalString("k_id") == nil ? nil : try Self.client(from: row, prefix: "k_")
        return (device, challenge, client, liveness)
    }

    public func answerDeviceChallenge(id: String, deviceID: String, refreshToken: RefreshTokenRecord?, audit: AuditRecord, at now: Date)
        async throws -> Bool
    {
        let nowMs = now.epochMilliseconds
        if pool.engine == .postgres {
            return try await answerDeviceChallengeInOneStatement(
                id: id, deviceID: deviceID, refreshToken: refreshToken, audit: audit, at: now)
        }
        return try await pool.withTransaction { db in
            // The decision: the answer counts as an attempt and closes the challenge at once.
            let answered = try await db.sql(
                """
                UPDATE challenges SET attempts = attempts + 1, status = 'answered'
                WHERE id = \(bind: id) AND device_id = \(bind: deviceID) AND status = 'open' AND attempts < max_attempts
                  AND expires_at > \(bind: nowMs)
                RETURNING id
                """
            ).first()
            guard answered != nil else { return false }
            // The device's use, which also locks its row for the family below (see insertRefreshToken).
            let device = try await db.sql(
                "UPDATE devices SET last_used_at = \(bind: nowMs) WHERE id = \(bind: deviceID) RETURNING status"
            ).first()
            if let refreshToken {
                let active = try device?.string("status") == Device.Status.active.rawValue
                try await Self.insertFamily(of: refreshToken, deviceActive: active, into: db)
            }
            try await Self.insert(audit, at: now, into: db)
            return true
        }
    }

    /// PostgreSQL: the same unit of work as the transaction above in ONE statement (one round
    /// trip instead of seven — BEGIN, five statements, COMMIT). Data-modifying CTEs run in one
    /// snapshot, atomically: the device's use, the family and the audit record are written only
    /// if `answered` closed the challenge, which is still the one conditional update that decides.
    private func answerDeviceChallengeInOneStatement(
        id: String, deviceID: String, refreshToken: RefreshTokenRecord?, audit: AuditRecord, at now: Date
    ) async throws -> Bool {
        let nowMs = now.epochMilliseconds
        // As `insertFamily`: a family confirmed by a device that is not ACTIVE starts revoked.
        let tokens: [StoreSQL] =
            refreshToken.map { token in
                let revokedAt: StoreSQL =
                    token.deviceID == nil
                    ? "NULL" : "CASE WHEN used.status = 'ACTIVE' THEN NULL ELSE \(bind: token.issuedAt.epochMilliseconds) END"
                return [
                    ", ", Self.familyRow(of: token, revokedAt: revokedAt).part("family", from: "answered LEFT JOIN used ON TRUE"),
                    ", ", Self.refreshTokenRow(token).part("token", from: "answered"),
                ]
            } ?? []
        let row = try await pool.withWriteConnection { db in
            try await db.sql(
                """
                WITH answered AS (
                  UPDATE challenges SET attempts = attempts + 1, status = 'answered'
                  WHERE id = \(bind: id) AND device_id = \(bind: deviceID) AND status = 'open' AND attempts < max_attempts
                    AND expires_at > \(bind: nowMs)
                  RETURNING id),
                used AS (
                  UPDATE devices SET last_used_at = \(bind: nowMs) WHERE id = \(bind: deviceID) AND EXISTS (SELECT 1 FROM answered)
                  RETURNING status),
                \(Self.auditRow(audit, at: now).part("journal", from: "answered"))\(tokens.joined())
                SELECT id FROM answered
                """
            ).first()
        }
        return row != nil
    }

    public func insertChallenge(_ challenge: Challenge, notifications: [OutboxNotification]) async throws {
        try await pool.withTransaction { db in
            try await Self.insert(challenge, into: db)
            for notification in notifications { try await Self.insert(notification, into: db) }
        }
    }

    public func resolveChallenge(id: String, to status: Challenge.Status, deviceID: String, at now: Date) async throws -> Bool {
        try await pool.withWriteConnection { db in
            try await db.sql(
                """
                UPDATE challenges SET status = \(bind: status.rawValue), device_id = \(bind: deviceID)
                WHERE id = \(bind: id) AND status = 'open' AND expires_at > \(bind: now.epochMilliseconds) RETURNING id
                """
            ).first() != nil
        }
    }

    public func redeemChallenge(id: String) async throws -> String? {
        try await pool.withWriteConnection { db in
            try await db.sql(
                "UPDATE challenges SET status = 'redeemed' WHERE id = \(bind: id) AND status = 'answered' RETURNING device_id"
            ).first()?.string("device_id")
        }
    }

    private static func insert(_ challenge: Challenge, into db: any SQLDatabase) async throws {
        try await db.sql(
            """
            INSERT INTO challenges (id, kind, user_id, device_id, payload, status, attempts, max_attempts, created_at, expires_at)
            VALUES (\(bind: challenge.id), \(bind: challenge.kind.rawValue), \(bind: challenge.userID), \(bind: challenge.deviceID),
                    \(bind: challenge.payload), \(bind: challenge.status.rawValue), \(bind: challenge.attempts),
                    \(bind: challenge.maxAttempts), \(bind: challenge.createdAt.epochMilliseconds),
                    \(bind: challenge.expiresAt.epochMilliseconds))
            """
        ).run()
    }

    static func insert(_ notification: OutboxNotification, into db: any SQLDatabase) async throws {
        try await notificationRow(notification).run(on: db)
    }

    static func notificationRow(_ notification: OutboxNotification) -> RowInsert {
        RowInsert(
            table: "notifications",
            columns: "id, kind, user_id, recipient, sealed_body, status, attempts, next_attempt_at, created_at, sent_at",
            values: """
                \(bind: notification.id), \(bind: notification.kind.rawValue), \(bind: notification.userID),
                \(bind: notification.recipient), \(bind: notification.sealedBody), \(bind: notification.status.rawValue),
                \(bind: notification.attempts), \(bind: notification.nextAttemptAt.epochMilliseconds),
                \(bind: notification.createdAt.epochMilliseconds), \(bind: notification.sentAt?.epochMilliseconds)
                """)
    }

    public func challenge(id: String) async throws -> Challenge? {
        try await pool.withConnection { db in
            try await db.sql("SELECT * FROM challenges WHERE id = \(bind: id)").first()
        }.map { try Self.challenge(from: $0) }
    }

    /// A challenge from a row whose challenge columns are named with `prefix` (a join's aliases).
    static func challenge(from row: any SQLRow, prefix: String = "") throws -> Challenge {
        Challenge(
            id: try row.string(prefix + "id"), kind: Challenge.Kind(rawValue: try row.string(prefix + "kind")) ?? .deviceSignature,
            userID: try row.string(prefix + "user_id"), deviceID: try row.string(prefix + "device_id"),
            payload: try row.string(prefix + "payload"),
            status: Challenge.Status(rawValue: try row.string(prefix + "status")) ?? .failed, attempts: try row.int(prefix + "attempts"),
            maxAttempts: try row.int(prefix + "max_attempts"), createdAt: try row.date(prefix + "created_at"),
            expiresAt: try row.date(prefix + "expires_at"))
    }

    public func completeChallenge(id: String, at now: Date, activatingDevice: (id: String, status: Device.Status)?) async throws -> Bool {
        try await pool.withTransaction { db in
            let answered = try await db.sql(
                "UPDATE challenges SET status = 'answered' WHERE id = \(bind: id) AND status = 'open' RETURNING id"
            ).first()
            guard answered != nil else { return false }
            if let (deviceID, status) = activatingDevice {
                let activatedAt: Int64? = status == .active ? now.epochMilliseconds : nil
                let activated = try await db.sql(
                    """
                    UPDATE devices SET status = \(bind: status.rawValue), activated_at = \(bind: activatedAt)
                    WHERE id = \(bind: deviceID) AND status = 'CREATED' RETURNING id
                    """
                ).first()
                guard activated != nil else { throw StoreError.conflict("device \(deviceID) is no longer CREATED") }
            }
            return true
        }
    }

    public func approvePendingDevice(id deviceID: String, approverID: String, userID: String, at now: Date) async throws -> Bool {
        try await pool.withTransaction { db in
            let approver = try await db.sql(
                """
                UPDATE devices SET last_used_at = \(bind: now.epochMilliseconds)
                WHERE id = \(bind: approverID) AND user_id = \(bind: userID) AND kind = \(bind: Device.Kind.ecdsaP256.rawValue)
                  AND status = 'ACTIVE' RETURNING id
                """
            ).first()
            guard approver != nil else { return false }
            // The device's approval in the engine is decided with it (before the device row, the
            // same lock order as `decidePendingDeviceApproval`, so the two never deadlock).
            try await db.sql(
                """
                UPDATE approvals SET status = 'APPROVED', updated_at = \(bind: now.epochMilliseconds)
                WHERE user_id = \(bind: userID) AND template = \(bind: ApprovalService.newDeviceTemplate) AND external_id = \(bind: deviceID)
                  AND status = 'PENDING'
                """
            ).run()
            // A Kontist device's commit (`DeviceAction.commit`), only in the approval's transaction.
            let approved = try await db.sql(
                """
                UPDATE devices SET status = \(bind: DeviceAction.commit.to.rawValue), activated_at = \(bind: now.epochMilliseconds)
                WHERE id = \(bind: deviceID) AND user_id = \(bind: userID) AND status IN (\(binds: DeviceAction.commit.fromRawValues))
                RETURNING id
                """
            ).first()
            guard approved != nil else { throw StoreError.conflict("device \(deviceID) is no longer PENDING_COMMIT") }
            return true
        }
    }

    public func completeBindingChallenge(id: String, deviceID: String, userID: String, approvalRequired: Bool, approval: Approval?, at now: Date)
        async throws -> Device.Status?
    {
        try await pool.withTransaction { db in
            let answered = try await db.sql(
                "UPDATE challenges SET status = 'answered' WHERE id = \(bind: id) AND status = 'open' RETURNING id"
            ).first()
            guard answered != nil else { return nil }
            // The per-user lock: concurrent bindings of one user queue on the user's row here
            // (PostgreSQL row lock, held to commit; SQLite has one writer), and under READ
            // COMMITTED the next statement sees every binding committed before the lock was
            // granted. Without it two "first" devices each saw no ACTIVE one and both activated.
            try await db.sql("UPDATE users SET status = status WHERE id = \(bind: userID)").run()
            var target = Device.Status.active
            if approvalRequired {
                // Any ACTIVE device of the user, of either kind: a PowerAuth registration is a
                // device of the realm's user as much as a Kontist key (docs/security-model.md). Counting only
                // `ecdsa-p256` let a password token plus the SMS OTP bind a device unapproved.
                let bound =
                    try await db.sql(
                        """
                        SELECT COUNT(*) AS n FROM devices
                        WHERE user_id = \(bind: userID) AND id <> \(bind: deviceID) AND status = 'ACTIVE'
                        """
                    ).first()?.int("n") ?? 0
                if bound > 0 { target = .pendingCommit }
            }
            let activatedAt: Int64? = target == .active ? now.epochMilliseconds : nil
            let moved = try await db.sql(
                """
                UPDATE devices SET status = \(bind: target.rawValue), activated_at = \(bind: activatedAt)
                WHERE id = \(bind: deviceID) AND user_id = \(bind: userID) AND status = 'CREATED' RETURNING id
                """
            ).first()
            guard moved != nil else { throw StoreError.conflict("device \(deviceID) is no longer CREATED") }
            if target == .pendingCommit, let approval {
                try await Self.insert(approval, into: db)
            }
            return target
        }
    }

    public func decidePendingDeviceApproval(
        approvalID: String, deviceID: String, approverID: String, userID: String, approve: Bool, reason: String?, at now: Date
    ) async throws -> PendingDeviceDecision {
        let nowMs = now.epochMilliseconds
        return try await pool.withTransaction { db in
            // Lock order: approver, approval, new device (as `approvePendingDevice`).
            let approver = try await db.sql(
                """
                UPDATE devices SET last_used_at = \(bind: nowMs)
                WHERE id = \(bind: approverID) AND user_id = \(bind: userID) AND id <> \(bind: deviceID) AND status = 'ACTIVE'
                RETURNING id
                """
            ).first()
            guard approver != nil else { return .approverNotActive }
            let decision = approve ? Approval.Status.approved : .rejected
            let decided = try await db.sql(
                """
                UPDATE approvals SET status = \(bind: decision.rawValue), status_reason = \(bind: reason), updated_at = \(bind: nowMs)
                WHERE id = \(bind: approvalID) AND user_id = \(bind: userID) AND template = \(bind: ApprovalService.newDeviceTemplate)
                  AND external_id = \(bind: deviceID) AND status = 'PENDING' AND expires_at > \(bind: nowMs)
                RETURNING id
                """
            ).first()
            guard decided != nil else { return .approvalClosed }
            // Approved: the device's commit (`DeviceAction.commit`); rejected: it is removed from
            // the same from-set (a device no longer waiting is not removed by a rejection).
            let moved =
                approve
                ? try await db.sql(
                    """
                    UPDATE devices SET status = \(bind: DeviceAction.commit.to.rawValue), activated_at = \(bind: nowMs)
                    WHERE id = \(bind: deviceID) AND user_id = \(bind: userID) AND status IN (\(binds: DeviceAction.commit.fromRawValues))
                    RETURNING id
                    """
                ).first()
                : try await db.sql(
                    """
                    UPDATE devices SET status = \(bind: DeviceAction.remove.to.rawValue)
                    WHERE id = \(bind: deviceID) AND user_id = \(bind: userID) AND status IN (\(binds: DeviceAction.commit.fromRawValues))
                    RETURNING id
                    """
                ).first()
            guard moved != nil else {
                try await db.sql(
                    """
                    UPDATE approvals SET status = 'CANCELED', status_reason = 'DEVICE_NOT_PENDING', updated_at = \(bind: nowMs)
                    WHERE id = \(bind: approvalID)
                    """
                ).run()
                return .deviceNotPending
            }
            return .decided
        }
    }

    public func failChallengeIfExhausted(id: String) async throws {
        try await pool.withWriteConnection { db in
            try await db.sql(
                "UPDATE challenges SET status = 'failed' WHERE id = \(bind: id) AND status = 'open' AND attempts >= max_attempts"
            ).run()
        }
    }
}

extension SQLStore: NotificationOutbox {
    public func enqueue(_ notifications: [OutboxNotification]) async throws {
        guard !notifications.isEmpty else { return }
        try await pool.withTransaction { db in
            for notification in notifications { try await Self.insert(notification, into: db) }
        }
    }

    public func claimDueNotifications(at now: Date, limit: Int, lease: TimeInterval) async throws -> [OutboxNotification] {
        let skipLocked = pool.engine == .postgres ? "FOR UPDATE SKIP LOCKED" : ""
        let nowMs = now.epochMilliseconds
        let leaseUntil = now.addingTimeInterval(lease).epochMilliseconds
        return try await pool.withTransaction { db in
            try await db.sql(
                """
                UPDATE notifications SET next_attempt_at = \(bind: leaseUntil), attempts = attempts + 1
                WHERE id IN (
                    SELECT id FROM notifications WHERE status = 'pending' AND next_attempt_at <= \(bind: nowMs)
                    ORDER BY next_attempt_at LIMIT \(bind: limit) \(unsafeRaw: skipLocked))
                RETURNING *
                """
            ).all()
        }.map { row in
            OutboxNotification(
                id: try row.string("id"), kind: OutboxNotification.Kind(rawValue: try row.string("kind")) ?? .smsOTP,
                userID: try row.string("user_id"), recipient: try row.string("recipient"),
                sealedBody: try row.string("sealed_body"),
                status: OutboxNotification.Status(rawValue: try row.string("status")) ?? .pending,
                attempts: try row.int("attempts"), nextAttemptAt: try row.date("next_attempt_at"),
                createdAt: try row.date("created_at"), sentAt: try row.optionalDate("sent_at"))
        }
    }

    public func markNotificationsSent(ids: [String], at now: Date) async throws {
        guard !ids.isEmpty else { return }
        try await pool.withTransaction { db in
            for chunk in Self.statementChunks(of: ids) {
                try await db.sql(
                    "UPDATE notifications SET status = 'sent', sent_at = \(bind: now.epochMilliseconds) WHERE id IN (\(binds: Array(chunk)))"
                ).run()
            }
        }
    }

    public func markNotificationFailed(id: String, nextAttemptAt: Date, dead: Bool) async throws {
        try await pool.withWriteConnection { db in
            try await db.sql(
                """
                UPDATE notifications SET status = \(bind: dead ? "dead" : "pending"), next_attempt_at = \(bind: nextAttemptAt.epochMilliseconds)
                WHERE id = \(bind: id) AND status = 'pending'
                """
            ).run()
        }
    }
}
