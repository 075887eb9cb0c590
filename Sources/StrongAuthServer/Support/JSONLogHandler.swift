import Foundation
import Logging
import StrongAuthCore
import StrongAuthProtocol

/// swift-log handler writing one JSON object per line to standard error: what log shippers
/// expect. Metadata becomes fields; nothing secret is ever passed as metadata by this codebase.
///
/// Each line is `ts`, `level`, `logger`, `msg`, then the metadata in the order of their keys'
/// bytes, written by `JSONObjectWriter` and handed to the kernel in one `write`. At `info`, every
/// request writes a line (`AccessLogMiddleware`); this handler once built it with
/// `ISO8601DateFormatter` and `JSONSerialization` (`.sortedKeys`, an ICU collation per key
/// comparison) and took ~390 µs of CPU per line — 8× the cost of a whole `GET /health`
/// (docs/benchmarks.md, fifteenth pass).
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let output: @Sendable ([UInt8]) -> Void

    /// Writes to standard error.
    public init(label: String, level: Logger.Level) {
        self.init(label: label, level: level, output: { StandardErrorOutput.writeLine($0) })
    }

    /// Writes each line (its bytes, with the newline) to `output` (tests).
    public init(label: String, level: Logger.Level, output: @escaping @Sendable ([UInt8]) -> Void) {
        self.label = label
        self.output = output
        logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// The handler's own fields; metadata of the same names is not written (a line's level is
    /// the level it was logged at, whatever a caller put in its metadata).
    private static let ownFields: Set<String> = ["ts", "level", "logger", "msg"]

    public func log(event: LogEvent) {
        var writer = JSONObjectWriter(escaping: .minimal)
        writer.member("ts", string: InternetTimestamp.string(from: Date(), fractionalSeconds: true))
        writer.member("level", string: event.level.rawValue)
        writer.member("logger", string: label)
        writer.member("msg", string: "\(event.message)")
        var fields = LogEventFields.merged(event: event.metadata, logger: metadata, excluding: Self.ownFields.contains)
        fields.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        for field in fields { writer.member(field.key, string: field.value.description) }
        var line = writer.finish()
        line.append(0x0A)
        output(line)
    }
}
