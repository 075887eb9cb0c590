import Foundation
import StrongAuthProtocol

/// Reads a flat JSON object of string members (`{"a":"b",…}`) — what the store keeps for audit
/// details and approval parameters — byte by byte. `JSONSerialization` and the bridging cast to
/// `[String: String]` cost ~1.5 % of an operation flow for each approval row read.
///
/// `nil` for anything else (a nested value, a number, malformed text, a lone surrogate): the
/// caller then asks `JSONSerialization`, so no input reads differently than before. The bytes are
/// read by `JSONBytesParser`, the request bodies' reader.
public enum JSONStringObjectReader {
    /// `text` read as a flat object of strings: here, or by `JSONSerialization` for whatever this
    /// reader leaves to it; `[:]` when it is not such an object at all (as the store always read it).
    public static func stringObject(_ text: String) -> [String: String] {
        read(text) ?? (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String]) ?? [:]
    }

    /// A flat object of strings, or `nil` (a nested value, a number, malformed text, a lone
    /// surrogate).
    public static func read(_ text: String) -> [String: String]? {
        var text = text
        return text.withUTF8 { bytes in
            var parser = JSONBytesParser(bytes: bytes)
            return parser.flatStringObject()
        }
    }
}
