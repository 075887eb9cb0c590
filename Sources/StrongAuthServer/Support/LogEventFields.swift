import Logging

/// The metadata members of one log line, merged as swift-log's own handlers merge them: the
/// event's metadata, then the logger's that the event does not override. Both of our handlers
/// (`JSONLogHandler`, `TextLogHandler`) write lines this way; a few members gathered in an array
/// rather than merged into a new dictionary per line (docs/benchmarks.md, fifteenth pass).
enum LogEventFields {
    /// The members, unsorted, leaving out the keys `excluded` names (those the handler writes itself).
    static func merged(
        event: Logger.Metadata?, logger: Logger.Metadata, excluding excluded: (String) -> Bool
    ) -> [(key: String, value: Logger.MetadataValue)] {
        let explicit = event ?? [:]
        var fields: [(key: String, value: Logger.MetadataValue)] = []
        fields.reserveCapacity(explicit.count + logger.count)
        for field in explicit where !excluded(field.key) { fields.append(field) }
        for field in logger where explicit[field.key] == nil && !excluded(field.key) { fields.append(field) }
        return fields
    }
}
