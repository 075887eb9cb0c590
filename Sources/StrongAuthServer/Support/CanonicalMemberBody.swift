import Foundation
import NIOCore
import StrongAuthCore
import StrongAuthProtocol

/// A JSON object body read once for what binds a payload: its top-level string members and one
/// member (Shine's `payload`, ABN AMRO's `scenarioData`) in canonical form (`CanonicalJSON`).
/// Read by `JSONBytesParser` and written by `CanonicalJSON.write` where those decide exactly as
/// `JSONSerialization` would; otherwise by `JSONSerialization`, as before.
struct CanonicalMemberBody {
    var strings: [String: String] = [:]
    /// The member in canonical form; `nil` when the body has none.
    var canonical: String?

    /// `nil` when `buffer` is not a JSON object; `CanonicalJSONError.notJSON` for a member that
    /// `JSONSerialization` cannot write.
    init?(_ buffer: ByteBuffer, member: String) throws {
        if let parsed = Self.parsedObject(buffer) {
            let written = parsed[member].map { CanonicalJSON.write($0) }
            if written != .some(nil) {
                for case (let key, .string(let value)) in parsed { strings[key] = value }
                canonical = written ?? nil
                return
            }
        }
        // What the bytes parser left (a fraction, a key only the collation orders, a repeated key, …).
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any] else { return nil }
        for case (let key, let value as String) in object { strings[key] = value }
        canonical = try object[member].map(CanonicalJSON.foundation)
    }

    /// `buffer` as a JSON object read by `JSONBytesParser`; `nil` for anything it leaves to
    /// `JSONSerialization` (or that is no object).
    static func parsedObject(_ buffer: ByteBuffer) -> [String: JSONParsedValue]? {
        buffer.withUnsafeReadableBytes { raw in
            raw.withMemoryRebound(to: UInt8.self) { bytes in
                var parser = JSONBytesParser(bytes: bytes)
                guard case .object(let members)? = parser.document() else { return nil }
                return members
            }
        }
    }
}
