import Foundation
import Logging
import SQLKit
import StrongAuthCore
import StrongAuthStore
import Testing

/// Master-key rotation on every database (docs/keys.md): every sealed value is re-sealed under the
/// new key by one compare-and-set per row, two rotations at once lose nothing, and a database from
/// before the keyring keeps its keyed hashes.
@Suite("Store conformance: master-key rotation")
struct MasterKeyRotationStoreTests {
    static let logger = Logger(label: "test")

    /// Sealed rows in several tables, sealed under `key` (the signing key in the old, bare format
    /// when `legacy`); returns (column, row key, plaintext) of each.
    static func seedSealedRows(_ store: SQLStore, key: MasterKey, count: Int) async throws -> [(SealedColumn, String, [UInt8])] {
        var rows: [(SealedColumn, String, [UInt8])] = []
        func column(_ table: String, _ name: String) throws -> SealedColumn {
            try #require(SealedColumn.all.first { $0.table == table && $0.column == name })
        }
        let signing = try column("signing_keys", "sealed_private_key")
        let serverKeys = try column("server_keys", "sealed_private_key")
        let notifications = try column("notifications", "sealed_body")
        for index in 0..<count {
            let kid = "k\(index)"
            let plain = Array("signing-\(index)".utf8)
            try await store.insertSigningKey(
                SealedSigningKey(
                    kid: kid, sealedPrivateKey: try key.seal(plain, purpose: signing.purpose, associatedData: kid),
                    status: index == 0 ? .active : .retired, createdAt: Fixtures.epoch.addingTimeInterval(Double(index))))
            rows.append((signing, kid, plain))
            let body = Array("sms \(index)".utf8)
            let sealedBody = try key.seal(body, purpose: notifications.purpose, associatedData: "notification")
            try await store.pool.withWriteConnection { db in
                try await db.raw(
                    """
                    INSERT INTO notifications (id, kind, user_id, recipient, sealed_body, status, next_attempt_at, created_at)
                    VALUES (\(bind: "n\(index)"), 'sms', 'u', '+49', \(bind: sealedBody), 'pending', 0, 0)
                    """
                ).run()
            }
            rows.append((notifications, "n\(index)", body))
        }
        let soft = Array("rsa-der".utf8)
        let sealedSoft = try key.seal(soft, purpose: serverKeys.purpose, associatedData: "softtoken-rsa-2048")
        try await store.pool.withWriteConnection { db in
            try await db.raw(
                "INSERT INTO server_keys (id, sealed_private_key, created_at) VALUES ('softtoken-rsa-2048', \(bind: sealedSoft), 0)"
            ).run()
        }
        rows.append((serverKeys, "softtoken-rsa-2048", soft))
        return rows
    }

    static func sealedValue(_ store: SQLStore, _ column: SealedColumn, key: String) async throws -> String {
        try await store.pool.withConnection { db in
            try await db.raw(
                "SELECT \(unsafeRaw: column.column) AS v FROM \(unsafeRaw: column.table) WHERE \(unsafeRaw: column.key) = \(bind: key)"
            ).first()?.decode(column: "v", as: String.self) ?? ""
        }
    }

    @Test(
        "two rotations at once re-seal every value under the new key exactly; the new key alone opens them all afterwards",
        arguments: TestDatabases.engines)
    func resealUnderNewKey(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let old = MasterKey.generate()
            let new = MasterKey.generate()
            let rootedOld = try await MasterKeyRotation.withHashRoot(old, store: store, now: Fixtures.epoch)
            // A new database's hash root is random, not the master key itself.
            #expect(rootedOld.derive(purpose: "secret-hash") != old.derive(purpose: "secret-hash"))
            let rows = try await Self.seedSealedRows(store, key: rootedOld, count: 30)
            let ring = old.addingKeys([new]).sealing(with: new)
            #expect(try await MasterKeyRotation.remaining(store: store, keyID: new.keyID) == rows.count + 1)  // + the hash root

            let reports = try await withThrowingTaskGroup(of: MasterKeyRotation.Report.self) { group in
                for _ in 0..<2 { group.addTask { try await MasterKeyRotation.reseal(store: store, ring: ring, batch: 7, logger: Self.logger) } }
                return try await group.reduce(into: [MasterKeyRotation.Report]()) { $0.append($1) }
            }
            #expect(reports.allSatisfy { $0.remaining == 0 })
            // Each value was replaced by exactly one of the two: the other's write met a changed value.
            let replaced = reports.map { $0.resealed.values.reduce(0, +) }.reduce(0, +)
            #expect(replaced == rows.count + 1)
            #expect(try await MasterKeyRotation.remaining(store: store, keyID: new.keyID) == 0)

            for (column, key, plaintext) in rows {
                let sealed = try await Self.sealedValue(store, column, key: key)
                #expect(sealed.hasPrefix("mk:\(new.keyID):"))
                #expect(try new.open(sealed, purpose: column.purpose, associatedData: column.associatedData(rowKey: key)) == plaintext)
            }
            // Nodes with the new key alone keep the keyed hashes made before (the hash root).
            let restarted = try await MasterKeyRotation.withHashRoot(new, store: store, now: Fixtures.epoch)
            #expect(restarted.derive(purpose: "secret-hash") == rootedOld.derive(purpose: "secret-hash"))
        }
    }

    @Test("the compare-and-set replaces a sealed value only if it is still the one read", arguments: TestDatabases.engines)
    func compareAndSet(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let key = MasterKey.generate()
            let rows = try await Self.seedSealedRows(store, key: key, count: 1)
            let (column, rowKey, _) = try #require(rows.first)
            let current = try await Self.sealedValue(store, column, key: rowKey)
            #expect(try await !store.replaceSealedValue(in: column, key: rowKey, from: "stale", to: "lost-write"))
            #expect(try await Self.sealedValue(store, column, key: rowKey) == current)
            #expect(try await store.replaceSealedValue(in: column, key: rowKey, from: current, to: current + "x"))
            #expect(try await !store.replaceSealedValue(in: column, key: rowKey, from: current, to: "again"))
        }
    }

    @Test(
        "a database from before the keyring keeps its keyed hashes: the hash root is the key its oldest secret is sealed under",
        arguments: TestDatabases.engines)
    func upgradedDatabaseKeepsItsHashRoot(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let old = MasterKey.generate()
            _ = try await Self.seedSealedRows(store, key: old, count: 2)  // no hash root stored yet
            let new = MasterKey.generate()
            // Configured the new key as current right away: the root is still the old key.
            let ring = try await MasterKeyRotation.withHashRoot(new.addingKeys([old]), store: store, now: Fixtures.epoch)
            #expect(ring.derive(purpose: "secret-hash") == old.derive(purpose: "secret-hash"))
            // A key that opens nothing of this database is refused rather than given a new root.
            let stranger = MasterKey.generate()
            await #expect(throws: (any Error).self) { try await MasterKeyRotation.withHashRoot(stranger, store: store, now: Fixtures.epoch) }
        }
    }

    @Test("every sealed_* column of the schema is re-sealed by the rotation", arguments: TestDatabases.engines)
    func inventoryCoversTheSchema(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let columns: [String] = try await store.pool.withConnection { db in
                switch engine {
                case .sqlite:
                    try await db.raw(
                        """
                        SELECT m.name || '.' || p.name AS c FROM sqlite_master m JOIN pragma_table_info(m.name) p
                        WHERE m.type = 'table' AND p.name LIKE 'sealed%'
                        """
                    ).all().map { try $0.decode(column: "c", as: String.self) }
                case .postgres:
                    try await db.raw(
                        """
                        SELECT table_name || '.' || column_name AS c FROM information_schema.columns
                        WHERE table_schema = current_schema() AND column_name LIKE 'sealed%'
                        """
                    ).all().map { try $0.decode(column: "c", as: String.self) }
                }
            }
            #expect(!columns.isEmpty)
            let covered = Set(SealedColumn.all.map(\.description))
            #expect(Set(columns).subtracting(covered).isEmpty, "sealed columns the rotation would miss: \(Set(columns).subtracting(covered))")
        }
    }
}
