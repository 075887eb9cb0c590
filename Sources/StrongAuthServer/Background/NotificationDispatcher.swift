import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import StrongAuthCore

/// Where notifications go (docs/architecture.md).
public enum NotificationChannel: Sendable, Equatable {
    /// JSON lines appended to a file (mode 0600): the zero-config default; demos and tests read the OTP there.
    case file(path: String)
    /// The server log, with every digit masked: OTPs never reach a log.
    case log
    /// A JSON POST to an SMS/push gateway.
    case http(url: String)
}

/// Delivers the durable notification outbox. Runs on every node: each pass leases due
/// notifications (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so no two nodes send the same one,
/// and one whose sender died mid-delivery is sent again when its lease runs out.
public struct NotificationDispatcher: Service {
    let outbox: any NotificationOutbox
    let masterKey: MasterKey
    let channel: NotificationChannel
    let time: any TimeSource
    let logger: Logger
    var pollInterval: Duration = .milliseconds(200)
    var maxAttempts = 10

    public func run() async throws {
        try await PeriodicJob(name: "notification dispatch", interval: pollInterval, logger: logger) {
            try await dispatchDue() > 0 ? .moreDue : .idle
        }.run()
    }

    /// One pass over the due notifications; returns how many were delivered.
    @discardableResult
    public func dispatchDue() async throws -> Int {
        let due = try await outbox.claimDueNotifications(at: time.now(), limit: 50, lease: 30)
        var delivered = 0
        for notification in due {
            do {
                let body = String(
                    decoding: try masterKey.open(notification.sealedBody, purpose: NotificationSealing.purpose, associatedData: "notification"),
                    as: UTF8.self)
                try await deliver(notification, body: body)
                try await outbox.markNotificationSent(id: notification.id, at: time.now())
                delivered += 1
            } catch {
                let delay = Backoff.delivery.delay(afterAttempts: notification.attempts)
                let dead = notification.attempts >= maxAttempts
                logger.warning(
                    "notification delivery failed",
                    metadata: [
                        "notification": "\(notification.id)", "attempt": "\(notification.attempts)", "dead": "\(dead)", "error": "\(error)",
                    ])
                try await outbox.markNotificationFailed(id: notification.id, nextAttemptAt: time.now().addingTimeInterval(delay), dead: dead)
            }
        }
        return delivered
    }

    private func deliver(_ notification: OutboxNotification, body: String) async throws {
        let record: [String: String] = [
            "id": notification.id, "kind": notification.kind.rawValue, "to": notification.recipient,
            "userId": notification.userID, "message": body,
            "createdAt": ISO8601DateFormatter().string(from: notification.createdAt),
        ]
        switch channel {
        case .file(let path):
            var line = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])
            line.append(0x0A)
            try NotificationFile.append(line, to: path)
        case .log:
            let masked = String(body.map { $0.isNumber ? "•" : $0 })
            logger.info(
                "notification", metadata: ["to": "\(notification.recipient)", "kind": "\(notification.kind.rawValue)", "message": "\(masked)"])
        case .http(let url):
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "Idempotency-Key", value: notification.id)
            request.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
            guard (200..<300).contains(response.status.code) else { throw NotificationError.gatewayRefused(Int(response.status.code)) }
        }
    }
}

/// Why a delivery failed, for the log (never the message: it carries the code).
enum NotificationError: Error, CustomStringConvertible {
    case gatewayRefused(Int)
    case cannotWriteFile(path: String, errno: Int32)

    var description: String {
        switch self {
        case .gatewayRefused(let status): "the gateway answered \(status)"
        case .cannotWriteFile(let path, let code): "cannot append to \(path): \(String(cString: strerror(code)))"
        }
    }
}

/// Appending to the notifications file: created 0600, one write per line. A returned write is in
/// the page cache and survives `kill -9` of the server (the promise in docs/architecture.md); it is not fsynced per
/// line — this is the development and test channel, and an fsync per push cost the busiest
/// benchmark (operation flows) 5 % of the server's CPU.
///
/// Several nodes may share one file (the multi-node tests do): the file is opened with
/// `O_APPEND | O_CREAT`, so every line lands at the end in one `write` and no node truncates or
/// overwrites another's lines (a seek to the end followed by a write, or a create-if-missing,
/// lost lines when two processes raced).
enum NotificationFile {
    static func append(_ line: Data, to path: String) throws {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        if !FileManager.default.fileExists(atPath: directory) {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw NotificationError.cannotWriteFile(path: path, errno: errno) }
        defer { close(descriptor) }
        let written = line.withUnsafeBytes { bytes in write(descriptor, bytes.baseAddress, bytes.count) }
        guard written == line.count else { throw NotificationError.cannotWriteFile(path: path, errno: written < 0 ? errno : EIO) }
    }
}
