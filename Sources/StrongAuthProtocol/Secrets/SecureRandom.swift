/// Cryptographically secure randomness for secrets, tokens and identifiers.
public enum SecureRandom {
    /// `count` bytes from the system CSPRNG.
    public static func bytes(_ count: Int) -> [UInt8] {
        // SystemRandomNumberGenerator is the OS CSPRNG (getrandom(2) on Linux).
        var generator = SystemRandomNumberGenerator()
        return (0..<max(0, count)).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    /// An opaque bearer secret: `prefix` followed by 256 random bits in base64url.
    ///
    /// The prefix (`sa_cs_`, `sa_rt_`, …) lets secret scanners recognise leaked StrongAuth secrets
    /// and lets the server reject a token of the wrong kind before any lookup.
    public static func token(prefix: String, byteCount: Int = 32) -> String {
        prefix + Base64URL.encode(bytes(byteCount))
    }
}
