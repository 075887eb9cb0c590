import Foundation
import Logging
import StrongAuthCore

/// The master key across rotations (docs/keys.md): the hash root the keyed hashes use, and the
/// re-sealing of every sealed value under a new master key while the nodes serve.
public enum MasterKeyRotation {
    /// The ring with this database's hash root. A database used before the root was stored
    /// made its keyed hashes under the key its oldest signing key is sealed with, so that key
    /// becomes its root; a new database gets a random root, which a later master-key rotation
    /// re-seals — an old master key that leaks then opens nothing of the rotated database.
    /// Nodes starting together store one root (insert-if-absent) and all read that one back.
    public static func withHashRoot(_ ring: MasterKey, store: SQLStore, now: Date) async throws -> MasterKey {
        let column = SealedColumn.hashRoot
        let ad = column.associatedData(rowKey: "hash")
        if try await store.sealedHashRoot() == nil {
            var root = MasterKey.generate().currentKeyBytes
            if let oldest = try await store.signingKeys().first {
                guard let bytes = ring.keyBytes(opening: oldest.sealedPrivateKey, purpose: "signing-key", associatedData: oldest.kid) else {
                    throw KeyManagementError.masterKeyMismatch(kid: oldest.kid)
                }
                root = bytes
            }
            try await store.insertHashRoot(try ring.seal(root, purpose: column.purpose, associatedData: ad), at: now)
        }
        guard let sealed = try await store.sealedHashRoot() else { throw MasterKeyRotationError("the hash root could not be stored") }
        let root: [UInt8]
        do {
            root = try ring.open(sealed, purpose: column.purpose, associatedData: ad)
        } catch {
            throw MasterKeyRotationError(
                "the configured master keys do not open this database's hash root (\(error)); is STRONGAUTH_MASTER_KEY (or master.previousKeys) the key this database was created with?"
            )
        }
        return try ring.withHashRoot(root)
    }

    /// What a re-seal did, per column (`table.column`).
    public struct Report: Sendable {
        public var resealed: [String: Int] = [:]
        /// Values changed by someone else between read and write; re-read on the next pass.
        public var conflicts = 0
        /// Values still not under the new key after the last pass: a node still sealing under an
        /// old key (it does not have the new key as its current key yet).
        public var remaining = 0
    }

    /// Re-seals every sealed value not yet under `ring`'s current key, row by row, each with one
    /// compare-and-set update (`SQLStore.replaceSealedValue`): nodes keep serving, a row a node
    /// changes meanwhile is re-read, and two rotations at once cannot lose a write. Passes repeat
    /// until one finds nothing left (at most `maxPasses`); `remaining` counts what is still left.
    public static func reseal(
        store: SQLStore, ring: MasterKey, batch: Int = 200, maxPasses: Int = 5, logger: Logger
    ) async throws -> Report {
        var report = Report()
        for _ in 0..<maxPasses {
            var found = 0
            for column in SealedColumn.all {
                try await forEachPage(of: column, notUnder: ring.keyID, in: store, batch: batch) { page in
                    for (key, old) in page {
                        found += 1
                        let ad = column.associatedData(rowKey: key)
                        let plaintext: [UInt8]
                        do {
                            plaintext = try ring.open(old, purpose: column.purpose, associatedData: ad)
                        } catch {
                            throw MasterKeyRotationError("\(column) of row \(key) does not open with the configured master keys: \(error)")
                        }
                        let new = try ring.seal(plaintext, purpose: column.purpose, associatedData: ad)
                        if try await store.replaceSealedValue(in: column, key: key, from: old, to: new) {
                            report.resealed[column.description, default: 0] += 1
                        } else {
                            report.conflicts += 1
                        }
                    }
                }
            }
            if found == 0 { return report }
            logger.info("master key re-seal pass done", metadata: ["found": "\(found)"])
        }
        report.remaining = try await remaining(store: store, keyID: ring.keyID)
        return report
    }

    /// How many sealed values are not under the key `keyID`.
    public static func remaining(store: SQLStore, keyID: String) async throws -> Int {
        var count = 0
        for column in SealedColumn.all {
            try await forEachPage(of: column, notUnder: keyID, in: store, batch: 500) { count += $0.count }
        }
        return count
    }

    /// The values of `column` not under `keyID`, page by page in key order (keyset pagination:
    /// a value re-sealed meanwhile drops out of the filter without shifting the pages).
    private static func forEachPage(
        of column: SealedColumn, notUnder keyID: String, in store: SQLStore, batch: Int,
        _ body: ([(key: String, sealed: String)]) async throws -> Void
    ) async throws {
        var after: String?
        while true {
            let page = try await store.sealedValues(in: column, notUnder: keyID, after: after, limit: batch)
            try await body(page)
            guard page.count == batch, let last = page.last else { return }
            after = last.key
        }
    }
}

/// Why the master keyring cannot be used with this database, or a value cannot be re-sealed.
public struct MasterKeyRotationError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
