import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import StrongAuthCore
import Testing

/// One approval engine, every face: a PowerAuth operation and a Shine action request wait in one
/// list, and a phone bound through the Kontist face approves or rejects them with its ECDSA key.
@Suite("One pending list across faces")
struct UserApprovalsTests {
    @Test("a Kontist-bound phone is told by push, lists both kinds, approves the exact data, and cannot approve other data or without its key")
    func crossFaceApproval() async throws {
        try await DevicesTests.withUserToken { server, client, token, basic in
            let phone = TestPhone()
            let deviceID = try await DevicesTests.bind(phone, server: server, client: client, token: token)
            let (_, integration) = try await server.powerAuthSetup(callbackURL: "http://127.0.0.1:9/hooks")
            let pushesBefore = try await server.count("notifications")

            // A PowerAuth operation for "alice" (the integrator's userId is her username) …
            let (_, operation) = try await client.integration(
                .post, "/powerauth-cloud/v2/operations", basic: integration,
                ["userId": "alice", "template": "default.payment", "parameters": ["amount": "63.99", "currency": "EUR", "account": "CZ32"]])
            let operationID = try #require(operation["operationId"] as? String)
            // … and a Shine action request for her.
            let secret = String(basic.dropFirst("Basic ".count))
            let credentials = String(decoding: try #require(Data(base64Encoded: secret)), as: UTF8.self).split(separator: ":")
            let (_, action) = try await ActionRequestsTests.post(
                client, "/v2/authentication/oauth2/action_request",
                [
                    "action": "bank:transfers:create", "client_id": String(credentials[0]), "client_secret": String(credentials[1]),
                    "uid": "alice", "payload": ["amount": 234],
                ])
            let actionID = try #require((action["data"] as? [String: Any])?["authenticationActionRequestId"] as? String)
            #expect(try await server.count("notifications") == pushesBefore + 2)

            let list = try await client.executeRequest(uri: "/api/user/approvals", method: .get, headers: HTTP.bearer(token), body: nil)
            let pending = try #require(try JSONSerialization.jsonObject(with: Data(buffer: list.body)) as? [[String: Any]])
            #expect(Set(pending.compactMap { $0["id"] as? String }) == [operationID, actionID])
            let shown = try #require(pending.first { $0["id"] as? String == operationID }?["data"] as? String)
            #expect(shown == "A1*A63.99EUR*ICZ32")

            let message = try #require(pending.first { $0["id"] as? String == operationID }?["stringToSign"] as? String)
            #expect(message == ApprovalService.approvalMessage(id: operationID, data: shown))

            // Other data (a different amount), even properly signed: refused and counted.
            let other = "A1*A6399EUR*ICZ32"
            let (mismatch, _) = try await client.postJSON(
                "/api/user/approvals/\(operationID)/approve", token: token,
                ["deviceId": deviceID, "data": other, "signature": try phone.signDER(ApprovalService.approvalMessage(id: operationID, data: other))])
            #expect(mismatch.status == .forbidden)
            // The right data signed by another key: refused and counted.
            let (stranger, _) = try await client.postJSON(
                "/api/user/approvals/\(operationID)/approve", token: token,
                ["deviceId": deviceID, "data": shown, "signature": try TestPhone().signDER(message)])
            #expect(stranger.status == .forbidden)
            let (approved, json) = try await client.postJSON(
                "/api/user/approvals/\(operationID)/approve", token: token,
                ["deviceId": deviceID, "data": shown, "signature": try phone.signDER(message)])
            #expect(approved.status == .ok && json["status"] as? String == "APPROVED")
            let (_, polled) = try await client.integration(.get, "/powerauth-cloud/v2/operations/\(operationID)", basic: integration)
            #expect(polled["status"] as? String == "APPROVED" && polled["failureCount"] as? Int == 2)
            // The application (read with the approval and the device) is told, on its callback URL.
            let callbacks = try await server.runtime.store.webhookDeliveries(subscriber: .application("my-application"), limit: 10)
                .filter { $0.eventType == "OPERATION_STATUS_CHANGED" && $0.body.contains(#""status":"APPROVED""#) }
            #expect(callbacks.count == 1 && callbacks.first?.url == "http://127.0.0.1:9/hooks")

            let (rejected, rejectedJSON) = try await client.postJSON(
                "/api/user/approvals/\(actionID)/reject", token: token,
                ["deviceId": deviceID, "signature": try phone.signRaw("\(actionID):REJECTED"), "reason": "NOT_ME"])
            #expect(rejected.status == .ok && rejectedJSON["status"] as? String == "REJECTED")
        }
    }

    @Test(
        "an approval's signature approves that approval only: replayed to another login's URL, under another device, or over the data alone, it is refused and counted"
    )
    func signatureNamesTheApproval() async throws {
        try await DevicesTests.withUserToken { server, client, token, _ in
            let phone = TestPhone()
            let deviceID = try await DevicesTests.bind(phone, server: server, client: client, token: token)
            let tablet = TestPhone()
            let tabletID = try await DevicesTests.bind(tablet, server: server, client: client, token: token)
            // Approving the tablet needs fresh two factors (docs/security-model.md): a token the phone confirmed.
            let (_, confirmed) = try await DevicesTests.confirm(phone, deviceID: deviceID, client: client, token: token)
            let twoFactor = try #require(confirmed["token"] as? String)
            let (bound, _) = try await client.postJSON(
                "/api/user/devices/\(tabletID)/approve", token: twoFactor,
                [
                    "approverDeviceId": deviceID,
                    "signature": try phone.signDER(DeviceService.approvalMessage(deviceID: tabletID, publicKeyHex: tablet.publicKeyHex)),
                ])
            #expect(bound.status == .noContent)
            let (_, integration) = try await server.powerAuthSetup()

            // Two logins for alice: the template's data is "A2" both times.
            var ids: [String] = []
            for _ in 0..<2 {
                let (_, operation) = try await client.integration(
                    .post, "/powerauth-cloud/v2/operations", basic: integration, ["userId": "alice", "template": "default.login"])
                ids.append(try #require(operation["operationId"] as? String))
            }
            let list = try await client.executeRequest(uri: "/api/user/approvals", method: .get, headers: HTTP.bearer(token), body: nil)
            let pending = try #require(try JSONSerialization.jsonObject(with: Data(buffer: list.body)) as? [[String: Any]])
            let first = try #require(pending.first { $0["id"] as? String == ids[0] })
            let data = try #require(first["data"] as? String)
            #expect(data == "A2" && pending.first { $0["id"] as? String == ids[1] }?["data"] as? String == "A2")
            let stringToSign = try #require(first["stringToSign"] as? String)
            #expect(stringToSign == "approve:\(ids[0]):A2")

            // What the phone sent to approve the first login, captured.
            let captured: [String: String] = ["deviceId": deviceID, "data": data, "signature": try phone.signDER(stringToSign)]
            let (approved, _) = try await client.postJSON("/api/user/approvals/\(ids[0])/approve", token: token, captured)
            #expect(approved.status == .ok)

            // Replayed to the second login's URL: refused, counted, still PENDING.
            let (replayed, _) = try await client.postJSON("/api/user/approvals/\(ids[1])/approve", token: token, captured)
            #expect(replayed.status == .forbidden)
            // The same signature claimed for the other device: its key did not sign it.
            var otherDevice = captured
            otherDevice["deviceId"] = tabletID
            let (underTablet, _) = try await client.postJSON("/api/user/approvals/\(ids[1])/approve", token: token, otherDevice)
            #expect(underTablet.status == .forbidden)
            // A signature over the data alone (no approval id) approves nothing.
            let (bare, _) = try await client.postJSON(
                "/api/user/approvals/\(ids[1])/approve", token: token, ["deviceId": deviceID, "data": data, "signature": try phone.signDER(data)])
            #expect(bare.status == .forbidden)
            let (_, polled) = try await client.integration(.get, "/powerauth-cloud/v2/operations/\(ids[1])", basic: integration)
            #expect(polled["status"] as? String == "PENDING" && polled["failureCount"] as? Int == 3)

            // The second login's own message approves it.
            let (own, json) = try await client.postJSON(
                "/api/user/approvals/\(ids[1])/approve", token: token,
                ["deviceId": tabletID, "data": data, "signature": try tablet.signDER("approve:\(ids[1]):A2")])
            #expect(own.status == .ok && json["status"] as? String == "APPROVED")
        }
    }
}
