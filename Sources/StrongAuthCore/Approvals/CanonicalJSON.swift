import Foundation
import StrongAuthProtocol

/// The canonical form a payload is bound in (Shine's short-lived tokens, ABN AMRO's signed
/// scenarios): JSON with every object's keys sorted and no insignificant whitespace, exactly as
/// `JSONSerialization` writes it with `.sortedKeys`, `.withoutEscapingSlashes` and
/// `.fragmentsAllowed`. That form is what tokens in flight were bound to, so it must not change
/// by a byte; `JSONSerialization` sorts keys with an ICU collation per comparison (numeric,
/// case-insensitive), which costs tens of microseconds for a small payload.
///
/// `write(_:)` writes the same bytes from a `JSONBytesParser` tree where that is simple to get
/// exactly right, and answers `nil` otherwise, for `foundation(_:)`: every object's keys made of
/// ASCII letters alone, no two equal but for case (where the collation's order is the order of
/// their lowercase bytes), and numbers that are plain integers. `CanonicalJSONTests` compares
/// the two on generated documents.
public enum CanonicalJSON {
    /// `value` (a Foundation JSON object: what `JSONSerialization` parsed) in canonical form.
    public static func foundation(_ value: Any) throws -> String {
        guard JSONSerialization.isValidJSONObject([value]) else { throw CanonicalJSONError.notJSON }
        let data = try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
        return String(decoding: data, as: UTF8.self)
    }

    /// `value` in canonical form, or `nil` where only `foundation(_:)` can say.
    public static func write(_ value: JSONParsedValue) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        guard append(value, to: &bytes) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func append(_ value: JSONParsedValue, to bytes: inout [UInt8]) -> Bool {
        switch value {
        case .string(let string):
            JSONObjectWriter.append(string: string, to: &bytes, escaping: .foundationWithoutEscapingSlashes)
        case .integer(let integer):
            bytes.append(contentsOf: String(integer).utf8)
        case .bool(let bool):
            bytes.append(contentsOf: (bool ? "true" : "false").utf8)
        case .null:
            bytes.append(contentsOf: "null".utf8)
        case .otherNumber:
            return false
        case .array(let elements):
            bytes.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                guard append(element, to: &bytes) else { return false }
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            guard let keys = sortedMembers(members) else { return false }
            bytes.append(UInt8(ascii: "{"))
            for (index, member) in keys.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                JSONObjectWriter.append(string: member.key, to: &bytes, escaping: .foundationWithoutEscapingSlashes)
                bytes.append(UInt8(ascii: ":"))
                guard append(member.value, to: &bytes) else { return false }
            }
            bytes.append(UInt8(ascii: "}"))
        }
        return true
    }

    /// The members in the collation's order of their keys, or `nil` unless each key is ASCII
    /// letters alone and no two are equal but for case.
    private static func sortedMembers(_ members: [String: JSONParsedValue]) -> [(lowercased: [UInt8], key: String, value: JSONParsedValue)]? {
        var keys: [(lowercased: [UInt8], key: String, value: JSONParsedValue)] = []
        keys.reserveCapacity(members.count)
        for (key, value) in members {
            var lowercased: [UInt8] = []
            lowercased.reserveCapacity(key.utf8.count)
            for byte in key.utf8 {
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"): lowercased.append(byte)
                case UInt8(ascii: "A")...UInt8(ascii: "Z"): lowercased.append(byte | 0x20)
                default: return nil
                }
            }
            keys.append((lowercased, key, value))
        }
        keys.sort { $0.lowercased.lexicographicallyPrecedes($1.lowercased) }
        for index in keys.indices.dropFirst() where keys[index].lowercased == keys[index - 1].lowercased { return nil }
        return keys
    }
}

public enum CanonicalJSONError: Error, Sendable {
    /// Not a value `JSONSerialization` can write.
    case notJSON
}
