import Crypto

/// HMAC-SHA256 under a server-held key: how every bearer secret is stored.
///
/// Client secrets, refresh tokens and (later) action, process and session tokens have ≥ 256 bits
/// of entropy, so a keyed fast hash is the right tool: a stolen database alone does not let an
/// attacker check guesses, and lookups by hash stay O(1).
public struct KeyedHash: Sendable {
    private let key: SymmetricKey

    /// Creates a hasher from a 256-bit key (derive it from the master key, never reuse it elsewhere).
    public init(key: SymmetricKey) {
        self.key = key
    }

    /// Hex of HMAC-SHA256(key, secret).
    public func hash(_ secret: String) -> String {
        hash(bytes: Array(secret.utf8))
    }

    /// Hex of HMAC-SHA256(key, bytes).
    public func hash(bytes: [UInt8]) -> String {
        Hex.encode(bytes.withUnsafeBytes { message in key.withUnsafeBytes { HMACSHA256.authenticationCode(for: message, key: $0) } })
    }

    /// Constant-time check of `secret` against a stored hex hash.
    public func matches(_ secret: String, storedHash: String) -> Bool {
        ConstantTime.equals(Array(hash(secret).utf8), Array(storedHash.utf8))
    }
}
