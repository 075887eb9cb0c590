import Crypto
import Foundation
import Logging
import StrongAuthCore
import StrongAuthServer
import Testing

/// The master keyring (docs/keys.md): values name the key that sealed them, every key of the
/// ring opens, only the current one seals, and values sealed before key ids existed still open.
@Suite("Master keyring")
struct MasterKeyRingTests {
    /// A value sealed the way every release before the keyring sealed: bare base64 of AES-GCM's
    /// combined form under the HKDF subkey of the master key.
    static func legacySeal(_ plaintext: [UInt8], key: MasterKey, purpose: String, associatedData: String) throws -> String {
        let raw = SymmetricKey(data: try #require(Data(base64Encoded: key.base64)))
        let subkey = HKDF<SHA256>.deriveKey(inputKeyMaterial: raw, salt: Array("strongauth".utf8), info: Array(purpose.utf8), outputByteCount: 32)
        return try #require(try AES.GCM.seal(plaintext, using: subkey, authenticating: Array(associatedData.utf8)).combined).base64EncodedString()
    }

    @Test("a value sealed before key ids existed still opens, under the current key or a previous one; keyed hashes stay what they were")
    func legacyValuesOpen() throws {
        let old = MasterKey.generate()
        let legacy = try Self.legacySeal(Array("totp-secret".utf8), key: old, purpose: "operator-totp", associatedData: "op-1")
        #expect(try old.open(legacy, purpose: "operator-totp", associatedData: "op-1") == Array("totp-secret".utf8))
        let new = MasterKey.generate()
        let ring = new.addingKeys([old])
        #expect(try ring.open(legacy, purpose: "operator-totp", associatedData: "op-1") == Array("totp-secret".utf8))
        #expect(throws: (any Error).self) { try ring.open(legacy, purpose: "operator-totp", associatedData: "op-2") }
        #expect(throws: (any Error).self) { try new.open(legacy, purpose: "operator-totp", associatedData: "op-1") }
        // The keyed hashes are derived as before (HKDF of the key), and from the hash root once set.
        let raw = SymmetricKey(data: try #require(Data(base64Encoded: old.base64)))
        let expected = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: raw, salt: Array("strongauth".utf8), info: Array("secret-hash".utf8), outputByteCount: 32)
        #expect(old.derive(purpose: "secret-hash") == expected)
        #expect(try ring.withHashRoot(old.currentKeyBytes).derive(purpose: "secret-hash") == expected)
        #expect(ring.derive(purpose: "secret-hash") != expected)
    }

    @Test("new values name the current key; the ring opens values of any of its keys; a value of a key not in the ring is refused by name")
    func keyIDs() throws {
        let old = MasterKey.generate()
        let new = MasterKey.generate()
        let sealedOld = try old.seal(Array("a".utf8), purpose: "p", associatedData: "x")
        #expect(sealedOld.hasPrefix("mk:\(old.keyID):") && old.keyID.count == 8 && old.keyID != new.keyID)
        let ring = old.addingKeys([new])
        #expect(ring.keyIDs == [old.keyID, new.keyID])
        let switched = ring.sealing(with: new)
        #expect(switched.keyID == new.keyID && switched.keyIDs == [new.keyID, old.keyID])
        let sealedNew = try switched.seal(Array("b".utf8), purpose: "p", associatedData: "x")
        #expect(switched.isSealedUnderCurrentKey(sealedNew) && !switched.isSealedUnderCurrentKey(sealedOld))
        #expect(try ring.open(sealedNew, purpose: "p", associatedData: "x") == Array("b".utf8))
        #expect(try switched.open(sealedOld, purpose: "p", associatedData: "x") == Array("a".utf8))
        #expect(throws: MasterKeyError.self) { try old.open(sealedNew, purpose: "p", associatedData: "x") }
        // A forged key id in front of a value of a known key is refused, not tried with every key.
        let relabelled = "mk:00000000:" + String(sealedOld.dropFirst("mk:\(old.keyID):".count))
        #expect(throws: MasterKeyError.self) { try ring.open(relabelled, purpose: "p", associatedData: "x") }
    }

    /// Subkeys are derived once per key and purpose and kept: what is sealed is still the RFC 5869
    /// subkey of that key for that purpose, whichever purposes were used before and in what order.
    @Test("sealed under HKDF(key, purpose) on every use, for each key of the ring, each purpose its own subkey")
    func subkeysPerKeyAndPurpose() throws {
        let old = MasterKey.generate()
        let new = MasterKey.generate()
        let ring = new.addingKeys([old])
        func subkey(_ key: MasterKey, _ purpose: String) throws -> SymmetricKey {
            HKDF<SHA256>.deriveKey(
                inputKeyMaterial: SymmetricKey(data: try #require(Data(base64Encoded: key.base64))), salt: Array("strongauth".utf8),
                info: Array(purpose.utf8), outputByteCount: 32)
        }
        func openedWith(_ subkey: SymmetricKey, _ sealed: String, _ associatedData: String) throws -> [UInt8] {
            let body = try #require(Data(base64Encoded: String(sealed.split(separator: ":", maxSplits: 2)[2])))
            return [UInt8](try AES.GCM.open(try AES.GCM.SealedBox(combined: body), using: subkey, authenticating: Array(associatedData.utf8)))
        }
        for round in 0..<3 {
            for purpose in ["notification", "operator-totp", "webhook:s-\(round)"] {
                let plaintext = Array("\(purpose) \(round)".utf8)
                let sealed = try ring.seal(plaintext, purpose: purpose, associatedData: "row")
                #expect(try openedWith(try subkey(new, purpose), sealed, "row") == plaintext)
                #expect(throws: (any Error).self) { try openedWith(try subkey(new, purpose + "x"), sealed, "row") }
                #expect(throws: (any Error).self) { try ring.open(sealed, purpose: "other-\(purpose)", associatedData: "row") }
                let sealedOld = try old.seal(plaintext, purpose: purpose, associatedData: "row")
                #expect(try openedWith(try subkey(old, purpose), sealedOld, "row") == plaintext)
                #expect(try ring.open(sealedOld, purpose: purpose, associatedData: "row") == plaintext)
            }
        }
    }

    @Test("master.previousKeys: base64 keys, comma-separated; anything else is refused")
    func previousKeysSetting() async throws {
        func settings(_ previous: String) async throws -> ServerSettings {
            try ServerSettings(reader: try await ServerSettings.reader(flags: [:], environment: ["STRONGAUTH_MASTER_PREVIOUS_KEYS": previous]))
        }
        let (a, b) = (MasterKey.generate().base64, MasterKey.generate().base64)
        #expect(try await settings("\(a),\(b)").previousMasterKeys == [a, b])
        await #expect(throws: SettingsError.self) { try await settings("\(a),not-a-key") }
    }
}
