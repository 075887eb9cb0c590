import HTTPTypes

extension HTTPFields {
    /// The field's value exactly as `self[name]` gives it — several fields of the name joined as
    /// the subscript joins them (so a repeated `Authorization` still fails to parse, as it must)
    /// — without the joined copy when the field appears once, as it almost always does. `self[name]` joins
    /// through a generic, unspecialised `joined(separator:)` even for one field: ~1.6 % of an
    /// introspection's CPU, which reads three headers (docs/benchmarks.md, eighteenth pass).
    func value(_ name: HTTPField.Name) -> String? {
        guard let first = firstIndex(where: { $0.name == name }) else { return nil }
        if self[index(after: first)...].contains(where: { $0.name == name }) { return self[name] }
        return self[first].value
    }
}
