import Crypto
import Foundation
import StrongAuthProtocol

/// A WebAuthn authenticator and client for the in-process tests: a P-256 credential (ES256)
/// that answers the server's JSON options as a browser with a platform authenticator would —
/// it checks the RP ID against its origin, signs authenticatorData ‖ SHA-256(clientDataJSON),
/// and counts signatures. Its bytes are checked against an independent implementation in
/// conformance (Yubico's fido2, conformance/test_passkeys.py); here it drives the server's flows.
struct SoftwareAuthenticator: Sendable {
    let key = P256.Signing.PrivateKey()
    let credentialID: [UInt8] = SecureRandom.bytes(16)
    var origin: String
    var signCount: UInt32 = 0
    var userVerified = true

    init(origin: String = "https://auth.test") {
        self.origin = origin
    }

    var credentialIDBase64URL: String { Base64URL.encode(credentialID) }

    /// A registration (`navigator.credentials.create`) with attestation `none` or packed self.
    mutating func register(_ options: PublicKeyCredentialCreationOptionsJSON, packed: Bool = false) -> RegistrationResponseJSON {
        signCount += 1
        let clientData = Self.clientData(type: "webauthn.create", challenge: options.challenge, origin: origin)
        let cose = CBORWriter.map([
            (.int(1), .int(2)), (.int(3), .int(-7)), (.int(-1), .int(1)),
            (.int(-2), .bytes(Array(key.publicKey.rawRepresentation.prefix(32)))),
            (.int(-3), .bytes(Array(key.publicKey.rawRepresentation.suffix(32)))),
        ])
        var authData = authenticatorDataPrefix(rpID: options.rp.id, attested: true)
        authData += [UInt8](repeating: 0, count: 16)  // AAGUID
        authData += [UInt8(credentialID.count >> 8), UInt8(credentialID.count & 0xff)] + credentialID + cose
        let statement: CBORWriter.Item =
            packed
            ? .map([
                (.text("alg"), .int(-7)),
                (.text("sig"), .bytes(Array(try! key.signature(for: authData + SHA256.hash(data: clientData)).derRepresentation))),
            ])
            : .map([])
        let attestation = CBORWriter.encode(
            .map([(.text("fmt"), .text(packed ? "packed" : "none")), (.text("attStmt"), statement), (.text("authData"), .bytes(authData))]))
        return RegistrationResponseJSON(
            id: credentialIDBase64URL, rawId: credentialIDBase64URL,
            response: .init(
                clientDataJSON: Base64URL.encode(clientData), attestationObject: Base64URL.encode(attestation), transports: ["internal"]),
            authenticatorAttachment: "platform")
    }

    /// An assertion (`navigator.credentials.get`) over `options.challenge`, or over `challenge`
    /// when given (an attacker's substitution), with the counter incremented first.
    mutating func assert(_ options: PublicKeyCredentialRequestOptionsJSON, challenge: String? = nil, userHandle: String? = nil)
        -> AuthenticationResponseJSON
    {
        signCount += 1
        return assertion(rpID: options.rpId, challenge: challenge ?? options.challenge, userHandle: userHandle)
    }

    /// An assertion with the counter as it is (a clone that did not see the original's signatures).
    func assertion(rpID: String, challenge: String, userHandle: String? = nil) -> AuthenticationResponseJSON {
        let clientData = Self.clientData(type: "webauthn.get", challenge: challenge, origin: origin)
        let authData = authenticatorDataPrefix(rpID: rpID, attested: false)
        let signature = try! key.signature(for: authData + SHA256.hash(data: clientData)).derRepresentation
        return AuthenticationResponseJSON(
            id: credentialIDBase64URL, rawId: credentialIDBase64URL,
            response: .init(
                clientDataJSON: Base64URL.encode(clientData), authenticatorData: Base64URL.encode(authData),
                signature: Base64URL.encode(signature), userHandle: userHandle),
            authenticatorAttachment: "platform")
    }

    private func authenticatorDataPrefix(rpID: String, attested: Bool) -> [UInt8] {
        var flags: UInt8 = 0x01  // UP
        if userVerified { flags |= 0x04 }
        if attested { flags |= 0x40 }
        let count = signCount
        return Array(SHA256.hash(data: Array(rpID.utf8))) + [flags]
            + [UInt8(count >> 24), UInt8((count >> 16) & 0xff), UInt8((count >> 8) & 0xff), UInt8(count & 0xff)]
    }

    static func clientData(type: String, challenge: String, origin: String) -> [UInt8] {
        Array(#"{"type":"\#(type)","challenge":"\#(challenge)","origin":"\#(origin)","crossOrigin":false}"#.utf8)
    }
}

/// Just enough CBOR (RFC 8949) to write attestation objects and COSE keys.
enum CBORWriter {
    indirect enum Item {
        case int(Int)
        case bytes([UInt8])
        case text(String)
        case map([(Item, Item)])
    }

    static func map(_ entries: [(Item, Item)]) -> [UInt8] { encode(.map(entries)) }

    static func encode(_ item: Item) -> [UInt8] {
        switch item {
        case .int(let value):
            value >= 0 ? head(0, UInt64(value)) : head(1, UInt64(-1 - value))
        case .bytes(let bytes):
            head(2, UInt64(bytes.count)) + bytes
        case .text(let text):
            head(3, UInt64(text.utf8.count)) + Array(text.utf8)
        case .map(let entries):
            head(5, UInt64(entries.count)) + entries.flatMap { encode($0.0) + encode($0.1) }
        }
    }

    private static func head(_ major: UInt8, _ value: UInt64) -> [UInt8] {
        let type = major << 5
        switch value {
        case 0..<24: return [type | UInt8(value)]
        case 24..<256: return [type | 24, UInt8(value)]
        case 256..<65536: return [type | 25, UInt8(value >> 8), UInt8(value & 0xff)]
        default: return [type | 26] + (0..<4).reversed().map { UInt8((value >> (UInt64($0) * 8)) & 0xff) }
        }
    }
}
