import Foundation
import StrongAuthCore
import Testing

@testable import StrongAuthServer

/// The notification record and the file channel that keeps its file open.
@Suite("Notification records and the notifications file")
struct NotificationRecordTests {
    /// What the dispatcher wrote before: `JSONSerialization` with sorted keys.
    private func reference(_ notification: OutboxNotification, body: String) throws -> [UInt8] {
        let record: [String: String] = [
            "id": notification.id, "kind": notification.kind.rawValue, "to": notification.recipient,
            "userId": notification.userID, "message": body,
            "createdAt": ISO8601DateFormatter().string(from: notification.createdAt),
        ]
        return [UInt8](try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]))
    }

    private func notification(recipient: String = "+4915100000042", createdAt: Date = Date()) -> OutboxNotification {
        OutboxNotification(
            id: UUID().uuidString.lowercased(), kind: .smsOTP, userID: "user-1", recipient: recipient, sealedBody: "",
            nextAttemptAt: createdAt, createdAt: createdAt)
    }

    @Test("the record is byte for byte what JSONSerialization wrote, for every ASCII character and beyond")
    func recordMatchesJSONSerialization() throws {
        var bodies = [
            "Your StrongAuth code is 123456", "", "a/b\\c\"d", "Zahlung über 10 € an „Händler“ 😀", "\u{7F}\u{2028}\u{FEFF}",
            String((0..<128).map { Character(Unicode.Scalar(UInt8($0))) }),
        ]
        bodies += (0..<128).map { String(Character(Unicode.Scalar(UInt8($0)))) }
        for body in bodies {
            let record = notification(recipient: body.isEmpty ? "device/1" : body, createdAt: Date(timeIntervalSince1970: 1_764_888_271.9996))
            #expect(NotificationDispatcher.record(record, body: body) == (try reference(record, body: body)), "\(body.debugDescription)")
        }
    }

    @Test("the file stays open across lines and is created anew when removed")
    func fileRecreatedAfterRemoval() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("strongauth-notify-\(UUID().uuidString)")
        let path = directory.appendingPathComponent("data/notifications.jsonl").path
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = NotificationFile(path: path, recheckInterval: .zero)
        try file.append(Array("one\n".utf8))
        try file.append(Array("two\n".utf8))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "one\ntwo\n")
        try FileManager.default.removeItem(atPath: path)
        try file.append(Array("three\n".utf8))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "three\n")
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        // Rotated (renamed away): the next line goes to a new file at the path.
        try FileManager.default.moveItem(atPath: path, toPath: path + ".1")
        try file.append(Array("four\n".utf8))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "four\n")
        #expect(try String(contentsOfFile: path + ".1", encoding: .utf8) == "three\n")
    }
}
