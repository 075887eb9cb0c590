import Foundation
import SQLKit
import StrongAuthCore
import StrongAuthProtocol

/// Failed authentications of unauthenticated callers, counted per window (see
/// `AuditFailurePolicy`) instead of one append-only audit row each (SECURITY.md).
extension SQLStore {
    /// Key columns are at most this long: an attacker chooses client ids and user names, and a
    /// PostgreSQL index entry has a size limit (the record says which prefix was presented).
    static let failureKeyLength = 200

    public func recordFailure(_ record: AuditRecord, at now: Date, policy: AuditFailurePolicy) async throws {
        let start = policy.windowStart(of: now)
        let end = start + policy.windowSeconds * 1000
        let nowMs = now.epochMilliseconds
        func key(_ value: String?) -> String { String((value ?? "").prefix(Self.failureKeyLength)) }
        let actor = key(record.actor), subject = key(record.subject), source = key(record.sourceAddress)
        let reason = key(record.details["reason"])
        let overflow = AuditFailurePolicy.overflow
        // ONE statement: the key is counted when it is already in the window or the window has
        // room; otherwise the failure is counted in its action's overflow row. The upsert is
        // atomic on both databases, so concurrent failures on several nodes all count.
        try await pool.withWriteConnection { db in
            try await db.sql(
                """
                INSERT INTO audit_failures (window_start, window_end, realm_id, action, actor, subject, source_address, reason,
                                            failures, first_seen, last_seen)
                SELECT \(bind: start), \(bind: end), CASE WHEN k.fits THEN k.realm ELSE '' END, \(bind: record.action.rawValue),
                       CASE WHEN k.fits THEN \(bind: actor) ELSE \(bind: overflow) END,
                       CASE WHEN k.fits THEN \(bind: subject) ELSE \(bind: overflow) END,
                       CASE WHEN k.fits THEN \(bind: source) ELSE \(bind: overflow) END,
                       CASE WHEN k.fits THEN \(bind: reason) ELSE \(bind: overflow) END,
                       1, \(bind: nowMs), \(bind: nowMs)
                FROM (
                    SELECT r.realm AS realm,
                           (EXISTS (SELECT 1 FROM audit_failures f
                                    WHERE f.window_start = \(bind: start) AND f.realm_id = r.realm AND f.action = \(bind: record.action.rawValue)
                                      AND f.actor = \(bind: actor) AND f.subject = \(bind: subject)
                                      AND f.source_address = \(bind: source) AND f.reason = \(bind: reason))
                            OR (SELECT COUNT(*) FROM audit_failures f WHERE f.window_start = \(bind: start)) < \(bind: policy.maxKeysPerWindow))
                           AS fits
                    FROM (SELECT COALESCE(\(bind: record.realm), \(Self.realmOf(record.subject)), \(Self.realmOf(record.actor)), '') AS realm) r
                ) k
                WHERE 1 = 1
                ON CONFLICT (window_start, realm_id, action, actor, subject, source_address, reason) DO UPDATE SET
                    failures = audit_failures.failures + 1,
                    first_seen = CASE WHEN excluded.first_seen < audit_failures.first_seen THEN excluded.first_seen
                                      ELSE audit_failures.first_seen END,
                    last_seen = CASE WHEN excluded.last_seen > audit_failures.last_seen THEN excluded.last_seen
                                     ELSE audit_failures.last_seen END
                """
            ).run()
        }
    }

    @discardableResult
    public func sealFailureWindows(closedBy now: Date) async throws -> Int {
        let nowMs = now.epochMilliseconds
        return try await pool.withTransaction { db in
            // The DELETE claims the closed windows: a second node's sealer finds them gone (on
            // PostgreSQL it waits for the first one's row locks, then sees nothing). The records
            // are journaled in the same transaction, so a window is written exactly once.
            let rows = try await db.sql("DELETE FROM audit_failures WHERE window_end <= \(bind: nowMs) RETURNING *").all()
            // In a fixed order, so that every node would journal a window's records alike.
            func order(_ count: AuditFailureCount) -> String {
                [count.action.rawValue, count.realm ?? "", count.actor, count.subject ?? "", count.sourceAddress ?? "", count.reason]
                    .joined(separator: "\u{0}")
            }
            let counts = try rows.map(Self.failureCount(from:)).sorted {
                ($0.windowStart, order($0)) < ($1.windowStart, order($1))
            }
            for count in counts {
                let record = Self.auditRecord(of: count)
                let details = record.detailsJSON
                try await db.sql(
                    """
                    INSERT INTO audit_journal (id, occurred_at, actor, action, subject, source_address, outcome, details, realm_id)
                    VALUES (\(bind: SecureRandom.uuid()), \(bind: count.windowEnd.epochMilliseconds), \(bind: record.actor),
                            \(bind: record.action.rawValue), \(bind: record.subject), \(bind: record.sourceAddress), 'failure', \(bind: details),
                            \(bind: count.realm))
                    """
                ).run()
            }
            return counts.count
        }
    }

    public func openFailureWindows(realm: String?, limit: Int) async throws -> [AuditFailureCount] {
        let condition: StoreSQL =
            switch realm {
            case nil: "1 = 1"
            // Installation-wide counts (unknown client ids name no realm) are the default realm's.
            case Realm.defaultID?: "realm_id IN ('', \(bind: Realm.defaultID))"
            case let realm?: "realm_id = \(bind: realm)"
            }
        return try await pool.withConnection { db in
            try await db.sql(
                "SELECT * FROM audit_failures WHERE \(condition) ORDER BY window_start DESC, failures DESC, action, actor LIMIT \(bind: limit)"
            ).all()
        }.map(Self.failureCount(from:))
    }

    static func failureCount(from row: any SQLRow) throws -> AuditFailureCount {
        func optional(_ column: String) throws -> String? {
            let value = try row.string(column)
            return value.isEmpty ? nil : value
        }
        return AuditFailureCount(
            windowStart: try row.date("window_start"), windowEnd: try row.date("window_end"), realm: try optional("realm_id"),
            action: AuditAction(rawValue: try row.string("action")), actor: try row.string("actor"), subject: try optional("subject"),
            sourceAddress: try optional("source_address"), reason: try row.string("reason"),
            count: try row.decode(column: "failures", as: Int.self), firstSeen: try row.date("first_seen"), lastSeen: try row.date("last_seen"))
    }

    /// The one chained record of a closed window: the failures' key, and in its details how many
    /// there were and when (`count`, `window_start`/`window_end`, `first_seen`/`last_seen`).
    static func auditRecord(of count: AuditFailureCount) -> AuditRecord {
        func iso(_ date: Date) -> String { InternetTimestamp.string(from: date) }
        var details = [
            "count": String(count.count), "window_start": iso(count.windowStart), "window_end": iso(count.windowEnd),
            "first_seen": iso(count.firstSeen), "last_seen": iso(count.lastSeen),
        ]
        if !count.reason.isEmpty { details["reason"] = count.reason }
        if count.isOverflow { details["overflow"] = "true" }
        return AuditRecord(
            actor: count.actor, action: count.action, subject: count.subject, sourceAddress: count.sourceAddress, outcome: .failure,
            details: details, realm: count.realm)
    }
}
