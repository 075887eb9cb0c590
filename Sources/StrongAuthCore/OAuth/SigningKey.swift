import Crypto
import Foundation
import JWTKit
import StrongAuthProtocol

/// An ES256 token-signing key. Stored sealed under the master key; published in the JWKS.
public struct SigningKey: Sendable {
    /// `active` signs new tokens; `retired` only verifies until its last token has expired.
    public enum Status: String, Sendable {
        case active
        case retired
    }

    public var kid: String
    public var privateKey: P256.Signing.PrivateKey
    public var status: Status
    public var createdAt: Date

    public init(kid: String, privateKey: P256.Signing.PrivateKey, status: Status, createdAt: Date) {
        self.kid = kid
        self.privateKey = privateKey
        self.status = status
        self.createdAt = createdAt
    }

    /// A new key whose `kid` is its RFC 7638 JWK thumbprint, so ids never collide across nodes.
    public static func generate(now: Date) -> SigningKey {
        let key = P256.Signing.PrivateKey()
        return SigningKey(kid: Self.thumbprint(of: key.publicKey), privateKey: key, status: .active, createdAt: now)
    }

    /// The public half as a JWK (RFC 7517/7518).
    public var publicJWK: [String: String] {
        let raw = [UInt8](privateKey.publicKey.rawRepresentation)
        return [
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
            "x": Base64URL.encode(raw[0..<32]), "y": Base64URL.encode(raw[32..<64]),
        ]
    }

    /// RFC 7638 thumbprint: SHA-256 over the canonical JSON of the required members.
    public static func thumbprint(of publicKey: P256.Signing.PublicKey) -> String {
        let raw = [UInt8](publicKey.rawRepresentation)
        let canonical = #"{"crv":"P-256","kty":"EC","x":"\#(Base64URL.encode(raw[0..<32]))","y":"\#(Base64URL.encode(raw[32..<64]))"}"#
        return Base64URL.encode(SHA256.hash(data: Array(canonical.utf8)))
    }
}
