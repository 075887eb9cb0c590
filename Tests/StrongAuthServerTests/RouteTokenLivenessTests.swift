import Foundation
import HTTPTypes
import HummingbirdTesting
import StrongAuthCore
import Testing

/// The device-challenge and approval routes read the token's liveness in the same read as the
/// device, the challenge or the approvals (`PendingLivenessUserTokenContext`): a token that is
/// signed and unexpired but no longer live — its family revoked, its user locked, its client disabled, its confirming device
/// gone — is refused there with the same 401 `invalid_token`, before anything is written and
/// before any other refusal (a device's state, a signature).
@Suite("Device challenges and approvals: a dead token is refused, nothing written")
struct RouteTokenLivenessTests {
    static func refusedAsDeadToken(_ response: TestResponse) -> Bool {
        response.status == .unauthorized && (response.headers[.wwwAuthenticate] ?? "").contains(#"error="invalid_token""#)
    }

    /// A bound device, an open challenge of it, and the password grant's tokens.
    static func setUp(_ server: TestServer, _ client: any TestClientProtocol, _ token: String) async throws
        -> (phone: TestPhone, deviceID: String, challengeID: String, stringToSign: String)
    {
        let phone = TestPhone()
        let deviceID = try await DevicesTests.bind(phone, server: server, client: client, token: token)
        let (created, challenge) = try await client.postJSON("/api/user/devices/\(deviceID)/challenges", token: token)
        #expect(created.status == .created)
        return (phone, deviceID, try #require(challenge["id"] as? String), try #require(challenge["stringToSign"] as? String))
    }

    @Test("a locked user's token: no challenge is created, an open one is not answered (still open, no attempt counted)")
    func lockedUser() async throws {
        try await DevicesTests.withUserToken { server, client, token, _ in
            let (phone, deviceID, challengeID, stringToSign) = try await Self.setUp(server, client, token)
            let user = try #require(try await server.runtime.store.user(realm: Realm.defaultID, username: "alice"))
            #expect(try await server.runtime.store.setStatus(.user, id: user.id, realm: Realm.defaultID, active: false, at: Date()) == .changed)
            let challenges = try await server.count("challenges")

            let (create, _) = try await client.postJSON("/api/user/devices/\(deviceID)/challenges", token: token)
            #expect(Self.refusedAsDeadToken(create))
            #expect(try await server.count("challenges") == challenges)

            let (verify, _) = try await client.postJSON(
                "/api/user/devices/\(deviceID)/challenges/\(challengeID)/verify", token: token, ["signature": try phone.signDER(stringToSign)])
            #expect(Self.refusedAsDeadToken(verify))
            let challenge = try await server.runtime.store.challenge(id: challengeID)
            #expect(challenge?.status == .open && challenge?.attempts == 0)
        }
    }

    @Test("a revoked family or a disabled client: both routes refuse the token")
    func revokedFamilyAndDisabledClient() async throws {
        try await DevicesTests.withUserToken { server, client, token, basic in
            let (phone, deviceID, challengeID, stringToSign) = try await Self.setUp(server, client, token)
            // A second login of the same user and client: its own family, revoked below.
            let (_, other) = try await client.token(
                [("grant_type", "password"), ("username", "alice"), ("password", "correct horse")], basic: basic)
            let otherToken = try #require(other["access_token"] as? String)
            let refresh = try #require(other["refresh_token"] as? String)
            let (revoked, _) = try await client.token([("token", refresh)], basic: basic, path: "/oauth/revoke")
            #expect(revoked.status == .ok)
            // Both routes refuse `token` as a dead token.
            func bothRefuse(_ token: String, _ comment: Comment) async throws {
                let (create, _) = try await client.postJSON("/api/user/devices/\(deviceID)/challenges", token: token)
                #expect(Self.refusedAsDeadToken(create), comment)
                let (verify, _) = try await client.postJSON(
                    "/api/user/devices/\(deviceID)/challenges/\(challengeID)/verify", token: token,
                    ["signature": try phone.signDER(stringToSign)])
                #expect(Self.refusedAsDeadToken(verify), comment)
            }
            try await bothRefuse(otherToken, "its family revoked")
            #expect(try await server.runtime.store.setStatus(.client, id: "shop", realm: Realm.defaultID, active: false, at: Date()) == .changed)
            try await bothRefuse(token, "its client disabled")
            #expect(try await server.runtime.store.challenge(id: challengeID)?.status == .open)
        }
    }

    @Test("a confirmed token whose device was blocked: refused as a dead token (401), not as a blocked device (409)")
    func confirmingDeviceGone() async throws {
        try await DevicesTests.withUserToken { server, client, token, _ in
            let phone = TestPhone()
            let deviceID = try await DevicesTests.bind(phone, server: server, client: client, token: token)
            let (confirmed, tokens) = try await DevicesTests.confirm(phone, deviceID: deviceID, client: client, token: token)
            #expect(confirmed.status == .ok)
            let confirmedToken = try #require(tokens["token"] as? String)
            #expect(
                try await server.runtime.store.transitionDevice(id: deviceID, from: [.active], to: .blocked, reason: "lost", at: Date()))
            let challenges = try await server.count("challenges")
            #expect(Self.refusedAsDeadToken(try await client.postJSON("/api/user/devices/\(deviceID)/challenges", token: confirmedToken).0))
            #expect(try await server.count("challenges") == challenges)
        }
    }

    @Test("approvals: a locked user's token can neither list nor approve (the operation stays PENDING, no failure counted)")
    func approvalsWithDeadToken() async throws {
        try await DevicesTests.withUserToken { server, client, token, _ in
            let phone = TestPhone()
            let deviceID = try await DevicesTests.bind(phone, server: server, client: client, token: token)
            let (_, integration) = try await server.powerAuthSetup()
            let (_, operation) = try await client.integration(
                .post, "/powerauth-cloud/v2/operations", basic: integration,
                ["userId": "alice", "template": "default.payment", "parameters": ["amount": "1.00", "currency": "EUR", "account": "CZ32"]])
            let operationID = try #require(operation["operationId"] as? String)
            let stored = try #require(try await server.runtime.store.approval(id: operationID))
            let listed = try await client.executeRequest(uri: "/api/user/approvals", method: .get, headers: HTTP.bearer(token), body: nil)
            #expect(listed.status == .ok)

            let user = try #require(try await server.runtime.store.user(realm: Realm.defaultID, username: "alice"))
            #expect(try await server.runtime.store.setStatus(.user, id: user.id, realm: Realm.defaultID, active: false, at: Date()) == .changed)
            let refusedList = try await client.executeRequest(uri: "/api/user/approvals", method: .get, headers: HTTP.bearer(token), body: nil)
            #expect(Self.refusedAsDeadToken(refusedList))
            let signature = try phone.signDER(ApprovalService.approvalMessage(id: operationID, data: stored.data))
            let (approve, _) = try await client.postJSON(
                "/api/user/approvals/\(operationID)/approve", token: token, ["deviceId": deviceID, "data": stored.data, "signature": signature])
            #expect(Self.refusedAsDeadToken(approve))
            let (reject, _) = try await client.postJSON(
                "/api/user/approvals/\(operationID)/reject", token: token,
                ["deviceId": deviceID, "signature": try phone.signRaw("\(operationID):REJECTED")])
            #expect(Self.refusedAsDeadToken(reject))
            let after = try await server.runtime.store.approval(id: operationID)
            #expect(after?.status == .pending && after?.failureCount == 0)
        }
    }
}
