import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import StrongAuthCore
import StrongAuthProtocol

/// Delivers the durable webhook outbox (docs/webhooks.md): signed callbacks to integrators.
///
/// Every node runs one; each pass leases due deliveries (`FOR UPDATE SKIP LOCKED` on
/// PostgreSQL), so no two nodes send the same one at once, and one whose sender died is sent
/// again when its lease runs out. Each POST carries the JSON body, `Idempotency-Key` (the
/// delivery id: a receiver drops repeats), and `X-StrongAuth-Signature: t=<unix seconds>,
/// v1=<hex HMAC-SHA256(callback secret, "<t>.<body>")>`. A non-2xx answer or a network error
/// is retried with exponential backoff (`Backoff.delivery`: 1 s, 2 s, 4 s … capped at 10 minutes) until
/// `maxAttempts`, then the delivery is `dead`; every attempt's result stays in the delivery log.
public struct WebhookDispatcher: Service {
    let outbox: any WebhookOutbox
    let webhooks: WebhookService
    let time: any TimeSource
    let logger: Logger
    var maxAttempts: Int
    /// How long a claimed delivery is this node's: after a crash mid-delivery, it is sent again
    /// once this has passed.
    var lease: TimeInterval
    var pollInterval: Duration = .milliseconds(200)

    public func run() async throws {
        try await PeriodicJob(name: "webhook dispatch", interval: pollInterval, logger: logger) {
            // At once again only after a full page (`PassOutcome.moreDue`).
            try await dispatchPass().claimed == Self.passLimit ? .moreDue : .idle
        }.run()
    }

    /// How many deliveries one pass leases.
    static let passLimit = 20

    /// One pass over the due deliveries, sent concurrently (one slow or dead receiver does not
    /// hold up the others); returns how many were delivered.
    @discardableResult
    public func dispatchDue() async throws -> Int { try await dispatchPass().delivered }

    private func dispatchPass() async throws -> (claimed: Int, delivered: Int) {
        let due = try await outbox.claimDueWebhooks(at: time.now(), limit: Self.passLimit, lease: lease)
        let delivered = try await withThrowingTaskGroup(of: Bool.self) { group in
            for delivery in due {
                group.addTask { try await deliver(delivery) }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        return (due.count, delivered)
    }

    /// One attempt: delivered, or failed and scheduled again with exponential backoff (or dead).
    private func deliver(_ delivery: WebhookDelivery) async throws -> Bool {
        do {
            let status = try await post(delivery)
            try await outbox.markWebhookDelivered(id: delivery.id, responseStatus: status, at: time.now())
            return true
        } catch {
            let delay = Backoff.delivery.delay(afterAttempts: delivery.attempts)
            let dead = delivery.attempts >= maxAttempts
            let status = (error as? WebhookError).flatMap { if case .refused(let code) = $0 { code } else { nil } }
            logger.warning(
                "webhook delivery failed",
                metadata: ["delivery": "\(delivery.id)", "attempt": "\(delivery.attempts)", "dead": "\(dead)", "error": "\(error)"])
            try await outbox.markWebhookFailed(
                id: delivery.id, responseStatus: status, error: "\(error)", nextAttemptAt: time.now().addingTimeInterval(delay), dead: dead)
            return false
        }
    }

    private func post(_ delivery: WebhookDelivery) async throws -> Int {
        guard let secret = try await webhooks.secret(of: delivery.subscriber) else { throw WebhookError.noSecret }
        let signature = WebhookSignature.header(secret: secret, body: Array(delivery.body.utf8), timestamp: Int64(time.now().timeIntervalSince1970))
        var request = HTTPClientRequest(url: delivery.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Idempotency-Key", value: delivery.id)
        request.headers.add(name: "X-StrongAuth-Event", value: delivery.eventType)
        request.headers.add(name: "X-StrongAuth-Signature", value: signature)
        request.body = .bytes(ByteBuffer(string: delivery.body))
        let response = try await Self.client.execute(request, timeout: .seconds(5))
        let code = Int(response.status.code)
        guard (200..<300).contains(code) else { throw WebhookError.refused(code) }
        return code
    }
}

extension WebhookDispatcher {
    /// The HTTP client of every dispatcher in the process (never shut down, like
    /// `HTTPClient.shared`). The outbox does the retrying, so a receiver that refuses connections
    /// fails the attempt at once instead of holding it until the timeout; redirects are not
    /// followed (a callback goes where the integrator registered it, nowhere else).
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: .seconds(3), read: .seconds(5)))
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: .singletonMultiThreadedEventLoopGroup, configuration: configuration)
    }()
}

enum WebhookError: Error, CustomStringConvertible {
    case refused(Int)
    case noSecret

    var description: String {
        switch self {
        case .refused(let code): "the receiver answered \(code)"
        case .noSecret: "the subscriber has no webhook secret"
        }
    }
}
