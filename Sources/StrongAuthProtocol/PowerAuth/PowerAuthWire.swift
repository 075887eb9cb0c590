import Foundation

/// The PowerAuth 3.x protocol versions the reference header validators admit
/// (`ValueTypeValidator.PROTOCOL_VERSIONS` in wultra/powerauth-crypto, `powerauth-java-http`).
///
/// A header that names any other version is refused before any cryptography runs. ECIES is
/// implemented for 3.1, 3.2 and 3.3 only; 3.0 (zero IV, no nonce) is accepted in headers because
/// the reference accepts it there, and refused by ``PowerAuthECIES``.
public enum PowerAuthProtocolVersion: String, Sendable, CaseIterable, Comparable {
    case v3_0 = "3.0"
    case v3_1 = "3.1"
    case v3_2 = "3.2"
    case v3_3 = "3.3"

    public static func < (lhs: Self, rhs: Self) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}

/// Base64 exactly as `java.util.Base64.getDecoder()` / `getEncoder()` handle it, because every
/// PowerAuth reference component decodes its inputs with the basic Java decoder.
///
/// That decoder is stricter than RFC 4648 in one way (no whitespace, no characters outside the
/// alphabet, nothing after padding) and laxer in two (padding is optional; the unused low bits of
/// the last character are not checked). Matching it means we accept what the reference accepts:
/// a header nonce sent without `=` padding must not be refused by us and accepted by them.
public enum PowerAuthBase64 {
    /// Standard alphabet with padding (`Base64.getEncoder()`).
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString()
    }

    /// Decodes like `Base64.getDecoder().decode(String)`; `nil` where Java throws
    /// `IllegalArgumentException`.
    public static func decode(_ string: String) -> [UInt8]? {
        var output: [UInt8] = []
        output.reserveCapacity(string.utf8.count * 3 / 4)
        var bits: UInt32 = 0
        var shift = 18
        var iterator = string.utf8.makeIterator()
        var sawPadding = false
        while let char = iterator.next() {
            if char == UInt8(ascii: "=") {
                // `=` may only end a unit after two or three characters; after two it must be doubled.
                if shift == 18 || shift == 12 { return nil }
                if shift == 6 {
                    guard iterator.next() == UInt8(ascii: "=") else { return nil }
                }
                sawPadding = true
                break
            }
            guard let value = sextet(char) else { return nil }
            bits |= UInt32(value) << UInt32(shift)
            shift -= 6
            if shift < 0 {
                output.append(UInt8(truncatingIfNeeded: bits >> 16))
                output.append(UInt8(truncatingIfNeeded: bits >> 8))
                output.append(UInt8(truncatingIfNeeded: bits))
                bits = 0
                shift = 18
            }
        }
        switch shift {
        case 6: output.append(UInt8(truncatingIfNeeded: bits >> 16))
        case 0:
            output.append(UInt8(truncatingIfNeeded: bits >> 16))
            output.append(UInt8(truncatingIfNeeded: bits >> 8))
        case 12: return nil  // a single dangling character carries fewer than 8 bits
        default: break
        }
        // Nothing may follow the padding.
        if sawPadding, iterator.next() != nil { return nil }
        return output
    }

    private static func sextet(_ char: UInt8) -> UInt8? {
        switch char {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): char - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): char - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): char - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): 62
        case UInt8(ascii: "/"): 63
        default: nil
        }
    }
}

/// `ByteUtils` of the reference: the length-prefixed concatenations that build ECIES
/// `sharedInfo2` and associated data in protocol 3.2+.
enum PowerAuthBytes {
    /// `ByteUtils.concatWithSizes`: each component as BE32(length) ‖ bytes; a `nil` component is
    /// written as BE32(0) alone (the response's missing ephemeral key is such a component).
    static func concatWithSizes(_ components: [[UInt8]?]) -> [UInt8] {
        var result: [UInt8] = []
        for component in components {
            let bytes = component ?? []
            result += bigEndian(UInt32(bytes.count))
            result += bytes
        }
        return result
    }

    /// `ByteUtils.concatStrings`: UTF-8 strings, each prefixed with BE32 of its byte length.
    static func concatStrings(_ strings: [String]) -> [UInt8] {
        concatWithSizes(strings.map { Array($0.utf8) })
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }

    static func bigEndian(_ value: UInt64) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }
}

/// UUID check of `ValueTypeValidator.isValidUuid`: lower-cased, versions 1–5, RFC 4122 variant.
enum PowerAuthUUID {
    static func isValid(_ candidate: String) -> Bool {
        let chars = Array(candidate.lowercased().utf8)
        guard chars.count == 36 else { return false }
        func hex(_ c: UInt8) -> Bool {
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(c)
        }
        for (index, char) in chars.enumerated() {
            switch index {
            case 8, 13, 18, 23:
                guard char == UInt8(ascii: "-") else { return false }
            case 14:
                guard (UInt8(ascii: "1")...UInt8(ascii: "5")).contains(char) else { return false }
            case 19:
                guard [UInt8(ascii: "8"), UInt8(ascii: "9"), UInt8(ascii: "a"), UInt8(ascii: "b")].contains(char) else { return false }
            default:
                guard hex(char) else { return false }
            }
        }
        return true
    }
}
