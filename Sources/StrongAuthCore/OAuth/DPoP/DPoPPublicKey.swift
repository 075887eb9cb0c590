import Crypto
import CryptoExtras
import Foundation
import StrongAuthProtocol

/// The public key a DPoP proof carries in its `jwk` header (RFC 9449 §4.2), checked against the
/// proof's `alg` and able to verify its signature and name itself by its RFC 7638 thumbprint.
public struct DPoPPublicKey: Sendable, Equatable {
    /// The asymmetric JWS algorithms a proof may use (RFC 9449 §4.2: never `none` or a MAC).
    public enum Algorithm: String, Sendable, CaseIterable {
        case es256 = "ES256"
        case es384 = "ES384"
        case ps256 = "PS256"
        case rs256 = "RS256"
        case edDSA = "EdDSA"
    }

    /// The JWK members that make up the thumbprint (RFC 7638 §3.2), by key type.
    enum Members: Sendable, Equatable {
        case ec(crv: String, x: [UInt8], y: [UInt8])
        case rsa(n: [UInt8], e: [UInt8])
        case okp(crv: String, x: [UInt8])
    }

    let members: Members

    /// JWK members that only a private (or symmetric) key has: a proof carrying one of them has
    /// leaked its private key and is refused.
    static let privateMembers: Set<String> = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]

    /// The public key of `jwk` when it suits `algorithm`; `nil` for a private key, a symmetric
    /// key, an unknown curve, a short RSA modulus or coordinates of the wrong length.
    public init?(jwk: [String: Any], algorithm: Algorithm) {
        guard jwk.keys.allSatisfy({ !Self.privateMembers.contains($0) }), let kty = jwk["kty"] as? String else { return nil }
        // Only canonical unpadded base64url: the thumbprint re-encodes the bytes, and must be the
        // thumbprint the client computed over the member as it sent it.
        func bytes(_ name: String) -> [UInt8]? {
            guard let text = jwk[name] as? String, let decoded = Base64URL.decode(text), Base64URL.encode(decoded) == text else { return nil }
            return decoded
        }
        switch (algorithm, kty) {
        case (.es256, "EC"), (.es384, "EC"):
            let (curve, length) = algorithm == .es256 ? ("P-256", 32) : ("P-384", 48)
            guard jwk["crv"] as? String == curve, let x = bytes("x"), let y = bytes("y"), x.count == length, y.count == length
            else { return nil }
            members = .ec(crv: curve, x: x, y: y)
        case (.rs256, "RSA"), (.ps256, "RSA"):
            // 2048 to 4096 bits, and an exponent of at most 32 bits: a huge exponent would make
            // every verification expensive for whoever sends it.
            guard let n = bytes("n"), let e = bytes("e"), (1...4).contains(e.count), e.first != 0, n.first != 0, (256...512).contains(n.count)
            else { return nil }
            members = .rsa(n: n, e: e)
        case (.edDSA, "OKP"):
            guard jwk["crv"] as? String == "Ed25519", let x = bytes("x"), x.count == 32 else { return nil }
            members = .okp(crv: "Ed25519", x: x)
        default:
            return nil
        }
        // A key the crypto library refuses (a point off the curve, a short modulus) is no key.
        guard (try? verifies(signature: [], over: [], algorithm: algorithm)) != nil else { return nil }
    }

    /// A P-256 key (the SDK's signer, a device's key).
    public init(p256 key: P256.Signing.PublicKey) {
        let raw = Array(key.rawRepresentation)
        members = .ec(crv: "P-256", x: Array(raw[0..<32]), y: Array(raw[32..<64]))
    }

    /// Whether `signature` is `algorithm`'s signature of `message` under this key. Throws when
    /// the key itself is unusable.
    func verifies(signature: [UInt8], over message: [UInt8], algorithm: Algorithm) throws -> Bool {
        switch (algorithm, members) {
        case (.es256, .ec(_, let x, let y)):
            let key = try P256.Signing.PublicKey(rawRepresentation: x + y)
            guard signature.count == 64, let parsed = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return key.isValidSignature(parsed, for: message)
        case (.es384, .ec(_, let x, let y)):
            let key = try P384.Signing.PublicKey(rawRepresentation: x + y)
            guard signature.count == 96, let parsed = try? P384.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return key.isValidSignature(parsed, for: message)
        case (.rs256, .rsa(let n, let e)), (.ps256, .rsa(let n, let e)):
            let key = try _RSA.Signing.PublicKey(n: n, e: e)
            guard key.keySizeInBits >= 2048 else { throw CryptoKitError.incorrectKeySize }
            guard signature.count == n.count else { return false }
            let padding: _RSA.Signing.Padding = algorithm == .ps256 ? .PSS : .insecurePKCS1v1_5
            return key.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA256.hash(data: message), padding: padding)
        case (.edDSA, .okp(_, let x)):
            let key = try Curve25519.Signing.PublicKey(rawRepresentation: x)
            return signature.count == 64 && key.isValidSignature(signature, for: message)
        default:
            return false
        }
    }

    /// The RFC 7638 JWK thumbprint, base64url: SHA-256 of the required members in lexicographic
    /// order, without whitespace (§3.2). What `cnf.jkt` holds (RFC 9449 §6.1).
    public var thumbprint: String {
        Base64URL.encode(SHA256.hash(data: Array(canonicalJSON.utf8)))
    }

    /// The canonical JSON the thumbprint hashes. Every value is a curve name or base64url, so
    /// none needs escaping.
    var canonicalJSON: String {
        switch members {
        case .ec(let crv, let x, let y):
            #"{"crv":"\#(crv)","kty":"EC","x":"\#(Base64URL.encode(x))","y":"\#(Base64URL.encode(y))"}"#
        case .rsa(let n, let e):
            #"{"e":"\#(Base64URL.encode(e))","kty":"RSA","n":"\#(Base64URL.encode(n))"}"#
        case .okp(let crv, let x):
            #"{"crv":"\#(crv)","kty":"OKP","x":"\#(Base64URL.encode(x))"}"#
        }
    }
}
