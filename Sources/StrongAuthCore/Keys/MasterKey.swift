import Crypto
import Foundation
import Synchronization

/// The root key of a StrongAuth installation. Everything secret at rest is sealed under a key
/// derived from it (AES-256-GCM), and the keyed hashes of bearer secrets use another derived key.
///
/// In development it is generated into `data/master.key` (mode 0600); in production it must be
/// given explicitly (`STRONGAUTH_MASTER_KEY`, base64 of 32 bytes) and shared by every node.
///
/// A keyring, so that the master key can be rotated without downtime (docs/keys.md): the
/// *current* key seals, every key of the ring opens. A sealed value names the key that sealed
/// it (`mk:<key id>:<base64>`, the key id being a hash of the key), so the opener picks that
/// key; values sealed before key ids existed (bare base64) are tried against each key — AES-GCM
/// refuses a wrong key, so that is safe.
///
/// The keyed hashes (refresh tokens, client secrets, …) cannot be recomputed under a new key —
/// the server never keeps the bearer secrets — so they use a *hash root* that outlives
/// rotations: random for a new database (the master key itself for one from before the ring),
/// stored sealed in the database and re-sealed like every other secret (`MasterKeyRotation`,
/// docs/keys.md).
public struct MasterKey: Sendable {
    /// One key of the ring, its id, and the subkeys derived from it so far.
    private struct Entry: Sendable {
        let id: String
        let key: SymmetricKey
        let subkeys = SubkeyCache()

        init(id: String, key: SymmetricKey) {
            self.id = id
            self.key = key
        }

        /// The subkey for `purpose` (`MasterKey.subkey`), derived once: HKDF is two HMACs and two
        /// keys built, ~9 µs a seal on the operation create's path, for a value that never changes.
        func subkey(purpose: String) -> SymmetricKey {
            subkeys.subkey(purpose: purpose) { MasterKey.subkey(of: key, purpose: $0) }
        }
    }

    /// The subkeys of one key by purpose. Purposes are names in the code (and one per webhook
    /// subscriber), so the cache stays small; past `capacity` a subkey is derived each time.
    private final class SubkeyCache: Sendable {
        private let cached = Mutex<[String: SymmetricKey]>([:])
        private let capacity = 1_024

        func subkey(purpose: String, derive: (String) -> SymmetricKey) -> SymmetricKey {
            if let subkey = cached.withLock({ $0[purpose] }) { return subkey }
            let subkey = derive(purpose)
            cached.withLock { if $0.count < capacity { $0[purpose] = subkey } }
            return subkey
        }
    }

    private let current: Entry
    private let others: [Entry]
    private let hashRoot: SymmetricKey

    /// Wraps 32 raw bytes.
    public init(rawBytes: [UInt8]) throws {
        guard rawBytes.count == 32 else { throw MasterKeyError.wrongLength(rawBytes.count) }
        self.init(uncheckedKey: SymmetricKey(data: rawBytes))
    }

    /// Parses the base64 form used in files and environment variables.
    public init(base64: String) throws {
        guard let data = Data(base64Encoded: base64.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw MasterKeyError.notBase64
        }
        try self.init(rawBytes: [UInt8](data))
    }

    /// A fresh random master key.
    public static func generate() -> MasterKey {
        // Force-unwrap-free: 32 random bytes always make a valid key.
        MasterKey(uncheckedKey: SymmetricKey(size: .bits256))
    }

    private init(uncheckedKey: SymmetricKey) {
        current = Entry(id: Self.keyID(of: uncheckedKey), key: uncheckedKey)
        others = []
        hashRoot = uncheckedKey
    }

    private init(current: Entry, others: [Entry], hashRoot: SymmetricKey) {
        self.current = current
        self.others = others
        self.hashRoot = hashRoot
    }

    /// 8 hex digits naming a key in sealed values: HMAC-SHA256 of a fixed label, so the id
    /// reveals nothing about the key.
    private static func keyID(of key: SymmetricKey) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("strongauth-master-key-id".utf8), using: key)
        return mac.prefix(4).map { String(format: "%02x", $0) }.joined()
    }

    /// The base64 form (of the current key).
    public var base64: String {
        current.key.withUnsafeBytes { Data($0).base64EncodedString() }
    }

    /// The id of the key that seals (`mk:<id>:` in sealed values).
    public var keyID: String { current.id }

    /// The ids of every key of the ring, the current one first.
    public var keyIDs: [String] { [current.id] + others.map(\.id) }

    /// This key sealing, and `keys` (the other keys of the ring) only opening. Duplicates of the
    /// current key are dropped.
    public func addingKeys(_ keys: [MasterKey]) -> MasterKey {
        var ring = others
        for key in keys {
            for entry in [key.current] + key.others where entry.id != current.id && !ring.contains(where: { $0.id == entry.id }) {
                ring.append(entry)
            }
        }
        return MasterKey(current: current, others: ring, hashRoot: hashRoot)
    }

    /// The same ring with `key` (which must be one of its keys) sealing, and the others opening.
    public func sealing(with key: MasterKey) -> MasterKey {
        let ring = ([current] + others).filter { $0.id != key.current.id }
        return MasterKey(current: key.current, others: ring, hashRoot: hashRoot)
    }

    /// The same ring whose keyed hashes use `root` (32 bytes) instead of the current key.
    public func withHashRoot(_ root: [UInt8]) throws -> MasterKey {
        guard root.count == 32 else { throw MasterKeyError.wrongLength(root.count) }
        return MasterKey(current: current, others: others, hashRoot: SymmetricKey(data: root))
    }

    /// The raw bytes of the ring's key that opens `sealed`, if one does: the hash root of a
    /// database that predates it is the key its oldest secrets are sealed under.
    public func keyBytes(opening sealed: String, purpose: String, associatedData: String) -> [UInt8]? {
        for entry in candidates(for: sealed) ?? []
        where (try? Self.open(sealed, with: entry, purpose: purpose, associatedData: associatedData)) != nil {
            return entry.key.withUnsafeBytes { Array($0) }
        }
        return nil
    }

    /// The raw bytes of the current key (a fresh key's bytes are a new database's random hash root).
    public var currentKeyBytes: [UInt8] { current.key.withUnsafeBytes { Array($0) } }

    /// A subkey for one purpose (HKDF-SHA256, RFC 5869); different purposes never share keys.
    /// Derived from the hash root: keyed hashes stay valid across master-key rotations.
    public func derive(purpose: String) -> SymmetricKey {
        Self.subkey(of: hashRoot, purpose: purpose)
    }

    fileprivate static func subkey(of key: SymmetricKey, purpose: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: key, salt: Array("strongauth".utf8), info: Array(purpose.utf8), outputByteCount: 32)
    }

    /// Seals `plaintext` with AES-256-GCM under the current key's subkey for `purpose`;
    /// `associatedData` binds the ciphertext to its row (e.g. the key id) so sealed values
    /// cannot be swapped.
    public func seal(_ plaintext: [UInt8], purpose: String, associatedData: String) throws -> String {
        let box = try AES.GCM.seal(plaintext, using: current.subkey(purpose: purpose), authenticating: Array(associatedData.utf8))
        guard let combined = box.combined else { throw MasterKeyError.sealFailed }
        return "mk:\(current.id):" + combined.base64EncodedString()
    }

    /// Opens what `seal` produced under any key of the ring; throws when no key of the ring
    /// sealed it, or the purpose or associated data differ.
    public func open(_ sealed: String, purpose: String, associatedData: String) throws -> [UInt8] {
        guard let entries = candidates(for: sealed) else { throw MasterKeyError.unknownKey(Self.sealingKeyID(of: sealed) ?? "?") }
        var failure: any Error = MasterKeyError.notBase64
        for entry in entries {
            do {
                return try Self.open(sealed, with: entry, purpose: purpose, associatedData: associatedData)
            } catch {
                failure = error
            }
        }
        throw failure
    }

    /// Whether `sealed` is sealed under the current key (the master-key rotation's "done").
    public func isSealedUnderCurrentKey(_ sealed: String) -> Bool {
        Self.sealingKeyID(of: sealed) == current.id
    }

    /// The key id a sealed value names; `nil` for a value sealed before key ids existed.
    public static func sealingKeyID(of sealed: String) -> String? {
        guard sealed.hasPrefix("mk:") else { return nil }
        let parts = sealed.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        return parts.count == 3 ? String(parts[1]) : nil
    }

    /// The keys to try: the one named, or every key for a value without a key id; `nil` when the
    /// named key is not in the ring.
    private func candidates(for sealed: String) -> [Entry]? {
        let ring = [current] + others
        guard sealed.hasPrefix("mk:") else { return ring }
        guard let id = Self.sealingKeyID(of: sealed), let entry = ring.first(where: { $0.id == id }) else { return nil }
        return [entry]
    }

    private static func open(_ sealed: String, with entry: Entry, purpose: String, associatedData: String) throws -> [UInt8] {
        let body = sealed.hasPrefix("mk:") ? String(sealed.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).last ?? "") : sealed
        guard let data = Data(base64Encoded: body) else { throw MasterKeyError.notBase64 }
        let box = try AES.GCM.SealedBox(combined: data)
        return [UInt8](try AES.GCM.open(box, using: entry.subkey(purpose: purpose), authenticating: Array(associatedData.utf8)))
    }
}

/// Why a master key could not be used.
public enum MasterKeyError: Error, CustomStringConvertible {
    case wrongLength(Int)
    case notBase64
    case sealFailed
    /// The value names a key (by id) that is not in the ring: configure it (`master.previousKeys`).
    case unknownKey(String)

    public var description: String {
        switch self {
        case .unknownKey(let id): "the value is sealed under master key \(id), which is not configured (STRONGAUTH_MASTER_KEY or master.previousKeys)"
        case .wrongLength(let count): "the master key must be 32 bytes, got \(count)"
        case .notBase64: "the master key is not valid base64"
        case .sealFailed: "sealing failed"
        }
    }
}
