import Crypto

/// HMAC-SHA256 (RFC 2104) over byte arrays, built on swift-crypto's `SHA256`: the MAC of
/// `HMAC<SHA256>.authenticationCode(for:using:)`, byte for byte (RFC 4231's vectors and a
/// randomized agreement test), for the hot paths that compute many short MACs with fresh keys.
///
/// Why not `HMAC<SHA256>` there: a PowerAuth signature check is six HMACs of a few dozen bytes,
/// each under a key derived by the previous one. `HMAC.init(key:)` and `update(data:)` feed
/// their bytes through the generic `DataProtocol` path inside swift-crypto (not specialized at
/// our call sites), which cost ~8 % of a `/v2/signature/verify` request against under 1 % for
/// the SHA-256 compressions themselves (docs/benchmarks.md). Here every byte goes through
/// `SHA256.update(bufferPointer:)`, and the padded keys live on the stack.
public enum HMACSHA256 {
    /// SHA-256's block size in bytes: keys up to this long are padded, longer ones hashed first.
    static let blockSize = 64

    /// HMAC-SHA256(key, message), 32 bytes.
    public static func authenticationCode(for message: [UInt8], key: [UInt8]) -> [UInt8] {
        message.withUnsafeBytes { message in
            key.withUnsafeBytes { key in authenticationCode(for: message, key: key) }
        }
    }

    /// HMAC-SHA256(key, message), 32 bytes.
    public static func authenticationCode(for message: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer) -> [UInt8] {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: blockSize) { pad in
            pad.initialize(repeating: 0)
            if key.count > blockSize {
                var keyHash = SHA256()
                keyHash.update(bufferPointer: key)
                keyHash.finalize().withUnsafeBytes { digest in
                    for index in digest.indices { pad[index] = digest[index] }
                }
            } else {
                for index in key.indices { pad[index] = key[index] }
            }
            for index in pad.indices { pad[index] ^= 0x36 }
            var inner = SHA256()
            inner.update(bufferPointer: UnsafeRawBufferPointer(pad))
            inner.update(bufferPointer: message)
            let innerDigest = inner.finalize()
            // opad = key ^ 0x5c = (key ^ 0x36) ^ (0x36 ^ 0x5c)
            for index in pad.indices { pad[index] ^= 0x36 ^ 0x5C }
            var outer = SHA256()
            outer.update(bufferPointer: UnsafeRawBufferPointer(pad))
            innerDigest.withUnsafeBytes { outer.update(bufferPointer: $0) }
            pad.update(repeating: 0)  // no copy of the key left on the stack
            return outer.finalize().withUnsafeBytes { Array($0) }
        }
    }
}
