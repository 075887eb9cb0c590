import Crypto
import Foundation
import StrongAuthProtocol
import Testing

/// The field list and the soft-token scheme of the ABN AMRO login protocol (docs/sessions.md).
@Suite("ABN AMRO login challenge encoding")
struct LoginTLVTests {
    /// The ABN AMRO API's own example challenge (kinnay/ABN-Amro wiki, "Authorization Service").
    static let seedChallenge =
        "02000889e720b93a634fbb03000406e9fb69040100c50e0f7ed8b1d0f1434fbed7ac74ba9ce4ecd0c60dd03a6a7f12d19496ed0ac587feedd4f38581494cb2d18acc8e4f4b2f55c0054cc5fb491960bcd20f73a8df38a1b1e50628b29756abb58f894574bb463f6f4b753ddae27840dcebc197cf908c705946484e5cd6994f004fa4555d0e80011912dc9e52e5c8f46aec19cdeab39d5eda08502eaf680dd7db40e72ebc02efd2b1f9949fe482f7500c93baf2db40ca8c16342824ec340cfd34fa4f1faa45cf2cafad77e3b1b8472c1a5e6a2f1aad37d17e3553d1c76b71806a41dcd0f6316acf27fef734767931e1bf74fd107f09f990e6b1a929cd9379dc8993b9a07f91bcacd700c94712780ea98294c96b9729050003010001000000"

    @Test("the ABN AMRO API's example challenge decodes to fields 2 (8 bytes), 3 (4), 4 (256-byte modulus), 5 (65537) and re-encodes byte for byte")
    func seedExample() throws {
        let bytes = try #require(Hex.decode(Self.seedChallenge))
        let fields = try LoginTLV.decode(bytes)
        #expect(fields[2] == Hex.decode("89e720b93a634fbb"))
        #expect(fields[3] == Hex.decode("06e9fb69"))
        #expect(fields[4]?.count == 256)
        #expect(fields[5] == [0x01, 0x00, 0x01])
        let reencoded = try SoftTokenScheme.challenge(
            nonce8: try #require(fields[2]), nonce4: try #require(fields[3]), modulus: try #require(fields[4]), exponent: try #require(fields[5]))
        #expect(reencoded == bytes)
        // A client can encrypt a response under the ABN AMRO API's key (we cannot decrypt it, of course).
        let response = try SoftTokenScheme.respond(toChallenge: bytes, userID: "0562813888_23", identificationCode: "12345")
        #expect(response.count == 256)
    }

    @Test("strict decoding: missing or non-empty terminator, trailing bytes, truncation and duplicates are refused; field order is free")
    func strictness() throws {
        #expect(try LoginTLV.decode([1, 0, 1, 0x31, 0, 0, 0]) == [1: [0x31]])
        #expect(try LoginTLV.decode([2, 0, 1, 7, 1, 0, 1, 0x31, 0, 0, 0]) == [1: [0x31], 2: [7]])
        #expect(throws: LoginTLV.Failure.badTerminator) { try LoginTLV.decode([1, 0, 1, 0x31]) }
        #expect(throws: LoginTLV.Failure.badTerminator) { try LoginTLV.decode([1, 0, 1, 0x31, 0, 0, 0, 9]) }
        #expect(throws: LoginTLV.Failure.badTerminator) { try LoginTLV.decode([0, 0, 1, 5]) }
        #expect(throws: LoginTLV.Failure.truncated) { try LoginTLV.decode([1, 0, 5, 0x31]) }
        #expect(throws: LoginTLV.Failure.truncated) { try LoginTLV.decode([1, 0]) }
        #expect(throws: LoginTLV.Failure.duplicateField(1)) { try LoginTLV.decode([1, 0, 0, 1, 0, 0, 0, 0, 0]) }
        #expect(throws: LoginTLV.Failure.badTerminator) { try LoginTLV.decode([UInt8]()) }
        #expect(throws: LoginTLV.Failure.valueTooLong(4)) { try LoginTLV.encode([(4, [UInt8](repeating: 0, count: 65_536))]) }
        #expect(try LoginTLV.encode([(9, Array("12345".utf8))]) == [9, 0, 5, 0x31, 0x32, 0x33, 0x34, 0x35, 0, 0, 0])
    }

    @Test("soft token: a response decrypts to {1, 2, 3, 8, 9}; garbage and wrong-size ciphertexts open to random bytes, not an error")
    func softTokenRoundTrip() throws {
        let key = try SoftTokenKey.generate()
        #expect(key.modulus.count == 256)
        #expect(key.exponent == [1, 0, 1])
        let restored = try SoftTokenKey(derRepresentation: key.derRepresentation)
        #expect(restored.modulus == key.modulus)
        let (nonce8, nonce4) = SoftTokenScheme.freshNonces()
        let challenge = try SoftTokenScheme.challenge(nonce8: nonce8, nonce4: nonce4, modulus: key.modulus, exponent: key.exponent)
        let response = try SoftTokenScheme.respond(toChallenge: challenge, userID: "0562813888_23", identificationCode: "12345")
        let fields = try LoginTLV.decode(restored.openResponse(response))
        #expect(fields == [1: Array("1".utf8), 2: nonce8, 3: nonce4, 8: Array("0562813888_23".utf8), 9: Array("12345".utf8)])

        // Random bytes of the right size have valid PKCS #1 v1.5 padding about once in 2^16 tries
        // (they then open to what they hold): the 48 random bytes are checked on a ciphertext
        // that can never open, one above the modulus.
        #expect(key.openResponse([UInt8](repeating: 0xFF, count: 256)).count == 48)
        #expect(key.openResponse(SecureRandom.bytes(256)) != key.openResponse(response))
        #expect(key.openResponse([1, 2, 3]).count == 48)
    }

    @Test(
        "soft token scenario: the answer contains the scenario hash the client computed; a client refuses a challenge for another scenario, and a login challenge stays as it was"
    )
    func softTokenScenario() throws {
        let key = try SoftTokenKey.generate()
        let (nonce8, nonce4) = SoftTokenScheme.freshNonces()
        let hash = SoftTokenScheme.scenarioHash(name: "ADD_PAYEE", canonicalData: #"{"iban":"NL02ABNA0123456789"}"#)
        let challenge = try SoftTokenScheme.challenge(
            nonce8: nonce8, nonce4: nonce4, modulus: key.modulus, exponent: key.exponent, scenarioHash: hash)
        #expect(try LoginTLV.decode(challenge)[SoftTokenScheme.Field.scenarioHash] == hash)
        let answer = try SoftTokenScheme.respond(toChallenge: challenge, userID: "0562813888_23", identificationCode: "12345", scenarioHash: hash)
        #expect(try LoginTLV.decode(key.openResponse(answer))[SoftTokenScheme.Field.scenarioHash] == hash)

        let other = SoftTokenScheme.scenarioHash(name: "ADD_PAYEE", canonicalData: #"{"iban":"NL91ABNA0417164300"}"#)
        #expect(throws: SoftTokenScheme.Failure.scenarioMismatch) {
            try SoftTokenScheme.respond(toChallenge: challenge, userID: "0562813888_23", identificationCode: "12345", scenarioHash: other)
        }
        #expect(throws: SoftTokenScheme.Failure.scenarioMismatch, "answering a scenario challenge as a login would sign unseen data") {
            try SoftTokenScheme.respond(toChallenge: challenge, userID: "0562813888_23", identificationCode: "12345")
        }
        let login = try SoftTokenScheme.challenge(nonce8: nonce8, nonce4: nonce4, modulus: key.modulus, exponent: key.exponent)
        #expect(try LoginTLV.decode(login).keys.sorted() == [2, 3, 4, 5], "the login challenge is unchanged for the public clients")
        #expect(throws: SoftTokenScheme.Failure.scenarioMismatch) {
            try SoftTokenScheme.respond(toChallenge: login, userID: "0562813888_23", identificationCode: "12345", scenarioHash: hash)
        }
    }

    @Test("bound device: the challenge carries purpose, nonces, user and scenario hash; only a signature over it verifies")
    func boundDevice() throws {
        let device = P256.Signing.PrivateKey()
        let hash = Array(SHA256.hash(data: Array("ADD_PAYEE\n{}".utf8)))
        let login = try BoundDeviceScheme.challenge(
            purpose: .login, nonce8: Array(repeating: 1, count: 8), nonce4: [2, 2, 2, 2], userID: "0562813888_23")
        let scenario = try BoundDeviceScheme.challenge(
            purpose: .scenario, nonce8: Array(repeating: 1, count: 8), nonce4: [2, 2, 2, 2], userID: "0562813888_23", scenarioHash: hash)
        #expect(try LoginTLV.decode(scenario)[10] == hash)
        let signature = Hex.encode(try device.signature(for: login).derRepresentation)
        #expect(BoundDeviceScheme.verify(signatureHex: signature, challenge: login, publicKey: device.publicKey))
        #expect(!BoundDeviceScheme.verify(signatureHex: signature, challenge: scenario, publicKey: device.publicKey))
        #expect(!BoundDeviceScheme.verify(signatureHex: "zz", challenge: login, publicKey: device.publicKey))
    }
}
