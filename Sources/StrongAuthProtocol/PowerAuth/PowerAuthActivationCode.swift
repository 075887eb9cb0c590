import Crypto
import Foundation

/// PowerAuth activation codes ("Activation Code"): 10 random bytes and their CRC-16/ARC,
/// Base32 (RFC 4648, no padding) in four groups of five, e.g. `GYA4L-D4C7K-OP2NV-USYYQ`,
/// signed ECDSA-SHA256 by the application's master key; QR data is `CODE#SIGNATURE`.
public enum PowerAuthActivationCode {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    /// A new random, well-formed code.
    public static func generate() -> String {
        let random = SecureRandom.bytes(10)
        let crc = crc16ARC(random)
        return format(base32(random + [UInt8(crc >> 8), UInt8(crc & 0xFF)]))
    }

    /// Whether `code` is four dash-separated groups of five Base32 characters whose checksum holds.
    public static func isValid(_ code: String) -> Bool {
        guard let bytes = decode(code) else { return false }
        return crc16ARC(Array(bytes[0..<10])) == UInt16(bytes[10]) << 8 | UInt16(bytes[11])
    }

    /// The DER signature of the code by the master private key, Base64 (what QR data carries).
    public static func sign(_ code: String, masterKey: P256.Signing.PrivateKey) throws -> String {
        try masterKey.signature(for: Array(code.utf8)).derRepresentation.base64EncodedString()
    }

    /// Verifies a Base64 DER signature of `code` by the master public key.
    public static func verify(_ code: String, signatureBase64: String, masterPublicKey: P256.Signing.PublicKey) -> Bool {
        guard let der = Data(base64Encoded: signatureBase64),
            let signature = try? P256.Signing.ECDSASignature(derRepresentation: der)
        else { return false }
        return masterPublicKey.isValidSignature(signature, for: Array(code.utf8))
    }

    /// The 12 bytes behind a code; `nil` when it is not the 4×5 Base32 shape.
    static func decode(_ code: String) -> [UInt8]? {
        let groups = code.split(separator: "-", omittingEmptySubsequences: false)
        guard groups.count == 4, groups.allSatisfy({ $0.utf8.count == 5 }) else { return nil }
        var bits: UInt64 = 0
        var bitCount = 0
        var bytes: [UInt8] = []
        for char in groups.joined().utf8 {
            guard let value = alphabet.firstIndex(of: char) else { return nil }
            bits = bits << 5 | UInt64(value)
            bitCount += 5
            if bitCount >= 8 {
                bitCount -= 8
                bytes.append(UInt8(truncatingIfNeeded: bits >> UInt64(bitCount)))
                bits &= (1 << UInt64(bitCount)) - 1
            }
        }
        // 20 characters carry 100 bits: 12 bytes and 4 padding bits that must be zero.
        guard bytes.count == 12, bits == 0 else { return nil }
        return bytes
    }

    static func base32(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        var bits: UInt32 = 0
        var bitCount = 0
        for byte in bytes {
            bits = bits << 8 | UInt32(byte)
            bitCount += 8
            while bitCount >= 5 {
                bitCount -= 5
                output.append(alphabet[Int(bits >> UInt32(bitCount) & 0x1F)])
            }
        }
        if bitCount > 0 { output.append(alphabet[Int(bits << UInt32(5 - bitCount) & 0x1F)]) }
        return String(decoding: output, as: UTF8.self)
    }

    static func format(_ base32: String) -> String {
        let chars = Array(base32)
        return stride(from: 0, to: chars.count, by: 5).map { String(chars[$0..<min($0 + 5, chars.count)]) }.joined(separator: "-")
    }

    /// CRC-16/ARC: polynomial 0x8005 reflected (0xA001), initial value 0.
    public static func crc16ARC(_ bytes: [UInt8]) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc ^= UInt16(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xA001 : crc >> 1 }
        }
        return crc
    }
}
