import Logging
import StrongAuthServer
import Synchronization
import Testing

/// The text log handler keeps metadata aside and writes it only with the lines it writes.
@Suite("Text log lines")
struct TextLogHandlerTests {
    final class Lines: TextOutputStream, Sendable {
        let written = Mutex<[String]>([])
        func write(_ string: String) { written.withLock { $0.append(string) } }
    }

    @Test("metadata set on the logger appears in written lines, explicit metadata wins, lines below the level are not written")
    func metadata() {
        let lines = Lines()
        var logger = Logger(label: "test") { label in TextLogHandler(label: label, level: .warning, output: lines) }
        logger[metadataKey: "request_id"] = "r-1"
        logger[metadataKey: "user"] = "u-1"
        #expect(logger[metadataKey: "request_id"] == "r-1")
        logger.info("not written")
        logger.warning("written", metadata: ["user": "u-2"])
        let written = lines.written.withLock { $0 }
        #expect(written.count == 1)
        let line = written.first ?? ""
        #expect(line.contains(" warning test: ") && line.hasSuffix("written\n"))
        #expect(line.contains("request_id=r-1") && line.contains("user=u-2") && !line.contains("u-1"))
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String { "the \"reason\"" }
    }

    @Test("a line is what swift-log's StreamLogHandler writes for the same event, but for the time")
    func streamLogHandlerFormat() {
        let ours = Lines()
        let theirs = Lines()
        var loggers = [
            Logger(label: "strongauth") { label in TextLogHandler(label: label, level: .info, output: ours) },
            Logger(label: "strongauth") { label in StreamLogHandler(label: label, stream: theirs, metadataProvider: nil) },
        ]
        for index in loggers.indices {
            loggers[index].logLevel = .info
            loggers[index][metadataKey: "hb.request.id"] = "r-1"
            loggers[index][metadataKey: "user"] = "u-1"
            loggers[index].info("request", metadata: ["path": "/health", "user": "u-2", "status": "200"])
            loggers[index].warning("no metadata of its own")
            loggers[index].error("failed", error: Failure(), metadata: ["a b": "c=d", "Z": "upper"])
            loggers[index].info("\(["nested": ["x", "y"]])", metadata: ["list": ["1", "2"], "map": ["k": "v"]])
        }
        let (ourLines, theirLines) = (ours.written.withLock { $0 }, theirs.written.withLock { $0 })
        #expect(ourLines.count == 4 && theirLines.count == 4)
        // `2026-12-06T11:17:01+0000`, then the same text.
        func split(_ line: String) -> (time: Substring, rest: Substring) {
            let space = line.firstIndex(of: " ") ?? line.endIndex
            return (line[..<space], line[space...])
        }
        for (our, their) in zip(ourLines, theirLines) {
            #expect(split(our).rest == split(their).rest)
            #expect(split(our).time.count == split(their).time.count && split(our).time.count == 24)
        }
    }
}
