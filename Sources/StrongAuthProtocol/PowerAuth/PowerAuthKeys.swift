import Crypto
import CryptoExtras
import Foundation

/// PowerAuth 3.x key derivation (wultra/powerauth-crypto, "Key derivation"), checked against
/// the reference vectors in `shared/vectors/powerauth/`.
public enum PowerAuthKDF {
    /// The indices of the keys derived from the master secret and from the transport key.
    public enum Index: UInt64, Sendable {
        case possession = 1
        case knowledge = 2
        case biometry = 3
        case transport = 1000
        case vault = 2000
        /// From the transport key: the key that makes the status-blob IV.
        case statusBlobIV = 3000
        /// From the transport key: the key that hashes counter data in the status blob.
        case counterDataHash = 4000
    }

    /// KDF(K, i) = AES-128-ECB_K(0x00 × 8 ‖ BE64(i)) — the index in the last 8 bytes, as the
    /// reference vectors have it (some prose puts it first).
    public static func derive(_ key: [UInt8], index: UInt64) throws -> [UInt8] {
        var block = [UInt8](repeating: 0, count: 8)
        withUnsafeBytes(of: index.bigEndian) { block.append(contentsOf: $0) }
        try AES.permute(&block, key: SymmetricKey(data: key))
        return block
    }

    public static func derive(_ key: [UInt8], _ index: Index) throws -> [UInt8] {
        try derive(key, index: index.rawValue)
    }

    /// KDF_INTERNAL(K, data): HMAC-SHA256 folded to 16 bytes (the first half XOR the second).
    public static func internalKDF(_ key: [UInt8], data: [UInt8]) -> [UInt8] {
        fold(Array(HMAC<SHA256>.authenticationCode(for: data, using: SymmetricKey(data: key))))
    }

    /// XOR of the two 16-byte halves of a 32-byte value (`ByteUtils.convert32Bto16B`).
    public static func fold(_ bytes: [UInt8]) -> [UInt8] {
        precondition(bytes.count == 32, "fold takes 32 bytes")
        return (0..<16).map { bytes[$0] ^ bytes[$0 + 16] }
    }
}

/// The shared secret of a device and the server, and the keys derived from it.
public struct PowerAuthDerivedKeys: Sendable, Equatable {
    public var possession: [UInt8]
    public var knowledge: [UInt8]
    public var biometry: [UInt8]
    public var transport: [UInt8]
    public var vault: [UInt8]

    /// KDF of the 16-byte master secret with the standard indices.
    public init(masterSecret: [UInt8]) throws {
        possession = try PowerAuthKDF.derive(masterSecret, .possession)
        knowledge = try PowerAuthKDF.derive(masterSecret, .knowledge)
        biometry = try PowerAuthKDF.derive(masterSecret, .biometry)
        transport = try PowerAuthKDF.derive(masterSecret, .transport)
        vault = try PowerAuthKDF.derive(masterSecret, .vault)
    }

    /// The master secret: the ECDH shared secret of one side's private key and the other side's
    /// public key, folded to 16 bytes.
    public static func masterSecret(privateKey: P256.KeyAgreement.PrivateKey, publicKey: P256.KeyAgreement.PublicKey) throws -> [UInt8] {
        let shared = try privateKey.sharedSecretFromKeyAgreement(with: publicKey).withUnsafeBytes { Array($0) }
        return PowerAuthKDF.fold(shared)
    }
}

extension PowerAuthDerivedKeys {
    /// The five keys as stored (sealed) by the server: 80 bytes in KDF index order.
    public var packed: [UInt8] { possession + knowledge + biometry + transport + vault }

    /// The keys from `packed`; `nil` for any other length.
    public init?(packed: [UInt8]) {
        guard packed.count == 80 else { return nil }
        possession = Array(packed[0..<16])
        knowledge = Array(packed[16..<32])
        biometry = Array(packed[32..<48])
        transport = Array(packed[48..<64])
        vault = Array(packed[64..<80])
    }

    /// The signing key of one factor.
    public func key(for factor: PowerAuthSignature.Factor) -> [UInt8] {
        switch factor {
        case .possession: possession
        case .knowledge: knowledge
        case .biometry: biometry
        }
    }
}
