import Foundation
import Testing

@testable import StrongAuthCore

/// Webhook event bodies are the bytes `JSONSerialization` wrote with sorted keys and unescaped
/// slashes (receivers verify the signature over them), now written without it where the keys allow.
@Suite("Webhook event bodies")
struct WebhookEventBodyTests {
    private func reference(_ fields: [String: String], eventID: String, type: String, timestamp: Int64) throws -> String {
        var event: [String: Any] = fields
        event["eventId"] = eventID
        event["type"] = type
        event["timestamp"] = timestamp
        let data = try JSONSerialization.data(withJSONObject: event, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    @Test("every event's fields, and generated ones, give JSONSerialization's bytes")
    func sameBytes() throws {
        let operation = [
            "operationId": "0193a4b2-7c1d-7e2f-9a3b-4c5d6e7f8a9b", "status": "APPROVED", "userId": "alice", "applicationId": "mobile-app",
            "template": "default.payment", "externalId": "order/42 \"x\"",
        ]
        let shine = ["actionRequestId": "a-1", "status": "CONFIRMED", "action": "bank:transfers:create", "uid": "u-1", "clientId": "shop"]
        let registration = [
            "registrationId": "r-1", "registrationStatus": "BLOCKED", "userId": "bob", "applicationId": "app",
            "blockedReason": "MAX_FAILED_ATTEMPTS",
        ]
        for fields in [operation, shine, registration, [:]] {
            let body = try WebhookDelivery.eventBody(fields, eventID: "e-1", type: "T", timestamp: 1_733_000_000_123)
            #expect(body == (try reference(fields, eventID: "e-1", type: "T", timestamp: 1_733_000_000_123)))
        }
        // Keys of letters in both cases, and some the fast path leaves to JSONSerialization
        // (digits, underscores, keys equal but for case, non-ASCII); values with every escape.
        let keyAlphabet = Array("aAbBzZ") + ["_", "1", "é"]
        let valueAlphabet = Array("a/\\\"\n\t\u{1}\u{7F} é€😀")
        for _ in 0..<2_000 {
            var fields: [String: String] = [:]
            for _ in 0..<Int.random(in: 0...6) {
                let key = String((0..<Int.random(in: 1...6)).map { _ in keyAlphabet.randomElement()! })
                fields[key] = String((0..<Int.random(in: 0...8)).map { _ in valueAlphabet.randomElement()! })
            }
            let timestamp = Int64.random(in: -1...Int64.max)
            let body = try WebhookDelivery.eventBody(fields, eventID: "e", type: "T", timestamp: timestamp)
            #expect(body == (try reference(fields, eventID: "e", type: "T", timestamp: timestamp)), "\(fields)")
        }
    }
}
