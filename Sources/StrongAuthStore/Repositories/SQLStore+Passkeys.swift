import Foundation
import SQLKit
import StrongAuthCore
import StrongAuthProtocol

extension SQLStore: PasskeyRepository {
    public func insertPasskeyCeremony(_ ceremony: PasskeyCeremony) async throws {
        try await pool.withWriteConnection { db in try await Self.insert(ceremony, into: db) }
    }

    public func insertPasskeyCeremony(_ ceremony: PasskeyCeremony, notification: OutboxNotification, budgets: [SMSBudget], window: TimeInterval)
        async throws -> Date?
    {
        do {
            try await pool.withTransaction { db in
                if let retryAt = try await Self.reserve(budgets, at: ceremony.createdAt, window: window, on: db) {
                    throw SMSRefusal(outcome: .smsExhausted(retryAt: retryAt))
                }
                try await Self.insert(ceremony, into: db)
                try await Self.insert(notification, into: db)
            }
        } catch let refusal as SMSRefusal {
            if case .smsExhausted(let retryAt) = refusal.outcome { return retryAt }
            throw refusal
        }
        await sweepSMSBudgets(before: ceremony.createdAt, window: window)
        return nil
    }

    static func insert(_ ceremony: PasskeyCeremony, into db: any SQLDatabase) async throws {
        try await db.sql(
            """
            INSERT INTO passkey_ceremonies (id, purpose, user_id, realm_id, target, challenge, nonce, sealed_otp, name, attempts,
                                            created_at, expires_at)
            VALUES (\(bind: ceremony.id), \(bind: ceremony.purpose.rawValue), \(bind: ceremony.userID), \(bind: ceremony.realmID),
                    \(bind: ceremony.target), \(bind: Base64URL.encode(ceremony.challenge)), \(bind: ceremony.nonce.map(Base64URL.encode)),
                    \(bind: ceremony.sealedOTP), \(bind: ceremony.name), \(bind: ceremony.attempts),
                    \(bind: ceremony.createdAt.epochMilliseconds), \(bind: ceremony.expiresAt.epochMilliseconds))
            """
        ).run()
    }

    /// An unused ceremony (used ones read as absent: they can never be answered again).
    public func passkeyCeremony(id: String) async throws -> PasskeyCeremony? {
        guard
            let row = try await pool.withConnection({ db in
                try await db.sql("SELECT * FROM passkey_ceremonies WHERE id = \(bind: id) AND used_at IS NULL").first()
            }),
            let purpose = PasskeyCeremony.Purpose(rawValue: try row.string("purpose")),
            let challenge = Base64URL.decode(try row.string("challenge"))
        else { return nil }
        return PasskeyCeremony(
            id: try row.string("id"), purpose: purpose, userID: try row.optionalString("user_id"), realmID: try row.string("realm_id"),
            target: try row.optionalString("target"), challenge: challenge, nonce: try row.optionalString("nonce").flatMap(Base64URL.decode),
            sealedOTP: try row.optionalString("sealed_otp"), name: try row.optionalString("name"), attempts: try row.int("attempts"),
            createdAt: try row.date("created_at"), expiresAt: try row.date("expires_at"))
    }

    public func consumePasskeyCeremony(id: String, at now: Date) async throws -> Bool {
        try await pool.withWriteConnection { db in
            try await Self.consumeCeremony(id: id, at: now, on: db)
        }
    }

    static func consumeCeremony(id: String, at now: Date, on db: any SQLDatabase) async throws -> Bool {
        try await db.sql(
            """
            UPDATE passkey_ceremonies SET used_at = \(bind: now.epochMilliseconds)
            WHERE id = \(bind: id) AND used_at IS NULL AND expires_at > \(bind: now.epochMilliseconds) RETURNING id
            """
        ).first() != nil
    }

    public func countPasskeyCeremonyAttempt(id: String, maxAttempts: Int, at now: Date) async throws -> Bool {
        try await pool.withWriteConnection { db in
            try await db.sql(
                """
                UPDATE passkey_ceremonies SET attempts = attempts + 1,
                  used_at = CASE WHEN attempts + 1 >= \(bind: maxAttempts) THEN \(bind: now.epochMilliseconds) ELSE used_at END
                WHERE id = \(bind: id) AND used_at IS NULL AND expires_at > \(bind: now.epochMilliseconds) RETURNING id
                """
            ).first() != nil
        }
    }

    public func insertPasskey(device: Device, credential: PasskeyCredential, ceremonyID: String, requireNoActiveDevice: Bool, at now: Date)
        async throws -> PasskeyInsertOutcome
    {
        let lockUser = pool.engine == .postgres
        do {
            return try await pool.withTransaction { db in
                // The user's row first (PostgreSQL; SQLite's transaction holds the one writer lock),
                // so "no ACTIVE device yet" and the insert are one step against concurrent bindings.
                if lockUser { _ = try await db.sql("SELECT id FROM users WHERE id = \(bind: device.userID) FOR UPDATE").first() }
                guard try await Self.consumeCeremony(id: ceremonyID, at: now, on: db) else { throw PasskeyRefusal(outcome: .ceremonyClosed) }
                if requireNoActiveDevice {
                    let active = try await db.sql(
                        "SELECT id FROM devices WHERE user_id = \(bind: device.userID) AND status = 'ACTIVE' LIMIT 1"
                    ).first()
                    if active != nil { throw PasskeyRefusal(outcome: .activeDeviceExists) }
                }
                let taken = try await db.sql(
                    "SELECT device_id FROM passkeys WHERE credential_id = \(bind: Base64URL.encode(credential.credentialID))"
                ).first()
                if taken != nil { throw PasskeyRefusal(outcome: .duplicateCredential) }
                try await Self.insert(device, into: db)
                // ON CONFLICT: two registrations of one credential at once; the loser rolls back.
                let inserted = try await db.sql(
                    """
                    INSERT INTO passkeys (device_id, user_id, credential_id, public_key, algorithm, sign_count, aaguid, attestation_format,
                                          attestation_certified, backup_eligible, backup_state, transports)
                    VALUES (\(bind: credential.deviceID), \(bind: credential.userID), \(bind: Base64URL.encode(credential.credentialID)),
                            \(bind: Base64URL.encode(credential.publicKey)), \(bind: credential.algorithm.rawValue),
                            \(bind: Int64(credential.signCount)), \(bind: Hex.encode(credential.aaguid)), \(bind: credential.attestationFormat),
                            \(bind: credential.attestationCertified ? 1 : 0), \(bind: credential.backupEligible ? 1 : 0),
                            \(bind: credential.backupState ? 1 : 0), \(bind: credential.transports.joined(separator: ",")))
                    ON CONFLICT DO NOTHING RETURNING device_id
                    """
                ).first()
                if inserted == nil { throw PasskeyRefusal(outcome: .duplicateCredential) }
                return .inserted
            }
        } catch let refusal as PasskeyRefusal {
            return refusal.outcome
        }
    }

    public func passkey(credentialID: [UInt8]) async throws -> PasskeyCredential? {
        try await pool.withConnection { db in
            try await db.sql("SELECT * FROM passkeys WHERE credential_id = \(bind: Base64URL.encode(credentialID))").first()
        }.flatMap(Self.passkey(from:))
    }

    public func passkeys(userID: String) async throws -> [PasskeyCredential] {
        try await pool.withConnection { db in
            try await db.sql(
                """
                SELECT p.* FROM passkeys p JOIN devices d ON d.id = p.device_id
                WHERE p.user_id = \(bind: userID) AND d.status <> 'REMOVED' ORDER BY d.created_at, d.id
                """
            ).all()
        }.compactMap(Self.passkey(from:))
    }

    static func passkey(from row: any SQLRow) throws -> PasskeyCredential? {
        guard let credentialID = Base64URL.decode(try row.string("credential_id")), let publicKey = Base64URL.decode(try row.string("public_key")),
            let algorithm = COSEAlgorithm(rawValue: try row.int("algorithm"))
        else { return nil }
        let transports = try row.string("transports")
        return PasskeyCredential(
            deviceID: try row.string("device_id"), userID: try row.string("user_id"), credentialID: credentialID, publicKey: publicKey,
            algorithm: algorithm, signCount: UInt32(clamping: try row.decode(column: "sign_count", as: Int64.self)),
            aaguid: Hex.decode(try row.string("aaguid")) ?? [], attestationFormat: try row.string("attestation_format"),
            attestationCertified: try row.int("attestation_certified") != 0, backupEligible: try row.int("backup_eligible") != 0,
            backupState: try row.int("backup_state") != 0,
            transports: transports.isEmpty ? [] : transports.split(separator: ",").map(String.init))
    }

    public func recordPasskeyAssertion(deviceID: String, signCount: UInt32, backupState: Bool, at now: Date) async throws -> PasskeyCounterOutcome {
        let count = Int64(signCount)
        return try await pool.withTransaction { db in
            let stored = try await db.sql(
                """
                UPDATE passkeys SET sign_count = \(bind: count), backup_state = \(bind: backupState ? 1 : 0),
                  last_assertion_at = \(bind: now.epochMilliseconds)
                WHERE device_id = \(bind: deviceID) AND (sign_count < \(bind: count) OR (sign_count = 0 AND \(bind: count) = 0))
                RETURNING device_id
                """
            ).first()
            guard stored != nil else { return .regressed }
            try await db.sql("UPDATE devices SET last_used_at = \(bind: now.epochMilliseconds) WHERE id = \(bind: deviceID)").run()
            return .recorded
        }
    }

    public func deleteExpiredPasskeyCeremonies(before: Date) async throws -> Int {
        try await pool.withWriteConnection { db in
            try await db.sql(
                "DELETE FROM passkey_ceremonies WHERE expires_at < \(bind: before.epochMilliseconds) RETURNING id"
            ).all().count
        }
    }
}

/// Ends a passkey transaction early with its outcome (rolling back what it wrote).
private struct PasskeyRefusal: Error {
    var outcome: PasskeyInsertOutcome
}
