import Crypto
import Foundation
import Testing

@testable import StrongAuthProtocol

@Suite("Secrets and encodings")
struct SecretsTests {
    @Test("KeyedHash is HMAC-SHA-256: every RFC 4231 vector")
    func rfc4231() throws {
        let loaded = try TestVectors.load("rfc/rfc4231_hmac_sha256.json")
        let file = try #require(loaded as? [String: Any])
        let vectors = try #require(file["vectors"] as? [[String: Any]])
        #expect(vectors.count == 7)
        for vector in vectors {
            let keyHex = try #require(vector["key_hex"] as? String)
            let dataHex = try #require(vector["data_hex"] as? String)
            let key = try #require(Hex.decode(keyHex))
            let data = try #require(Hex.decode(dataHex))
            let expected = try #require(vector["hmac_sha256_hex"] as? String)
            let digest = KeyedHash(key: SymmetricKey(data: key)).hash(bytes: data)
            if let bits = vector["truncate_bits"] as? Int {
                #expect(digest.prefix(bits / 4) == expected.prefix(bits / 4), "test case \(vector["test_case"] ?? "?")")
            } else {
                #expect(digest == expected, "test case \(vector["test_case"] ?? "?")")
            }
        }
    }

    @Test("HMACSHA256 agrees with swift-crypto's HMAC<SHA256> for keys and messages of every length around the block size")
    func hmacAgreement() {
        for keyLength in [0, 1, 16, 31, 32, 33, 63, 64, 65, 100, 128, 200] {
            for messageLength in [0, 1, 16, 32, 55, 56, 63, 64, 65, 119, 120, 300] {
                let key = SecureRandom.bytes(keyLength)
                let message = SecureRandom.bytes(messageLength)
                let expected = Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
                #expect(HMACSHA256.authenticationCode(for: message, key: key) == expected, "key \(keyLength), message \(messageLength)")
            }
        }
    }

    @Test("KeyedHash matches only the same secret under the same key")
    func keyedHashMatching() {
        let hasher = KeyedHash(key: SymmetricKey(size: .bits256))
        let stored = hasher.hash("sa_cs_secret")
        #expect(hasher.matches("sa_cs_secret", storedHash: stored))
        #expect(!hasher.matches("sa_cs_secreT", storedHash: stored))
        #expect(!hasher.matches("", storedHash: stored))
        #expect(!KeyedHash(key: SymmetricKey(size: .bits256)).matches("sa_cs_secret", storedHash: stored))
    }

    @Test("ConstantTime.equals compares content and length")
    func constantTime() {
        #expect(ConstantTime.equals("abc", "abc"))
        #expect(!ConstantTime.equals("abc", "abd"))
        #expect(!ConstantTime.equals("abc", "abcd"))
        #expect(!ConstantTime.equals("", "a"))
        #expect(ConstantTime.equals("", ""))
        // Lengths that differ by a multiple of 256 must not compare equal.
        #expect(!ConstantTime.equals([UInt8](repeating: 0, count: 256), [UInt8]()))
    }

    @Test("Base64URL round-trips and rejects foreign alphabets")
    func base64url() {
        for length in 0..<40 {
            let bytes = SecureRandom.bytes(length)
            let encoded = Base64URL.encode(bytes)
            #expect(!encoded.contains("=") && !encoded.contains("+") && !encoded.contains("/"))
            #expect(Base64URL.decode(encoded) == bytes)
        }
        #expect(Base64URL.decode("a+b/") == nil)
        #expect(Base64URL.decode("ab$c") == nil)
    }

    @Test("Hex round-trips, accepts either case, rejects odd or foreign input")
    func hex() {
        #expect(Hex.encode([0x00, 0xAB, 0xFF]) == "00abff")
        #expect(Hex.decode("00ABff") == [0x00, 0xAB, 0xFF])
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
    }

    @Test("Tokens carry their prefix and 256 bits, and never repeat")
    func tokens() {
        let tokens = (0..<1000).map { _ in SecureRandom.token(prefix: "sa_rt_") }
        #expect(Set(tokens).count == tokens.count)
        for token in tokens.prefix(10) {
            #expect(token.hasPrefix("sa_rt_"))
            #expect(Base64URL.decode(String(token.dropFirst(6)))?.count == 32)
        }
    }
}
