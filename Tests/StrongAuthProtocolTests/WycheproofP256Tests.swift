import Crypto
import Foundation
import Testing

@testable import StrongAuthProtocol

/// Every Wycheproof ECDSA P-256/SHA-256 case: `valid` must verify, `invalid` must be rejected
/// (by the codec or by verification), `acceptable` may go either way.
@Suite("Wycheproof ECDSA P-256 SHA-256")
struct WycheproofP256Tests {
    struct Case {
        var id: Int
        var keyHex: String
        var keyDERHex: String
        var message: [UInt8]
        var signatureHex: String
        var result: String
    }

    static func cases(_ file: String) throws -> [Case] {
        let loaded = try TestVectors.load("wycheproof/\(file)")
        let json = try #require(loaded as? [String: Any])
        let groups = try #require(json["testGroups"] as? [[String: Any]])
        var cases: [Case] = []
        for group in groups {
            let key = try #require(group["publicKey"] as? [String: Any])
            let keyHex = try #require(key["uncompressed"] as? String)
            let keyDER = try #require(group["publicKeyDer"] as? String)
            for test in try #require(group["tests"] as? [[String: Any]]) {
                let messageHex = try #require(test["msg"] as? String)
                cases.append(
                    Case(
                        id: try #require(test["tcId"] as? Int), keyHex: keyHex, keyDERHex: keyDER,
                        message: try #require(Hex.decode(messageHex)),
                        signatureHex: try #require(test["sig"] as? String), result: try #require(test["result"] as? String)))
            }
        }
        return cases
    }

    func check(_ file: String, expectedCount: Int, format: (String) -> String) throws {
        let cases = try Self.cases(file)
        #expect(cases.count == expectedCount)
        var valid = 0
        var invalid = 0
        for testCase in cases {
            let key = try P256Codec.publicKey(hex: testCase.keyHex)
            #expect(try P256Codec.publicKey(hex: testCase.keyDERHex).rawRepresentation == key.rawRepresentation)
            let verified = P256Codec.verify(signatureHex: format(testCase.signatureHex), message: testCase.message, publicKey: key)
            switch testCase.result {
            case "valid":
                #expect(verified, "tcId \(testCase.id) is valid and must verify")
                valid += 1
            case "invalid":
                #expect(!verified, "tcId \(testCase.id) is invalid and must be rejected")
                invalid += 1
            default:
                break
            }
        }
        #expect(valid > 0 && invalid > 0)
    }

    @Test("DER signatures: all 484 cases")
    func der() throws {
        try check("ecdsa_secp256r1_sha256_test.json", expectedCount: 484) { $0 }
    }

    @Test("raw r‖s (P1363) signatures: all 262 cases")
    func p1363() throws {
        let cases = try Self.cases("ecdsa_secp256r1_sha256_p1363_test.json")
        #expect(cases.count == 262)
        for testCase in cases {
            let key = try P256Codec.publicKey(hex: testCase.keyHex)
            // Raw signatures are only taken at exactly 64 bytes; any other length is refused
            // rather than guessed as DER.
            let bytes = try #require(Hex.decode(testCase.signatureHex))
            let verified =
                bytes.count == 64
                && P256Codec.verify(signatureHex: testCase.signatureHex, message: testCase.message, publicKey: key)
            switch testCase.result {
            case "valid": #expect(verified, "tcId \(testCase.id) is valid and must verify")
            case "invalid": #expect(!verified, "tcId \(testCase.id) is invalid and must be rejected")
            default: break
            }
        }
    }

    @Test("every accepted key encoding parses to the same key; junk does not")
    func keyEncodings() throws {
        let key = P256.Signing.PrivateKey().publicKey
        let forms = [
            Hex.encode(key.x963Representation), Hex.encode(key.compressedRepresentation),
            Hex.encode(key.rawRepresentation), Hex.encode(key.derRepresentation),
        ]
        for form in forms {
            #expect(try P256Codec.publicKey(hex: form).rawRepresentation == key.rawRepresentation)
        }
        var offCurve = [UInt8](key.x963Representation)
        offCurve[64] ^= 0x01
        #expect(throws: P256Codec.Failure.invalidPublicKey) { try P256Codec.publicKey(bytes: offCurve) }
        #expect(throws: P256Codec.Failure.notHex) { try P256Codec.publicKey(hex: "zz") }
        #expect(throws: P256Codec.Failure.invalidPublicKey) { try P256Codec.publicKey(hex: "04") }
        #expect(throws: P256Codec.Failure.invalidSignature) { try P256Codec.signature(hex: String(repeating: "30", count: 200)) }
    }
}
