import Foundation
import SQLKit
import StrongAuthCore
import StrongAuthStore
import Testing

/// Statements that run while a node serves, on tables that grow with the traffic, find their
/// rows through an index: SQLite's plan for each names no full scan of such a table. A scan there
/// costs nothing on a test's empty table and, on SQLite, holds the single write lock for as long
/// as reading millions of rows takes.
@Suite("SQLite query plans: no full scan of a growing table on a serving path")
struct QueryPlanTests {
    static let growingTables = [
        "challenges", "refresh_tokens", "token_families", "revoked_access_tokens", "notifications", "audit_journal", "audit_events",
        "approvals", "action_tokens", "devices", "users", "webhook_deliveries",
    ]

    /// The statements, with `?` for their binds, as the store and the schema write them. A plan
    /// names a table by its alias: the tables scanned for must appear here without one.
    static let statements: [(what: String, sql: String)] = [
        // The trigger `devices_leave_active_revoke_families` (migration 14): a device leaves ACTIVE.
        ("a device's families revoked", "UPDATE token_families SET revoked_at = 1 WHERE device_id = ? AND revoked_at IS NULL"),
        // Retention (SQLStore+Retention).
        ("expired challenges", "DELETE FROM challenges WHERE id IN (SELECT id FROM challenges WHERE expires_at < ? LIMIT 500)"),
        ("expired refresh tokens", "DELETE FROM refresh_tokens WHERE id IN (SELECT id FROM refresh_tokens WHERE expires_at < ? LIMIT 500)"),
        (
            "families left without tokens",
            "DELETE FROM token_families WHERE id IN (?, ?) AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family_id = token_families.id)"
        ),
        (
            "expired revocations",
            "DELETE FROM revoked_access_tokens WHERE jti IN (SELECT jti FROM revoked_access_tokens WHERE expires_at < ? LIMIT 500)"
        ),
        (
            "finished notifications",
            "DELETE FROM notifications WHERE id IN (SELECT id FROM notifications WHERE status IN ('sent', 'dead') AND next_attempt_at < ? LIMIT 500)"
        ),
        (
            "expired action tokens",
            "DELETE FROM action_tokens WHERE token_hash IN (SELECT token_hash FROM action_tokens WHERE expires_at < ? LIMIT 500)"
        ),
        // The approval sweeper (SQLStore+Approvals, every second).
        ("expired pending approvals", "SELECT * FROM approvals WHERE status = 'PENDING' AND expires_at <= ? ORDER BY expires_at LIMIT 100"),
        // Deleting a process identity (SQLStore+Processes, the process retention job).
        ("an identity's action tokens", "DELETE FROM action_tokens WHERE approval_id IN (SELECT id FROM approvals WHERE user_id = ?)"),
        ("an identity's approvals", "DELETE FROM approvals WHERE user_id = ?"),
        // Deleting a user (SQLStore+Users).
        ("a user's refresh tokens", "DELETE FROM refresh_tokens WHERE family_id IN (SELECT id FROM token_families WHERE user_id = ?)"),
        ("a user's families", "DELETE FROM token_families WHERE user_id = ?"),
        (
            "a user's challenges",
            "DELETE FROM challenges WHERE device_id IN (SELECT id FROM devices WHERE user_id = ?) OR (device_id = '' AND user_id = ?)"
        ),
        // The newest webhook deliveries (SQLStore+Webhooks; the admin API).
        ("newest webhook deliveries", "SELECT * FROM webhook_deliveries ORDER BY created_at DESC, id DESC LIMIT 50"),
        // The outbox's claim (SQLStore+Devices).
        ("due notifications", "SELECT id FROM notifications WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT 50"),
    ]

    @Test("each statement's plan searches an index", arguments: statements.map(\.what))
    func searchesAnIndex(what: String) async throws {
        let sql = try #require(Self.statements.first { $0.what == what }?.sql)
        try await TestDatabases.withStore(.sqlite) { store in
            let plan = try await store.pool.withConnection { db in
                // A literal where each bind goes: the plan is the same, and EXPLAIN needs no values.
                let literal = sql.replacingOccurrences(of: "?", with: "'1'")
                return try await db.raw("EXPLAIN QUERY PLAN \(unsafeRaw: literal)").all().map { try $0.decode(column: "detail", as: String.self) }
            }
            // Walking an index in its order up to a LIMIT (the newest rows first) reads only the
            // rows it returns; anything else that scans reads them all.
            let walksInOrder = sql.contains("LIMIT") && !plan.contains { $0.hasPrefix("USE TEMP B-TREE") }
            let scans = plan.filter { detail in
                Self.growingTables.contains { detail.hasPrefix("SCAN \($0)") }
                    && !(walksInOrder && detail.contains(" USING INDEX "))
            }
            #expect(scans == [], "\(what): \(plan)")
        }
    }
}
