import Configuration
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import StrongAuthCore
import StrongAuthServer
import Testing

/// Shine's SCA action requests (Shine's API documentation) on the one approval engine.
@Suite("Action requests and short-lived tokens (Shine's API documentation)")
struct ActionRequestsTests {
    static func post(_ client: any TestClientProtocol, _ uri: String, _ body: [String: Any], headers extra: HTTPFields = [:]) async throws
        -> (TestResponse, [String: Any])
    {
        var headers = extra
        headers[.contentType] = "application/json"
        let response = try await client.executeRequest(
            uri: uri, method: .post, headers: headers, body: ByteBuffer(data: try JSONSerialization.data(withJSONObject: body)))
        return (response, try HTTP.json(response.body))
    }

    static var payload: [String: Any] { ["amount": 234, "bankTransferRecipientId": "BANK_TRANSFER_RECIPIENT_ID", "uid": "alice"] }

    @Test(
        "Shine's flow literally: create, poll PENDING, confirm on a device, poll CONFIRMED with a token, transfer once; again, other payload, late: refused"
    )
    func seedFlow() async throws {
        try await TestServer.with { server in
            let secret = try await server.createClient()
            let user = try await server.createUser()
            try await server.test { client in
                let (created, json) = try await Self.post(
                    client, "/v2/authentication/oauth2/action_request",
                    ["action": "bank:transfers:create", "client_id": "shop", "client_secret": secret, "uid": "alice", "payload": Self.payload])
                #expect(created.status == .created)
                let data = try #require(json["data"] as? [String: Any])
                #expect(json["metadata"] as? [String: Any] != nil)
                let id = try #require(data["authenticationActionRequestId"] as? String)
                #expect(data["status"] as? String == "PENDING" && data["clientId"] as? String == "shop" && data["uid"] as? String == "alice")
                #expect(data["action"] as? String == "bank:transfers:create" && (data["payload"] as? [String: Any])?["amount"] as? Int == 234)
                #expect(data["expiresAt"] is String && data["createdAt"] is String && data["token"] == nil)

                let poll = "/v2/authentication/oauth2/action_request/\(id)/poll?client_id=shop&client_secret=\(secret)"
                let pending = try await client.executeRequest(uri: poll, method: .get, headers: [:], body: nil)
                #expect((try HTTP.json(pending.body)["data"] as? [String: Any])?["status"] as? String == "PENDING")

                // The request is in the user's pending list; the device approves exactly what it shows.
                let listed = try await server.runtime.approvals.pending(userID: user.id)
                #expect(listed.map(\.id) == [id])
                let shown = try #require(listed.first?.data)
                #expect(shown.hasPrefix("bank:transfers:create\n") && shown.contains("\"amount\":234"))
                _ = try await server.runtime.approvals.approve(
                    id: id, userID: user.id, deviceID: "phone", data: shown, signatureType: "possession_knowledge", source: nil)

                let (_, confirmed) = try await Self.post(
                    client, "/v2/authentication/oauth2/action_request/\(id)/poll", ["client_id": "shop", "client_secret": secret])
                let confirmedData = try #require(confirmed["data"] as? [String: Any])
                #expect(confirmedData["status"] as? String == "CONFIRMED")
                let token = try #require(confirmedData["token"] as? String)

                let (_, tokens) = try await client.token([("grant_type", "client_credentials")], basic: HTTP.basic("shop", secret))
                var headers = HTTP.bearer(try #require(tokens["access_token"] as? String))
                headers[.shortLivedToken] = token
                let otherPayload = Self.payload.merging(["amount": 2340]) { $1 }
                let (wrongPayload, _) = try await Self.post(client, "/v3/bank/transfers", otherPayload, headers: headers)
                #expect(wrongPayload.status == .forbidden)
                let (transfer, transferJSON) = try await Self.post(client, "/v3/bank/transfers", Self.payload, headers: headers)
                #expect(transfer.status == .created)
                #expect((transferJSON["data"] as? [String: Any])?["authenticationActionRequestId"] as? String == id)
                let (again, _) = try await Self.post(client, "/v3/bank/transfers", Self.payload, headers: headers)
                #expect(again.status == .forbidden)
                var noToken = headers
                noToken[.shortLivedToken] = nil
                #expect(try await Self.post(client, "/v3/bank/transfers", Self.payload, headers: noToken).0.status == .forbidden)
            }
        }
    }

    @Test("approvals.* settings: Shine's lifetimes by default, overrides reach the service, values outside 10–3600 s refused")
    func lifetimeSettings() async throws {
        func read(_ flags: [String: ConfigContent]) async throws -> ApprovalConfiguration {
            try ServerSettings(reader: try await ServerSettings.reader(flags: flags, environment: [:])).approvals
        }
        #expect(try await read([:]) == ApprovalConfiguration(actionRequestLifetime: 180, actionTokenLifetime: 60))
        for bad: [String: ConfigContent] in [
            ["approvals.actionRequestLifetimeSeconds": .int(9)], ["approvals.actionTokenLifetimeSeconds": .int(3601)],
        ] {
            await #expect(throws: SettingsError.self) { _ = try await read(bad) }
        }
        let overrides: [String: ConfigContent] = [
            "approvals.actionRequestLifetimeSeconds": .int(30), "approvals.actionTokenLifetimeSeconds": .int(600),
        ]
        try await TestServer.with(overrides) { server in
            #expect(server.runtime.approvals.configuration == ApprovalConfiguration(actionRequestLifetime: 30, actionTokenLifetime: 600))
        }
    }

    @Test("the token lives one minute and is bound to its action and client; 50 concurrent uses: exactly one succeeds; rejection")
    func tokenLimits() async throws {
        try await TestServer.with { server in
            let secret = try await server.createClient()
            let user = try await server.createUser()
            try await server.test { client in
                func confirmed() async throws -> String {
                    let (_, json) = try await Self.post(
                        client, "/v2/authentication/oauth2/action_request",
                        ["action": "bank:transfers:create", "client_id": "shop", "client_secret": secret, "uid": user.id, "payload": Self.payload])
                    let id = try #require((json["data"] as? [String: Any])?["authenticationActionRequestId"] as? String)
                    let approval = try #require(try await server.runtime.store.approval(id: id))
                    _ = try await server.runtime.approvals.approve(
                        id: id, userID: user.id, deviceID: "phone", data: approval.data, signatureType: "possession_knowledge", source: nil)
                    return server.runtime.approvals.actionRequestToken(for: id)
                }
                let verify = "/v2/authentication/oauth2/action_request/verify"
                let late = try await confirmed()
                server.time.advance(by: 61)
                #expect(
                    try await Self.post(
                        client, verify,
                        [
                            "client_id": "shop", "client_secret": secret, "token": late,
                            "action": "bank:transfers:create", "payload": Self.payload,
                        ]
                    ).0.status == .forbidden)

                let other = try await confirmed()
                #expect(
                    try await Self.post(
                        client, verify,
                        [
                            "client_id": "shop", "client_secret": secret, "token": other,
                            "action": "bank:transfers:delete", "payload": Self.payload,
                        ]
                    ).0.status == .forbidden)

                // Another client can neither use nor spend this client's token (found by
                // conformance/test_isolation.py); its owner still uses it once.
                let foreignSecret = try await server.createClient("foreign")
                let stolen = try await confirmed()
                #expect(
                    try await Self.post(
                        client, verify,
                        [
                            "client_id": "foreign", "client_secret": foreignSecret, "token": stolen,
                            "action": "bank:transfers:create", "payload": Self.payload,
                        ]
                    ).0.status == .forbidden)
                #expect(
                    try await Self.post(
                        client, verify,
                        [
                            "client_id": "shop", "client_secret": secret, "token": stolen,
                            "action": "bank:transfers:create", "payload": Self.payload,
                        ]
                    ).0.status == .ok)

                let raced = try await confirmed()
                let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                    for _ in 0..<50 {
                        group.addTask {
                            try await Self.post(
                                client, verify,
                                [
                                    "client_id": "shop", "client_secret": secret, "token": raced,
                                    "action": "bank:transfers:create", "payload": Self.payload,
                                ]
                            ).0.status == .ok
                        }
                    }
                    return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
                }
                #expect(wins == 1)

                let (_, json) = try await Self.post(
                    client, "/v2/authentication/oauth2/action_request",
                    ["action": "bank:transfers:create", "client_id": "shop", "client_secret": secret, "uid": "alice", "payload": Self.payload])
                let id = try #require((json["data"] as? [String: Any])?["authenticationActionRequestId"] as? String)
                _ = try await server.runtime.approvals.reject(id: id, userID: user.id, deviceID: "phone", reason: nil, source: nil)
                let (_, rejected) = try await Self.post(
                    client, "/v2/authentication/oauth2/action_request/\(id)/poll", ["client_id": "shop", "client_secret": secret])
                #expect((rejected["data"] as? [String: Any])?["status"] as? String == "REJECTED")
                #expect((rejected["data"] as? [String: Any])?["token"] == nil)
                // Another client's credentials do not see it.
                let otherSecret = try await server.createClient("other")
                let (hidden, _) = try await Self.post(
                    client, "/v2/authentication/oauth2/action_request/\(id)/poll", ["client_id": "other", "client_secret": otherSecret])
                #expect(hidden.status == .notFound)
                let (unauthorized, _) = try await Self.post(
                    client, "/v2/authentication/oauth2/action_request/\(id)/poll", ["client_id": "shop", "client_secret": "wrong"])
                #expect(unauthorized.status == .unauthorized)
            }
        }
    }
}
