#if canImport(Darwin)
    import Darwin
#elseif canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Cryptographically secure randomness for secrets, tokens and identifiers.
public enum SecureRandom {
    /// `count` bytes from the system CSPRNG, in one system call per 256 bytes (`getrandom(2)`
    /// on Linux, `arc4random_buf` on Darwin). Drawing them through `SystemRandomNumberGenerator` one
    /// `UInt8` at a time cost one `getrandom` per byte: 32 system calls per device challenge pair.
    public static func bytes(_ count: Int) -> [UInt8] {
        guard count > 0 else { return [] }
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initializedCount in
            fill(buffer)
            initializedCount = count
        }
    }

    /// An opaque bearer secret: `prefix` followed by 256 random bits in base64url.
    ///
    /// The prefix (`sa_cs_`, `sa_rt_`, …) lets secret scanners recognise leaked StrongAuth secrets
    /// and lets the server reject a token of the wrong kind before any lookup.
    public static func token(prefix: String, byteCount: Int = 32) -> String {
        prefix + Base64URL.encode(bytes(byteCount))
    }

    /// A random (version 4, RFC 9562 §5.4) UUID in lowercase text, `8-4-4-4-12` hex digits: the
    /// identifier of every row the server creates whose identifier must say nothing (122 random
    /// bits). Foundation's `UUID()` opens, reads and closes `/dev/urandom` for each one on Linux
    /// (three system calls instead of one).
    public static func uuid() -> String {
        var raw = (UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &raw) { fill($0.bindMemory(to: UInt8.self)) }
        return withUnsafeMutableBytes(of: &raw) { bytes in
            bytes[6] = (bytes[6] & 0x0F) | 0x40  // version 4
            bytes[8] = (bytes[8] & 0x3F) | 0x80  // variant 10
            return text(of: UnsafeRawBufferPointer(bytes))
        }
    }

    /// A time-ordered (version 7, RFC 9562 §5.7) UUID: the Unix time in milliseconds in its first
    /// 48 bits, then 74 random bits. For rows written on the hot paths (audit records, token
    /// families, refresh tokens, challenges, approvals, outbox rows): an index on a random key
    /// puts each insert on a random B-tree page, one more page to write per row at every commit
    /// (SQLite's WAL writes each changed page whole) and to read back first; keys that grow with
    /// time all land on the index's last page, which the transactions committed together share.
    /// Not for secrets (74 random bits, and the creation time readable): those are `token(prefix:)`.
    /// The core passes its own clock's time (`timeOrderedUUID(at:)`).
    public static func timeOrderedUUID(milliseconds: UInt64) -> String {
        var raw = (UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &raw) { fill($0.bindMemory(to: UInt8.self)) }
        return withUnsafeMutableBytes(of: &raw) { bytes in
            for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: milliseconds >> (8 * (5 - index))) }
            bytes[6] = (bytes[6] & 0x0F) | 0x70  // version 7
            bytes[8] = (bytes[8] & 0x3F) | 0x80  // variant 10
            return text(of: UnsafeRawBufferPointer(bytes))
        }
    }

    /// 16 bytes as UUID text: lowercase hex, `8-4-4-4-12`.
    private static func text(of bytes: UnsafeRawBufferPointer) -> String {
        String(unsafeUninitializedCapacity: 36) { text in
            let digits: StaticString = "0123456789abcdef"
            var position = 0
            for (index, byte) in bytes.enumerated() {
                if index == 4 || index == 6 || index == 8 || index == 10 {
                    text[position] = UInt8(ascii: "-")
                    position += 1
                }
                text[position] = digits.utf8Start[Int(byte >> 4)]
                text[position + 1] = digits.utf8Start[Int(byte & 0x0F)]
                position += 2
            }
            return position
        }
    }

    /// Fills `buffer` from the system CSPRNG; traps if the kernel has none (as
    /// `SystemRandomNumberGenerator` does): a server without randomness must not issue secrets.
    private static func fill(_ buffer: UnsafeMutableBufferPointer<UInt8>) {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return }
        #if canImport(Darwin)
            arc4random_buf(base, buffer.count)
        #else
            // getentropy(3) is one getrandom(2) of at most 256 bytes (glibc does not map
            // <sys/random.h> into Swift).
            var filled = 0
            while filled < buffer.count {
                let chunk = min(256, buffer.count - filled)
                if getentropy(base + filled, chunk) == 0 {
                    filled += chunk
                } else {
                    // No getrandom(2) (a kernel before 3.17): the standard library's generator.
                    var generator = SystemRandomNumberGenerator()
                    for index in filled..<buffer.count { buffer[index] = generator.next() }
                    return
                }
            }
        #endif
    }
}
