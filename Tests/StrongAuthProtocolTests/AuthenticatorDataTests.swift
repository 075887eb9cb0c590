import Crypto
import Testing

@testable import StrongAuthProtocol

@Suite("WebAuthn authenticator data")
struct AuthenticatorDataTests {
    static let rpIDHash = Array(SHA256.hash(data: Array("bank.example".utf8)))

    static func header(flags: UInt8, count: UInt32 = 7) -> [UInt8] {
        rpIDHash + [flags] + TestCBOR.bigEndian(UInt64(count), width: 4)
    }

    static func attested(idLength: Int = 16, key: [UInt8]? = nil) -> [UInt8] {
        let coseKey =
            key
            ?? TestCBOR.encode(TestCBOR.map(COSEKeyTests.okp(Curve25519.Signing.PrivateKey().publicKey)))
        return Array(repeating: 0xaa, count: 16) + TestCBOR.bigEndian(UInt64(idLength), width: 2)
            + Array(repeating: 0x11, count: idLength) + coseKey
    }

    static func refusal(_ bytes: [UInt8]) -> AuthenticatorDataError? {
        do {
            _ = try AuthenticatorData(bytes: bytes)
            return nil
        } catch {
            return error
        }
    }

    @Test("an assertion's 37 bytes: rpIdHash, flags, big-endian counter")
    func assertionData() throws {
        let data = try AuthenticatorData(bytes: Self.header(flags: 0x1d, count: 0x0102_0304))
        #expect(data.rpIDHash == Self.rpIDHash)
        #expect(data.flags == [.userPresent, .userVerified, .backupEligible, .backupState])
        #expect(data.signCount == 0x0102_0304)
        #expect(data.attestedCredential == nil)
        #expect(data.extensions == nil)
    }

    @Test("attested credential data and extensions are split where the COSE key ends")
    func attestedAndExtensions() throws {
        let key = TestCBOR.encode(TestCBOR.map(COSEKeyTests.okp(Curve25519.Signing.PrivateKey().publicKey)))
        let extensions = TestCBOR.encode(.map([CBORMapEntry(key: .text("credProtect"), value: .unsigned(2))]))
        let data = try AuthenticatorData(bytes: Self.header(flags: 0xc5) + Self.attested(idLength: 20, key: key) + extensions)
        let credential = try #require(data.attestedCredential)
        #expect(credential.aaguid == Array(repeating: 0xaa, count: 16))
        #expect(credential.credentialID == Array(repeating: 0x11, count: 20))
        #expect(credential.publicKeyBytes == key)
        #expect(data.extensions?["credProtect"] == .unsigned(2))
    }

    @Test("the py_webauthn-checked registration's authenticator data parses")
    func vector() throws {
        let attestation = try CBOR.decode(try #require(Base64URL.decode(WebAuthnVectors.registrationNoneES256.attestationObject)))
        let data = try AuthenticatorData(bytes: try #require(attestation["authData"]?.byteString))
        #expect(data.flags == [.userPresent, .userVerified, .backupEligible, .backupState, .attestedCredentialData])
        #expect(data.attestedCredential?.credentialID == Base64URL.decode(WebAuthnVectors.registrationNoneES256.credentialID))
        #expect(data.attestedCredential?.publicKeyBytes == Base64URL.decode(WebAuthnVectors.registrationNoneES256.credentialPublicKey))
    }

    @Test("fewer than 37 bytes, or less than the attested data announces, is truncated")
    func truncated() {
        #expect(Self.refusal(Array(Self.header(flags: 0x01).dropLast())) == .truncated)
        #expect(Self.refusal(Self.header(flags: 0x41) + Array(repeating: 0, count: 17)) == .truncated)
        #expect(Self.refusal(Self.header(flags: 0x41) + Array(Self.attested().prefix(30))) == .truncated)
        #expect(Self.refusal(Self.header(flags: 0x81)) == .truncated)
    }

    @Test("a key cut short is a CBOR refusal")
    func truncatedKey() {
        let cut = Array(Self.attested().dropLast(5))
        guard case .invalidCBOR = Self.refusal(Self.header(flags: 0x41) + cut) else {
            Issue.record("a cut COSE key must be refused as CBOR")
            return
        }
    }

    @Test("bytes after what the flags announce are refused")
    func trailing() {
        #expect(Self.refusal(Self.header(flags: 0x01) + [0xa0]) == .trailingBytes)
        #expect(Self.refusal(Self.header(flags: 0x41) + Self.attested() + [0xa0]) == .trailingBytes)
        guard case .invalidCBOR(let error) = Self.refusal(Self.header(flags: 0x81) + [0xa0, 0x00]) else {
            Issue.record("extensions with trailing bytes must be refused")
            return
        }
        #expect(error.reason == .trailingBytes)
    }

    @Test("a credential ID longer than 1023 bytes is refused")
    func longCredentialID() {
        #expect(Self.refusal(Self.header(flags: 0x41) + Self.attested(idLength: 1023)) == nil)
        #expect(Self.refusal(Self.header(flags: 0x41) + Self.attested(idLength: 1024)) == .credentialIDTooLong(1024))
    }

    @Test("extensions that are not a map are refused")
    func extensionsNotAMap() {
        #expect(Self.refusal(Self.header(flags: 0x81) + [0x80]) == .extensionsNotAMap)
    }

    @Test("backup state without backup eligibility is refused")
    func backupStateWithoutEligibility() {
        #expect(Self.refusal(Self.header(flags: 0x11)) == .backupStateWithoutEligibility)
        #expect(Self.refusal(Self.header(flags: 0x19)) == nil)
    }
}
