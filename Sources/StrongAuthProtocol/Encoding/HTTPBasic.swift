/// The `Authorization: Basic` header (RFC 7617), read from its bytes: every request of the
/// integration face and most token requests carry one, and reading it through Foundation (split,
/// lowercase, `Data(base64Encoded:)`, `String(data:encoding:)`) was ~3 % of a request's CPU.
public enum HTTPBasic {
    /// What the header says.
    public enum Header: Equatable, Sendable {
        /// Another scheme (or none).
        case otherScheme
        /// `Basic` with a token that is not base64 of UTF-8 text holding a `:`.
        case malformed
        /// The user-id and the password: the text before the first `:` and after it (RFC 7617 §2).
        case credentials(user: Substring, password: Substring)
    }

    /// The header's scheme is compared without case and must be followed by a space; the token
    /// may have HTTP whitespace around it and must be standard, padded base64 (as
    /// `Data(base64Encoded:)` reads it) of valid UTF-8.
    public static func parse(_ header: String) -> Header {
        guard HTTPAuthorization.hasScheme("basic", header) else { return .otherScheme }
        var bytes = Substring(header).utf8.dropFirst("basic ".utf8.count)
        let isWhitespace = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        while let first = bytes.first, isWhitespace(first) { bytes = bytes.dropFirst() }
        while let last = bytes.last, isWhitespace(last) { bytes = bytes.dropLast() }
        guard let decoded = Base64Standard.decode(bytes), let text = String(validating: decoded, as: UTF8.self),
            let colon = text.utf8.firstIndex(of: UInt8(ascii: ":"))
        else { return .malformed }
        // Next to an ASCII byte: a character boundary.
        return .credentials(user: text[..<colon], password: text[text.utf8.index(after: colon)...])
    }
}

/// The scheme of an `Authorization` header (RFC 9110 §11.4), asked from its first bytes.
public enum HTTPAuthorization {
    /// Whether `header` starts with `scheme` (lowercase ASCII, compared without case) and a space:
    /// no copy of the credentials that follow, which every request of a face carries.
    public static func hasScheme(_ scheme: StaticString, _ header: String) -> Bool {
        var bytes = header.utf8.makeIterator()
        for expected in UnsafeBufferPointer(start: scheme.utf8Start, count: scheme.utf8CodeUnitCount) {
            guard let byte = bytes.next(), byte | 0x20 == expected else { return false }
        }
        return bytes.next() == UInt8(ascii: " ")
    }
}

/// Standard base64 with padding, strictly: a multiple of four characters, `=` only as the last
/// one or two, nothing else outside the alphabet.
public enum Base64Standard {
    public static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
        guard text.count % 4 == 0 else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(text.count / 4 * 3)
        var group: UInt32 = 0
        var count = 0
        var padding = 0
        for byte in text {
            let value: UInt8
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = byte - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = byte - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = byte - UInt8(ascii: "0") + 52
            case UInt8(ascii: "+"): value = 62
            case UInt8(ascii: "/"): value = 63
            case UInt8(ascii: "="):
                padding += 1
                continue
            default: return nil
            }
            guard padding == 0 else { return nil }
            group = group << 6 | UInt32(value)
            count += 1
            if count == 4 {
                output.append(UInt8(truncatingIfNeeded: group >> 16))
                output.append(UInt8(truncatingIfNeeded: group >> 8))
                output.append(UInt8(truncatingIfNeeded: group))
                group = 0
                count = 0
            }
        }
        switch (count, padding) {
        case (0, 0): break
        case (2, 2): output.append(UInt8(truncatingIfNeeded: group >> 4))
        case (3, 1):
            output.append(UInt8(truncatingIfNeeded: group >> 10))
            output.append(UInt8(truncatingIfNeeded: group >> 2))
        default: return nil
        }
        return output
    }
}
