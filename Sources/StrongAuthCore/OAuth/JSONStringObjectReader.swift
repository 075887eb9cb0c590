import Foundation

/// Reads a flat JSON object of string members (`{"a":"b",…}`) — what the store keeps for audit
/// details and approval parameters — byte by byte. `JSONSerialization` and the bridging cast to
/// `[String: String]` cost ~1.5 % of an operation flow for each approval row read.
///
/// `nil` for anything else (a nested value, a number, malformed text, a lone surrogate): the
/// caller then asks `JSONSerialization`, so no input reads differently than before.
public enum JSONStringObjectReader {
    /// `text` read as a flat object of strings: here, or by `JSONSerialization` for whatever this
    /// reader leaves to it; `[:]` when it is not such an object at all (as the store always read it).
    public static func stringObject(_ text: String) -> [String: String] {
        read(text) ?? (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String]) ?? [:]
    }

    public static func read(_ text: String) -> [String: String]? {
        var text = text
        return text.withUTF8 { bytes in
            var reader = Cursor(bytes: bytes)
            return reader.object()
        }
    }

    private struct Cursor {
        let bytes: UnsafeBufferPointer<UInt8>
        var position = 0

        mutating func object() -> [String: String]? {
            skipWhitespace()
            guard take(UInt8(ascii: "{")) else { return nil }
            var members: [String: String] = [:]
            skipWhitespace()
            if take(UInt8(ascii: "}")) { return finished() ? members : nil }
            while true {
                skipWhitespace()
                guard let key = string() else { return nil }
                skipWhitespace()
                guard take(UInt8(ascii: ":")) else { return nil }
                skipWhitespace()
                guard let value = string() else { return nil }
                members[key] = value
                skipWhitespace()
                if take(UInt8(ascii: ",")) { continue }
                guard take(UInt8(ascii: "}")) else { return nil }
                return finished() ? members : nil
            }
        }

        private mutating func finished() -> Bool {
            skipWhitespace()
            return position == bytes.count
        }

        private mutating func string() -> String? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            var start = position
            var unescaped: [UInt8] = []
            var escaped = false
            while position < bytes.count {
                let byte = bytes[position]
                switch byte {
                case UInt8(ascii: "\""):
                    let tail = UnsafeBufferPointer(rebasing: bytes[start..<position])
                    position += 1
                    guard escaped else { return String(validating: tail, as: UTF8.self) }
                    unescaped.append(contentsOf: tail)
                    return String(validating: unescaped, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    unescaped.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<position]))
                    escaped = true
                    position += 1
                    guard escape(into: &unescaped) else { return nil }
                    start = position
                case 0..<0x20: return nil
                default: position += 1
                }
            }
            return nil
        }

        /// One escape after its backslash, appended as UTF-8.
        private mutating func escape(into output: inout [UInt8]) -> Bool {
            guard position < bytes.count else { return false }
            let letter = bytes[position]
            position += 1
            switch letter {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): output.append(letter)
            case UInt8(ascii: "b"): output.append(0x08)
            case UInt8(ascii: "f"): output.append(0x0C)
            case UInt8(ascii: "n"): output.append(0x0A)
            case UInt8(ascii: "r"): output.append(0x0D)
            case UInt8(ascii: "t"): output.append(0x09)
            case UInt8(ascii: "u"):
                guard let unit = hexUnit() else { return false }
                var scalar: Unicode.Scalar?
                if UTF16.isLeadSurrogate(unit) {
                    guard take(UInt8(ascii: "\\")), take(UInt8(ascii: "u")), let trail = hexUnit(), UTF16.isTrailSurrogate(trail) else {
                        return false
                    }
                    scalar = Unicode.Scalar(0x10000 + (UInt32(unit - 0xD800) << 10) + UInt32(trail - 0xDC00))
                } else {
                    scalar = Unicode.Scalar(unit)
                }
                guard let scalar else { return false }
                output.append(contentsOf: String(Character(scalar)).utf8)
            default: return false
            }
            return true
        }

        private mutating func hexUnit() -> UInt16? {
            guard position + 4 <= bytes.count else { return nil }
            var unit: UInt16 = 0
            for _ in 0..<4 {
                let byte = bytes[position]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: return nil
                }
                unit = unit << 4 | UInt16(digit)
                position += 1
            }
            return unit
        }

        private mutating func take(_ byte: UInt8) -> Bool {
            guard position < bytes.count, bytes[position] == byte else { return false }
            position += 1
            return true
        }

        private mutating func skipWhitespace() {
            while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
        }
    }
}
