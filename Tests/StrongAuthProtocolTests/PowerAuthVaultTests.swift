import Foundation
import StrongAuthProtocol
import Testing

/// `KEY_ENCRYPTION_VAULT` under `KEY_TRANSPORT` (`/pa/v3/vault/unlock`): AES-128-CBC, zero IV,
/// PKCS#7, as powerauth-crypto's `PowerAuthServerVault` does.
@Suite("PowerAuth vault key encryption")
struct PowerAuthVaultTests {
    /// The keys of the first case of `compute-derived-keys.json`; the ciphertext was computed
    /// independently (Python `cryptography`, AES-CBC zero IV, PKCS#7 padder).
    static let transport = PowerAuthBase64.decode("v8ZPpTuh1IIBaUnhkXcNbw==")!
    static let vault = PowerAuthBase64.decode("6o4or/gFtBu5Wb1ayqdgyQ==")!
    static let encrypted = PowerAuthBase64.decode("JX3dt2j8VfkbRUL5mF6AsKGlVjpkwewYzSNsO1dD5wA=")!

    @Test("known answer: the vector's vault key under its transport key, and back")
    func knownAnswer() throws {
        #expect(try PowerAuthVault.encryptVaultKey(Self.vault, transportKey: Self.transport) == Self.encrypted)
        #expect(try PowerAuthVault.decryptVaultKey(Self.encrypted, transportKey: Self.transport) == Self.vault)
    }

    @Test("a wrong length or a wrong transport key does not yield a key")
    func refusals() throws {
        #expect(throws: PowerAuthVault.Error.malformedVaultKey) {
            try PowerAuthVault.decryptVaultKey(Array(Self.encrypted.prefix(16)), transportKey: Self.transport)
        }
        #expect(throws: PowerAuthVault.Error.malformedVaultKey) {
            try PowerAuthVault.encryptVaultKey(Array(Self.vault.prefix(15)), transportKey: Self.transport)
        }
        var wrong = Self.transport
        wrong[0] ^= 1
        // Under another key the padding almost always breaks; if it happens not to, the key differs.
        let result = try? PowerAuthVault.decryptVaultKey(Self.encrypted, transportKey: wrong)
        #expect(result != Self.vault)
    }
}
