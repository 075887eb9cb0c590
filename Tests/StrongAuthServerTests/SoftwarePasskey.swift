import Crypto
import Foundation
import StrongAuthProtocol
import Testing

/// A software passkey for the in-process web tests: an ES256 key, a discoverable credential,
/// attestation `none`, UP and UV set; it answers the server's JSON options with the JSON forms a
/// browser's `credential.toJSON()` posts (RegistrationResponseJSON, AuthenticationResponseJSON).
/// The encoding follows WebAuthn L3 §6.1 (authenticator data), §6.5.4 (attestation object) and
/// RFC 9053 (the COSE key); the conformance suite checks the same pages with Chromium's own
/// authenticator, so this one only needs to be right, not independent.
struct SoftwarePasskey {
    let origin: String
    let key = P256.Signing.PrivateKey()
    let credentialID: [UInt8] = (0..<16).map { _ in UInt8.random(in: 0...255) }
    var userHandle: [UInt8] = []
    /// The next signature counter (a value below the stored one is a regression).
    var signCount: UInt32 = 1

    var credentialIDText: String { Base64URL.encode(credentialID) }

    /// RegistrationResponseJSON for PublicKeyCredentialCreationOptionsJSON `options`.
    mutating func register(_ options: [String: Any]) throws -> [String: Any] {
        let rpID = try #require(((options["rp"] as? [String: Any])?["id"] as? String))
        userHandle = try #require(((options["user"] as? [String: Any])?["id"] as? String).flatMap(Base64URL.decode))
        let challenge = try #require(options["challenge"] as? String)
        let clientData = Self.clientData(type: "webauthn.create", challenge: challenge, origin: origin)
        let point = key.publicKey.x963Representation  // 0x04 || x || y
        let cose =
            CBOR.map(5) + CBOR.int(1) + CBOR.int(2) + CBOR.int(3) + CBOR.int(-7) + CBOR.int(-1) + CBOR.int(1)
            + CBOR.int(-2) + CBOR.bytes(Array(point[1..<33])) + CBOR.int(-3) + CBOR.bytes(Array(point[33..<65]))
        var authenticatorData = authenticatorPrefix(rpID: rpID, flags: 0x45)  // UP, UV, AT
        authenticatorData += [UInt8](repeating: 0, count: 16)  // AAGUID
        authenticatorData += [UInt8(credentialID.count >> 8), UInt8(credentialID.count & 0xFF)] + credentialID + cose
        let attestation =
            CBOR.map(3) + CBOR.text("fmt") + CBOR.text("none") + CBOR.text("attStmt") + CBOR.map(0) + CBOR.text("authData")
            + CBOR.bytes(authenticatorData)
        return [
            "id": credentialIDText, "rawId": credentialIDText, "type": "public-key", "clientExtensionResults": [String: Any](),
            "authenticatorAttachment": "platform",
            "response": [
                "clientDataJSON": Base64URL.encode(clientData), "attestationObject": Base64URL.encode(attestation),
                "transports": ["internal"], "authenticatorData": Base64URL.encode(authenticatorData), "publicKeyAlgorithm": -7,
                "publicKey": Base64URL.encode(key.publicKey.derRepresentation),
            ] as [String: Any],
        ]
    }

    /// AuthenticationResponseJSON for PublicKeyCredentialRequestOptionsJSON `options`, signed with
    /// the counter `signCount` (then moved on).
    mutating func assert(_ options: [String: Any]) throws -> [String: Any] {
        let rpID = try #require(options["rpId"] as? String)
        let challenge = try #require(options["challenge"] as? String)
        let clientData = Self.clientData(type: "webauthn.get", challenge: challenge, origin: origin)
        let authenticatorData = authenticatorPrefix(rpID: rpID, flags: 0x05)  // UP, UV
        let signature = try key.signature(for: authenticatorData + Array(SHA256.hash(data: clientData))).derRepresentation
        signCount += 1
        return [
            "id": credentialIDText, "rawId": credentialIDText, "type": "public-key", "clientExtensionResults": [String: Any](),
            "authenticatorAttachment": "platform",
            "response": [
                "clientDataJSON": Base64URL.encode(clientData), "authenticatorData": Base64URL.encode(authenticatorData),
                "signature": Base64URL.encode(signature), "userHandle": Base64URL.encode(userHandle),
            ],
        ]
    }

    private func authenticatorPrefix(rpID: String, flags: UInt8) -> [UInt8] {
        Array(SHA256.hash(data: Array(rpID.utf8))) + [flags]
            + [UInt8(signCount >> 24), UInt8((signCount >> 16) & 0xFF), UInt8((signCount >> 8) & 0xFF), UInt8(signCount & 0xFF)]
    }

    private static func clientData(type: String, challenge: String, origin: String) -> [UInt8] {
        Array(#"{"type":"\#(type)","challenge":"\#(challenge)","origin":"\#(origin)","crossOrigin":false}"#.utf8)
    }

    /// The few CBOR items a "none" attestation needs (RFC 8949, shortest heads).
    enum CBOR {
        static func head(_ major: UInt8, _ value: UInt64) -> [UInt8] {
            switch value {
            case 0..<24: [major << 5 | UInt8(value)]
            case 24..<256: [major << 5 | 24, UInt8(value)]
            case 256..<65536: [major << 5 | 25, UInt8(value >> 8), UInt8(value & 0xFF)]
            default: [major << 5 | 26] + (0..<4).reversed().map { UInt8((value >> ($0 * 8)) & 0xFF) }
            }
        }
        static func int(_ value: Int) -> [UInt8] { value >= 0 ? head(0, UInt64(value)) : head(1, UInt64(-1 - value)) }
        static func bytes(_ value: [UInt8]) -> [UInt8] { head(2, UInt64(value.count)) + value }
        static func text(_ value: String) -> [UInt8] { head(3, UInt64(value.utf8.count)) + Array(value.utf8) }
        static func map(_ count: Int) -> [UInt8] { head(5, UInt64(count)) }
    }
}
