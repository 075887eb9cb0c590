import Logging

/// Text lines on standard error through swift-log's `StreamLogHandler`, with the logger's
/// metadata kept aside until a line is actually written.
///
/// `StreamLogHandler` renders its metadata to text on every change. Hummingbird and
/// `RequestIDMiddleware` put a request id on every request's logger, so that rendering cost
/// ~4 % of the CPU of a plain request whose log lines were then never written (perf, `/health`
/// at level warning). Here the metadata is only merged into the lines that are written.
public struct TextLogHandler: LogHandler {
    private var stream: StreamLogHandler
    public var metadata: Logger.Metadata = [:]

    public var logLevel: Logger.Level {
        get { stream.logLevel }
        set { stream.logLevel = newValue }
    }

    /// Writes to standard error.
    public init(label: String, level: Logger.Level) {
        self.init(stream: StreamLogHandler.standardError(label: label), level: level)
    }

    /// Writes to `output` (tests).
    public init(label: String, level: Logger.Level, output: any TextOutputStream & Sendable) {
        self.init(stream: StreamLogHandler(label: label, stream: output, metadataProvider: nil), level: level)
    }

    private init(stream: StreamLogHandler, level: Logger.Level) {
        self.stream = stream
        self.stream.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var event = event
        if !metadata.isEmpty {
            event.metadata = metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 })
        }
        stream.log(event: event)
    }
}
