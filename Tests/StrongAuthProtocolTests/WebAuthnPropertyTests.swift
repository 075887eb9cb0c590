import Foundation
import PropertyBased
import Testing

@testable import StrongAuthProtocol

/// Property-based robustness of everything that parses authenticator output (swift-property-based:
/// random seeds, a failing input shrunk and replayable with `.fixedSeed`). Random bytes and edits of
/// the valid vectors go into the CBOR decoder, COSE keys, authenticator data and both verifiers: they
/// may refuse, never crash; and what they accept keeps its meaning.
@Suite("WebAuthn properties")
struct WebAuthnPropertyTests {
    static let registrations = [
        WebAuthnVectors.registrationNoneES256, WebAuthnVectors.registrationPackedES256, WebAuthnVectors.registrationPackedRS256,
        WebAuthnVectors.registrationPackedEdDSA, PackedAttestationVectors.certifiedES256, PackedAttestationVectors.certifiedRS256,
    ]
    static let assertions = [WebAuthnVectors.assertionES256, WebAuthnVectors.assertionRS256, WebAuthnVectors.assertionEdDSA]

    /// Every CBOR and binary structure in the vectors: attestation objects, their authenticator data, COSE keys, assertion data.
    static let seeds: [[UInt8]] = {
        var seeds: [[UInt8]] = []
        for vector in registrations {
            guard let object = Base64URL.decode(vector.attestationObject) else { continue }
            seeds.append(object)
            if let authData = try? CBOR.decode(object)["authData"]?.byteString { seeds.append(authData) }
        }
        seeds += (registrations + assertions).compactMap { Base64URL.decode($0.credentialPublicKey) }
        seeds += assertions.compactMap { Base64URL.decode($0.authenticatorData) }
        return seeds
    }()

    /// Edits `input` once per instruction: the low 3 bits choose a bit flip, an edge byte, a
    /// truncation, a duplicated slice or an inserted byte; the higher bits where and what.
    static func mutate(_ input: [UInt8], _ instructions: [UInt64]) -> [UInt8] {
        var bytes = input
        for instruction in instructions {
            let value = UInt8(truncatingIfNeeded: instruction >> 40)
            guard !bytes.isEmpty else {
                bytes = [value]
                continue
            }
            let index = Int((instruction >> 8) % UInt64(bytes.count))
            switch instruction & 0x7 {
            case 0, 1: bytes[index] ^= 1 << (value & 7)
            case 2: bytes[index] = [0x00, 0x17, 0x18, 0x1b, 0x1f, 0x5f, 0x7f, 0x9f, 0xbf, 0xff, 0xf7, 0xc0][Int(value) % 12]
            case 3: bytes.removeSubrange(index...)
            case 4: bytes.insert(contentsOf: bytes[index..<min(bytes.count, index + 1 + Int(value % 16))], at: index)
            default: bytes.insert(value, at: index)
            }
        }
        return bytes
    }

    static let edits = Gen.uint64().array(of: 1...4)

    /// The strict decoder refuses every non-canonical encoding, so what it accepts re-encodes to the same bytes.
    static func checkDecoders(_ bytes: [UInt8]) {
        if let value = try? CBOR.decode(bytes) {
            #expect(TestCBOR.encode(value) == bytes)
        }
        if let (value, length) = try? CBOR.decodePrefix(bytes) {
            #expect(TestCBOR.encode(value) == Array(bytes.prefix(length)))
        }
        if let authData = try? AuthenticatorData(bytes: bytes) {
            #expect(authData.bytes == bytes)
            #expect(authData.attestedCredential == nil || authData.flags.contains(.attestedCredentialData))
        }
        _ = try? COSEKey(bytes: bytes)
    }

    @Test("random bytes: the decoders refuse with errors, and accepted CBOR re-encodes to itself")
    func randomBytes() async {
        await propertyCheck(count: 1500, input: Gen.uint8().array(of: 0...80)) { bytes in
            Self.checkDecoders(bytes)
        }
    }

    @Test("edited vectors: the decoders refuse with errors, and accepted CBOR re-encodes to itself")
    func editedVectors() async {
        await propertyCheck(count: 1500, input: Gen.int(in: 0..<Self.seeds.count), Self.edits) { seed, edits in
            Self.checkDecoders(Self.mutate(Self.seeds[seed], edits))
        }
    }

    @Test("edited registrations: errors only, and no signed registration survives an edit (full attestation included)")
    func editedRegistrations() async throws {
        let trust = try AttestationTrust(
            pemEncodedRoots: PackedAttestationVectors.rootPEM, verificationTime: PackedAttestationVectors.verificationTime)
        await propertyCheck(count: 1000, input: Gen.int(in: 0..<Self.registrations.count), Self.edits) { index, edits in
            let vector = Self.registrations[index]
            let original = Base64URL.decode(vector.attestationObject) ?? []
            let edited = Self.mutate(original, edits)
            let result = try? await WebAuthnVerifier.verifyRegistration(
                attestationObject: Base64URL.encode(edited), clientDataJSON: vector.clientDataJSON, expectedChallenge: WebAuthnVectors.challenge,
                rpID: WebAuthnVectors.rpID, origins: [WebAuthnVectors.origin], requireUserVerification: false, attestationTrust: trust)
            // `none` signs nothing, so an edited flag or counter still registers; every signed format must refuse.
            if edited != original, let result {
                #expect(result.attestationFormat == .none)
            }
        }
    }

    @Test("edited assertions (authenticator data, signature or client data) are never accepted")
    func editedAssertions() async {
        await propertyCheck(count: 1500, input: Gen.int(in: 0..<Self.assertions.count), Gen.int(in: 0...2), Self.edits) { index, field, edits in
            let vector = Self.assertions[index]
            var fields = [vector.authenticatorData, vector.signature, vector.clientDataJSON]
            let original = Base64URL.decode(fields[field]) ?? []
            let edited = Self.mutate(original, edits)
            fields[field] = Base64URL.encode(edited)
            let result = try? WebAuthnVerifier.verifyAssertion(
                credentialPublicKey: Base64URL.decode(vector.credentialPublicKey) ?? [], storedSignCount: 0, authenticatorData: fields[0],
                clientDataJSON: fields[2], signature: fields[1], expectedChallenge: WebAuthnVectors.challenge, rpID: WebAuthnVectors.rpID,
                origins: [WebAuthnVectors.origin], requireUserVerification: false)
            #expect(edited == original || result == nil)
        }
    }
}
