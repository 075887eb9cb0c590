import Foundation
import JWTKit

extension AccessTokenClaims {
    /// The claims as JSON, written byte by byte for `AccessTokenSigner.sign` instead of through
    /// Foundation's `JSONEncoder` (jwt-kit's default), which cost ~8 % of a client_credentials
    /// grant's CPU (docs/benchmarks.md): the members `Codable` would write (nil optionals left out, a
    /// single-valued `aud` as a string as jwt-kit's `JWTMultiValueClaim` does, times in whole seconds).
    func jsonBytes() -> [UInt8] {
        var writer = JSONObjectWriter()
        writer.member("iss", string: iss.value)
        writer.member("sub", string: sub.value)
        if let aud {
            if aud.value.count == 1 { writer.member("aud", string: aud.value[0]) } else { writer.member("aud", strings: aud.value) }
        }
        writer.member("exp", integer: Int64(exp.value.timeIntervalSince1970.rounded(.down)))
        writer.member("iat", integer: Int64(iat.value.timeIntervalSince1970.rounded(.down)))
        writer.member("jti", string: jti.value)
        writer.member("client_id", string: clientID)
        writer.member("scope", string: scope)
        writer.member("subject_type", string: subjectType.rawValue)
        if let sid { writer.member("sid", string: sid) }
        if let amr { writer.member("amr", strings: amr) }
        if let acr { writer.member("acr", string: acr) }
        if let authTime { writer.member("auth_time", integer: Int64(authTime.timeIntervalSince1970.rounded(.down))) }
        if let cnf {
            var confirmation = JSONObjectWriter()
            if let kid = cnf.kid { confirmation.member("kid", string: kid) }
            if let jkt = cnf.jkt { confirmation.member("jkt", string: jkt) }
            writer.member("cnf", raw: confirmation.finish())
        }
        if let realm { writer.member("realm", string: realm) }
        return writer.finish()
    }
}

/// Writes one JSON object (RFC 8259) of string, integer and string-array members.
public struct JSONObjectWriter {
    /// How strings are escaped.
    public enum Escaping: Sendable {
        /// `"` and `\` escaped, control characters as `\u00XX`: the shortest valid JSON.
        case minimal
        /// As Foundation's `JSONSerialization` writes strings: also `/` as `\/` and the control
        /// characters that have one as `\b \f \n \r \t`, for output that must stay byte-identical.
        case foundation
        /// As Foundation's `JSONEncoder` with `.withoutEscapingSlashes` writes strings: the short
        /// control escapes of `.foundation`, `/` as it is (JSON responses, `JSONBytesEncoder`).
        case foundationWithoutEscapingSlashes

        var escapesSlash: Bool { self == .foundation }
        var shortControlEscapes: Bool { self != .minimal }
    }

    private var bytes: [UInt8] = [UInt8(ascii: "{")]
    private var first = true
    private let escaping: Escaping

    public init(escaping: Escaping = .minimal) {
        self.escaping = escaping
        bytes.reserveCapacity(512)
    }

    /// A flat object of string members as `JSONSerialization` with `.sortedKeys` writes it, byte
    /// for byte: its escaping, and its key order (numeric, case-insensitive comparison, asked only
    /// when there are two keys or more). For stored JSON that must not change: audit details,
    /// approval parameters.
    ///
    /// That comparison is an ICU collation with a locale made anew for each pair of keys (3 % of a
    /// process exchange's CPU, on the single SQLite writer's thread, for three keys). Keys of
    /// lowercase ASCII letters and underscores — every audit record's — collate in the order of
    /// their bytes (`_` before the letters, a prefix before its extensions), so they are sorted
    /// by their bytes; any other key set is sorted by the collation (`AuditDetailsJSONTests`).
    public static func sortedStringObject(_ members: [String: String]) -> String {
        let keys: [String]
        if members.count < 2 {
            keys = Array(members.keys)
        } else if members.keys.allSatisfy(collatesByBytes) {
            keys = members.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        } else {
            keys = members.keys.sorted { first, second in
                first.compare(
                    second, options: [.numeric, .caseInsensitive, .forcedOrdering], range: first.startIndex..<first.endIndex,
                    locale: Locale(identifier: "")) == .orderedAscending
            }
        }
        var writer = JSONObjectWriter(escaping: .foundation)
        for key in keys { writer.member(key, string: members[key] ?? "") }
        return String(decoding: writer.finish(), as: UTF8.self)
    }

    /// Whether `key` is lowercase ASCII letters and underscores alone: keys whose collation order
    /// (see `sortedStringObject`) is the order of their bytes.
    static func collatesByBytes(_ key: String) -> Bool {
        key.utf8.allSatisfy { byte in (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || byte == UInt8(ascii: "_") }
    }

    public mutating func member(_ name: String, string value: String) {
        key(name)
        Self.append(string: value, to: &bytes, escaping: escaping)
    }

    public mutating func member(_ name: String, integer value: Int64) {
        key(name)
        bytes.append(contentsOf: String(value).utf8)
    }

    public mutating func member(_ name: String, strings values: [String]) {
        key(name)
        bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            Self.append(string: value, to: &bytes, escaping: escaping)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// A member whose value is already JSON (a nested object).
    public mutating func member(_ name: String, raw json: [UInt8]) {
        key(name)
        bytes.append(contentsOf: json)
    }

    public mutating func finish() -> [UInt8] {
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    private mutating func key(_ name: String) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        Self.append(string: name, to: &bytes, escaping: escaping)
        bytes.append(UInt8(ascii: ":"))
    }

    /// A JSON string: `"` and `\` escaped, control characters as `\u00XX` (or as `escaping` says),
    /// everything else as its UTF-8 — runs without escapes copied at once.
    public static func append(string: String, to bytes: inout [UInt8], escaping: Escaping = .minimal) {
        bytes.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { utf8 in
            var start = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || (byte == UInt8(ascii: "/") && escaping.escapesSlash)
                else { continue }
                if start < index { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<index])) }
                appendEscape(of: byte, to: &bytes, escaping: escaping)
                start = index + 1
            }
            if start < utf8.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...])) }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static func appendEscape(of byte: UInt8, to bytes: inout [UInt8], escaping: Escaping) {
        if byte >= 0x20 {
            bytes.append(contentsOf: [UInt8(ascii: "\\"), byte])
        } else if escaping.shortControlEscapes, let short = shortEscape(byte) {
            bytes.append(contentsOf: [UInt8(ascii: "\\"), short])
        } else {
            let hex: StaticString = "0123456789abcdef"
            bytes.append(contentsOf: [
                UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex.utf8Start[Int(byte >> 4)],
                hex.utf8Start[Int(byte & 0xf)],
            ])
        }
    }

    /// The letter of a control character's two-character escape (`\n` …), if it has one.
    private static func shortEscape(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x08: UInt8(ascii: "b")
        case 0x09: UInt8(ascii: "t")
        case 0x0A: UInt8(ascii: "n")
        case 0x0C: UInt8(ascii: "f")
        case 0x0D: UInt8(ascii: "r")
        default: nil
        }
    }
}
