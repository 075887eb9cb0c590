import Foundation
import SQLKit
import StrongAuthCore

/// `AttemptRepository`: one entry point, dispatching on the factor to the row and columns that
/// hold its counter. Each branch is the ONE atomic conditional update that makes that factor's
/// limit hold across nodes (docs/architecture.md, "adding a factor").
extension SQLStore: AttemptRepository {
    public func reserveAttempt(_ factor: Factor, subject: AttemptSubject, at now: Date) async throws -> AttemptReservation? {
        guard subject.kind == factor.subjectKind else { throw AttemptSubjectMismatch(factor: factor, subject: subject.kind) }
        switch (factor, subject) {
        case (.password, .user(let id)), (.bindingOTP, .user(let id)), (.operatorPassword, .operator(let id)),
            (.operatorTOTP, .operator(let id)):
            let (table, count, lock) = try Self.lockColumns(factor, subject: subject)
            return try await reserveLockedAttempt(
                table: table, id: id, count: count, lock: lock, at: now, policy: try lockout(for: factor, subject: subject))
        case (.challenge, .challenge(let id)):
            return try await reserveChallengeAttempt(id: id, at: now)
        case (.accessTool, .accessTool(let userID, let tool)):
            return try await reserveAccessToolAttempt(userID: userID, tool: tool, at: now)
        case (.powerAuthSignature, .activation(let id, let webhooks)):
            return try await countActivationFailure(
                id: id, in: ["ACTIVE"], atMaximum: .blocked, reason: BlockedReason.maxFailedAttempts, webhooks: webhooks)
        case (.powerAuthActivationOTP, .activation(let id, let webhooks)):
            return try await countActivationFailure(
                id: id, in: ["CREATED", "PENDING_COMMIT"], atMaximum: .removed, reason: nil, webhooks: webhooks)
        case (.approvalAnswer, .approval(let id, let webhooks)):
            return try await countApprovalFailure(id: id, webhooksIfFailed: webhooks, at: now)
        default:
            throw AttemptSubjectMismatch(factor: factor, subject: subject.kind)
        }
    }

    public func resetAttempts(_ factor: Factor, subject: AttemptSubject) async throws {
        let (table, count, lock) = try Self.lockColumns(factor, subject: subject)
        let id: String
        switch subject {
        case .user(let userID): id = userID
        case .operator(let operatorID): id = operatorID
        default: throw AttemptSubjectMismatch(factor: factor, subject: subject.kind)
        }
        try await pool.withWriteConnection { db in
            try await db.sql(
                "UPDATE \(unsafeRaw: table) SET \(unsafeRaw: count) = 0, \(unsafeRaw: lock) = NULL WHERE id = \(bind: id)"
            ).run()
        }
    }

    private func lockout(for factor: Factor, subject: AttemptSubject) throws -> LockoutPolicy {
        guard let policy = attemptLimits.lockout(for: factor) else {
            throw AttemptSubjectMismatch(factor: factor, subject: subject.kind)
        }
        return policy
    }

    /// The table and the counter and lock columns of each factor that locks for a while.
    private static func lockColumns(_ factor: Factor, subject: AttemptSubject) throws -> (table: String, count: String, lock: String) {
        switch (factor, subject.kind) {
        case (.password, .user): ("users", "failed_password_attempts", "password_locked_until")
        case (.bindingOTP, .user): ("users", "failed_binding_attempts", "binding_locked_until")
        case (.operatorPassword, .operator): ("operators", "failed_password_attempts", "password_locked_until")
        case (.operatorTOTP, .operator): ("operators", "failed_totp_attempts", "totp_locked_until")
        default: throw AttemptSubjectMismatch(factor: factor, subject: subject.kind)
        }
    }

    /// Counts one attempt of a factor whose counter and lock are the columns `count` and `lock`
    /// of the row `id` of `table` (users, operators).
    private func reserveLockedAttempt(
        table: String, id: String, count: String, lock: String, at now: Date, policy: LockoutPolicy
    ) async throws -> AttemptReservation? {
        let lockUntil = now.addingTimeInterval(policy.lockDuration).epochMilliseconds
        // One conditional UPDATE: refused while locked; a lock that has run out restarts the
        // count; the attempt that reaches the maximum sets the lock. Old values on the right.
        let row = try await pool.withWriteConnection { db in
            try await db.sql(
                """
                UPDATE \(unsafeRaw: table) SET
                  \(unsafeRaw: count) = CASE WHEN \(unsafeRaw: lock) IS NOT NULL THEN 1 ELSE \(unsafeRaw: count) + 1 END,
                  \(unsafeRaw: lock) = CASE
                    WHEN (CASE WHEN \(unsafeRaw: lock) IS NOT NULL THEN 1 ELSE \(unsafeRaw: count) + 1 END)
                         >= \(bind: policy.maxFailures) THEN \(bind: lockUntil)
                    ELSE NULL END
                WHERE id = \(bind: id)
                  AND (\(unsafeRaw: lock) IS NULL OR \(unsafeRaw: lock) <= \(bind: now.epochMilliseconds))
                RETURNING \(unsafeRaw: count) AS attempts, \(unsafeRaw: lock) AS locked_until
                """
            ).first()
        }
        guard let row else { return nil }
        let attempts = try row.int("attempts")
        return AttemptReservation(
            attempts: attempts, remaining: max(0, policy.maxFailures - attempts), lockedUntil: try row.optionalDate("locked_until"))
    }

    /// One answer to a challenge: only while it is open, unexpired and has attempts left.
    private func reserveChallengeAttempt(id: String, at now: Date) async throws -> AttemptReservation? {
        let row = try await pool.withWriteConnection { db in
            try await db.sql(
                """
                UPDATE challenges SET attempts = attempts + 1
                WHERE id = \(bind: id) AND status = 'open' AND attempts < max_attempts AND expires_at > \(bind: now.epochMilliseconds)
                RETURNING attempts, max_attempts
                """
            ).first()
        }
        guard let row else { return nil }
        let attempts = try row.int("attempts")
        return AttemptReservation(attempts: attempts, remaining: max(0, try row.int("max_attempts") - attempts))
    }

    /// `attempts_left - 1 WHERE attempts_left > 0`: 0 left means this was the last, and a wrong
    /// answer leaves the tool blocked.
    private func reserveAccessToolAttempt(userID: String, tool: AccessTool, at now: Date) async throws -> AttemptReservation? {
        try await pool.withWriteConnection { db in
            try await db.sql("\(Self.takeAccessToolAttemptSQL(userID: userID, tool: tool, at: now)) RETURNING attempts_left").first()
        }.map { AttemptReservation(attempts: nil, remaining: try $0.int("attempts_left")) }
    }

    /// failures + 1, and `→ atMaximum` when that reaches the maximum, in one conditional update
    /// (SET expressions read the row's old values on both engines); at the maximum the
    /// activation code is cleared and `webhooks` are queued in the same transaction.
    private func countActivationFailure(
        id: String, in statuses: [String], atMaximum: Device.Status, reason: String?, webhooks: [WebhookDelivery]
    ) async throws -> AttemptReservation? {
        try await pool.withTransaction { db in
            guard
                let row = try await db.sql(
                    """
                    UPDATE devices SET failed_attempts = failed_attempts + 1,
                        status = CASE WHEN failed_attempts + 1 >= max_failed_attempts THEN \(bind: atMaximum.rawValue) ELSE status END,
                        blocked_reason = CASE WHEN failed_attempts + 1 >= max_failed_attempts THEN \(bind: reason) ELSE blocked_reason END
                    WHERE id = \(bind: id) AND status IN (\(binds: statuses))
                    RETURNING failed_attempts, max_failed_attempts, status
                    """
                ).first()
            else { return nil }
            let failed = try row.int("failed_attempts")
            let status = Device.Status(rawValue: try row.string("status")) ?? .removed
            if status == atMaximum {
                try await db.sql("UPDATE powerauth_activations SET activation_code = NULL WHERE device_id = \(bind: id)").run()
                try await Self.insert(webhooks, into: db)
            }
            return AttemptReservation(attempts: failed, remaining: max(0, try row.int("max_failed_attempts") - failed))
        }
    }

    /// A wrong answer to a pending approval: failures + 1 and, at the maximum,
    /// `PENDING → FAILED` with `webhooksIfFailed`, in one transaction.
    private func countApprovalFailure(id: String, webhooksIfFailed: [WebhookDelivery], at now: Date) async throws -> AttemptReservation? {
        let nowMs = now.epochMilliseconds
        return try await pool.withTransaction { db in
            guard
                let row = try await db.sql(
                    """
                    UPDATE approvals SET failure_count = failure_count + 1,
                        status = CASE WHEN failure_count + 1 >= max_failure_count THEN 'FAILED' ELSE status END,
                        updated_at = \(bind: nowMs)
                    WHERE id = \(bind: id) AND status = 'PENDING' AND expires_at > \(bind: nowMs)
                    RETURNING failure_count, max_failure_count, status
                    """
                ).first()
            else { return nil }
            let status = Approval.Status(rawValue: try row.string("status")) ?? .failed
            if status == .failed { try await Self.insert(webhooksIfFailed, into: db) }
            let failures = try row.int("failure_count")
            return AttemptReservation(attempts: failures, remaining: max(0, try row.int("max_failure_count") - failures))
        }
    }
}
