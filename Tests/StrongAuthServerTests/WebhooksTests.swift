import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import StrongAuthCore
import Testing

/// Webhooks to integrators (docs/webhooks.md): action request callbacks to OAuth clients, and
/// the delivery log with retry on both faces. Delivery itself (signature, backoff, kill -9) is
/// exercised against a real receiver in conformance/test_approval_webhooks.py.
@Suite("Webhooks: action request callbacks and the delivery log")
struct WebhooksTests {
    @Test("every action request status change goes to its client's webhook, never with the token; the client reads and retries its own log only")
    func actionRequestWebhooks() async throws {
        try await TestServer.with { server in
            let shop = try await server.runtime.administration.createClient(
                id: "shop", name: nil, scopes: Scopes(["transfers"]), grants: [.clientCredentials], webhookURL: "http://127.0.0.1:9/hooks",
                actor: "test")
            let webhookSecret = try #require(shop.webhookSecret)
            #expect(webhookSecret.hasPrefix("sa_whs_") && shop.client.sealedWebhookSecret?.contains(webhookSecret) == false)
            #expect(try await server.runtime.webhooks.secret(of: .client("shop")) == Array(webhookSecret.utf8))
            let otherSecret = try await server.createClient("other")
            let user = try await server.createUser()
            try await server.test { client in
                let (_, created) = try await ActionRequestsTests.post(
                    client, "/v2/authentication/oauth2/action_request",
                    [
                        "action": "bank:transfers:create", "client_id": "shop", "client_secret": shop.secret, "uid": "alice",
                        "payload": ActionRequestsTests.payload,
                    ])
                let id = try #require((created["data"] as? [String: Any])?["authenticationActionRequestId"] as? String)
                let shown = try #require(try await server.runtime.approvals.pending(userID: user.id).first?.data)
                _ = try await server.runtime.approvals.approve(
                    id: id, userID: user.id, deviceID: "phone", data: shown, signatureType: "possession_knowledge", source: nil)

                let basic = HTTP.basic("shop", shop.secret)
                let (listed, log) = try await client.integration(.get, "/v2/webhooks/deliveries", basic: basic)
                #expect(listed.status == .ok)
                let deliveries = try #require(log["deliveries"] as? [[String: Any]])
                #expect(deliveries.count == 2)
                let events = try deliveries.map {
                    try JSONSerialization.jsonObject(with: Data(($0["body"] as? String ?? "").utf8)) as? [String: Any] ?? [:]
                }
                #expect(Set(events.compactMap { $0["status"] as? String }) == ["PENDING", "CONFIRMED"])
                for (delivery, event) in zip(deliveries, events) {
                    #expect(delivery["eventType"] as? String == "ACTION_REQUEST_STATUS_CHANGED" && delivery["status"] as? String == "pending")
                    #expect(event["actionRequestId"] as? String == id && event["eventId"] as? String == delivery["id"] as? String)
                    #expect(event["action"] as? String == "bank:transfers:create" && event["clientId"] as? String == "shop")
                    #expect(!(delivery["body"] as? String ?? "").contains("sa_st_"), "the short-lived token never leaves by webhook")
                }

                // Another client sees nothing of it and cannot retry it; no credentials: 401.
                let (otherList, otherLog) = try await client.integration(.get, "/v2/webhooks/deliveries", basic: HTTP.basic("other", otherSecret))
                #expect(otherList.status == .ok && (otherLog["deliveries"] as? [Any])?.isEmpty == true)
                #expect(try await client.integration(.get, "/v2/webhooks/deliveries", basic: nil).0.status == .unauthorized)
                #expect(try await client.integration(.get, "/v2/webhooks/deliveries", basic: HTTP.basic("shop", "wrong")).0.status == .unauthorized)
                #expect(try await client.integration(.get, "/v2/webhooks/deliveries?limit=0", basic: basic).0.status == .badRequest)
                #expect(try await client.integration(.get, "/v2/webhooks/deliveries?limit=1", basic: basic).1["deliveries"] as? [Any] != nil)

                // A delivery given up on is retried by its own client only.
                let deliveryID = try #require(deliveries.first?["id"] as? String)
                _ = try await server.runtime.store.claimDueWebhooks(at: server.time.now(), limit: 10, lease: 30)
                try await server.runtime.store.markWebhookFailed(
                    id: deliveryID, responseStatus: 500, error: "the receiver answered 500", nextAttemptAt: server.time.now(), dead: true)
                let (foreign, _) = try await client.integration(
                    .post, "/v2/webhooks/deliveries/\(deliveryID)/retry", basic: HTTP.basic("other", otherSecret))
                #expect(foreign.status == .notFound)
                #expect(try await server.runtime.store.webhookDelivery(id: deliveryID)?.status == .dead)
                let (retried, retriedJSON) = try await client.integration(.post, "/v2/webhooks/deliveries/\(deliveryID)/retry", basic: basic)
                // Pending again with its attempts reset (the server's own dispatcher may already
                // have made the first new attempt against the dead receiver).
                #expect(retried.status == .ok && retriedJSON["status"] as? String == "pending")
                #expect((retriedJSON["attempts"] as? Int ?? 99) <= 1)
            }
        }
    }

    @Test("a client without a webhook URL gets no deliveries; an invalid URL is refused at creation")
    func noWebhook() async throws {
        try await TestServer.with { server in
            let secret = try await server.createClient()
            _ = try await server.createUser()
            await #expect(throws: ValidationError.self) {
                try await server.runtime.administration.createClient(
                    id: "bad", name: nil, scopes: Scopes([]), grants: [.clientCredentials], webhookURL: "ftp://example.com/x", actor: "test")
            }
            try await server.test { client in
                let (created, _) = try await ActionRequestsTests.post(
                    client, "/v2/authentication/oauth2/action_request",
                    ["action": "login", "client_id": "shop", "client_secret": secret, "uid": "alice", "payload": [:] as [String: Any]])
                #expect(created.status == .created)
                #expect(try await server.runtime.store.webhookDeliveries(subscriber: nil, limit: 10).isEmpty)
            }
        }
    }

    @Test("integration users read and retry only their applications' callbacks")
    func integrationDeliveryLog() async throws {
        try await TestServer.with { server in
            let (_, mine) = try await server.powerAuthSetup(callbackURL: "http://127.0.0.1:9/mine", appID: "mine")
            let (_, theirs) = try await server.powerAuthSetup(callbackURL: "http://127.0.0.1:9/theirs", appID: "theirs")
            try await server.test { client in
                for (basic, user) in [(mine, "u-mine"), (theirs, "u-theirs")] {
                    let (response, _) = try await client.integration(
                        .post, "/powerauth-cloud/v2/operations", basic: basic, ["userId": user, "template": "default.login"])
                    #expect(response.status == .ok)
                }
                let (listed, log) = try await client.integration(.get, "/powerauth-cloud/v2/webhooks/deliveries", basic: mine)
                #expect(listed.status == .ok)
                let deliveries = try #require(log["deliveries"] as? [[String: Any]])
                #expect(deliveries.count == 1 && deliveries.first?["url"] as? String == "http://127.0.0.1:9/mine")
                #expect(deliveries.first?["eventType"] as? String == "OPERATION_STATUS_CHANGED")
                let (filtered, filteredLog) = try await client.integration(
                    .get, "/powerauth-cloud/v2/webhooks/deliveries?applicationId=mine&limit=5", basic: mine)
                #expect(filtered.status == .ok && (filteredLog["deliveries"] as? [Any])?.count == 1)
                let (forbidden, forbiddenJSON) = try await client.integration(
                    .get, "/powerauth-cloud/v2/webhooks/deliveries?applicationId=theirs", basic: mine)
                expectPowerAuthError(forbidden, forbiddenJSON, status: .forbidden)
                let (badLimit, badLimitJSON) = try await client.integration(.get, "/powerauth-cloud/v2/webhooks/deliveries?limit=x", basic: mine)
                expectPowerAuthError(badLimit, badLimitJSON, status: .badRequest)

                let theirDelivery = try #require(
                    try await server.runtime.store.webhookDeliveries(subscriber: .application("theirs"), limit: 1).first)
                let (foreign, foreignJSON) = try await client.integration(
                    .post, "/powerauth-cloud/v2/webhooks/deliveries/\(theirDelivery.id)/retry", basic: mine)
                expectPowerAuthError(foreign, foreignJSON, status: .notFound)
                let myID = try #require(deliveries.first?["id"] as? String)
                let (pending, pendingJSON) = try await client.integration(
                    .post, "/powerauth-cloud/v2/webhooks/deliveries/\(myID)/retry", basic: mine)
                #expect(pending.status == .ok && pendingJSON["status"] as? String == "pending")
            }
        }
    }
}
