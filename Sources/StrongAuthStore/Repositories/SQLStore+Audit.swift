import Foundation
import SQLKit
import StrongAuthCore
import StrongAuthProtocol

extension SQLStore: AuditLog {
    public func append(_ record: AuditRecord, at now: Date) async throws {
        try await pool.withWriteConnection { db in try await Self.insert(record, at: now, into: db) }
    }

    /// Journals one audit record on `db` (also inside the transaction of the change it records).
    static func insert(_ record: AuditRecord, at now: Date, into db: any SQLDatabase) async throws {
        try await auditRow(record, at: now).run(on: db)
    }

    /// The journal row of `record`. Its realm is the record's own, else `realm` (for a subject
    /// inserted in the same statement, which a subquery cannot see yet), else that of its subject,
    /// else that of its actor. `actor`, `subject` and `details`, when given, are SQL expressions
    /// that replace the record's (values known only to another part of the same statement).
    static func auditRow(
        _ record: AuditRecord, at now: Date, realm: StoreSQL? = nil, actor: StoreSQL? = nil, subject: StoreSQL? = nil, details: StoreSQL? = nil
    ) -> RowInsert {
        RowInsert(
            table: "audit_journal", columns: "id, occurred_at, actor, action, subject, source_address, outcome, details, realm_id",
            values: """
                \(bind: SecureRandom.timeOrderedUUID(at: now)), \(bind: now.epochMilliseconds), \(actor ?? "\(bind: record.actor)"),
                \(bind: record.action.rawValue), \(subject ?? "\(bind: record.subject)"), \(bind: record.sourceAddress),
                \(bind: record.outcome.rawValue), \(details ?? "\(bind: record.detailsJSON)"),
                COALESCE(\(bind: record.realm), \(realm ?? "NULL"), \(Self.realmOf(record.subject)), \(Self.realmOf(record.actor)))
                """)
    }

    /// The realm of an audit reference (`user:<id>`, `device:<id>`, `client:<id>`, …), as a
    /// scalar subquery: every append is attributed to a realm without each caller naming it.
    /// NULL when the reference names nothing realm-owned (or nothing that still exists).
    static func realmOf(_ reference: String?) -> StoreSQL {
        guard let reference, let colon = reference.firstIndex(of: ":") else { return "NULL" }
        let id = String(reference[reference.index(after: colon)...])
        switch reference[..<colon] {
        case "user": return "(SELECT realm_id FROM users WHERE id = \(bind: id))"
        case "device":
            return "(SELECT u.realm_id FROM devices d JOIN users u ON u.id = d.user_id WHERE d.id = \(bind: id))"
        case "client": return "(SELECT realm_id FROM clients WHERE id = \(bind: id))"
        case "integration-user": return "(SELECT realm_id FROM integration_users WHERE name = \(bind: id))"
        case "application": return "(SELECT realm_id FROM powerauth_applications WHERE id = \(bind: id))"
        case "operator": return "(SELECT realm_id FROM operators WHERE id = \(bind: id))"
        case "approval":
            return "(SELECT u.realm_id FROM approvals a JOIN users u ON u.id = a.user_id WHERE a.id = \(bind: id))"
        case "family":
            return "(SELECT u.realm_id FROM token_families f JOIN users u ON u.id = f.user_id WHERE f.id = \(bind: id))"
        case "session":
            return "(SELECT u.realm_id FROM login_sessions s JOIN users u ON u.id = s.user_id WHERE s.id = \(bind: id))"
        case "process":
            return "(SELECT u.realm_id FROM processes p JOIN users u ON u.id = p.user_id WHERE p.id = \(bind: id))"
        case "realm": return "(SELECT id FROM realms WHERE id = \(bind: id))"
        default: return "NULL"
        }
    }

    public func sealAuditJournal(limit: Int) async throws -> Int {
        let engine = pool.engine
        return try await pool.withTransaction { db in
            if engine == .postgres {
                // One chain across every node: sealers take turns (SQLite's BEGIN IMMEDIATE already does).
                try await db.sql("SELECT pg_advisory_xact_lock(727002)").run()
            }
            let journaled = try await db.sql("SELECT * FROM audit_journal ORDER BY occurred_at, id LIMIT \(bind: limit)").all()
            guard !journaled.isEmpty else { return 0 }
            let head = try await db.sql("SELECT sequence, hash FROM audit_events ORDER BY sequence DESC LIMIT 1").first()
            var sequence = try head?.decode(column: "sequence", as: Int64.self) ?? 0
            var previousHash = try head?.string("hash") ?? AuditChain.genesisHash
            var sealed: [SealedAuditEvent] = []
            for row in journaled {
                sequence += 1
                let occurredAt = try row.date("occurred_at")
                let detailsJSON = try row.string("details")
                let record = AuditRecord(
                    actor: try row.string("actor"), action: AuditAction(rawValue: try row.string("action")),
                    subject: try row.optionalString("subject"),
                    sourceAddress: try row.optionalString("source_address"),
                    outcome: AuditRecord.Outcome(rawValue: try row.string("outcome")) ?? .failure,
                    details: JSONStringObjectReader.stringObject(detailsJSON))
                let hash = AuditChain.hash(sequence: sequence, occurredAt: occurredAt, record: record, previousHash: previousHash)
                sealed.append(
                    SealedAuditEvent(
                        journalID: try row.string("id"), sequence: sequence, occurredAt: occurredAt, record: record, detailsJSON: detailsJSON,
                        previousHash: previousHash, hash: hash, realmID: try row.optionalString("realm_id")))
                previousHash = hash
            }
            // A few rows per statement, in a few fixed shapes (32, 8 and 1 rows), so that every
            // statement comes from the statement cache: one round trip per chunk, not per event.
            for chunk in Self.statementChunks(of: sealed) {
                try await db.sql(
                    """
                    INSERT INTO audit_events (sequence, occurred_at, actor, action, subject, source_address, outcome, details, previous_hash,
                                              hash, realm_id)
                    VALUES \(chunk.map(\.values).joined(separator: ", "))
                    """
                ).run()
                try await db.sql("DELETE FROM audit_journal WHERE id IN (\(binds: chunk.map(\.journalID)))").run()
            }
            return sealed.count
        }
    }

    public func auditEvents(after sequence: Int64, limit: Int) async throws -> [AuditEvent] {
        while try await sealAuditJournal(limit: 500) > 0 {}
        return try await pool.withConnection { db in
            try await db.sql(
                "SELECT * FROM audit_events WHERE sequence > \(bind: sequence) ORDER BY sequence LIMIT \(bind: limit)"
            ).all()
        }.map(Self.auditEvent(from:))
    }

    static func auditEvent(from row: any SQLRow) throws -> AuditEvent {
        let detailsJSON = try row.string("details")
        let details = JSONStringObjectReader.stringObject(detailsJSON)
        return AuditEvent(
            sequence: try row.decode(column: "sequence", as: Int64.self), occurredAt: try row.date("occurred_at"),
            record: AuditRecord(
                actor: try row.string("actor"), action: AuditAction(rawValue: try row.string("action")), subject: try row.optionalString("subject"),
                sourceAddress: try row.optionalString("source_address"),
                outcome: AuditRecord.Outcome(rawValue: try row.string("outcome")) ?? .failure, details: details,
                realm: try row.optionalString("realm_id")),
            previousHash: try row.string("previous_hash"), hash: try row.string("hash"))
    }
}

/// One journaled record with its place in the hash chain, ready to be inserted.
private struct SealedAuditEvent {
    var journalID: String
    var sequence: Int64
    var occurredAt: Date
    var record: AuditRecord
    var detailsJSON: String
    var previousHash: String
    var hash: String
    var realmID: String?

    /// `(sequence, occurred_at, actor, action, subject, source_address, outcome, details, previous_hash, hash, realm_id)`.
    var values: StoreSQL {
        """
        (\(bind: sequence), \(bind: occurredAt.epochMilliseconds), \(bind: record.actor), \(bind: record.action.rawValue), \
        \(bind: record.subject), \(bind: record.sourceAddress), \(bind: record.outcome.rawValue), \(bind: detailsJSON), \
        \(bind: previousHash), \(bind: hash), \(bind: realmID))
        """
    }
}
