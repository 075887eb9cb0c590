import Crypto
import Foundation

/// The root key of a StrongAuth installation. Everything secret at rest is sealed under a key
/// derived from it (AES-256-GCM), and the keyed hashes of bearer secrets use another derived key.
///
/// In development it is generated into `data/master.key` (mode 0600); in production it must be
/// given explicitly (`STRONGAUTH_MASTER_KEY`, base64 of 32 bytes) and shared by every node.
public struct MasterKey: Sendable {
    private let key: SymmetricKey

    /// Wraps 32 raw bytes.
    public init(rawBytes: [UInt8]) throws {
        guard rawBytes.count == 32 else { throw MasterKeyError.wrongLength(rawBytes.count) }
        key = SymmetricKey(data: rawBytes)
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
        key = uncheckedKey
    }

    /// The base64 form.
    public var base64: String {
        key.withUnsafeBytes { Data($0).base64EncodedString() }
    }

    /// A subkey for one purpose (HKDF-SHA256, RFC 5869); different purposes never share keys.
    public func derive(purpose: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(
            inputKeyMaterial: key, salt: Array("strongauth".utf8), info: Array(purpose.utf8), outputByteCount: 32)
    }

    /// Seals `plaintext` with AES-256-GCM under the subkey for `purpose`; `associatedData` binds
    /// the ciphertext to its row (e.g. the key id) so sealed values cannot be swapped.
    public func seal(_ plaintext: [UInt8], purpose: String, associatedData: String) throws -> String {
        let box = try AES.GCM.seal(plaintext, using: derive(purpose: purpose), authenticating: Array(associatedData.utf8))
        guard let combined = box.combined else { throw MasterKeyError.sealFailed }
        return combined.base64EncodedString()
    }

    /// Opens what `seal` produced; throws when the key, purpose or associated data differ.
    public func open(_ sealed: String, purpose: String, associatedData: String) throws -> [UInt8] {
        guard let data = Data(base64Encoded: sealed) else { throw MasterKeyError.notBase64 }
        let box = try AES.GCM.SealedBox(combined: data)
        return [UInt8](try AES.GCM.open(box, using: derive(purpose: purpose), authenticating: Array(associatedData.utf8)))
    }
}

/// Why a master key could not be used.
public enum MasterKeyError: Error, CustomStringConvertible {
    case wrongLength(Int)
    case notBase64
    case sealFailed

    public var description: String {
        switch self {
        case .wrongLength(let count): "the master key must be 32 bytes, got \(count)"
        case .notBase64: "the master key is not valid base64"
        case .sealFailed: "sealing failed"
        }
    }
}
