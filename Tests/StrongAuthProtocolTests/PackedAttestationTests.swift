import Foundation
import Testing

@testable import StrongAuthProtocol

/// Packed full attestation (WebAuthn L3 §8.2 with x5c, §8.2.1) on the vectors of
/// PackedAttestationVectors.swift: certified chains, and every refusal.
@Suite("Packed full attestation")
struct PackedAttestationTests {
    typealias Vectors = PackedAttestationVectors

    static func trust(_ pem: String = Vectors.rootPEM, at time: Date = Vectors.verificationTime) throws -> AttestationTrust {
        try AttestationTrust(pemEncodedRoots: pem, verificationTime: time)
    }

    static func register(
        _ vector: WebAuthnVectors.Vector, attestationObject: String? = nil, trust: AttestationTrust = AttestationTrust()
    ) async throws(WebAuthnError) -> VerifiedRegistration {
        try await WebAuthnVerifier.verifyRegistration(
            attestationObject: attestationObject ?? vector.attestationObject, clientDataJSON: vector.clientDataJSON,
            expectedChallenge: WebAuthnVectors.challenge, rpID: WebAuthnVectors.rpID, origins: [WebAuthnVectors.origin],
            requireUserVerification: true, attestationTrust: trust)
    }

    /// The vector's attestation object with its statement rewritten by `change`.
    static func statement(of vector: WebAuthnVectors.Vector, _ change: (inout [CBORMapEntry]) -> Void) throws -> String {
        let object = try CBOR.decode(try #require(Base64URL.decode(vector.attestationObject)))
        var entries = try #require(object.mapEntries)
        let index = try #require(entries.firstIndex { $0.key == .text("attStmt") })
        var statement = try #require(entries[index].value.mapEntries)
        change(&statement)
        entries[index].value = .map(statement)
        return Base64URL.encode(TestCBOR.encode(.map(entries)))
    }

    // MARK: Certified

    @Test("a chain through the intermediate to the given root is certified, for ES256 and RS256 attestation keys")
    func certified() async throws {
        for vector in [Vectors.certifiedES256, Vectors.certifiedRS256] {
            let result = try await Self.register(vector, trust: try Self.trust())
            #expect(result.attestationFormat == .packedFull)
            #expect(result.attestationFormat.rawValue == "packed-x5c")
            #expect(result.attestationCertified)
            #expect(result.algorithm == .es256)
            #expect(result.aaguid == Hex.decode(Vectors.aaguid))
            #expect(result.credentialPublicKey == Base64URL.decode(vector.credentialPublicKey))
            #expect(result.credentialID == Base64URL.decode(vector.credentialID))
        }
    }

    @Test("without roots a well-formed full attestation is accepted but not certified")
    func withoutRoots() async throws {
        for vector in [Vectors.certifiedES256, Vectors.certifiedRS256, Vectors.missingIntermediate] {
            let result = try await Self.register(vector)
            #expect(result.attestationFormat == .packedFull)
            #expect(!result.attestationCertified)
        }
    }

    @Test("a certificate without the aaguid extension is allowed")
    func withoutAAGUIDExtension() async throws {
        #expect(try await Self.register(Vectors.withoutAAGUIDExtension, trust: try Self.trust()).attestationCertified)
    }

    @Test("roots load from a PEM bundle; one root of several is enough; a configured intermediate is an anchor too")
    func rootBundles() async throws {
        let bundle = try Self.trust("# attestation roots\n" + Vectors.otherRootPEM + "\n" + Vectors.rootPEM + "\n")
        #expect(bundle.roots.count == 2)
        #expect(try await Self.register(Vectors.certifiedES256, trust: bundle).attestationCertified)
        #expect(try await Self.register(Vectors.certifiedES256, trust: try Self.trust(Vectors.intermediatePEM)).attestationCertified)
        #expect(throws: AttestationTrustError.self) { try Self.trust("") }
        #expect(throws: AttestationTrustError.self) { try Self.trust("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n") }
        #expect(throws: AttestationTrustError.self) { try Self.trust(Vectors.rootPEM + "\n-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----") }
    }

    @Test("roots given as DER certificates certify alike; bytes that are no certificate are refused")
    func derRoots() async throws {
        let body = Vectors.rootPEM.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        let der = try #require(Data(base64Encoded: body))
        let trust = try AttestationTrust(derEncodedRoots: [Array(der)], verificationTime: Vectors.verificationTime)
        #expect(try await Self.register(Vectors.certifiedES256, trust: trust).attestationCertified)
        #expect(throws: AttestationTrustError(description: "attestation root 2 is not a DER certificate")) {
            try AttestationTrust(derEncodedRoots: [Array(der), Array(der.dropLast())], verificationTime: Vectors.verificationTime)
        }
        // No roots: nothing is certified, nothing refused for its chain.
        let none = try AttestationTrust(derEncodedRoots: [], verificationTime: Vectors.verificationTime)
        #expect(try await Self.register(Vectors.missingIntermediate, trust: none).attestationCertified == false)
    }

    @Test("none and self attestation pass uncertified even when roots are given: requiring attestation is the caller's policy")
    func otherFormatsWithRoots() async throws {
        for vector in [WebAuthnVectors.registrationNoneES256, WebAuthnVectors.registrationPackedES256] {
            #expect(try await Self.register(vector, trust: try Self.trust()).attestationCertified == false)
        }
    }

    // MARK: Untrusted chains

    @Test("a chain to another root with the same name is untrusted")
    func wrongRoot() async throws {
        await #expect(throws: WebAuthnError.untrustedAttestation) {
            try await Self.register(Vectors.certifiedES256, trust: try Self.trust(Vectors.otherRootPEM))
        }
        await #expect(throws: WebAuthnError.untrustedAttestation) {
            try await Self.register(Vectors.certifiedRS256, trust: try Self.trust(Vectors.otherRootPEM))
        }
    }

    @Test("without its intermediate the leaf does not reach the root")
    func missingIntermediate() async throws {
        await #expect(throws: WebAuthnError.untrustedAttestation) {
            try await Self.register(Vectors.missingIntermediate, trust: try Self.trust())
        }
    }

    @Test("an attestation certificate expired, or not yet valid, at the verification time is untrusted")
    func expiry() async throws {
        await #expect(throws: WebAuthnError.untrustedAttestation) {
            try await Self.register(Vectors.certifiedES256, trust: try Self.trust(at: Vectors.afterLeafExpiry))
        }
        await #expect(throws: WebAuthnError.untrustedAttestation) {
            try await Self.register(Vectors.certifiedES256, trust: try Self.trust(at: Date(timeIntervalSince1970: 1_735_689_600)))  // 2025-01-01
        }
    }

    @Test("a leaf certificate changed anywhere is never certified")
    func tamperedLeaf() async throws {
        let vector = Vectors.certifiedES256
        let object = try CBOR.decode(try #require(Base64URL.decode(vector.attestationObject)))
        guard case .array(let x5c)? = object["attStmt"]?["x5c"] else { throw WebAuthnError.malformedAttestationStatement }
        let leaf = try #require(x5c.first?.byteString)
        let trust = try Self.trust()
        for index in stride(from: 0, to: leaf.count, by: 5) {
            var tampered = leaf
            tampered[index] ^= 0x01
            let changed = try Self.statement(of: vector) { statement in
                statement[2].value = .array([.bytes(tampered)] + x5c.dropFirst())
            }
            #expect((try? await Self.register(vector, attestationObject: changed, trust: trust)) == nil, "byte \(index)")
        }
    }

    // MARK: §8.2.1 and the statement

    @Test("certificates breaking §8.2.1 are refused with or without roots")
    func certificateRequirements() async throws {
        let cases: [(WebAuthnVectors.Vector, WebAuthnError)] = [
            (Vectors.leafVersion1, .attestationCertificate("is not version 3")),
            (Vectors.leafIsCA, .attestationCertificate("must carry Basic Constraints with CA false")),
            (Vectors.wrongOU, .attestationCertificate("subject OU is not \"Authenticator Attestation\"")),
            (Vectors.missingCountry, .attestationCertificate("subject needs exactly one C")),
            (Vectors.aaguidMismatch, .attestationCertificate("aaguid extension does not match the authenticator")),
            (Vectors.aaguidCritical, .attestationCertificate("aaguid extension is critical")),
        ]
        for (vector, error) in cases {
            await #expect(throws: error) { try await Self.register(vector) }
            await #expect(throws: error) { try await Self.register(vector, trust: try Self.trust()) }
        }
    }

    @Test("a statement signed by another key than the certificate's is refused")
    func signedByOtherKey() async throws {
        await #expect(throws: WebAuthnError.invalidSignature) { try await Self.register(Vectors.signedByOtherKey, trust: try Self.trust()) }
        await #expect(throws: WebAuthnError.invalidSignature) { try await Self.register(Vectors.signedByOtherKey) }
    }

    @Test("alg must fit the certificate's key; algorithms outside ES256, RS256 and EdDSA are refused")
    func algorithms() async throws {
        await #expect(throws: WebAuthnError.attestationAlgorithmMismatch) { try await Self.register(Vectors.algorithmMismatch) }
        let es384 = try Self.statement(of: Vectors.certifiedES256) { $0[0].value = .negative(34) }
        await #expect(throws: WebAuthnError.unsupportedAttestationAlgorithm(-35)) {
            try await Self.register(Vectors.certifiedES256, attestationObject: es384)
        }
        // The credential key is ES256, the attestation key RSA: full attestation's alg follows the certificate.
        let rs256ClaimedES256 = try Self.statement(of: Vectors.certifiedRS256) { $0[0].value = .negative(6) }
        await #expect(throws: WebAuthnError.attestationAlgorithmMismatch) {
            try await Self.register(Vectors.certifiedRS256, attestationObject: rs256ClaimedES256)
        }
    }

    @Test("x5c that is empty, not DER, not bytes, too long, or a statement with other members is malformed")
    func malformedStatements() async throws {
        for vector in [Vectors.x5cEmpty, Vectors.x5cNotDER, Vectors.x5cNotBytes] {
            await #expect(throws: WebAuthnError.malformedAttestationStatement) { try await Self.register(vector) }
        }
        let vector = Vectors.certifiedES256
        let tooLong = try Self.statement(of: vector) { statement in
            guard case .array(let x5c) = statement[2].value else { return }
            statement[2].value = .array(Array(x5c.prefix(1)) + Array(repeating: x5c[1], count: PackedAttestation.maximumCertificates))
        }
        let ecdaa = try Self.statement(of: vector) { $0.append(CBORMapEntry(key: .text("ecdaaKeyId"), value: .bytes([1]))) }
        let withoutSig = try Self.statement(of: vector) { $0.remove(at: 1) }
        let x5cNotArray = try Self.statement(of: vector) { $0[2].value = .bytes([0x30]) }
        for object in [tooLong, ecdaa, withoutSig, x5cNotArray] {
            await #expect(throws: WebAuthnError.malformedAttestationStatement) {
                try await Self.register(vector, attestationObject: object, trust: try Self.trust())
            }
        }
    }

    @Test("every refusal's description is fixed text a client may see")
    func descriptions() {
        #expect(WebAuthnError.untrustedAttestation.description == "attestation certificate does not chain to a trusted root")
        #expect(
            WebAuthnError.attestationCertificate("subject needs exactly one C").description == "attestation certificate subject needs exactly one C")
        #expect(WebAuthnError.unsupportedAttestationAlgorithm(-35).description == "attestation alg -35 is not supported")
    }
}
