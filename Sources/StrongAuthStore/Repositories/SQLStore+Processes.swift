import Foundation
import SQLKit
import StrongAuthCore

extension SQLStore: ProcessRepository {
    public func insertProcesses(_ processes: [IdentityProcess], identities: [User], audits: [AuditRecord], at now: Date) async throws {
        try await pool.withTransaction { db in
            for user in identities {
                let inserted = try await db.sql(
                    """
                    INSERT INTO users (id, username, password_hash, owner_client_id, status, created_at, process_identity, realm_id)
                    VALUES (\(bind: user.id), \(bind: user.username), \(bind: user.passwordHash), \(bind: user.ownerClientId),
                            \(bind: user.status.rawValue), \(bind: user.createdAt.epochMilliseconds), 1, \(bind: user.realmID))
                    ON CONFLICT DO NOTHING RETURNING id
                    """
                ).first()
                guard inserted != nil else { throw StoreError.conflict("user '\(user.username)'") }
            }
            for process in processes {
                try await db.sql(
                    """
                    INSERT INTO processes (id, token_hash, client_id, process_type, client_reference, user_id, exchanges, max_exchanges,
                                           invalidated_at, created_at, expires_at, delete_after)
                    VALUES (\(bind: process.id), \(bind: process.tokenHash), \(bind: process.clientID), \(bind: process.processType),
                            \(bind: process.clientReference), \(bind: process.userID), \(bind: process.exchanges),
                            \(bind: process.maxExchanges), \(bind: process.invalidatedAt?.epochMilliseconds),
                            \(bind: process.createdAt.epochMilliseconds), \(bind: process.expiresAt.epochMilliseconds),
                            \(bind: process.deleteAfter.epochMilliseconds))
                    """
                ).run()
            }
            for record in audits { try await Self.insert(record, at: now, into: db) }
        }
    }

    public func exchangeProcess(tokenHash: String, invalidate: Bool, source: String?, at now: Date) async throws
        -> (process: IdentityProcess, client: OAuthClient)?
    {
        let nowMs = now.epochMilliseconds
        // One statement decides: concurrent exchanges on any number of nodes serialise on the
        // row, and each re-checks the WHERE against the committed counter (READ COMMITTED), so
        // exactly `max_exchanges` succeed. With invalidate, the same update ends the process.
        let end: StoreSQL = invalidate ? ", invalidated_at = \(bind: nowMs)" : ""
        let exchange: StoreSQL = """
            UPDATE processes SET exchanges = exchanges + 1\(end)
            WHERE token_hash = \(bind: tokenHash) AND exchanges < max_exchanges AND invalidated_at IS NULL
              AND expires_at > \(bind: nowMs)
              AND EXISTS (SELECT 1 FROM users WHERE users.id = processes.user_id AND users.status = 'active')
              AND EXISTS (SELECT 1 FROM clients WHERE clients.id = processes.client_id AND clients.status = 'active')
            RETURNING *
            """
        if pool.engine == .postgres {
            // One statement: the journal row selects FROM the exchange, and the client (active, as
            // the update checked; clients are never deleted) is joined to the exchanged row.
            let row = try await pool.withWriteConnection { db in
                try await db.sql(
                    """
                    WITH exchanged AS (\(exchange)),
                    \(Self.exchangeJournalRow(invalidating: invalidate, source: source, at: now).part("journal", from: "exchanged"))
                    SELECT exchanged.*, \(unsafeRaw: Self.prefixedClientColumns)
                    FROM exchanged JOIN clients k ON k.id = exchanged.client_id
                    """
                ).first()
            }
            return try row.map { (try Self.process(from: $0), try Self.client(from: $0, prefix: "k_")) }
        }
        // SQLite: the exchange, its client and its audit record in one transaction.
        return try await pool.withTransaction { db in
            guard let row = try await db.sql(exchange).first() else { return nil }
            let process = try Self.process(from: row)
            // Found: the update checked it is active in this transaction, and clients are never
            // deleted. Were it not, the throw rolls the exchange back.
            guard let client = try await db.sql("SELECT * FROM clients WHERE id = \(bind: process.clientID)").first() else {
                throw MissingRow(table: "clients", id: process.clientID)
            }
            try await Self.insert(process.exchangeRecord(invalidating: invalidate, source: source), at: now, into: db)
            return (process, try Self.client(from: client))
        }
    }

    /// `IdentityProcess.exchangeRecord` as the journal row of PostgreSQL's one-statement exchange:
    /// its process-dependent fields are SQL over the `exchanged` row. The details are the JSON
    /// text `AuditRecord.detailsJSON` writes (keys sorted, values strings), put together in SQL:
    /// a process id is a UUID and the counts are integers, none of which JSON escapes.
    /// `auditedExchanges` in the store conformance suite holds both writings equal.
    static func exchangeJournalRow(invalidating: Bool, source: String?, at now: Date) -> RowInsert {
        let template = AuditRecord(
            actor: "process:", action: invalidating ? .processInvalidated : .processExchanged, subject: nil, sourceAddress: source,
            outcome: .success)
        return auditRow(
            template, at: now, realm: "(SELECT realm_id FROM users WHERE id = exchanged.user_id)",
            actor: "'process:' || exchanged.id", subject: "'user:' || exchanged.user_id",
            details: """
                '{"exchanges":"' || exchanged.exchanges || '","max_exchanges":"' || exchanged.max_exchanges || '","process":"' || exchanged.id || '"}'
                """)
    }

    public func process(tokenHash: String) async throws -> IdentityProcess? {
        try await pool.withConnection { db in
            try await db.sql("SELECT * FROM processes WHERE token_hash = \(bind: tokenHash)").first()
        }.map(Self.process(from:))
    }

    public func processesDueForDeletion(at now: Date, limit: Int) async throws -> [IdentityProcess] {
        try await pool.withConnection { db in
            try await db.sql(
                """
                SELECT * FROM processes WHERE delete_after <= \(bind: now.epochMilliseconds)
                ORDER BY delete_after, id LIMIT \(bind: limit)
                """
            ).all()
        }.map(Self.process(from:))
    }

    public func deleteProcess(id: String, at now: Date) async throws -> Bool {
        try await pool.withTransaction { db in
            // Approvals are data of the identity too (deleteUser leaves them to the approval engine).
            guard
                let row = try await db.sql(
                    "SELECT user_id FROM processes WHERE id = \(bind: id) AND delete_after <= \(bind: now.epochMilliseconds)"
                ).first()
            else { return false }
            let userID = try row.string("user_id")
            try await db.sql(
                "DELETE FROM action_tokens WHERE approval_id IN (SELECT id FROM approvals WHERE user_id = \(bind: userID))"
            ).run()
            try await db.sql("DELETE FROM approvals WHERE user_id = \(bind: userID)").run()
            return try await db.sql(
                "DELETE FROM processes WHERE id = \(bind: id) AND delete_after <= \(bind: now.epochMilliseconds) RETURNING id"
            ).first() != nil
        }
    }

    static func process(from row: any SQLRow) throws -> IdentityProcess {
        IdentityProcess(
            id: try row.string("id"), tokenHash: try row.string("token_hash"), clientID: try row.string("client_id"),
            processType: try row.string("process_type"), clientReference: try row.string("client_reference"),
            userID: try row.string("user_id"), exchanges: try row.int("exchanges"), maxExchanges: try row.int("max_exchanges"),
            invalidatedAt: try row.optionalDate("invalidated_at"), createdAt: try row.date("created_at"),
            expiresAt: try row.date("expires_at"), deleteAfter: try row.date("delete_after"))
    }
}

/// A row that a unit of work has just seen in the same transaction was not there: a broken
/// invariant, never an answer (the transaction rolls back).
struct MissingRow: Error, CustomStringConvertible {
    var table: String
    var id: String
    var description: String { "no row \(id) in \(table), though this transaction relies on it" }
}
