/// A set of OAuth scope tokens (RFC 6749 §3.3): space-delimited on the wire, a set in the core.
public struct Scopes: Sendable, Hashable, Codable {
    public private(set) var values: Set<String>

    public init(_ values: some Sequence<String>) {
        self.values = Set(values)
    }

    /// Parses the space-delimited wire form. `nil` when a token contains characters outside
    /// RFC 6749's `scope-token` grammar (%x21 / %x23-5B / %x5D-7E).
    public init?(parsing wire: String) {
        var parsed = Set<String>()
        for token in wire.split(separator: " ", omittingEmptySubsequences: true) {
            guard token.utf8.allSatisfy({ $0 == 0x21 || (0x23...0x5B).contains($0) || (0x5D...0x7E).contains($0) })
            else { return nil }
            parsed.insert(String(token))
        }
        values = parsed
    }

    /// The wire form, sorted so that equal sets print equally.
    public var wire: String { values.sorted().joined(separator: " ") }

    public var isEmpty: Bool { values.isEmpty }

    public func isSubset(of other: Scopes) -> Bool { values.isSubset(of: other.values) }

    public func contains(_ scope: String) -> Bool { values.contains(scope) }

    /// The scopes in both: how a derived token (confirmed, …) stays within the token it came from
    /// and within what its client may still be granted.
    public func intersection(_ other: Scopes) -> Scopes { Scopes(values.intersection(other.values)) }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(values.sorted())
    }

    public init(from decoder: any Decoder) throws {
        values = Set(try decoder.singleValueContainer().decode([String].self))
    }
}
