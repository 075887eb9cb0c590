import Crypto

/// Cryptographically secure randomness for secrets, tokens and identifiers.
public enum SecureRandom {
    /// `count` bytes from the system CSPRNG.
    public static func bytes(_ count: Int) -> [UInt8] {
        // SymmetricKey draws from the system CSPRNG (BoringSSL RAND_bytes / SecRandom).
        SymmetricKey(size: .init(bitCount: count * 8)).withUnsafeBytes { Array($0) }
    }

    /// An opaque bearer secret: `prefix` followed by 256 random bits in base64url.
    ///
    /// The prefix (`sa_cs_`, `sa_rt_`, …) lets secret scanners recognise leaked StrongAuth secrets
    /// and lets the server reject a token of the wrong kind before any lookup.
    public static func token(prefix: String, byteCount: Int = 32) -> String {
        prefix + Base64URL.encode(bytes(byteCount))
    }
}
