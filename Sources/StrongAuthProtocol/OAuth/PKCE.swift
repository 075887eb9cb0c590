import Crypto
import Foundation

/// Proof Key for Code Exchange (RFC 7636), S256 only: `plain` sends the verifier itself through
/// the browser and is not offered (RFC 9700 §2.1.1). Shared by the server and the Swift SDK.
public enum PKCE {
    /// The one method the server accepts.
    public static let method = "S256"

    /// A new verifier: 32 random bytes in base64url, 43 characters (RFC 7636 §4.1).
    public static func generateVerifier() -> String {
        Base64URL.encode(SecureRandom.bytes(32))
    }

    /// `BASE64URL(SHA256(ASCII(verifier)))` (RFC 7636 §4.2).
    public static func challenge(for verifier: String) -> String {
        Base64URL.encode(SHA256.hash(data: Array(verifier.utf8)))
    }

    /// RFC 7636 §4.1: 43 to 128 characters of `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`.
    public static func isValidVerifier(_ verifier: String) -> Bool {
        (43...128).contains(verifier.utf8.count) && verifier.utf8.allSatisfy(isUnreserved)
    }

    /// An S256 challenge is the base64url of 32 bytes: exactly 43 characters of that alphabet.
    public static func isValidChallenge(_ challenge: String) -> Bool {
        challenge.utf8.count == 43 && challenge.utf8.allSatisfy { isUnreserved($0) && $0 != UInt8(ascii: ".") && $0 != UInt8(ascii: "~") }
    }

    /// Whether `verifier` is the one `challenge` was made from, compared in constant time.
    public static func verify(_ verifier: String, against challenge: String) -> Bool {
        isValidVerifier(verifier) && ConstantTime.equals(Self.challenge(for: verifier), challenge)
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"): true
        default: false
        }
    }
}
