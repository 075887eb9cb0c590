import Crypto
import Foundation
import Testing

@testable import StrongAuthProtocol

/// End to end on responses made and accepted by py_webauthn (see WebAuthnVectors.swift).
@Suite("WebAuthn verifier")
struct WebAuthnVerifierTests {
    typealias Vectors = WebAuthnVectors
    static let origins: Set<String> = [Vectors.origin, "https://other.example"]

    static func register(
        _ vector: Vectors.Vector, attestationObject: String? = nil, clientDataJSON: String? = nil, challenge: [UInt8] = Vectors.challenge,
        rpID: String = Vectors.rpID, origins: Set<String> = origins, requireUserVerification: Bool = true
    ) async throws(WebAuthnError) -> VerifiedRegistration {
        try await WebAuthnVerifier.verifyRegistration(
            attestationObject: attestationObject ?? vector.attestationObject, clientDataJSON: clientDataJSON ?? vector.clientDataJSON,
            expectedChallenge: challenge, rpID: rpID, origins: origins, requireUserVerification: requireUserVerification)
    }

    static func assert(
        _ vector: Vectors.Vector, storedSignCount: UInt32 = 0, authenticatorData: String? = nil, clientDataJSON: String? = nil,
        signature: String? = nil, credentialPublicKey: [UInt8]? = nil, challenge: [UInt8] = Vectors.challenge, rpID: String = Vectors.rpID,
        origins: Set<String> = origins, requireUserVerification: Bool = true
    ) throws(WebAuthnError) -> VerifiedAssertion {
        try WebAuthnVerifier.verifyAssertion(
            credentialPublicKey: credentialPublicKey ?? Base64URL.decode(vector.credentialPublicKey) ?? [], storedSignCount: storedSignCount,
            authenticatorData: authenticatorData ?? vector.authenticatorData, clientDataJSON: clientDataJSON ?? vector.clientDataJSON,
            signature: signature ?? vector.signature, expectedChallenge: challenge, rpID: rpID, origins: origins,
            requireUserVerification: requireUserVerification)
    }

    /// `base64url` with one bit of byte `index` (counted from the end when negative) flipped.
    static func flipping(_ base64url: String, at index: Int) throws -> String {
        var bytes = try #require(Base64URL.decode(base64url))
        bytes[index >= 0 ? index : bytes.count + index] ^= 0x01
        return Base64URL.encode(bytes)
    }

    /// clientDataJSON with `changes` applied to the vector's object.
    static func clientData(_ vector: Vectors.Vector, _ changes: [String: Any?]) throws -> String {
        let bytes = try #require(Base64URL.decode(vector.clientDataJSON))
        var object = try #require(JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        for (key, value) in changes { object[key] = value }
        return Base64URL.encode(try JSONSerialization.data(withJSONObject: object))
    }

    // MARK: Registration

    @Test("attestation none registers: the key, counter, backup flags and AAGUID come back")
    func registrationNone() async throws {
        let vector = Vectors.registrationNoneES256
        let result = try await Self.register(vector)
        #expect(result.attestationFormat == .none)
        #expect(result.algorithm == .es256)
        #expect(result.credentialID == Base64URL.decode(vector.credentialID))
        #expect(result.credentialPublicKey == Base64URL.decode(vector.credentialPublicKey))
        #expect(result.signCount == 0)
        #expect(result.userVerified && result.backupEligible && result.backupState)
        #expect(result.aaguid == Array(repeating: 0, count: 16))
    }

    @Test("packed self attestation registers with ES256, RS256 and EdDSA")
    func registrationPackedSelf() async throws {
        let es256 = try await Self.register(Vectors.registrationPackedES256)
        #expect(es256.attestationFormat == .packedSelf)
        #expect(es256.algorithm == .es256)
        #expect(es256.signCount == 1)
        #expect(!es256.backupEligible && !es256.backupState)
        #expect(es256.aaguid == Hex.decode("0123456789abcdef0123456789abcdef"))
        #expect(try await Self.register(Vectors.registrationPackedRS256).algorithm == .rs256)
        let edDSA = try await Self.register(Vectors.registrationPackedEdDSA)
        #expect(edDSA.algorithm == .edDSA)
        #expect(edDSA.backupEligible && !edDSA.backupState)
    }

    @Test("a registration for another challenge is refused")
    func registrationWrongChallenge() async {
        await #expect(throws: WebAuthnError.challengeMismatch) {
            try await Self.register(Vectors.registrationPackedES256, challenge: Array(Vectors.challenge.reversed()))
        }
        await #expect(throws: WebAuthnError.challengeMismatch) { try await Self.register(Vectors.registrationPackedES256, challenge: []) }
    }

    @Test("a registration from an origin not allowed is refused")
    func registrationWrongOrigin() async {
        await #expect(throws: WebAuthnError.originNotAllowed(Vectors.origin)) {
            try await Self.register(Vectors.registrationNoneES256, origins: ["https://bank.example:8443", "http://bank.example"])
        }
    }

    @Test("a registration for another rpID is refused")
    func registrationWrongRPID() async {
        await #expect(throws: WebAuthnError.rpIDMismatch) { try await Self.register(Vectors.registrationNoneES256, rpID: "evil.example") }
        await #expect(throws: WebAuthnError.rpIDMismatch) { try await Self.register(Vectors.registrationNoneES256, rpID: "www.bank.example") }
    }

    @Test("an assertion's clientDataJSON cannot register")
    func registrationWrongType() async {
        let vector = Vectors.registrationNoneES256
        await #expect(throws: WebAuthnError.wrongType("webauthn.get")) {
            try await Self.register(vector, clientDataJSON: Vectors.assertionES256.clientDataJSON)
        }
    }

    @Test("packed attestation with one flipped signature bit is refused")
    func registrationFlippedSignature() async throws {
        let bytes = try #require(Base64URL.decode(Vectors.registrationPackedES256.attestationObject))
        let statement = try #require(CBOR.decode(bytes)["attStmt"]?["sig"]?.byteString)
        let start = try #require(Self.firstIndex(of: statement, in: bytes))
        var tampered = bytes
        tampered[start + statement.count - 3] ^= 0x01
        await #expect(throws: WebAuthnError.invalidSignature) {
            try await Self.register(Vectors.registrationPackedES256, attestationObject: Base64URL.encode(tampered))
        }
        // A flipped bit in the signed authenticator data (the counter's last byte) breaks it the same way.
        let authData = try #require(CBOR.decode(bytes)["authData"]?.byteString)
        var counterFlipped = bytes
        counterFlipped[try #require(Self.firstIndex(of: authData, in: bytes)) + 36] ^= 0x01
        await #expect(throws: WebAuthnError.invalidSignature) {
            try await Self.register(Vectors.registrationPackedES256, attestationObject: Base64URL.encode(counterFlipped))
        }
    }

    @Test("packed attestation signed over another clientDataJSON is refused")
    func registrationOtherClientData() async throws {
        let other = try Self.clientData(Vectors.registrationPackedES256, ["extra": "x"])
        await #expect(throws: WebAuthnError.invalidSignature) { try await Self.register(Vectors.registrationPackedES256, clientDataJSON: other) }
    }

    @Test("a registration without user verification is refused when UV is required, accepted otherwise")
    func registrationWithoutUV() async throws {
        await #expect(throws: WebAuthnError.userNotVerified) { try await Self.register(Vectors.registrationNoneWithoutUV) }
        let result = try await Self.register(Vectors.registrationNoneWithoutUV, requireUserVerification: false)
        #expect(!result.userVerified)
    }

    @Test("attestation formats other than none and packed are refused, and so is packed with an x5c that holds no certificate")
    func registrationFormats() async throws {
        let bytes = try #require(Base64URL.decode(Vectors.registrationNoneES256.attestationObject))
        let authData = try #require(CBOR.decode(bytes)["authData"])
        func object(_ format: String, _ statement: [CBORMapEntry]) -> String {
            Base64URL.encode(
                TestCBOR.encode(
                    .map([
                        CBORMapEntry(key: .text("fmt"), value: .text(format)),
                        CBORMapEntry(key: .text("attStmt"), value: .map(statement)),
                        CBORMapEntry(key: .text("authData"), value: authData),
                    ])))
        }
        #expect(try await Self.register(Vectors.registrationNoneES256, attestationObject: object("none", [])).attestationFormat == .none)
        await #expect(throws: WebAuthnError.unsupportedAttestationFormat("fido-u2f")) {
            try await Self.register(Vectors.registrationNoneES256, attestationObject: object("fido-u2f", []))
        }
        let x5c = [
            CBORMapEntry(key: .text("alg"), value: .negative(6)), CBORMapEntry(key: .text("sig"), value: .bytes([1])),
            CBORMapEntry(key: .text("x5c"), value: .array([.bytes([0x30])])),
        ]
        await #expect(throws: WebAuthnError.malformedAttestationStatement) {
            try await Self.register(Vectors.registrationNoneES256, attestationObject: object("packed", x5c))
        }
        await #expect(throws: WebAuthnError.malformedAttestationStatement) {
            try await Self.register(
                Vectors.registrationNoneES256, attestationObject: object("none", [CBORMapEntry(key: .text("sig"), value: .bytes([1]))]))
        }
        let wrongAlg = [CBORMapEntry(key: .text("alg"), value: .negative(256)), CBORMapEntry(key: .text("sig"), value: .bytes([1]))]
        await #expect(throws: WebAuthnError.attestationAlgorithmMismatch) {
            try await Self.register(Vectors.registrationNoneES256, attestationObject: object("packed", wrongAlg))
        }
        await #expect(throws: WebAuthnError.malformedAttestationObject) {
            try await Self.register(Vectors.registrationNoneES256, attestationObject: Base64URL.encode([0xa0]))
        }
        await #expect(throws: WebAuthnError.notBase64URL(field: "attestationObject")) {
            try await Self.register(Vectors.registrationNoneES256, attestationObject: "o2Nm+/")
        }
    }

    @Test("cross-origin client data, a topOrigin, and malformed client data are refused")
    func registrationClientData() async throws {
        let vector = Vectors.registrationNoneES256
        await #expect(throws: WebAuthnError.crossOrigin) {
            try await Self.register(vector, clientDataJSON: try Self.clientData(vector, ["crossOrigin": true]))
        }
        await #expect(throws: WebAuthnError.crossOrigin) {
            try await Self.register(vector, clientDataJSON: try Self.clientData(vector, ["topOrigin": "https://bank.example"]))
        }
        await #expect(throws: WebAuthnError.malformedClientData) {
            try await Self.register(vector, clientDataJSON: try Self.clientData(vector, ["crossOrigin": "false"]))
        }
        await #expect(throws: WebAuthnError.malformedClientData) {
            try await Self.register(vector, clientDataJSON: try Self.clientData(vector, ["origin": nil]))
        }
        await #expect(throws: WebAuthnError.malformedClientData) {
            try await Self.register(vector, clientDataJSON: try Self.clientData(vector, ["challenge": "AAEC+w=="]))
        }
        // Without crossOrigin at all (older browsers) the data is accepted.
        #expect(try await Self.register(vector, clientDataJSON: try Self.clientData(vector, ["crossOrigin": nil])).attestationFormat == .none)
    }

    // MARK: Assertion

    @Test("assertions by ES256, RS256 and EdDSA credentials verify and return the new counter")
    func assertions() async throws {
        #expect(try Self.assert(Vectors.assertionES256, storedSignCount: 1).signCount == 5)
        #expect(try Self.assert(Vectors.assertionRS256, storedSignCount: 0).signCount == 0)
        let edDSA = try Self.assert(Vectors.assertionEdDSA, storedSignCount: 2)
        #expect(edDSA.signCount == 3)
        #expect(edDSA.backupEligible && !edDSA.backupState)
        // The key stored at registration is the one assertions verify with.
        let registered = try await Self.register(Vectors.registrationPackedES256)
        #expect(try Self.assert(Vectors.assertionES256, credentialPublicKey: registered.credentialPublicKey).signCount == 5)
    }

    @Test("an assertion for another challenge is refused")
    func assertionWrongChallenge() {
        var challenge = Vectors.challenge
        challenge[31] ^= 0x80
        #expect(throws: WebAuthnError.challengeMismatch) { try Self.assert(Vectors.assertionES256, challenge: challenge) }
    }

    @Test("an assertion from an origin not allowed is refused")
    func assertionWrongOrigin() {
        #expect(throws: WebAuthnError.originNotAllowed(Vectors.origin)) { try Self.assert(Vectors.assertionES256, origins: ["https://evil.example"]) }
    }

    @Test("an assertion for another rpID is refused")
    func assertionWrongRPID() {
        #expect(throws: WebAuthnError.rpIDMismatch) { try Self.assert(Vectors.assertionEdDSA, rpID: "example") }
    }

    @Test("a registration's clientDataJSON cannot assert")
    func assertionWrongType() {
        #expect(throws: WebAuthnError.wrongType("webauthn.create")) {
            try Self.assert(Vectors.assertionES256, clientDataJSON: Vectors.registrationNoneES256.clientDataJSON)
        }
    }

    @Test("an assertion with one flipped signature bit is refused, for every algorithm")
    func assertionFlippedSignature() throws {
        for vector in [Vectors.assertionES256, Vectors.assertionRS256, Vectors.assertionEdDSA] {
            for index in [0, 10, -1] {
                let signature = try Self.flipping(vector.signature, at: index)
                #expect(throws: WebAuthnError.invalidSignature) { try Self.assert(vector, signature: signature) }
            }
        }
    }

    @Test("an assertion whose signed data changed is refused")
    func assertionTamperedData() throws {
        let vector = Vectors.assertionES256
        // Counter byte: still parses, no longer matches the signature.
        #expect(throws: WebAuthnError.invalidSignature) {
            try Self.assert(vector, authenticatorData: try Self.flipping(vector.authenticatorData, at: -1))
        }
        #expect(throws: WebAuthnError.invalidSignature) {
            try Self.assert(vector, clientDataJSON: try Self.clientData(vector, ["extra": 1]))
        }
        // Another credential's key does not verify it.
        #expect(throws: WebAuthnError.invalidSignature) {
            try Self.assert(vector, credentialPublicKey: Base64URL.decode(Vectors.assertionEdDSA.credentialPublicKey))
        }
    }

    @Test("an assertion without user verification is refused when UV is required, accepted otherwise")
    func assertionWithoutUV() throws {
        #expect(throws: WebAuthnError.userNotVerified) { try Self.assert(Vectors.assertionES256WithoutUV, storedSignCount: 1) }
        let result = try Self.assert(Vectors.assertionES256WithoutUV, storedSignCount: 1, requireUserVerification: false)
        #expect(result.signCount == 6 && !result.userVerified)
    }

    @Test("a counter that does not increase is a counter regression (a cloned authenticator)")
    func counterRegression() throws {
        #expect(throws: WebAuthnError.counterRegression(stored: 5, received: 5)) { try Self.assert(Vectors.assertionES256, storedSignCount: 5) }
        #expect(throws: WebAuthnError.counterRegression(stored: 9, received: 5)) { try Self.assert(Vectors.assertionES256, storedSignCount: 9) }
        // An authenticator that never counts (0 and 0) is not a regression.
        #expect(try Self.assert(Vectors.assertionRS256, storedSignCount: 0).signCount == 0)
        // A counting authenticator that drops to 0 is.
        #expect(throws: WebAuthnError.counterRegression(stored: 3, received: 0)) { try Self.assert(Vectors.assertionRS256, storedSignCount: 3) }
        // With a bad signature the counter is never judged: invalidSignature, not counterRegression.
        let signature = try Self.flipping(Vectors.assertionES256.signature, at: -1)
        #expect(throws: WebAuthnError.invalidSignature) { try Self.assert(Vectors.assertionES256, storedSignCount: 9, signature: signature) }
    }

    @Test("an assertion with user presence cleared or attested data attached is refused")
    func assertionFlags() throws {
        // Flags change the signed data, so these are built with a fresh key.
        let privateKey = P256.Signing.PrivateKey()
        let cose = TestCBOR.encode(TestCBOR.map(COSEKeyTests.ec2(privateKey.publicKey)))
        let clientData = try #require(Base64URL.decode(Vectors.assertionES256.clientDataJSON))
        func assertion(_ authData: [UInt8]) throws -> VerifiedAssertion {
            let signature = try privateKey.signature(for: authData + SHA256.hash(data: clientData))
            return try Self.assert(
                Vectors.assertionES256, authenticatorData: Base64URL.encode(authData), signature: Base64URL.encode(signature.derRepresentation),
                credentialPublicKey: cose)
        }
        #expect(try assertion(AuthenticatorDataTests.header(flags: 0x05, count: 1)).signCount == 1)
        #expect(throws: WebAuthnError.userNotPresent) { try assertion(AuthenticatorDataTests.header(flags: 0x04, count: 1)) }
        #expect(throws: WebAuthnError.unexpectedAttestedCredentialData(present: true)) {
            try assertion(AuthenticatorDataTests.header(flags: 0x45, count: 1) + AuthenticatorDataTests.attested())
        }
    }

    static func firstIndex(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        return (0...(haystack.count - needle.count)).first { Array(haystack[$0..<$0 + needle.count]) == needle }
    }
}
