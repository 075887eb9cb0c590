/// The field list of ABN AMRO's login challenges and responses (ABN AMRO login protocol, docs/sessions.md).
///
/// Each field is a 1-byte id, a 2-byte big-endian length and the value; the list ends with the
/// field id 0 and an empty value. Hand-written because it is three lines of framing and no
/// library speaks it; decoding is strict so that one byte string has exactly one meaning.
public enum LoginTLV {
    /// Why bytes are not a field list.
    public enum Failure: Error, Equatable, Sendable {
        /// A field's header or value runs past the end.
        case truncated
        /// No terminating field 0, or bytes after it.
        case badTerminator
        /// A field id appears twice.
        case duplicateField(UInt8)
        /// A value longer than 65535 bytes cannot be framed.
        case valueTooLong(UInt8)
    }

    /// The encoding of `fields` in order, followed by the terminating field 0.
    /// Values longer than 65535 bytes cannot be framed and throw.
    public static func encode(_ fields: [(id: UInt8, value: [UInt8])]) throws(Failure) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(fields.reduce(3) { $0 + 3 + $1.value.count })
        for field in fields {
            guard field.value.count <= Int(UInt16.max) else { throw .valueTooLong(field.id) }
            out.append(field.id)
            out.append(UInt8(field.value.count >> 8))
            out.append(UInt8(field.value.count & 0xFF))
            out.append(contentsOf: field.value)
        }
        out.append(contentsOf: [0, 0, 0])
        return out
    }

    /// The fields of `bytes` by id (without the terminator). Refuses duplicates, a missing or
    /// non-empty terminator, and anything after it; the order of the other fields is free
    /// (public clients send them sorted or in insertion order).
    public static func decode(_ bytes: some Collection<UInt8>) throws(Failure) -> [UInt8: [UInt8]] {
        let bytes = Array(bytes)
        var fields: [UInt8: [UInt8]] = [:]
        var index = 0
        while index < bytes.count {
            guard index + 3 <= bytes.count else { throw .truncated }
            let id = bytes[index]
            let length = Int(bytes[index + 1]) << 8 | Int(bytes[index + 2])
            index += 3
            guard index + length <= bytes.count else { throw .truncated }
            if id == 0 {
                guard length == 0, index == bytes.count else { throw .badTerminator }
                return fields
            }
            guard fields[id] == nil else { throw .duplicateField(id) }
            fields[id] = Array(bytes[index..<(index + length)])
            index += length
        }
        throw .badTerminator
    }
}
