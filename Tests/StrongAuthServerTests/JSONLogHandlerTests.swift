import Foundation
import Logging
import StrongAuthServer
import Synchronization
import Testing

/// The JSON log handler writes one valid JSON object per line, with the event's own fields and
/// its metadata, whatever characters the values hold.
@Suite("JSON log lines")
struct JSONLogHandlerTests {
    final class Lines: Sendable {
        let written = Mutex<[[UInt8]]>([])
        func write(_ line: [UInt8]) { written.withLock { $0.append(line) } }
    }

    private func logger(_ lines: Lines, level: Logger.Level = .info) -> Logger {
        Logger(label: "strongauth.test") { label in JSONLogHandler(label: label, level: level, output: lines.write) }
    }

    private func object(_ line: [UInt8]) throws -> [String: String] {
        #expect(line.last == 0x0A)
        #expect(line.dropLast().contains(0x0A) == false, "one line per event")
        return try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: String])
    }

    @Test("each event is one line of JSON: ts, level, logger, msg, then the metadata; explicit metadata wins; lines below the level are not written")
    func fields() throws {
        let lines = Lines()
        var logger = logger(lines, level: .info)
        logger[metadataKey: "hb.request.id"] = "r-1"
        logger[metadataKey: "user"] = "u-1"
        logger.debug("not written")
        logger.info("request", metadata: ["user": "u-2", "status": "200", "duration_ms": "1.5"])
        let written = lines.written.withLock { $0 }
        #expect(written.count == 1)
        let line = try #require(written.first)
        let fields = try object(line)
        #expect(fields["level"] == "info" && fields["logger"] == "strongauth.test" && fields["msg"] == "request")
        #expect(fields["hb.request.id"] == "r-1" && fields["user"] == "u-2" && fields["status"] == "200" && fields["duration_ms"] == "1.5")
        #expect(Set(fields.keys) == ["ts", "level", "logger", "msg", "hb.request.id", "user", "status", "duration_ms"])
        // An RFC 3339 UTC timestamp with milliseconds, of now.
        let ts = try #require(fields["ts"])
        #expect(ts.utf8.count == 24 && ts.hasSuffix("Z"))
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let date = try #require(formatter.date(from: ts))
        #expect(abs(date.timeIntervalSinceNow) < 60)
        // Its own fields first, the metadata after them in the order of their keys' bytes.
        let text = String(decoding: line, as: UTF8.self)
        let keys = ["ts", "level", "logger", "msg", "duration_ms", "hb.request.id", "status", "user"]
        let positions = keys.compactMap { text.range(of: "\"\($0)\":")?.lowerBound }
        #expect(positions.count == keys.count && positions == positions.sorted())
    }

    @Test("quotes, backslashes, line breaks, control characters and non-ASCII text stay inside one valid JSON line")
    func escaping() throws {
        let lines = Lines()
        let logger = logger(lines)
        let nasty = "a \"quoted\" \\ back\nslash\r\t\u{1}\u{1F} ü € 😀 </script>"
        logger.warning("\(nasty)", metadata: [nasty: "\(nasty)", "level": "forged"])
        let fields = try object(try #require(lines.written.withLock { $0 }.first))
        #expect(fields["msg"] == nasty && fields[nasty] == nasty)
        // A metadata key named like one of the line's own fields does not replace it.
        #expect(fields["level"] == "warning")
    }
}
