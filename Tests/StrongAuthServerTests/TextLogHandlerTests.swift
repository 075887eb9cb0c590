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
}
