import PropertyBased
import Testing

@testable import StrongAuthProtocol

/// Seeded random and mutated inputs: the decoders and verifiers may refuse, never crash or hang.
@Suite("WebAuthn robustness")
struct WebAuthnRobustnessTests {
    /// PropertyBased's xoshiro256**, seeded: reproducible across platforms, so a failing seed can be replayed.
    typealias SeededGenerator = Xoshiro

    /// One random edit: flip a bit, set a byte to an edge value, cut, duplicate a slice, or insert bytes.
    static func mutate(_ input: [UInt8], using generator: inout SeededGenerator) -> [UInt8] {
        var bytes = input
        let edits = Int.random(in: 1...4, using: &generator)
        for _ in 0..<edits {
            guard !bytes.isEmpty else { return [UInt8.random(in: 0...255, using: &generator)] }
            let index = Int.random(in: 0..<bytes.count, using: &generator)
            switch Int.random(in: 0..<5, using: &generator) {
            case 0: bytes[index] ^= 1 << UInt8.random(in: 0..<8, using: &generator)
            case 1: bytes[index] = [0x00, 0x17, 0x18, 0x1b, 0x1f, 0x5f, 0x9f, 0xbf, 0xff, 0xf7, 0xc0].randomElement(using: &generator) ?? 0
            case 2: bytes.removeSubrange(index...)
            case 3: bytes.insert(contentsOf: bytes[index..<min(bytes.count, index + 8)], at: index)
            default:
                bytes.insert(
                    contentsOf: (0..<Int.random(in: 1...4, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }, at: index)
            }
        }
        return bytes
    }

    static func random(using generator: inout SeededGenerator) -> [UInt8] {
        (0..<Int.random(in: 0...96, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    @Test("random and mutated bytes through the CBOR decoder, authenticator data and COSE keys: errors only")
    func decoders() throws {
        var generator = SeededGenerator(seed: (17, 1, 2, 3))
        let attestation = try #require(Base64URL.decode(WebAuthnVectors.registrationPackedES256.attestationObject))
        let authData = try #require(CBOR.decode(attestation)["authData"]?.byteString)
        let seeds =
            [attestation, authData]
            + [WebAuthnVectors.registrationPackedRS256, WebAuthnVectors.registrationPackedEdDSA].compactMap {
                Base64URL.decode($0.credentialPublicKey)
            }
        var refused = 0
        for round in 0..<4000 {
            let input = round % 4 == 0 ? Self.random(using: &generator) : Self.mutate(seeds[round % seeds.count], using: &generator)
            if (try? CBOR.decode(input)) == nil { refused += 1 }
            _ = try? CBOR.decodePrefix(input)
            _ = try? AuthenticatorData(bytes: input)
            _ = try? COSEKey(bytes: input)
            // Deep nesting and huge claimed lengths are built on purpose too.
            let nested = Array(repeating: UInt8(0x81), count: Int.random(in: 0...40, using: &generator)) + input
            _ = try? CBOR.decode(nested)
        }
        #expect(refused > 1000, "the mutations must actually produce invalid input")
    }

    @Test("mutated registrations never crash; mutated assertions are never accepted")
    func verifiers() async throws {
        var generator = SeededGenerator(seed: (2026, 1, 2, 3))
        let registrations = [
            WebAuthnVectors.registrationNoneES256, WebAuthnVectors.registrationPackedES256, WebAuthnVectors.registrationPackedRS256,
            WebAuthnVectors.registrationPackedEdDSA,
        ]
        for round in 0..<1500 {
            let vector = registrations[round % registrations.count]
            let attestation = try #require(Base64URL.decode(vector.attestationObject))
            _ = try? await WebAuthnVerifier.verifyRegistration(
                attestationObject: Base64URL.encode(Self.mutate(attestation, using: &generator)), clientDataJSON: vector.clientDataJSON,
                expectedChallenge: WebAuthnVectors.challenge, rpID: WebAuthnVectors.rpID, origins: [WebAuthnVectors.origin],
                requireUserVerification: false)
        }
        let assertions = [WebAuthnVectors.assertionES256, WebAuthnVectors.assertionRS256, WebAuthnVectors.assertionEdDSA]
        var accepted = 0
        for round in 0..<1500 {
            let vector = assertions[round % assertions.count]
            var authData = vector.authenticatorData
            var signature = vector.signature
            var clientData = vector.clientDataJSON
            switch round % 3 {
            case 0: authData = Base64URL.encode(Self.mutate(try #require(Base64URL.decode(authData)), using: &generator))
            case 1: signature = Base64URL.encode(Self.mutate(try #require(Base64URL.decode(signature)), using: &generator))
            default: clientData = Base64URL.encode(Self.mutate(try #require(Base64URL.decode(clientData)), using: &generator))
            }
            let unchanged = authData == vector.authenticatorData && signature == vector.signature && clientData == vector.clientDataJSON
            if !unchanged,
                (try? WebAuthnVerifier.verifyAssertion(
                    credentialPublicKey: try #require(Base64URL.decode(vector.credentialPublicKey)), storedSignCount: 0, authenticatorData: authData,
                    clientDataJSON: clientData, signature: signature, expectedChallenge: WebAuthnVectors.challenge, rpID: WebAuthnVectors.rpID,
                    origins: [WebAuthnVectors.origin], requireUserVerification: false)) != nil
            {
                accepted += 1
            }
        }
        #expect(accepted == 0)
    }
}
