import Foundation
import HTTPTypes
import Hummingbird
import StrongAuthCore
import StrongAuthProtocol

/// The webhook delivery log for integrators (docs/webhooks.md): every callback sent to them, its attempts
/// and last answer, and a retry for one that was given up. Two faces over one `WebhookService`:
/// PowerAuth integration users see their applications' callbacks (PowerAuth's error shape), OAuth
/// clients their action request callbacks (RFC 9457 problems). Nobody sees another's deliveries.
struct WebhookDeliveriesController {
    let webhooks: WebhookService

    /// `/powerauth-cloud/v2/webhooks/deliveries` (integration API: HTTP Basic integration users).
    func addIntegrationRoutes(to face: IntegrationFace) {
        face.users.get("/v2/webhooks/deliveries", use: integrationList)
        face.users.post("/v2/webhooks/deliveries/:deliveryId/retry", use: integrationRetry)
    }

    /// `/v2/webhooks/deliveries` (OAuth clients, authenticated as at the token endpoint:
    /// `ActionRequestsController.clients(of:body:tokens:maxBodyBytes:)` with no body).
    func addClientRoutes(to clients: RouterGroup<ClientContext>) {
        clients
            .get("/v2/webhooks/deliveries", use: clientList)
            .post("/v2/webhooks/deliveries/:deliveryId/retry", use: clientRetry)
    }

    /// One delivery as the log shows it; `body` is exactly what was signed and sent.
    struct Delivery: Encodable {
        var id: String
        var eventType: String
        var url: String
        var status: String
        var attempts: Int
        var createdAt: String
        var nextAttemptAt: String?
        var deliveredAt: String?
        var lastResponseStatus: Int?
        var lastError: String?
        var body: String
    }

    struct DeliveryList: Encodable {
        var deliveries: [Delivery]
    }

    // MARK: PowerAuth face

    @Sendable func integrationList(_ request: Request, context: IntegrationUserContext) async throws -> Response {
        let user = context.user
        var applications = user.applicationIDs
        if let only = request.uri.queryParameters.get("applicationId") {
            guard user.mayUse(applicationID: only) else {
                throw PowerAuthErrorResponse.integration(.applicationForbidden)
            }
            applications = [only]
        }
        let limit = try Self.limit(request) { PowerAuthErrorResponse.badRequest($0) }
        let deliveries = try await webhooks.deliveries(of: applications.map(WebhookSubscriber.application), limit: limit)
        return try JSONResponse.make(DeliveryList(deliveries: deliveries.map(Self.wire)))
    }

    @Sendable func integrationRetry(_ request: Request, context: IntegrationUserContext) async throws -> Response {
        let user = context.user
        guard
            let delivery = try await webhooks.retry(
                id: try context.parameters.require("deliveryId"), by: user.applicationIDs.map(WebhookSubscriber.application),
                actor: "integration-user:\(user.name)", source: context.remoteAddress)
        else { throw PowerAuthErrorResponse(.notFound, code: "ERROR_NOT_FOUND", message: "No such webhook delivery.") }
        return try JSONResponse.make(Self.wire(delivery))
    }

    // MARK: OAuth client face

    @Sendable func clientList(_ request: Request, context: ClientContext) async throws -> Response {
        let client = context.client
        let limit = try Self.limit(request) { ProblemDetails.badRequest($0) }
        let deliveries = try await webhooks.deliveries(of: [.client(client.id)], limit: limit)
        return try JSONResponse.make(DeliveryList(deliveries: deliveries.map(Self.wire)))
    }

    @Sendable func clientRetry(_ request: Request, context: ClientContext) async throws -> Response {
        let client = context.client
        guard
            let delivery = try await webhooks.retry(
                id: try context.parameters.require("deliveryId"), by: [.client(client.id)], actor: "client:\(client.id)",
                source: context.remoteAddress)
        else { throw ProblemDetails(.notFound, "Not Found", detail: "No such webhook delivery.") }
        return try JSONResponse.make(Self.wire(delivery))
    }

    // MARK: Shared

    /// `?limit=` 1–500, default 100.
    static func limit(_ request: Request, refusal: (String) -> any Error) throws -> Int {
        guard let text = request.uri.queryParameters.get("limit") else { return 100 }
        guard let limit = Int(text), (1...500).contains(limit) else { throw refusal("limit: must be 1–500.") }
        return limit
    }

    static func wire(_ delivery: WebhookDelivery) -> Delivery {
        let timestamp = { (date: Date) in InternetTimestamp.string(from: date, fractionalSeconds: true) }
        return Delivery(
            id: delivery.id, eventType: delivery.eventType, url: delivery.url, status: delivery.status.rawValue,
            attempts: delivery.attempts, createdAt: timestamp(delivery.createdAt),
            nextAttemptAt: delivery.status == .pending ? timestamp(delivery.nextAttemptAt) : nil,
            deliveredAt: delivery.deliveredAt.map(timestamp), lastResponseStatus: delivery.lastResponseStatus,
            lastError: delivery.lastError, body: delivery.body)
    }
}
