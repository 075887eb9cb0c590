import Crypto
import CryptoExtras
import Foundation
import Testing

@testable import StrongAuthProtocol

@Suite("COSE keys")
struct COSEKeyTests {
    static func ec2(_ key: P256.Signing.PublicKey, alg: Int = -7, crv: Int = 1) -> [(Int, CBORValue)] {
        let raw = Array(key.rawRepresentation)
        return [
            (1, .unsigned(2)), (3, TestCBOR.int(alg)), (-1, TestCBOR.int(crv)), (-2, .bytes(Array(raw[0..<32]))), (-3, .bytes(Array(raw[32...]))),
        ]
    }

    static func okp(_ key: Curve25519.Signing.PublicKey, alg: Int = -8, crv: Int = 6) -> [(Int, CBORValue)] {
        [(1, .unsigned(1)), (3, TestCBOR.int(alg)), (-1, TestCBOR.int(crv)), (-2, .bytes(Array(key.rawRepresentation)))]
    }

    static func rsa(modulus: [UInt8], exponent: [UInt8] = [1, 0, 1], alg: Int = -257) -> [(Int, CBORValue)] {
        [(1, .unsigned(3)), (3, TestCBOR.int(alg)), (-1, .bytes(modulus)), (-2, .bytes(exponent))]
    }

    static func key(_ entries: [(Int, CBORValue)]) throws(COSEKeyError) -> COSEKey {
        try COSEKey(bytes: TestCBOR.encode(TestCBOR.map(entries)))
    }

    static func refusal(_ entries: [(Int, CBORValue)]) -> COSEKeyError? {
        do {
            _ = try key(entries)
            return nil
        } catch {
            return error
        }
    }

    @Test("an ES256 key round-trips: DER signatures verify, raw r‖s and other data do not")
    func es256() throws {
        let privateKey = P256.Signing.PrivateKey()
        let key = try Self.key(Self.ec2(privateKey.publicKey))
        #expect(key.algorithm == .es256)
        let data = Array("authData‖hash".utf8)
        let signature = try privateKey.signature(for: data)
        #expect(key.verify(signature: Array(signature.derRepresentation), data: data))
        #expect(!key.verify(signature: Array(signature.rawRepresentation), data: data))
        #expect(!key.verify(signature: Array(signature.derRepresentation), data: data + [0]))
        #expect(!key.verify(signature: [], data: data))
    }

    @Test("an EdDSA key round-trips")
    func edDSA() throws {
        let privateKey = Curve25519.Signing.PrivateKey()
        let key = try Self.key(Self.okp(privateKey.publicKey))
        #expect(key.algorithm == .edDSA)
        let data = Array("passkey".utf8)
        let signature = Array(try privateKey.signature(for: data))
        #expect(key.verify(signature: signature, data: data))
        #expect(!key.verify(signature: signature, data: data.reversed()))
        #expect(!key.verify(signature: Array(signature.dropLast()), data: data))
    }

    @Test("an RS256 key round-trips")
    func rs256() throws {
        let privateKey = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let primitives = try privateKey.publicKey.getKeyPrimitives()
        let key = try Self.key(Self.rsa(modulus: Array(primitives.modulus), exponent: Array(primitives.publicExponent)))
        #expect(key.algorithm == .rs256)
        let data = Array("approve 100 EUR".utf8)
        let signature = Array(try privateKey.signature(for: data, padding: .insecurePKCS1v1_5).rawRepresentation)
        #expect(key.verify(signature: signature, data: data))
        let pss = Array(try privateKey.signature(for: data, padding: .PSS).rawRepresentation)
        #expect(!key.verify(signature: pss, data: data))
        #expect(!key.verify(signature: signature, data: data + [1]))
    }

    @Test("input that is not a COSE_Key map is refused")
    func notAMap() {
        #expect(throws: COSEKeyError.notAMap) { try COSEKey(bytes: [0x80]) }
        #expect(throws: COSEKeyError.notCBOR(CBORError(.trailingBytes, at: 1))) { try COSEKey(bytes: [0xa0, 0x00]) }
    }

    @Test("missing members are refused")
    func missingMembers() {
        let ec = Self.ec2(P256.Signing.PrivateKey().publicKey)
        for label in [1, 3, -1, -2, -3] {
            #expect(Self.refusal(ec.filter { $0.0 != label }) == .missingMember(label: label), "label \(label)")
        }
        let okp = Self.okp(Curve25519.Signing.PrivateKey().publicKey)
        #expect(Self.refusal(okp.filter { $0.0 != -2 }) == .missingMember(label: -2))
        #expect(Self.refusal(Self.rsa(modulus: [0xc0] + Array(repeating: 1, count: 255)).filter { $0.0 != -2 }) == .missingMember(label: -2))
    }

    @Test("other key types and algorithms are refused")
    func unsupported() {
        let ec = Self.ec2(P256.Signing.PrivateKey().publicKey)
        #expect(Self.refusal(ec.map { $0.0 == 3 ? (3, TestCBOR.int(-35)) : $0 }) == .unsupportedAlgorithm(-35))  // ES384
        #expect(Self.refusal(ec.map { $0.0 == 3 ? (3, TestCBOR.int(-37)) : $0 }) == .unsupportedAlgorithm(-37))  // PS256
        #expect(Self.refusal(ec.map { $0.0 == 1 ? (1, TestCBOR.int(4)) : $0 }) == .unsupportedKeyType(4))  // symmetric
        #expect(Self.refusal(ec.map { $0.0 == 3 ? (3, .text("ES256")) : $0 }) == .unsupportedAlgorithm(nil))
    }

    @Test("kty, alg and crv that do not belong together are refused")
    func mismatched() {
        let p256 = P256.Signing.PrivateKey().publicKey
        let ed = Curve25519.Signing.PrivateKey().publicKey
        #expect(Self.refusal(Self.ec2(p256, alg: -8)) == .mismatchedParameters)
        #expect(Self.refusal(Self.ec2(p256, alg: -257)) == .mismatchedParameters)
        #expect(Self.refusal(Self.ec2(p256, crv: 2)) == .mismatchedParameters)  // P-384
        #expect(Self.refusal(Self.okp(ed, alg: -7)) == .mismatchedParameters)
        #expect(Self.refusal(Self.okp(ed, crv: 4)) == .mismatchedParameters)  // X25519
        #expect(Self.refusal(Self.rsa(modulus: [0xc0] + Array(repeating: 1, count: 255), alg: -7)) == .mismatchedParameters)
    }

    @Test("a COSE_Key carrying a private key is refused")
    func privateKey() {
        let privateKey = P256.Signing.PrivateKey()
        #expect(Self.refusal(Self.ec2(privateKey.publicKey) + [(-4, .bytes(Array(privateKey.rawRepresentation)))]) == .containsPrivateKey)
        let ed = Curve25519.Signing.PrivateKey()
        #expect(Self.refusal(Self.okp(ed.publicKey) + [(-4, .bytes(Array(ed.rawRepresentation)))]) == .containsPrivateKey)
    }

    @Test("points not on the curve and coordinates of the wrong size are refused")
    func invalidPoints() {
        let valid = Self.ec2(P256.Signing.PrivateKey().publicKey)
        let offCurve = valid.map { $0.0 == -3 ? (-3, .bytes(Array(repeating: 1, count: 32))) : $0 }
        #expect(Self.refusal(offCurve) == .invalidKey)
        let short = valid.map { $0.0 == -2 ? (-2, .bytes(Array(repeating: 1, count: 31))) : $0 }
        #expect(Self.refusal(short) == .invalidKey)
        let textX = valid.map { $0.0 == -2 ? (-2, .text("x")) : $0 }
        #expect(Self.refusal(textX) == .invalidKey)
        let okp = Self.okp(Curve25519.Signing.PrivateKey().publicKey).map { $0.0 == -2 ? (-2, .bytes([1, 2, 3])) : $0 }
        #expect(Self.refusal(okp) == .invalidKey)
    }

    @Test("RSA keys below 2048 or above 4096 bits, and malformed moduli, are refused")
    func rsaSizes() {
        #expect(Self.refusal(Self.rsa(modulus: [0xc0] + Array(repeating: 1, count: 127))) == .unsupportedRSAKeySize(1024))
        #expect(Self.refusal(Self.rsa(modulus: [0x7f] + Array(repeating: 1, count: 255))) == .unsupportedRSAKeySize(2047))
        #expect(Self.refusal(Self.rsa(modulus: [0xc0] + Array(repeating: 1, count: 1023))) == .unsupportedRSAKeySize(8192))
        #expect(Self.refusal(Self.rsa(modulus: [0x00] + Array(repeating: 1, count: 256))) == .invalidKey)
        #expect(Self.refusal(Self.rsa(modulus: [0xc0] + Array(repeating: 1, count: 255), exponent: [])) == .invalidKey)
    }
}
