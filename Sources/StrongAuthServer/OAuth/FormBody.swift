import Foundation
import NIOCore
import StrongAuthCore

/// `application/x-www-form-urlencoded` bodies as RFC 6749 §3.2 and Appendix B define them:
/// UTF-8, percent-encoding with `+` for space, and no parameter more than once.
enum FormBody {
    /// The media type every OAuth endpoint accepts.
    static let mediaType = "application/x-www-form-urlencoded"

    /// The parameters that may appear more than once (RFC 8707 §2: `resource`). Their values are
    /// kept joined by NUL, which `decode` never lets into a value; read them with `values(_:in:)`.
    static let repeatable: Set<String> = ["resource"]

    /// Every value of a repeatable parameter, in the order sent.
    static func values(_ name: String, in form: [String: String]) -> [String] {
        form[name].map { $0.split(separator: "\u{0}", omittingEmptySubsequences: false).map(String.init) } ?? []
    }

    /// Parses `body`; any malformed byte, bad escape or repeated parameter is `invalid_request`.
    static func parse(_ body: ByteBuffer) throws -> [String: String] {
        try body.withUnsafeReadableBytes { raw in
            try parse(UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: UInt8.self), count: raw.count))
        }
    }

    /// The same over the body's bytes, in one pass for `&` and `=` (splitting a `String`'s UTF-8
    /// view went through its generic index machinery byte by byte: 1.5 % of an introspection's
    /// CPU). `&` and `=` never occur inside a multi-byte UTF-8 sequence, so the pairs and
    /// components are exactly those of the text.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws -> [String: String] {
        guard bytes.allSatisfy({ $0 < 0x80 }) || String(validating: bytes, as: UTF8.self) != nil else {
            throw OAuthError.invalidRequest("The request body is not UTF-8.")
        }
        var parameters: [String: String] = [:]
        var pairStart = bytes.startIndex
        while pairStart < bytes.endIndex {
            let pairEnd = bytes[pairStart...].firstIndex(of: UInt8(ascii: "&")) ?? bytes.endIndex
            defer { pairStart = pairEnd + 1 }
            guard pairEnd > pairStart else { continue }  // an empty pair (`&&`) is skipped
            let pair = UnsafeBufferPointer(rebasing: bytes[pairStart..<pairEnd])
            let equals = pair.firstIndex(of: UInt8(ascii: "="))
            guard let name = decode(UnsafeBufferPointer(rebasing: pair[..<(equals ?? pair.endIndex)])), !name.isEmpty else {
                throw OAuthError.invalidRequest("The request body is not a well-formed form.")
            }
            guard let value = equals.map({ decode(UnsafeBufferPointer(rebasing: pair[($0 + 1)...])) }) ?? "" else {
                throw OAuthError.invalidRequest("The request body is not a well-formed form.")
            }
            if Self.repeatable.contains(name), let earlier = parameters[name] {
                parameters[name] = earlier + "\u{0}" + value
                continue
            }
            guard parameters.updateValue(value, forKey: name) == nil else {
                throw OAuthError.invalidRequest("The parameter '\(Self.printable(name))' is included more than once.")
            }
        }
        return parameters
    }

    /// Percent-decodes one component (`+` is a space); `nil` for bad escapes, invalid UTF-8 or
    /// control characters other than tab.
    static func decode(_ component: Substring) -> String? {
        decode(component.utf8)
    }

    /// The same on raw bytes. Byte-wise on purpose: Foundation's `removingPercentEncoding` went
    /// through UTF-16 and was 15 % of an introspection's CPU (a JWT is a long form value). A
    /// component without `%`, `+` or a control character — a JWT, a client id, a grant type — is
    /// its bytes: made a string from its contiguous storage in one pass, not byte by byte through
    /// the collection's iterator (which was still ~4 % of an introspection's CPU).
    static func decode<Bytes: Collection<UInt8>>(_ component: Bytes) -> String? {
        let plain: PlainComponent? = component.withContiguousStorageIfAvailable { buffer in
            buffer.contains(where: needsDecoding) ? .escaped : .text(String(validating: buffer, as: UTF8.self))
        }
        if case .text(let text) = plain { return text }
        return decodeEscaped(component)
    }

    private enum PlainComponent {
        /// The component's bytes as they are (`nil`: not UTF-8).
        case text(String?)
        /// It has an escape, a `+` or a control character: decoded byte by byte.
        case escaped
    }

    /// `%`, `+`, and the control characters other than tab (refused by `decodeEscaped`).
    private static func needsDecoding(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "%") || byte == UInt8(ascii: "+") || (byte < 0x20 && byte != 0x09)
    }

    /// `decode` byte by byte: every component may take this path (tests compare the two).
    static func decodeEscaped<Bytes: Collection<UInt8>>(_ component: Bytes) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(component.count)
        var iterator = component.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"):
                bytes.append(0x20)
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    return nil
                }
                bytes.append(high << 4 | low)
            default:
                bytes.append(byte)
            }
        }
        // Literal or escaped alike; in UTF-8 a byte below 0x20 is always such a control character.
        guard !bytes.contains(where: { $0 < 0x20 && $0 != 0x09 }) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// A parameter name safe to echo in an error description.
    static func printable(_ name: String) -> String {
        String(name.unicodeScalars.filter { $0.isASCII && $0.value >= 0x20 && $0 != "\"" }.prefix(40).map(Character.init))
    }
}
