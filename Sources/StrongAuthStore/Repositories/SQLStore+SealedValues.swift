import Foundation
import SQLKit
import StrongAuthCore

/// A column that holds values sealed under the master key, with how each is bound: its purpose
/// and associated data (see `MasterKey.seal`). The master-key rotation (docs/keys.md) re-seals
/// every value of every column listed in `all`; a sealed column missing here would stay under
/// the old key, so the store suite checks that every `sealed_*` column of the schema is listed.
public struct SealedColumn: Sendable, Equatable, CustomStringConvertible {
    /// The associated data a value was sealed with: its row's key, or one fixed string.
    public enum Binding: Sendable, Equatable {
        case rowKey
        case constant(String)
    }

    public let table: String
    /// The primary-key column (one text column).
    public let key: String
    public let column: String
    public let purpose: String
    public let binding: Binding
    /// Rows whose `column` holds something else than a sealed value are left out (SQL condition).
    public let only: String?

    init(_ table: String, key: String = "id", _ column: String, purpose: String, binding: Binding = .rowKey, only: String? = nil) {
        self.table = table
        self.key = key
        self.column = column
        self.purpose = purpose
        self.binding = binding
        self.only = only
    }

    public var description: String { "\(table).\(column)" }

    /// The associated data of the value in the row whose key is `rowKey`.
    public func associatedData(rowKey: String) -> String {
        switch binding {
        case .rowKey: rowKey
        case .constant(let value): value
        }
    }

    /// The hash root (`MasterKey.withHashRoot`): the key the keyed hashes are made under.
    public static let hashRoot = SealedColumn("master_key_roots", "sealed_root", purpose: "hash-root")

    /// Every sealed column. The purposes are those of the services that seal them (KeyManagement,
    /// PowerAuthService, WebhookService, DeviceService, StepUpService, SessionService,
    /// OperatorService); a wrong one makes the rotation fail on the first such row, before
    /// anything of that column is written.
    public static let all: [SealedColumn] = [
        hashRoot,
        SealedColumn("signing_keys", key: "kid", "sealed_private_key", purpose: "signing-key"),
        SealedColumn("powerauth_applications", "sealed_application_secret", purpose: "powerauth-app-secret"),
        SealedColumn("powerauth_applications", "sealed_master_private_key", purpose: "powerauth-master-key"),
        SealedColumn("powerauth_applications", "sealed_callback_secret", purpose: "powerauth-callback-secret"),
        SealedColumn("clients", "sealed_webhook_secret", purpose: "client-webhook-secret"),
        SealedColumn("powerauth_activations", key: "device_id", "sealed_server_private_key", purpose: "powerauth-server-key"),
        SealedColumn("powerauth_activations", key: "device_id", "sealed_derived_keys", purpose: "powerauth-activation-keys"),
        SealedColumn("powerauth_tokens", "sealed_secret", purpose: "powerauth-token-secret"),
        SealedColumn("powerauth_temporary_keys", "sealed_private_key", purpose: "powerauth-temporary-key"),
        SealedColumn("server_keys", "sealed_private_key", purpose: "softtoken-key"),
        SealedColumn("operators", "sealed_totp_secret", purpose: "operator-totp"),
        SealedColumn("notifications", "sealed_body", purpose: "notification", binding: .constant("notification")),
        // Only the SMS OTP challenges seal their payload (Challenge.Kind).
        SealedColumn("challenges", "payload", purpose: "otp", only: "kind IN ('device_binding', 'web_step_up')"),
        // A first passkey's SMS OTP (PasskeyService); NULL on every other ceremony.
        SealedColumn("passkey_ceremonies", "sealed_otp", purpose: "passkey-otp", only: "sealed_otp IS NOT NULL"),
    ]
}

extension SQLStore {
    /// Up to `limit` values of `column` not sealed under the key `keyID`, in key order after `after`.
    public func sealedValues(
        in column: SealedColumn, notUnder keyID: String, after: String?, limit: Int
    ) async throws -> [(key: String, sealed: String)] {
        let prefix = "mk:\(keyID):%"
        let only = column.only.map { " AND " + $0 } ?? ""
        return try await pool.withConnection { db in
            try await db.sql(
                """
                SELECT \(unsafeRaw: column.key) AS k, \(unsafeRaw: column.column) AS v FROM \(unsafeRaw: column.table)
                WHERE \(unsafeRaw: column.column) IS NOT NULL AND \(unsafeRaw: column.column) NOT LIKE \(bind: prefix)\(unsafeRaw: only)
                AND \(unsafeRaw: column.key) > \(bind: after ?? "")
                ORDER BY \(unsafeRaw: column.key) LIMIT \(bind: limit)
                """
            ).all()
        }.map { (key: try $0.string("k"), sealed: try $0.string("v")) }
    }

    /// Compare-and-set: replaces the sealed value of one row only if it is still `old`, so a
    /// value changed meanwhile (by a node, or a second rotation) is never overwritten with a
    /// stale one. Returns whether it was replaced.
    public func replaceSealedValue(in column: SealedColumn, key: String, from old: String, to new: String) async throws -> Bool {
        try await pool.withWriteConnection { db in
            try await db.sql(
                """
                UPDATE \(unsafeRaw: column.table) SET \(unsafeRaw: column.column) = \(bind: new)
                WHERE \(unsafeRaw: column.key) = \(bind: key) AND \(unsafeRaw: column.column) = \(bind: old) RETURNING \(unsafeRaw: column.key) AS k
                """
            ).all()
        }.count == 1
    }

    /// The sealed hash root, if this database has one yet.
    public func sealedHashRoot() async throws -> String? {
        try await pool.withConnection { db in
            try await db.sql("SELECT sealed_root FROM master_key_roots WHERE id = 'hash'").first()
        }.map { try $0.string("sealed_root") }
    }

    /// Stores the sealed hash root unless one is stored already (nodes starting together keep the
    /// first); read it back with `sealedHashRoot`.
    public func insertHashRoot(_ sealed: String, at now: Date) async throws {
        try await pool.withWriteConnection { db in
            try await db.sql(
                """
                INSERT INTO master_key_roots (id, sealed_root, created_at) VALUES ('hash', \(bind: sealed), \(bind: now.epochMilliseconds))
                ON CONFLICT DO NOTHING
                """
            ).run()
        }
    }
}
