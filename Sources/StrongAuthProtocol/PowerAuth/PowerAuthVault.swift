import Crypto
import CryptoExtras
import Foundation

/// The secure vault of protocol 3.x (`/pa/v3/vault/unlock`, wultra/powerauth-crypto
/// "Standard-RESTful-API.md", "Vault unlock"): after a two-factor signature the server sends
/// `KEY_ENCRYPTION_VAULT` (KDF index 2000 of the master secret) encrypted under `KEY_TRANSPORT`
/// (index 1000) — AES-128-CBC, an all-zero IV, PKCS#7 padding, so 32 bytes — exactly as the
/// reference's `PowerAuthServerVault.encryptVaultEncryptionKey` (3.0–3.3) does. The mobile SDKs
/// use the key to open what they keep in the vault (the device private key, the biometry key).
///
/// The zero IV is the reference's and harmless here: the plaintext of one activation is always
/// the same 16-byte key, and the envelope around it (activation-scope ECIES) is freshly keyed.
public enum PowerAuthVault {
    public enum Error: Swift.Error, Equatable, Sendable {
        /// Not 32 bytes, or not a padded 16-byte key under this transport key.
        case malformedVaultKey
    }

    /// The server's side: `KEY_ENCRYPTION_VAULT` under `KEY_TRANSPORT`.
    public static func encryptVaultKey(_ vaultKey: [UInt8], transportKey: [UInt8]) throws -> [UInt8] {
        guard vaultKey.count == 16, transportKey.count == 16 else { throw Error.malformedVaultKey }
        return Array(try AES._CBC.encrypt(vaultKey, using: SymmetricKey(data: transportKey), iv: zeroIV()))
    }

    /// The phone's side: the 16-byte `KEY_ENCRYPTION_VAULT`, or `malformedVaultKey` for anything
    /// else (a wrong transport key almost always breaks the padding; the caller that knows the
    /// key it expects compares in constant time).
    public static func decryptVaultKey(_ encrypted: [UInt8], transportKey: [UInt8]) throws -> [UInt8] {
        guard encrypted.count == 32, transportKey.count == 16 else { throw Error.malformedVaultKey }
        let plain: [UInt8]
        do {
            plain = Array(try AES._CBC.decrypt(encrypted, using: SymmetricKey(data: transportKey), iv: zeroIV()))
        } catch {
            throw Error.malformedVaultKey
        }
        guard plain.count == 16 else { throw Error.malformedVaultKey }
        return plain
    }

    private static func zeroIV() throws -> AES._CBC.IV {
        try AES._CBC.IV(ivBytes: [UInt8](repeating: 0, count: 16))
    }
}
