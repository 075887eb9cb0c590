/// One decoded CBOR data item (RFC 8949) of the subset WebAuthn uses.
///
/// Negative integers keep CBOR's own form: `.negative(n)` is the value `-1 - n`, so the full
/// range of both major types fits without overflow.
public indirect enum CBORValue: Hashable, Sendable {
    case unsigned(UInt64)
    case negative(UInt64)
    case bytes([UInt8])
    case text(String)
    case array([CBORValue])
    /// Entries in the order they were encoded; keys are unique (the decoder refuses duplicates).
    case map([CBORMapEntry])
    case bool(Bool)
    case null

    /// The value as a Swift `Int`, when it is an integer that fits.
    public var integer: Int? {
        switch self {
        case .unsigned(let value): value <= UInt64(Int.max) ? Int(value) : nil
        case .negative(let value): value <= UInt64(Int.max) ? -1 - Int(value) : nil
        default: nil
        }
    }

    public var byteString: [UInt8]? {
        if case .bytes(let bytes) = self { return bytes }
        return nil
    }

    public var textString: String? {
        if case .text(let text) = self { return text }
        return nil
    }

    public var mapEntries: [CBORMapEntry]? {
        if case .map(let entries) = self { return entries }
        return nil
    }

    /// The value under `key` when this is a map.
    public subscript(key: CBORValue) -> CBORValue? {
        mapEntries?.first(where: { $0.key == key })?.value
    }

    /// The value under an integer key (COSE labels).
    public subscript(label: Int) -> CBORValue? {
        self[label >= 0 ? .unsigned(UInt64(label)) : .negative(UInt64(-1 - label))]
    }

    /// The value under a text key (attestation objects).
    public subscript(name: String) -> CBORValue? {
        self[.text(name)]
    }
}

/// One key/value pair of a CBOR map.
public struct CBORMapEntry: Hashable, Sendable {
    public var key: CBORValue
    public var value: CBORValue

    public init(key: CBORValue, value: CBORValue) {
        self.key = key
        self.value = value
    }
}

/// Why CBOR input was refused, and the byte offset where the decoder noticed.
public struct CBORError: Error, Equatable, CustomStringConvertible {
    public enum Reason: Equatable, Sendable {
        /// The input ended inside an item.
        case truncated
        /// A byte or text string, array or map claims more than the remaining input could hold.
        case lengthExceedsInput
        /// Indefinite-length strings, arrays and maps (and the "break" byte) are not allowed.
        case indefiniteLength
        /// Bytes follow the single top-level item.
        case trailingBytes
        /// A map repeats a key.
        case duplicateMapKey
        /// An integer, length or count not in its shortest form (CTAP2 canonical CBOR).
        case nonCanonicalEncoding
        /// A text string that is not valid UTF-8.
        case invalidUTF8
        /// Arrays and maps nested deeper than `CBOR.maximumDepth`.
        case nestingTooDeep
        /// More than `CBOR.maximumItems` data items in one input.
        case tooManyItems
        /// Tags, floats, undefined, simple values other than false/true/null, reserved encodings.
        case unsupported(initialByte: UInt8)
    }

    public var reason: Reason
    public var offset: Int

    public init(_ reason: Reason, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String { "CBOR refused at byte \(offset): \(reason)" }
}

/// A strict CBOR decoder for WebAuthn's attestation objects, authenticator data and COSE keys.
///
/// Everything an authenticator legitimately sends is definite-length, shortest-form CBOR
/// (CTAP2 canonical); anything else is refused rather than interpreted, so two parsers can never
/// disagree about what a message means. Lengths are checked against the remaining input before
/// anything is allocated.
public enum CBOR {
    /// Arrays and maps may nest this deep (a COSE key inside an attestation object needs 2).
    public static let maximumDepth = 16
    /// At most this many data items (keys, values and elements all count) in one input.
    public static let maximumItems = 4096

    /// Decodes exactly one item that spans all of `bytes`.
    public static func decode(_ bytes: [UInt8]) throws(CBORError) -> CBORValue {
        let (value, length) = try decodePrefix(bytes)
        guard length == bytes.count else { throw CBORError(.trailingBytes, at: length) }
        return value
    }

    /// Decodes the first item of `bytes` and returns it with the number of bytes it took;
    /// whatever follows is left to the caller (authenticator data puts extensions after the key).
    public static func decodePrefix(_ bytes: [UInt8]) throws(CBORError) -> (value: CBORValue, length: Int) {
        var reader = Reader(bytes: bytes)
        let value = try reader.item(depth: 0)
        return (value, reader.offset)
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0
        var items = 0

        var remaining: Int { bytes.count - offset }

        mutating func byte() throws(CBORError) -> UInt8 {
            guard offset < bytes.count else { throw CBORError(.truncated, at: offset) }
            defer { offset += 1 }
            return bytes[offset]
        }

        /// Reads the argument of a head, refusing encodings longer than necessary.
        mutating func argument(_ additional: UInt8, headOffset: Int, initialByte: UInt8) throws(CBORError) -> UInt64 {
            let width: Int
            switch additional {
            case 0..<24: return UInt64(additional)
            case 24: width = 1
            case 25: width = 2
            case 26: width = 4
            case 27: width = 8
            case 31: throw CBORError(.indefiniteLength, at: headOffset)
            default: throw CBORError(.unsupported(initialByte: initialByte), at: headOffset)
            }
            guard remaining >= width else { throw CBORError(.truncated, at: offset) }
            var value: UInt64 = 0
            for _ in 0..<width { value = value << 8 | UInt64(try byte()) }
            let smallest: UInt64 =
                switch width {
                case 1: 24
                case 2: 0x100
                case 4: 0x1_0000
                default: 0x1_0000_0000
                }
            guard value >= smallest else { throw CBORError(.nonCanonicalEncoding, at: headOffset) }
            return value
        }

        mutating func item(depth: Int) throws(CBORError) -> CBORValue {
            let headOffset = offset
            items += 1
            guard items <= CBOR.maximumItems else { throw CBORError(.tooManyItems, at: headOffset) }
            let initialByte = try byte()
            let major = initialByte >> 5
            let additional = initialByte & 0x1f
            switch major {
            case 0:
                return .unsigned(try argument(additional, headOffset: headOffset, initialByte: initialByte))
            case 1:
                return .negative(try argument(additional, headOffset: headOffset, initialByte: initialByte))
            case 2, 3:
                let length = try argument(additional, headOffset: headOffset, initialByte: initialByte)
                guard length <= UInt64(remaining) else { throw CBORError(.lengthExceedsInput, at: headOffset) }
                let content = Array(bytes[offset..<offset + Int(length)])
                if major == 2 {
                    offset += Int(length)
                    return .bytes(content)
                }
                guard let text = String(validating: content, as: UTF8.self) else { throw CBORError(.invalidUTF8, at: offset) }
                offset += Int(length)
                return .text(text)
            case 4, 5:
                let count = try argument(additional, headOffset: headOffset, initialByte: initialByte)
                // Every element takes at least one byte: a count beyond the input is a lie, refused before reserving.
                let minimumBytes = major == 4 ? count : count.multipliedReportingOverflow(by: 2).partialValue
                guard count <= UInt64(remaining), minimumBytes <= UInt64(remaining) else {
                    throw CBORError(.lengthExceedsInput, at: headOffset)
                }
                guard depth < CBOR.maximumDepth else { throw CBORError(.nestingTooDeep, at: headOffset) }
                if major == 4 {
                    var elements: [CBORValue] = []
                    elements.reserveCapacity(Int(count))
                    for _ in 0..<count { elements.append(try item(depth: depth + 1)) }
                    return .array(elements)
                }
                var entries: [CBORMapEntry] = []
                entries.reserveCapacity(Int(count))
                var keys: Set<CBORValue> = []
                for _ in 0..<count {
                    let keyOffset = offset
                    let key = try item(depth: depth + 1)
                    guard keys.insert(key).inserted else { throw CBORError(.duplicateMapKey, at: keyOffset) }
                    entries.append(CBORMapEntry(key: key, value: try item(depth: depth + 1)))
                }
                return .map(entries)
            case 7:
                switch additional {
                case 20: return .bool(false)
                case 21: return .bool(true)
                case 22: return .null
                case 31: throw CBORError(.indefiniteLength, at: headOffset)
                default: throw CBORError(.unsupported(initialByte: initialByte), at: headOffset)
                }
            default:
                // Major type 6: tags. WebAuthn never needs them.
                throw CBORError(.unsupported(initialByte: initialByte), at: headOffset)
            }
        }
    }
}
