import Foundation
import SQLKit
import StrongAuthCore
import StrongAuthProtocol

extension SQLStore: PowerAuthRepository {
    // MARK: Applications and integration users

    public func insertApplication(_ application: PowerAuthApplication) async throws {
        let inserted = try await pool.withWriteConnection { db in
            try await db.sql(
                """
                INSERT INTO powerauth_applications (id, name, application_key, sealed_application_secret, sealed_master_private_key,
                    master_public_key, callback_url, sealed_callback_secret, status, created_at, realm_id)
                VALUES (\(bind: application.id), \(bind: application.name), \(bind: application.applicationKey),
                        \(bind: application.sealedApplicationSecret), \(bind: application.sealedMasterPrivateKey),
                        \(bind: application.masterPublicKey), \(bind: application.callbackURL), \(bind: application.sealedCallbackSecret),
                        \(bind: application.status.rawValue), \(bind: application.createdAt.epochMilliseconds),
                        \(bind: application.realmID))
                ON CONFLICT DO NOTHING RETURNING id
                """
            ).first()
        }
        guard inserted != nil else { throw StoreError.conflict("application '\(application.id)'") }
    }

    public func application(id: String) async throws -> PowerAuthApplication? {
        try await pool.withConnection { db in
            try await db.sql("SELECT * FROM powerauth_applications WHERE id = \(bind: id)").first()
        }.map(Self.application(from:))
    }

    public func application(key: String) async throws -> PowerAuthApplication? {
        try await pool.withConnection { db in
            try await db.sql("SELECT * FROM powerauth_applications WHERE application_key = \(bind: key)").first()
        }.map(Self.application(from:))
    }

    static func application(from row: any SQLRow) throws -> PowerAuthApplication { try application(from: row, prefix: "") }

    /// The columns of `powerauth_applications a`, each named `a_` + the column, for an
    /// application joined to other tables.
    static let prefixedApplicationColumns = applicationColumns.map { "a.\($0) AS a_\($0)" }.joined(separator: ", ")

    /// The same as `p.… AS app_…`: `signatureContext`, where `a` is the activation.
    private static let signatureApplicationColumns = applicationColumns.map { "p.\($0) AS app_\($0)" }.joined(separator: ", ")

    private static let applicationColumns = [
        "id", "name", "application_key", "sealed_application_secret", "sealed_master_private_key", "master_public_key",
        "callback_url", "sealed_callback_secret", "status", "created_at", "realm_id",
    ]

    /// An application from columns named `prefix` + the column (an application joined to other tables).
    static func application(from row: any SQLRow, prefix: String) throws -> PowerAuthApplication {
        PowerAuthApplication(
            id: try row.string(prefix + "id"), name: try row.string(prefix + "name"), applicationKey: try row.string(prefix + "application_key"),
            sealedApplicationSecret: try row.string(prefix + "sealed_application_secret"),
            sealedMasterPrivateKey: try row.string(prefix + "sealed_master_private_key"),
            masterPublicKey: try row.string(prefix + "master_public_key"),
            callbackURL: try row.optionalString(prefix + "callback_url"),
            sealedCallbackSecret: try row.optionalString(prefix + "sealed_callback_secret"),
            status: PowerAuthApplication.Status(rawValue: try row.string(prefix + "status")) ?? .disabled,
            createdAt: try row.date(prefix + "created_at"),
            realmID: try row.string(prefix + "realm_id"))
    }

    public func insertIntegrationUser(_ user: IntegrationUser) async throws {
        let inserted = try await pool.withWriteConnection { db in
            try await db.sql(
                """
                INSERT INTO integration_users (name, password_hash, applications, status, created_at, realm_id)
                VALUES (\(bind: user.name), \(bind: user.passwordHash), \(bind: user.applicationIDs.joined(separator: " ")),
                        \(bind: user.status.rawValue), \(bind: user.createdAt.epochMilliseconds), \(bind: user.realmID))
                ON CONFLICT DO NOTHING RETURNING name
                """
            ).first()
        }
        guard inserted != nil else { throw StoreError.conflict("integration user '\(user.name)'") }
    }

    public func integrationUser(name: String) async throws -> IntegrationUser? {
        try await pool.withConnection { db in try await Self.integrationUserRow(name: name, on: db) }.map(Self.integrationUser(from:))
    }

    /// The row of the integration user `name`, for reads that take it with what the user acts on.
    static func integrationUserRow(name: String, on db: any SQLDatabase) async throws -> (any SQLRow)? {
        try await db.sql("SELECT * FROM integration_users WHERE name = \(bind: name)").first()
    }

    static func integrationUser(from row: any SQLRow) throws -> IntegrationUser { try integrationUser(from: row, prefix: "") }

    /// The columns of `integration_users i`, each named `iu_` + the column, for an integration
    /// user read with what it acts on.
    static let prefixedIntegrationUserColumns = ["name", "password_hash", "applications", "status", "created_at", "realm_id"]
        .map { "i.\($0) AS iu_\($0)" }.joined(separator: ", ")

    /// An integration user from columns named `prefix` + the column.
    static func integrationUser(from row: any SQLRow, prefix: String) throws -> IntegrationUser {
        IntegrationUser(
            name: try row.string(prefix + "name"), passwordHash: try row.string(prefix + "password_hash"),
            applicationIDs: try row.words(prefix + "applications"),
            status: IntegrationUser.Status(rawValue: try row.string(prefix + "status")) ?? .disabled,
            createdAt: try row.date(prefix + "created_at"), realmID: try row.string(prefix + "realm_id"))
    }

    /// The names of the integration users (active or not) that may use `applicationID`, by the
    /// same SQL condition the signature fast path checks (`integrationUserMayUse`); the store
    /// suite holds it to `IntegrationUser.mayUse` on every engine.
    public func integrationUserNames(mayUse applicationID: String) async throws -> [String] {
        try await pool.withConnection { db in
            try await db.sql(
                "SELECT name FROM integration_users WHERE \(Self.integrationUserMayUse(applicationID)) ORDER BY name"
            ).all()
        }.map { try $0.string("name") }
    }

    /// SQL for `IntegrationUser.mayUse(applicationID:)` on a row of `integration_users`, whose
    /// `applications` column is the identifiers joined by single spaces
    /// (`insertIntegrationUser`): true when one of them is exactly `applicationID`, i.e. when
    /// `" <id> "` occurs in `" <applications> "`. Tested as `REPLACE(…) <> …`, which compares
    /// bytes on both engines and has no metacharacters: `LIKE` matched case-insensitively on
    /// SQLite (an integration user of `app` passed for `App`) and needed `%`/`_` escaped. An id
    /// that is empty or holds whitespace is no member of a space-separated list in Swift either.
    static func integrationUserMayUse(_ applicationID: String) -> StoreSQL {
        guard !applicationID.isEmpty, !applicationID.contains(where: \.isWhitespace) else { return "1 = 0" }
        return """
            REPLACE(' ' || applications || ' ', CAST(\(bind: " \(applicationID) ") AS TEXT), '') <> (' ' || applications || ' ')
            """
    }

    // MARK: Registrations

    public func ensureUser(realm: String, externalUserID: String, at now: Date) async throws -> String {
        // Most users exist already: a read answers them without taking the writer.
        let existing = try await pool.withConnection { db in
            try await db.sql("SELECT id FROM users WHERE realm_id = \(bind: realm) AND username = \(bind: externalUserID)").first()
        }
        if let existing { return try existing.string("id") }
        return try await pool.withWriteConnection { db in
            // '!' is no bcrypt hash: such a user can never log in with a password.
            try await db.sql(
                """
                INSERT INTO users (id, username, password_hash, status, created_at, realm_id)
                VALUES (\(bind: SecureRandom.uuid()), \(bind: externalUserID), '!', 'active', \(bind: now.epochMilliseconds),
                        \(bind: realm))
                ON CONFLICT DO NOTHING
                """
            ).run()
            guard
                let row = try await db.sql(
                    "SELECT id FROM users WHERE realm_id = \(bind: realm) AND username = \(bind: externalUserID)"
                ).first()
            else {
                throw StoreError.conflict("user '\(externalUserID)'")
            }
            return try row.string("id")
        }
    }

    public func insertRegistration(
        device: Device, activation: PowerAuthActivation, counter: PowerAuthCounter, webhooks: [WebhookDelivery]
    ) async throws {
        try await pool.withTransaction { db in
            try await db.sql(
                """
                INSERT INTO devices (id, user_id, kind, name, public_key, status, blocked_reason, created_at, activated_at, last_used_at,
                                     ctr_data, counter, failed_attempts, max_failed_attempts)
                VALUES (\(bind: device.id), \(bind: device.userID), \(bind: device.kind.rawValue), \(bind: device.name),
                        \(bind: device.publicKeyHex), \(bind: device.status.rawValue), \(bind: device.blockedReason),
                        \(bind: device.createdAt.epochMilliseconds), NULL, NULL, NULL, \(bind: counter.counter),
                        \(bind: counter.failedAttempts), \(bind: counter.maxFailedAttempts))
                """
            ).run()
            let inserted = try await db.sql(
                """
                INSERT INTO powerauth_activations (device_id, application_id, activation_code, activation_code_signature, expires_at,
                    otp_hash, otp_validation, commit_phase, flags, platform, device_info, extras)
                VALUES (\(bind: activation.deviceID), \(bind: activation.applicationID), \(bind: activation.activationCode),
                        \(bind: activation.activationCodeSignature), \(bind: activation.expiresAt.epochMilliseconds),
                        \(bind: activation.otpHash), \(bind: activation.otpValidation.rawValue), \(bind: activation.commitPhase.rawValue),
                        \(bind: activation.flags.joined(separator: " ")), \(bind: activation.platform), \(bind: activation.deviceInfo),
                        \(bind: activation.extras))
                ON CONFLICT DO NOTHING RETURNING device_id
                """
            ).first()
            // Rolls the device back too: a code clash leaves nothing behind.
            guard inserted != nil else { throw StoreError.conflict("activation code") }
            try await Self.insert(webhooks, into: db)
        }
    }

    /// Registrations with their user's username (the integrator's user id).
    private static let registrationSelect = """
        SELECT d.*, a.*, u.username AS external_user_id FROM devices d
        JOIN powerauth_activations a ON a.device_id = d.id JOIN users u ON u.id = d.user_id
        """

    public func registration(id: String) async throws -> Registration? {
        try await pool.withConnection { db in
            try await db.sql("\(unsafeRaw: Self.registrationSelect) WHERE d.id = \(bind: id)").first()
        }.map(Self.registration(from:))
    }

    public func signatureContext(registrationID: String, integrationUserName: String?) async throws -> SignatureContext {
        // One statement: the hot path of /v2/signature/verify reads once and writes once.
        let row = try await pool.withConnection { db in
            try await db.sql(
                """
                SELECT d.*, a.*, u.username AS external_user_id, \(unsafeRaw: Self.signatureApplicationColumns),
                    \(unsafeRaw: Self.prefixedIntegrationUserColumns)
                FROM (SELECT 1 AS one) AS anchor
                LEFT JOIN devices d ON d.id = \(bind: registrationID)
                LEFT JOIN powerauth_activations a ON a.device_id = d.id
                LEFT JOIN users u ON u.id = d.user_id
                LEFT JOIN powerauth_applications p ON p.id = a.application_id
                LEFT JOIN integration_users i ON i.name = \(bind: integrationUserName ?? "")
                """
            ).first()
        }
        guard let row else { return SignatureContext(registration: nil, application: nil, integrationUser: nil) }
        let hasRegistration = try row.optionalString("device_id") != nil && row.optionalString("external_user_id") != nil
        let application = try row.optionalString("app_id") == nil ? nil : try Self.application(from: row, prefix: "app_")
        let integrationUser = try row.optionalString("iu_name") == nil ? nil : try Self.integrationUser(from: row, prefix: "iu_")
        return SignatureContext(
            registration: hasRegistration ? try Self.registration(from: row) : nil, application: application,
            integrationUser: integrationUser)
    }

    public func registration(activationCode: String, applicationID: String) async throws -> Registration? {
        try await pool.withConnection { db in
            try await db.sql(
                "\(unsafeRaw: Self.registrationSelect) WHERE a.activation_code = \(bind: activationCode) AND a.application_id = \(bind: applicationID)"
            ).first()
        }.map(Self.registration(from:))
    }

    public func registrations(realm: String, externalUserID: String, includeRemoved: Bool) async throws -> [Registration] {
        try await pool.withConnection { db in
            try await db.sql(
                """
                \(unsafeRaw: Self.registrationSelect) WHERE u.realm_id = \(bind: realm) AND u.username = \(bind: externalUserID)
                \(unsafeRaw: includeRemoved ? "" : "AND d.status <> 'REMOVED'") ORDER BY d.created_at DESC, d.id
                """
            ).all()
        }.map(Self.registration(from:))
    }

    static func registration(from row: any SQLRow) throws -> Registration {
        let device = try SQLStore.device(from: row)
        let flags = try row.words("flags")
        let activation = PowerAuthActivation(
            deviceID: device.id, applicationID: try row.string("application_id"), activationCode: try row.optionalString("activation_code"),
            activationCodeSignature: try row.optionalString("activation_code_signature"), expiresAt: try row.date("expires_at"),
            otpHash: try row.optionalString("otp_hash"),
            otpValidation: ActivationOTPValidation(rawValue: try row.string("otp_validation")) ?? .none,
            commitPhase: ActivationCommitPhase(rawValue: try row.string("commit_phase")) ?? .onCommit, flags: flags,
            platform: try row.optionalString("platform"), deviceInfo: try row.optionalString("device_info"),
            extras: try row.optionalString("extras"), serverPublicKey: try row.optionalString("server_public_key"),
            sealedServerPrivateKey: try row.optionalString("sealed_server_private_key"),
            sealedDerivedKeys: try row.optionalString("sealed_derived_keys"), protocolVersion: try row.optionalString("protocol_version"))
        let counter = PowerAuthCounter(
            counterData: try row.optionalString("ctr_data").flatMap { Data(base64Encoded: $0) }.map { [UInt8]($0) } ?? [],
            counter: try row.int("counter"), failedAttempts: try row.int("failed_attempts"),
            maxFailedAttempts: try row.int("max_failed_attempts"),
            recentCounterData: Self.counterHistory(try row.optionalString("ctr_history")))
        return Registration(device: device, activation: activation, counter: counter, externalUserID: try row.string("external_user_id"))
    }

    /// Base64 of concatenated 16-byte counter values → the values.
    static func counterHistory(_ stored: String?) -> [[UInt8]] {
        guard let stored, let data = Data(base64Encoded: stored), data.count % 16 == 0 else { return [] }
        let bytes = [UInt8](data)
        return stride(from: 0, to: bytes.count, by: 16).map { Array(bytes[$0..<$0 + 16]) }
    }

    public func completeKeyExchange(
        id: String, to: Device.Status, devicePublicKeyHex: String, name: String, activation: PowerAuthActivation,
        counterData: [UInt8], webhooks: [WebhookDelivery], at now: Date
    ) async throws -> Bool {
        let nowMs = now.epochMilliseconds
        return try await pool.withTransaction { db in
            let moved = try await db.sql(
                """
                UPDATE devices SET status = \(bind: to.rawValue), name = \(bind: name), public_key = \(bind: devicePublicKeyHex),
                    ctr_data = \(bind: Data(counterData).base64EncodedString()), ctr_history = NULL, counter = 0, failed_attempts = 0,
                    activated_at = \(bind: to == .active ? nowMs : nil), last_used_at = \(bind: nowMs)
                WHERE id = \(bind: id) AND status = 'CREATED'
                  AND EXISTS (SELECT 1 FROM powerauth_activations WHERE device_id = \(bind: id) AND expires_at > \(bind: nowMs))
                RETURNING id
                """
            ).first()
            guard moved != nil else { return false }
            try await db.sql(
                """
                UPDATE powerauth_activations SET activation_code = NULL, platform = \(bind: activation.platform),
                    device_info = \(bind: activation.deviceInfo), extras = \(bind: activation.extras),
                    server_public_key = \(bind: activation.serverPublicKey),
                    sealed_server_private_key = \(bind: activation.sealedServerPrivateKey),
                    sealed_derived_keys = \(bind: activation.sealedDerivedKeys), protocol_version = \(bind: activation.protocolVersion)
                WHERE device_id = \(bind: id)
                """
            ).run()
            try await Self.insert(webhooks, into: db)
            return true
        }
    }

    public func transitionRegistration(
        id: String, from: Set<Device.Status>, to: Device.Status, reason: String?, resetFailures: Bool,
        webhooks: [WebhookDelivery], at now: Date
    ) async throws -> Bool {
        let nowMs = now.epochMilliseconds
        let allowed = from.map(\.rawValue).sorted()
        // An unfinished registration past its expiry can only be removed.
        let unexpired =
            to == .removed
            ? ""
            : "AND (status NOT IN ('CREATED', 'PENDING_COMMIT') OR EXISTS (SELECT 1 FROM powerauth_activations WHERE device_id = devices.id AND expires_at > \(nowMs)))"
        return try await pool.withTransaction { db in
            let moved = try await db.sql(
                """
                UPDATE devices SET status = \(bind: to.rawValue), blocked_reason = \(bind: reason),
                    failed_attempts = CASE WHEN \(bind: resetFailures) THEN 0 ELSE failed_attempts END,
                    activated_at = CASE WHEN \(bind: to.rawValue) = 'ACTIVE' AND activated_at IS NULL THEN \(bind: nowMs) ELSE activated_at END
                WHERE id = \(bind: id) AND status IN (\(binds: allowed)) \(unsafeRaw: unexpired) RETURNING id
                """
            ).first()
            guard moved != nil else { return false }
            if to != .created {
                try await db.sql("UPDATE powerauth_activations SET activation_code = NULL WHERE device_id = \(bind: id)").run()
            }
            if to == .removed {
                try await db.sql("DELETE FROM powerauth_tokens WHERE device_id = \(bind: id)").run()
            }
            try await Self.insert(webhooks, into: db)
            return true
        }
    }

    public func acceptSignature(
        id: String, expected: [UInt8], next: [UInt8], steps: Int, history: [[UInt8]], resetFailures: Bool, at now: Date
    ) async throws -> Bool {
        try await pool.withWriteConnection { db in
            try await db.sql(
                """
                UPDATE devices SET ctr_data = \(bind: Data(next).base64EncodedString()), counter = counter + \(bind: steps),
                    ctr_history = \(bind: Data(history.flatMap { $0 }).base64EncodedString()),
                    failed_attempts = CASE WHEN \(bind: resetFailures) THEN 0 ELSE failed_attempts END,
                    last_used_at = \(bind: now.epochMilliseconds)
                WHERE id = \(bind: id) AND status = 'ACTIVE' AND ctr_data = \(bind: Data(expected).base64EncodedString())
                RETURNING id
                """
            ).first() != nil
        }
    }

    public func acceptSignatureIfCurrent(
        id: String, expected: [UInt8], next: [UInt8], steps: Int, history: [[UInt8]], resetFailures: Bool, applicationID: String,
        caller: (name: String, passwordHash: String), possessionThrottle: (limit: Int, window: TimeInterval)?, at now: Date
    ) async throws -> (failedAttempts: Int, maxFailedAttempts: Int)? {
        // The same window as `takePossessionAttempt`'s: over (started at or before the cutoff) or with room.
        let throttle: StoreSQL =
            possessionThrottle.map { throttle in
                let cutoff = now.epochMilliseconds - Int64(throttle.window * 1000)
                return """
                    AND EXISTS (
                        SELECT 1 FROM powerauth_activations WHERE device_id = \(bind: id)
                          AND (possession_window_start <= \(bind: cutoff) OR possession_attempts < \(bind: throttle.limit)))
                    """
            } ?? ""
        let row = try await pool.withWriteConnection { db in
            try await db.sql(
                """
                UPDATE devices SET ctr_data = \(bind: Data(next).base64EncodedString()), counter = counter + \(bind: steps),
                    ctr_history = \(bind: Data(history.flatMap { $0 }).base64EncodedString()),
                    failed_attempts = CASE WHEN \(bind: resetFailures) THEN 0 ELSE failed_attempts END,
                    last_used_at = \(bind: now.epochMilliseconds)
                WHERE id = \(bind: id) AND status = 'ACTIVE' AND ctr_data = \(bind: Data(expected).base64EncodedString())
                  AND EXISTS (SELECT 1 FROM powerauth_applications WHERE id = \(bind: applicationID) AND status = 'active')
                  AND EXISTS (
                    SELECT 1 FROM integration_users WHERE name = \(bind: caller.name) AND password_hash = \(bind: caller.passwordHash)
                      AND status = 'active' AND \(Self.integrationUserMayUse(applicationID)))
                  \(throttle)
                RETURNING failed_attempts, max_failed_attempts
                """
            ).first()
        }
        guard let row else { return nil }
        return (try row.int("failed_attempts"), try row.int("max_failed_attempts"))
    }

    public func takePossessionAttempt(id: String, limit: Int, window: TimeInterval, at now: Date) async throws -> Bool {
        // SET expressions read the row's old values on both engines: a window that is over
        // (it started at or before `cutoff`) restarts at `now` with this attempt as its first.
        let cutoff = now.epochMilliseconds - Int64(window * 1000)
        return try await pool.withWriteConnection { db in
            try await db.sql(
                """
                UPDATE powerauth_activations SET
                    possession_attempts = CASE WHEN possession_window_start <= \(bind: cutoff) THEN 1 ELSE possession_attempts + 1 END,
                    possession_window_start = CASE WHEN possession_window_start <= \(bind: cutoff) THEN \(bind: now.epochMilliseconds)
                        ELSE possession_window_start END
                WHERE device_id = \(bind: id) AND (possession_window_start <= \(bind: cutoff) OR possession_attempts < \(bind: limit))
                RETURNING device_id
                """
            ).first() != nil
        }
    }

    public func returnPossessionAttempt(id: String) async throws {
        try await pool.withWriteConnection { db in
            try await db.sql(
                """
                UPDATE powerauth_activations SET possession_attempts = possession_attempts - 1
                WHERE device_id = \(bind: id) AND possession_attempts > 0
                """
            ).run()
        }
    }

    // MARK: Tokens

    public func insertToken(_ token: PowerAuthToken) async throws {
        try await pool.withWriteConnection { db in
            try await db.sql(
                """
                INSERT INTO powerauth_tokens (id, device_id, sealed_secret, signature_type, created_at)
                VALUES (\(bind: token.id), \(bind: token.deviceID), \(bind: token.sealedSecret), \(bind: token.signatureType),
                        \(bind: token.createdAt.epochMilliseconds))
                """
            ).run()
        }
    }

    public func token(id: String) async throws -> PowerAuthToken? {
        try await pool.withConnection { db in
            try await db.sql("SELECT * FROM powerauth_tokens WHERE id = \(bind: id)").first()
        }.map { row in
            PowerAuthToken(
                id: try row.string("id"), deviceID: try row.string("device_id"), sealedSecret: try row.string("sealed_secret"),
                signatureType: try row.string("signature_type"), createdAt: try row.date("created_at"))
        }
    }

    public func deleteToken(id: String, deviceID: String) async throws -> Bool {
        try await pool.withWriteConnection { db in
            try await db.sql(
                "DELETE FROM powerauth_tokens WHERE id = \(bind: id) AND device_id = \(bind: deviceID) RETURNING id"
            ).first() != nil
        }
    }

    // MARK: Temporary keys

    public func insertTemporaryKey(_ key: PowerAuthTemporaryKeyRecord) async throws {
        try await pool.withWriteConnection { db in
            // Expired keys are useless; each insert sweeps a few, so the table stays small.
            try await db.sql(
                """
                DELETE FROM powerauth_temporary_keys WHERE id IN (
                    SELECT id FROM powerauth_temporary_keys WHERE expires_at < \(bind: key.expiresAt.epochMilliseconds - 3_600_000) LIMIT 10)
                """
            ).run()
            try await db.sql(
                """
                INSERT INTO powerauth_temporary_keys (id, application_id, activation_id, sealed_private_key, expires_at)
                VALUES (\(bind: key.id), \(bind: key.applicationID), \(bind: key.activationID), \(bind: key.sealedPrivateKey),
                        \(bind: key.expiresAt.epochMilliseconds))
                """
            ).run()
        }
    }

    public func temporaryKey(id: String) async throws -> PowerAuthTemporaryKeyRecord? {
        try await pool.withConnection { db in
            try await db.sql("SELECT * FROM powerauth_temporary_keys WHERE id = \(bind: id)").first()
        }.map { row in
            PowerAuthTemporaryKeyRecord(
                id: try row.string("id"), applicationID: try row.string("application_id"),
                activationID: try row.optionalString("activation_id"), sealedPrivateKey: try row.string("sealed_private_key"),
                expiresAt: try row.date("expires_at"))
        }
    }
}
