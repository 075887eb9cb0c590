#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
import Logging

/// Text lines on standard error in swift-log's `StreamLogHandler` format
/// (`2026-12-06T11:17:01+0000 info strongauth: key=value … [module] message`), written here.
///
/// `StreamLogHandler` renders its metadata to text on every change: Hummingbird and
/// `RequestIDMiddleware` put a request id on every request's logger, which cost ~4 % of a plain
/// request whose lines were then never written; here the metadata is only rendered into the
/// lines that are written. And at `info`, where every request writes a line
/// (`AccessLogMiddleware`), its merge of the metadata into a new dictionary, its sort, its
/// stdio lock and `fflush` cost ~25 µs per request; this handler sorts an array of the few
/// members and writes the line in one `write(2)`.
public struct TextLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let output: @Sendable (String) -> Void

    /// Writes to standard error.
    public init(label: String, level: Logger.Level) {
        self.init(label: label, level: level, output: { line in StandardErrorOutput.writeLine(line.utf8) })
    }

    /// Writes to `output` (tests).
    public init(label: String, level: Logger.Level, output: any TextOutputStream & Sendable) {
        self.init(
            label: label, level: level,
            output: { line in
                var stream = output
                stream.write(line)
            })
    }

    private init(label: String, level: Logger.Level, output: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.output = output
        logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        // The event's metadata, then the logger's that it does not override, then the error's
        // (as `StreamLogHandler` adds it), in the order of their keys.
        var error: [(key: String, value: String)] = []
        if let thrown = event.error {
            error = [("error.message", "\(thrown)"), ("error.type", String(reflecting: type(of: thrown)))]
        }
        var fields = LogEventFields.merged(event: event.metadata, logger: metadata) { key in error.contains { $0.key == key } }
            .map { (key: $0.key, value: $0.value.description) }
        fields += error
        fields.sort { $0.key < $1.key }

        var line = Self.timestamp()
        line.reserveCapacity(128)
        line += " \(event.level)"
        if !label.isEmpty { line += " \(label)" }
        line += ":"
        for field in fields { line += " \(field.key)=\(field.value)" }
        line += " [\(event.source)] \(event.message)\n"
        output(line)
    }

    /// The local time to the second, as `StreamLogHandler` writes it (`%Y-%m-%dT%H:%M:%S%z`).
    private static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        guard localtime_r(&now, &parts) != nil else { return "<unknown>" }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buffer in
            let count = strftime(buffer.baseAddress!, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &parts)
            return String(decoding: UnsafeRawBufferPointer(start: buffer.baseAddress!, count: count), as: UTF8.self)
        }
    }
}
