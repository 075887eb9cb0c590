import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import StrongAuthCore
import StrongAuthProtocol
import Synchronization

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
    /// The file channel's open file, kept across deliveries.
    private let file: NotificationFile?

    init(outbox: any NotificationOutbox, masterKey: MasterKey, channel: NotificationChannel, time: any TimeSource, logger: Logger) {
        self.outbox = outbox
        self.masterKey = masterKey
        self.channel = channel
        self.time = time
        self.logger = logger
        if case .file(let path) = channel { file = NotificationFile(path: path) } else { file = nil }
    }

    public func run() async throws {
        try await PeriodicJob(name: "notification dispatch", interval: pollInterval, logger: logger) {
            // At once again only after a full page: under load a pass then carries many
            // notifications (one claim and one mark per page, not per notification).
            try await dispatchPass().claimed == Self.passLimit ? .moreDue : .idle
        }.run()
    }

    /// How many notifications one pass leases.
    static let passLimit = 50

    /// One pass over the due notifications; returns how many were delivered.
    ///
    /// The delivered ones are marked sent together at the end of the pass (one write instead of
    /// one per notification). Delivery is at least once either way: a node that dies before
    /// marking leaves its pass's notifications to be sent again when their lease runs out, and
    /// the HTTP channel's `Idempotency-Key` (the notification's id) lets a gateway drop the repeat.
    @discardableResult
    public func dispatchDue() async throws -> Int { try await dispatchPass().delivered }

    private func dispatchPass() async throws -> (claimed: Int, delivered: Int) {
        let due = try await outbox.claimDueNotifications(at: time.now(), limit: Self.passLimit, lease: 30)
        var delivered: [String] = []
        for notification in due {
            do {
                let body = String(
                    decoding: try masterKey.open(notification.sealedBody, purpose: NotificationSealing.purpose, associatedData: "notification"),
                    as: UTF8.self)
                try await deliver(notification, body: body)
                delivered.append(notification.id)
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
        try await outbox.markNotificationsSent(ids: delivered, at: time.now())
        return (due.count, delivered.count)
    }

    private func deliver(_ notification: OutboxNotification, body: String) async throws {
        switch channel {
        case .file:
            var line = Self.record(notification, body: body)
            line.append(0x0A)
            try file?.append(line)
        case .log:
            let masked = String(body.map { $0.isNumber ? "•" : $0 })
            logger.info(
                "notification", metadata: ["to": "\(notification.recipient)", "kind": "\(notification.kind.rawValue)", "message": "\(masked)"])
        case .http(let url):
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "Idempotency-Key", value: notification.id)
            request.body = .bytes(ByteBuffer(bytes: Self.record(notification, body: body)))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
            guard (200..<300).contains(response.status.code) else { throw NotificationError.gatewayRefused(Int(response.status.code)) }
        }
    }

    /// The notification as one JSON object with sorted keys, byte for byte what
    /// `JSONSerialization` with `.sortedKeys` wrote before (`NotificationRecordTests` compares
    /// them): a gateway or a test reading the file sees no change. Written directly, because
    /// `JSONSerialization` and a new `ISO8601DateFormatter` per record cost ~9 % of an operation flow.
    static func record(_ notification: OutboxNotification, body: String) -> [UInt8] {
        var writer = JSONObjectWriter(escaping: .foundation)
        writer.member("createdAt", string: InternetTimestamp.string(from: notification.createdAt))
        writer.member("id", string: notification.id)
        writer.member("kind", string: notification.kind.rawValue)
        writer.member("message", string: body)
        writer.member("to", string: notification.recipient)
        writer.member("userId", string: notification.userID)
        return writer.finish()
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
///
/// The file stays open between lines: opening it (and checking its directory) for each line cost
/// five system calls per notification. At most once a second, before a write, the path is checked
/// again, so a file that was removed or rotated is created anew.
final class NotificationFile: Sendable {
    let path: String
    private let state = Mutex(OpenFile?.none)

    private struct OpenFile {
        let descriptor: Int32
        let device: UInt64
        let inode: UInt64
        var checkedAt: ContinuousClock.Instant
    }

    /// How long a kept file is trusted to still be the one at `path`.
    let recheckInterval: Duration

    init(path: String, recheckInterval: Duration = .seconds(1)) {
        self.path = path
        self.recheckInterval = recheckInterval
    }

    deinit {
        state.withLock { kept in
            if let kept { close(kept.descriptor) }
        }
    }

    func append(_ line: [UInt8]) throws {
        try state.withLock { kept in
            let now = ContinuousClock.now
            if let current = kept, now - current.checkedAt >= recheckInterval {
                if Self.identity(ofPath: path).map({ $0 == (current.device, current.inode) }) ?? false {
                    kept?.checkedAt = now
                } else {
                    close(current.descriptor)
                    kept = nil
                }
            }
            if kept == nil { kept = try openFile(at: now) }
            guard let descriptor = kept?.descriptor else { return }
            let written = line.withUnsafeBytes { bytes in write(descriptor, bytes.baseAddress, bytes.count) }
            guard written == line.count else {
                // Let the next line start from a fresh open.
                let code = written < 0 ? errno : EIO
                close(descriptor)
                kept = nil
                throw NotificationError.cannotWriteFile(path: path, errno: code)
            }
        }
    }

    private func openFile(at now: ContinuousClock.Instant) throws -> OpenFile {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        if !FileManager.default.fileExists(atPath: directory) {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw NotificationError.cannotWriteFile(path: path, errno: errno) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let code = errno
            close(descriptor)
            throw NotificationError.cannotWriteFile(path: path, errno: code)
        }
        return OpenFile(descriptor: descriptor, device: UInt64(status.st_dev), inode: UInt64(status.st_ino), checkedAt: now)
    }

    /// The device and inode of the file now at `path`; `nil` when there is none.
    private static func identity(ofPath path: String) -> (UInt64, UInt64)? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        return (UInt64(status.st_dev), UInt64(status.st_ino))
    }
}
