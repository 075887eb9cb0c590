import Foundation
import SQLKit
import StrongAuthCore

/// The durable webhook outbox (`webhook_deliveries`): rows are inserted by the repositories whose
/// state changes they announce, in the same transaction (`insert(_:into:)`); the dispatcher leases
/// and settles them here.
extension SQLStore: WebhookOutbox {
    static func insert(_ webhooks: [WebhookDelivery], into db: any SQLDatabase) async throws {
        for webhook in webhooks { try await webhookRow(webhook).run(on: db) }
    }

    static func webhookRow(_ webhook: WebhookDelivery) -> RowInsert {
        RowInsert(
            table: "webhook_deliveries",
            columns: "id, subscriber_kind, subscriber_id, url, event_type, body, status, attempts, next_attempt_at, created_at",
            values: """
                \(bind: webhook.id), \(bind: webhook.subscriber.kind), \(bind: webhook.subscriber.id), \(bind: webhook.url),
                \(bind: webhook.eventType), \(bind: webhook.body), \(bind: webhook.status.rawValue), \(bind: webhook.attempts),
                \(bind: webhook.nextAttemptAt.epochMilliseconds), \(bind: webhook.createdAt.epochMilliseconds)
                """)
    }

    public func claimDueWebhooks(at now: Date, limit: Int, lease: TimeInterval) async throws -> [WebhookDelivery] {
        let skipLocked = pool.engine == .postgres ? "FOR UPDATE SKIP LOCKED" : ""
        let leaseUntil = now.addingTimeInterval(lease).epochMilliseconds
        return try await pool.withTransaction { db in
            try await db.sql(
                """
                UPDATE webhook_deliveries SET next_attempt_at = \(bind: leaseUntil), attempts = attempts + 1
                WHERE id IN (
                    SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= \(bind: now.epochMilliseconds)
                    ORDER BY next_attempt_at, created_at LIMIT \(bind: limit) \(unsafeRaw: skipLocked))
                RETURNING *
                """
            ).all()
        }.map(Self.webhook(from:))
    }

    public func markWebhookDelivered(id: String, responseStatus: Int, at now: Date) async throws {
        try await pool.withWriteConnection { db in
            try await db.sql(
                """
                UPDATE webhook_deliveries SET status = 'delivered', delivered_at = \(bind: now.epochMilliseconds),
                    last_response_status = \(bind: responseStatus), last_error = NULL
                WHERE id = \(bind: id)
                """
            ).run()
        }
    }

    public func markWebhookFailed(id: String, responseStatus: Int?, error: String, nextAttemptAt: Date, dead: Bool) async throws {
        try await pool.withWriteConnection { db in
            try await db.sql(
                """
                UPDATE webhook_deliveries SET status = \(bind: dead ? "dead" : "pending"), next_attempt_at = \(bind: nextAttemptAt.epochMilliseconds),
                    last_response_status = \(bind: responseStatus), last_error = \(bind: String(error.prefix(500)))
                WHERE id = \(bind: id) AND status = 'pending'
                """
            ).run()
        }
    }

    public func webhookDeliveries(subscriber: WebhookSubscriber?, limit: Int) async throws -> [WebhookDelivery] {
        try await pool.withConnection { db in
            if let subscriber {
                return try await db.sql(
                    """
                    SELECT * FROM webhook_deliveries WHERE subscriber_kind = \(bind: subscriber.kind) AND subscriber_id = \(bind: subscriber.id)
                    ORDER BY created_at DESC, id DESC LIMIT \(bind: limit)
                    """
                ).all()
            }
            return try await db.sql("SELECT * FROM webhook_deliveries ORDER BY created_at DESC, id DESC LIMIT \(bind: limit)").all()
        }.map(Self.webhook(from:))
    }

    public func webhookDelivery(id: String) async throws -> WebhookDelivery? {
        try await pool.withConnection { db in
            try await db.sql("SELECT * FROM webhook_deliveries WHERE id = \(bind: id)").first()
        }.map(Self.webhook(from:))
    }

    public func retryWebhook(id: String, subscriber: WebhookSubscriber?, at now: Date) async throws -> Bool {
        try await pool.withWriteConnection { db in
            if let subscriber {
                return try await db.sql(
                    """
                    UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = \(bind: now.epochMilliseconds)
                    WHERE id = \(bind: id) AND status = 'dead'
                      AND subscriber_kind = \(bind: subscriber.kind) AND subscriber_id = \(bind: subscriber.id)
                    RETURNING id
                    """
                ).first() != nil
            }
            return try await db.sql(
                """
                UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = \(bind: now.epochMilliseconds)
                WHERE id = \(bind: id) AND status = 'dead' RETURNING id
                """
            ).first() != nil
        }
    }

    static func webhook(from row: any SQLRow) throws -> WebhookDelivery {
        let kind = try row.string("subscriber_kind")
        let subscriberID = try row.string("subscriber_id")
        return WebhookDelivery(
            id: try row.string("id"),
            subscriber: WebhookSubscriber(kind: kind, id: subscriberID) ?? .application(subscriberID),
            url: try row.string("url"), eventType: try row.string("event_type"), body: try row.string("body"),
            status: WebhookDelivery.Status(rawValue: try row.string("status")) ?? .pending, attempts: try row.int("attempts"),
            nextAttemptAt: try row.date("next_attempt_at"), createdAt: try row.date("created_at"),
            deliveredAt: try row.optionalDate("delivered_at"),
            lastResponseStatus: try row.decode(column: "last_response_status", as: Int?.self),
            lastError: try row.optionalString("last_error"))
    }
}
