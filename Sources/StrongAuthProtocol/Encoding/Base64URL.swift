/// Base64url without padding (RFC 4648 §5), as used by JWS, JWK and PKCE.
///
/// Written byte by byte: Foundation's base64 followed by three `replacingOccurrences` bridged
/// through `NSString` (~1 % of a device challenge pair's CPU).
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Encodes bytes as unpadded base64url.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let input = Array(bytes)
        let length = (input.count * 4 + 2) / 3
        return String(unsafeUninitializedCapacity: length) { output in
            var position = 0
            func emit(_ group: UInt32, _ shift: UInt32) {
                output[position] = alphabet[Int(group >> shift & 0x3F)]
                position += 1
            }
            var index = 0
            while index + 3 <= input.count {
                let group = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
                emit(group, 18)
                emit(group, 12)
                emit(group, 6)
                emit(group, 0)
                index += 3
            }
            switch input.count - index {
            case 1:
                let group = UInt32(input[index]) << 16
                emit(group, 18)
                emit(group, 12)
            case 2:
                let group = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8
                emit(group, 18)
                emit(group, 12)
                emit(group, 6)
            default: break
            }
            return position
        }
    }

    /// Decodes unpadded (or padded) base64url; `nil` for anything that is not base64url.
    ///
    /// Like the Foundation decoder it replaced, `=` is ignored wherever it stands and the unused
    /// low bits of the last character are not checked.
    public static func decode(_ string: String) -> [UInt8]? {
        var output: [UInt8] = []
        output.reserveCapacity(string.utf8.count * 3 / 4)
        var group: UInt32 = 0
        var count = 0
        for byte in string.utf8 {
            let value: UInt8
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = byte - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = byte - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = byte - UInt8(ascii: "0") + 52
            case UInt8(ascii: "-"): value = 62
            case UInt8(ascii: "_"): value = 63
            case UInt8(ascii: "="): continue
            default: return nil
            }
            group = group << 6 | UInt32(value)
            count += 1
            if count == 4 {
                output.append(contentsOf: [
                    UInt8(truncatingIfNeeded: group >> 16), UInt8(truncatingIfNeeded: group >> 8), UInt8(truncatingIfNeeded: group),
                ])
                group = 0
                count = 0
            }
        }
        switch count {
        case 0: break
        case 2: output.append(UInt8(truncatingIfNeeded: group >> 4))
        case 3: output.append(contentsOf: [UInt8(truncatingIfNeeded: group >> 10), UInt8(truncatingIfNeeded: group >> 2)])
        default: return nil
        }
        return output
    }
}
