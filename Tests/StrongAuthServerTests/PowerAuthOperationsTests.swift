import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import StrongAuthCore
import StrongAuthProtocol
import Testing

/// PowerAuth Cloud's operations API (PowerAuth Cloud REST API, "Implement Out-of-Band Approvals") — the
/// first slice: create from a template, poll, cancel, expiry; decisions through the core.
@Suite("PowerAuth operations (PowerAuth Cloud REST API)")
struct PowerAuthOperationsTests {
    static var seedBody: [String: Any] {
        [
            "userId": "end-user-1234", "template": "default.payment",
            "parameters": ["amount": "63.99", "currency": "EUR", "account": "CZ32493745329497374923"],
        ]
    }

    @Test("PowerAuth Cloud's operation flow: create → PENDING with PowerAuth Cloud's fields, poll, cancel → CANCELED")
    func seedOperationFlow() async throws {
        try await TestServer.with { server in
            let (_, basic) = try await server.powerAuthSetup()
            try await server.test { client in
                let (response, created) = try await client.integration(.post, "/powerauth-cloud/v2/operations", basic: basic, Self.seedBody)
                #expect(response.status == .ok)
                let id = try #require(created["operationId"] as? String)
                #expect(created["userId"] as? String == "end-user-1234" && created["status"] as? String == "PENDING")
                #expect(created["template"] as? String == "default.payment" && created["operationType"] as? String == "payment")
                #expect(created["parameters"] as? [String: String] == Self.seedBody["parameters"] as? [String: String])
                #expect(created["failureCount"] as? Int == 0 && created["maxFailureCount"] as? Int == 5)
                let createdAt = try #require(created["timestampCreated"] as? Int)
                #expect(created["timestampExpires"] as? Int == createdAt + 300_000)

                let (_, polled) = try await client.integration(.get, "/powerauth-cloud/v2/operations/\(id)", basic: basic)
                #expect(polled["status"] as? String == "PENDING" && polled["additionalData"] as? [String: String] == [:])
                let (_, list) = try await client.integration(.get, "/powerauth-cloud/v2/operations?userId=end-user-1234", basic: basic)
                #expect((list["operations"] as? [[String: Any]])?.first?["operationId"] as? String == id)

                let (_, canceled) = try await client.integration(.delete, "/powerauth-cloud/v2/operations/\(id)", basic: basic)
                #expect(canceled["status"] as? String == "CANCELED")
                let (again, json) = try await client.integration(.delete, "/powerauth-cloud/v2/operations/\(id)", basic: basic)
                expectPowerAuthError(again, json, status: .conflict, code: "ERROR_OPERATION_STATE_CHANGE")
            }
        }
    }

    @Test("dynamic linking: approving other data counts a failure; the 5th FAILS the operation; the exact data approves")
    func dynamicLinking() async throws {
        try await TestServer.with { server in
            let (_, basic) = try await server.powerAuthSetup()
            try await server.test { client in
                let (_, created) = try await client.integration(.post, "/powerauth-cloud/v2/operations", basic: basic, Self.seedBody)
                let id = try #require(created["operationId"] as? String)
                let approval = try #require(try await server.runtime.store.approval(id: id))
                #expect(approval.data == "A1*A63.99EUR*ICZ32493745329497374923")
                for remaining in [4, 3] {
                    await #expect(throws: ApprovalError.dataMismatch(remainingAttempts: remaining)) {
                        _ = try await server.runtime.approvals.approve(
                            id: id, userID: approval.userID, deviceID: "d", data: "A1*A6399.00EUR*ICZ32493745329497374923",
                            signatureType: "possession_knowledge", source: nil)
                    }
                }
                let approved = try await server.runtime.approvals.approve(
                    id: id, userID: approval.userID, deviceID: "d", data: approval.data, signatureType: "possession_knowledge", source: nil)
                #expect(approved.status == .approved)
                let (_, polled) = try await client.integration(.get, "/powerauth-cloud/v2/operations/\(id)", basic: basic)
                #expect(polled["status"] as? String == "APPROVED" && polled["failureCount"] as? Int == 2)

                let (_, second) = try await client.integration(.post, "/powerauth-cloud/v2/operations", basic: basic, Self.seedBody)
                let secondID = try #require(second["operationId"] as? String)
                for _ in 0..<5 {
                    _ = try? await server.runtime.approvals.approve(
                        id: secondID, userID: approval.userID, deviceID: "d", data: "A1*A1.00EUR*IX", signatureType: "possession_knowledge",
                        source: nil)
                }
                let (_, failed) = try await client.integration(.get, "/powerauth-cloud/v2/operations/\(secondID)", basic: basic)
                #expect(failed["status"] as? String == "FAILED" && failed["failureCount"] as? Int == 5)
            }
        }
    }

    @Test("expiry: past timestampExpires the operation reads EXPIRED and can no longer be approved or canceled")
    func expiry() async throws {
        try await TestServer.with { server in
            let (_, basic) = try await server.powerAuthSetup()
            try await server.test { client in
                let (_, created) = try await client.integration(.post, "/powerauth-cloud/v2/operations", basic: basic, Self.seedBody)
                let id = try #require(created["operationId"] as? String)
                server.time.advance(by: 301)
                let (_, polled) = try await client.integration(.get, "/powerauth-cloud/v2/operations/\(id)", basic: basic)
                #expect(polled["status"] as? String == "EXPIRED")
                let approval = try #require(try await server.runtime.store.approval(id: id))
                await #expect(throws: ApprovalError.state(.expired)) {
                    _ = try await server.runtime.approvals.approve(
                        id: id, userID: approval.userID, deviceID: "d", data: approval.data, signatureType: "possession_knowledge", source: nil)
                }
                let (cancel, json) = try await client.integration(.delete, "/powerauth-cloud/v2/operations/\(id)", basic: basic)
                expectPowerAuthError(cancel, json, status: .conflict)
            }
        }
    }

    @Test("bad input: unknown template, missing parameter, a '*' in a value, no credentials, another app's operation")
    func badInput() async throws {
        try await TestServer.with { server in
            let (_, basic) = try await server.powerAuthSetup()
            let (_, otherBasic) = try await server.powerAuthSetup(appID: "other-app")
            try await server.test { client in
                for (body, code) in [
                    (["userId": "u", "template": "nope"], "ERROR_OPERATION_TEMPLATE_NOT_FOUND"),
                    (["userId": "u", "template": "default.payment", "parameters": ["amount": "1"]], "ERROR_REQUEST"),
                    (
                        ["userId": "u", "template": "default.payment", "parameters": ["amount": "1*2", "currency": "EUR", "account": "X"]],
                        "ERROR_REQUEST"
                    ),
                    (["userId": "has space", "template": "default.login"], "ERROR_REQUEST"),
                ] as [([String: Any], String)] {
                    let (response, json) = try await client.integration(.post, "/powerauth-cloud/v2/operations", basic: basic, body)
                    expectPowerAuthError(response, json, status: .badRequest, code: code)
                }
                let (none, noneJSON) = try await client.integration(.post, "/powerauth-cloud/v2/operations", basic: nil, Self.seedBody)
                expectPowerAuthError(none, noneJSON, status: .unauthorized)
                let (_, created) = try await client.integration(.post, "/powerauth-cloud/v2/operations", basic: basic, Self.seedBody)
                let id = try #require(created["operationId"] as? String)
                let (hidden, hiddenJSON) = try await client.integration(.get, "/powerauth-cloud/v2/operations/\(id)", basic: otherBasic)
                expectPowerAuthError(hidden, hiddenJSON, status: .notFound, code: "ERROR_OPERATION_NOT_FOUND")
                // The status route reads the caller with the operation: a wrong password is the 401
                // whether the operation exists or not, and the same answer for a disabled caller.
                let name = try #require(
                    String(decoding: Data(base64Encoded: String(basic.dropFirst("Basic ".count)))!, as: UTF8.self).split(separator: ":").first)
                for uri in ["/powerauth-cloud/v2/operations/\(id)", "/powerauth-cloud/v2/operations/none"] {
                    let (wrong, wrongJSON) = try await client.integration(.get, uri, basic: HTTP.basic(String(name), "wrong"))
                    expectPowerAuthError(wrong, wrongJSON, status: .unauthorized, code: "ERROR_UNAUTHORIZED")
                    #expect(wrongJSON["operationId"] == nil)
                }
                let (wrongCreate, wrongCreateJSON) = try await client.integration(
                    .post, "/powerauth-cloud/v2/operations", basic: HTTP.basic(String(name), "wrong"), ["userId": "u", "template": "nope"])
                expectPowerAuthError(wrongCreate, wrongCreateJSON, status: .unauthorized, code: "ERROR_UNAUTHORIZED")
                #expect(
                    try await server.runtime.store.setStatus(
                        .integrationUser, id: String(name), realm: "default", active: false, at: server.time.now())
                        == .changed)
                let (disabled, disabledJSON) = try await client.integration(.get, "/powerauth-cloud/v2/operations/\(id)", basic: basic)
                expectPowerAuthError(disabled, disabledJSON, status: .unauthorized, code: "ERROR_UNAUTHORIZED")
                let (disabledCreate, disabledCreateJSON) = try await client.integration(
                    .post, "/powerauth-cloud/v2/operations", basic: basic, Self.seedBody)
                expectPowerAuthError(disabledCreate, disabledCreateJSON, status: .unauthorized, code: "ERROR_UNAUTHORIZED")
            }
        }
    }

    /// `POST` to the mobile token API with a header.
    static func mobile(
        _ client: any TestClientProtocol, _ path: String, header: (String, String), body: [UInt8]
    ) async throws -> (TestResponse, [String: Any]) {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[try #require(HTTPField.Name(header.0))] = header.1
        let response = try await client.executeRequest(
            uri: "/enrollment-server/api/auth/token/app/operation\(path)", method: .post, headers: headers, body: ByteBuffer(bytes: body))
        return (response, try HTTP.json(response.body))
    }

    static func json(_ object: [String: Any]) throws -> [UInt8] { Array(try JSONSerialization.data(withJSONObject: object)) }

    @Test(
        "mobile token API: the phone lists the operation (token), approves exactly the shown data (signature); other data counts; reject with a reason"
    )
    func mobileTokenAPI() async throws {
        try await PowerAuthTests.withActive { server, client, basic, phone in
            var phone = phone
            let registration = try #require(try await server.runtime.store.registration(id: phone.registrationID))
            let token = try await server.runtime.powerAuth.createToken(for: registration, signatureType: "possession")
            func tokenHeader() -> (String, String) {
                let nonce = SecureRandom.bytes(16)
                let timestamp = UInt64(server.time.now().epochMilliseconds)
                let digest = PowerAuthTokenDigest.compute(tokenSecret: token.secret, nonce: nonce, timestamp: timestamp, version: .v3_1)
                return (
                    "X-PowerAuth-Token",
                    PowerAuthTokenHeader(tokenID: token.id, tokenDigest: digest, nonce: nonce, timestamp: timestamp, version: .v3_1).headerValue
                )
            }
            let (_, created) = try await client.integration(.post, "/powerauth-cloud/v2/operations", basic: basic, Self.seedBody)
            let id = try #require(created["operationId"] as? String)

            let (listed, list) = try await Self.mobile(client, "/list", header: tokenHeader(), body: Array("{}".utf8))
            #expect(listed.status == .ok && list["status"] as? String == "OK")
            let operations = try #require(list["responseObject"] as? [[String: Any]])
            #expect(operations.map { $0["id"] as? String } == [id])
            let shown = try #require(operations.first?["data"] as? String)
            #expect(shown == "A1*A63.99EUR*ICZ32493745329497374923")
            let (noToken, noTokenJSON) = try await Self.mobile(client, "/list", header: ("X-Other", "x"), body: Array("{}".utf8))
            expectPowerAuthError(noToken, noTokenJSON, status: .unauthorized)

            // Signed, but other data than shown: refused and counted on the operation.
            let other = try Self.json(["requestObject": ["id": id, "data": "A1*A6399EUR*ICZ32493745329497374923"]])
            let (mismatch, mismatchJSON) = try await Self.mobile(
                client, "/authorize", header: ("X-PowerAuth-Authorization", phone.sign(uriID: "/operation/authorize", body: other)), body: other)
            expectPowerAuthError(mismatch, mismatchJSON, status: .badRequest, code: "OPERATION_FAILED")
            #expect(try await client.integration(.get, "/powerauth-cloud/v2/operations/\(id)", basic: basic).1["failureCount"] as? Int == 1)

            // The exact data, signed: 10 concurrent approvals, exactly one wins.
            let exact = try Self.json(["requestObject": ["id": id, "data": shown]])
            let headers = (0..<10).map { _ in phone.sign(uriID: "/operation/authorize", body: exact) }
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for header in headers {
                    group.addTask {
                        try await Self.mobile(client, "/authorize", header: ("X-PowerAuth-Authorization", header), body: exact).0.status == .ok
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1)
            #expect(try await client.integration(.get, "/powerauth-cloud/v2/operations/\(id)", basic: basic).1["status"] as? String == "APPROVED")

            let (_, second) = try await client.integration(.post, "/powerauth-cloud/v2/operations", basic: basic, Self.seedBody)
            let secondID = try #require(second["operationId"] as? String)
            let reject = try Self.json(["requestObject": ["id": secondID, "reason": "UNEXPECTED_OPERATION"]])
            let (rejected, rejectedJSON) = try await Self.mobile(
                client, "/cancel",
                header: ("X-PowerAuth-Authorization", phone.sign(uriID: "/operation/cancel", body: reject, factors: [.possession])),
                body: reject)
            #expect(rejected.status == .ok, "\(rejectedJSON)")
            #expect(
                try await client.integration(.get, "/powerauth-cloud/v2/operations/\(secondID)", basic: basic).1["status"] as? String == "REJECTED")
        }
    }

    @Test("the sweeper makes expiry durable and announces it once, on the application's callback")
    func sweeper() async throws {
        try await TestServer.with { server in
            let (_, basic) = try await server.powerAuthSetup(callbackURL: "http://127.0.0.1:9/hooks")
            try await server.test { client in
                let (_, created) = try await client.integration(.post, "/powerauth-cloud/v2/operations", basic: basic, Self.seedBody)
                let id = try #require(created["operationId"] as? String)
                #expect(try await server.runtime.approvals.sweepExpired() == 0)
                server.time.advance(by: 301)
                // The application's own ApprovalSweeper runs beside the test (once a second) and
                // may sweep first: expired once in all, by whichever pass came first.
                #expect(try await server.runtime.approvals.sweepExpired() <= 1)
                #expect(try await server.runtime.approvals.sweepExpired() == 0)
                #expect(try await server.runtime.store.approval(id: id)?.status == .expired)
                let events = try await server.runtime.store.webhookDeliveries(subscriber: .application("my-application"), limit: 10)
                    .filter { $0.eventType == "OPERATION_STATUS_CHANGED" }.map(\.body)
                #expect(events.count == 2 && events.contains { $0.contains("\"status\":\"EXPIRED\"") })
            }
        }
    }
}
