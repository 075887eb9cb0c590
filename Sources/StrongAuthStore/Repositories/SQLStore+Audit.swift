import Foundation
import SQLKit
import StrongAuthCore

extension SQLStore: AuditLog {
    @discardableResult
    public func append(_ record: AuditRecord, at now: Date) async throws -> AuditEvent {
        let engine = pool.engine
        let details = String(decoding: try JSONSerialization.data(withJSONObject: record.details, options: [.sortedKeys]), as: UTF8.self)
        return try await pool.withTransaction { db in
            if engine == .postgres {
                // One chain across every node: appends take turns (SQLite's BEGIN IMMEDIATE already does).
                try await db.raw("SELECT pg_advisory_xact_lock(727002)").run()
            }
            let head = try await db.raw("SELECT sequence, hash FROM audit_events ORDER BY sequence DESC LIMIT 1").first()
            let sequence = (try head?.decode(column: "sequence", as: Int64.self) ?? 0) + 1
            let previousHash = try head?.string("hash") ?? AuditChain.genesisHash
            let occurredAt = Date(epochMilliseconds: now.epochMilliseconds)
            let hash = AuditChain.hash(sequence: sequence, occurredAt: occurredAt, record: record, previousHash: previousHash)
            try await db.raw(
                """
                INSERT INTO audit_events (sequence, occurred_at, actor, action, subject, source_address, outcome, details, previous_hash, hash)
                VALUES (\(bind: sequence), \(bind: occurredAt.epochMilliseconds), \(bind: record.actor), \(bind: record.action),
                        \(bind: record.subject), \(bind: record.sourceAddress), \(bind: record.outcome.rawValue), \(bind: details),
                        \(bind: previousHash), \(bind: hash))
                """
            ).run()
            return AuditEvent(sequence: sequence, occurredAt: occurredAt, record: record, previousHash: previousHash, hash: hash)
        }
    }

    public func auditEvents(after sequence: Int64, limit: Int) async throws -> [AuditEvent] {
        try await pool.withConnection { db in
            try await db.raw(
                "SELECT * FROM audit_events WHERE sequence > \(bind: sequence) ORDER BY sequence LIMIT \(bind: limit)"
            ).all()
        }.map { row in
            let detailsJSON = try row.string("details")
            let details = (try? JSONSerialization.jsonObject(with: Data(detailsJSON.utf8))) as? [String: String] ?? [:]
            return AuditEvent(
                sequence: try row.decode(column: "sequence", as: Int64.self), occurredAt: try row.date("occurred_at"),
                record: AuditRecord(
                    actor: try row.string("actor"), action: try row.string("action"), subject: try row.optionalString("subject"),
                    sourceAddress: try row.optionalString("source_address"),
                    outcome: AuditRecord.Outcome(rawValue: try row.string("outcome")) ?? .failure, details: details),
                previousHash: try row.string("previous_hash"), hash: try row.string("hash"))
        }
    }
}
