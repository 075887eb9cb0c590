import Foundation
import StrongAuthProtocol

/// Who a webhook is for, and so whose secret signs it and who may read its delivery log: a
/// PowerAuth application (registration and operation callbacks, PowerAuth Cloud REST API) or an OAuth client
/// (action request callbacks, Shine's API documentation).
public enum WebhookSubscriber: Sendable, Hashable, CustomStringConvertible {
    case application(String)
    case client(String)

    public var kind: String {
        switch self {
        case .application: "application"
        case .client: "client"
        }
    }

    public var id: String {
        switch self {
        case .application(let id), .client(let id): id
        }
    }

    public init?(kind: String, id: String) {
        switch kind {
        case "application": self = .application(id)
        case "client": self = .client(id)
        default: return nil
        }
    }

    public var description: String { "\(kind):\(id)" }
}

/// One signed callback to an integrator, waiting in (or logged by) the durable webhook outbox.
///
/// ```
/// pending ──(2xx)──▶ delivered
///    └──(error / non-2xx)──▶ pending again at nextAttemptAt (exponential backoff) … ──▶ dead
///                                                          dead ──(retry by its owner)──▶ pending
/// ```
/// It is written in the same transaction as the status change it reports, so a change that
/// happened is always announced; the `Idempotency-Key` (its id) lets the receiver drop repeats.
public struct WebhookDelivery: Sendable, Equatable {
    public enum Status: String, Sendable {
        case pending
        case delivered
        case dead
    }

    public var id: String
    public var subscriber: WebhookSubscriber
    public var url: String
    public var eventType: String
    /// The JSON body, exactly as it is sent and signed (no secrets in it).
    public var body: String
    public var status: Status
    public var attempts: Int
    public var nextAttemptAt: Date
    public var createdAt: Date
    public var deliveredAt: Date?
    public var lastResponseStatus: Int?
    public var lastError: String?

    public init(
        id: String, subscriber: WebhookSubscriber, url: String, eventType: String, body: String, status: Status = .pending,
        attempts: Int = 0, nextAttemptAt: Date, createdAt: Date, deliveredAt: Date? = nil, lastResponseStatus: Int? = nil,
        lastError: String? = nil
    ) {
        self.id = id
        self.subscriber = subscriber
        self.url = url
        self.eventType = eventType
        self.body = body
        self.status = status
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.createdAt = createdAt
        self.deliveredAt = deliveredAt
        self.lastResponseStatus = lastResponseStatus
        self.lastError = lastError
    }

    /// A new pending delivery of `event` (serialized with sorted keys, so the signed bytes are
    /// stable), due now. The event's `eventId` is the delivery's id and `Idempotency-Key`.
    ///
    /// The body is what `JSONSerialization` writes with `.sortedKeys` and
    /// `.withoutEscapingSlashes` — the fields, `eventId`, `type` and `timestamp` (milliseconds) —
    /// written by `CanonicalJSON.write` where its keys (camelCase letters, as every event's) allow,
    /// without the ICU collation per key comparison `JSONSerialization` sorts by, on the path of
    /// every decision a callback announces.
    public static func event(
        _ eventType: String, to subscriber: WebhookSubscriber, url: String, fields: [String: String], at now: Date
    ) throws -> WebhookDelivery {
        let id = SecureRandom.timeOrderedUUID(at: now)
        let body = try eventBody(fields, eventID: id, type: eventType, timestamp: now.epochMilliseconds)
        return WebhookDelivery(id: id, subscriber: subscriber, url: url, eventType: eventType, body: body, nextAttemptAt: now, createdAt: now)
    }

    /// The JSON body of an event (see `event(_:to:url:fields:at:)`).
    static func eventBody(_ fields: [String: String], eventID: String, type: String, timestamp: Int64) throws -> String {
        var members = fields.mapValues(JSONParsedValue.string)
        members["eventId"] = .string(eventID)
        members["type"] = .string(type)
        members["timestamp"] = .integer(timestamp)
        if let written = CanonicalJSON.write(.object(members)) { return written }
        var event: [String: Any] = fields
        event["eventId"] = eventID
        event["type"] = type
        event["timestamp"] = timestamp
        return try CanonicalJSON.foundation(event)
    }
}

/// The durable webhook outbox. Deliveries are inserted by the repositories that change state (in
/// the same transaction); this is the dispatcher's and the delivery log's side.
public protocol WebhookOutbox: Sendable {
    /// Leases up to `limit` due deliveries for `lease` seconds (never the same one to two nodes);
    /// a node that dies mid-delivery leaves it to be sent again when the lease runs out.
    func claimDueWebhooks(at now: Date, limit: Int, lease: TimeInterval) async throws -> [WebhookDelivery]
    func markWebhookDelivered(id: String, responseStatus: Int, at now: Date) async throws
    /// Records a failed attempt and schedules the next, or gives up (`dead`).
    func markWebhookFailed(id: String, responseStatus: Int?, error: String, nextAttemptAt: Date, dead: Bool) async throws
    /// The delivery log, newest first: one subscriber's, or everyone's (`nil`, operators).
    func webhookDeliveries(subscriber: WebhookSubscriber?, limit: Int) async throws -> [WebhookDelivery]
    func webhookDelivery(id: String) async throws -> WebhookDelivery?
    /// `dead → pending` (attempts start again), due now, only for its own subscriber, in one
    /// conditional update. `false` when it is not dead or not the subscriber's.
    func retryWebhook(id: String, subscriber: WebhookSubscriber?, at now: Date) async throws -> Bool
}
