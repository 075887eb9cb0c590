import Configuration
import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import StrongAuthCore
import StrongAuthProtocol
import Testing

/// A phone for the tests: a P-256 key that signs what the server asks it to.
struct TestPhone {
    let key = P256.Signing.PrivateKey()
    var publicKeyHex: String { Hex.encode(key.publicKey.x963Representation) }
    func signDER(_ message: String) throws -> String { Hex.encode(try key.signature(for: Array(message.utf8)).derRepresentation) }
    func signRaw(_ message: String) throws -> String { Hex.encode(try key.signature(for: Array(message.utf8)).rawRepresentation) }
}

extension TestServer {
    /// Delivers the outbox to data/notifications.jsonl and returns every notification written
    /// there so far, oldest first.
    ///
    /// The application's own dispatcher runs too (HummingbirdTesting runs its services): one it
    /// has claimed but not yet written would be missing from the file, and the last line an older
    /// code. So this waits until nothing is claimed and unsent; a failed delivery (retried only
    /// when the manual clock moves) times it out, and the log line says why.
    func deliveredNotifications() async throws -> [[String: String]] {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            try await runtime.notificationDispatcher.dispatchDue()
            let unsent = try await count("notifications WHERE status <> 'sent' AND attempts > 0")
            if unsent == 0 { break }
            try #require(ContinuousClock.now < deadline, "\(unsent) notification(s) claimed but never written: see 'notification delivery failed'")
            try await Task.sleep(for: .milliseconds(20))
        }
        let path = directory.appendingPathComponent("notifications.jsonl").path
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return try text.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String])
        }
    }

    /// The newest OTP delivered to the notifications file.
    func latestOTP() async throws -> String {
        let message = try #require(try await deliveredNotifications().last?["message"])
        let match = try #require(message.firstMatch(of: #/ is (\d{6})\./#))
        return String(match.1)
    }
}

/// JSON helpers for the device routes.
extension TestClientProtocol {
    func postJSON(_ uri: String, token: String, _ body: [String: String]? = nil) async throws -> (TestResponse, [String: Any]) {
        let data = try body.map { try JSONSerialization.data(withJSONObject: $0) }
        let response = try await executeRequest(
            uri: uri, method: .post, headers: HTTP.bearer(token, json: true), body: data.map { ByteBuffer(data: $0) })
        return (response, try HTTP.json(response.body))
    }
}

@Suite("Device binding and confirmed tokens (Kontist)")
struct DevicesTests {
    /// A server with a client, a user with a phone, and that user's (unconfirmed) access token.
    static func withUserToken(
        _ overrides: [String: ConfigContent] = [:],
        _ body: @escaping @Sendable (TestServer, any TestClientProtocol, String, String) async throws -> Void
    ) async throws {
        try await TestServer.with(overrides) { server in
            let basic = HTTP.basic("shop", try await server.createClient())
            try await server.createUser()
            try await server.test { client in
                let (_, tokens) = try await client.token(
                    [("grant_type", "password"), ("username", "alice"), ("password", "correct horse")], basic: basic)
                try await body(server, client, try #require(tokens["access_token"] as? String), basic)
            }
        }
    }

    /// Has the bound `phone` (device `deviceID`) sign a fresh challenge: the response and body of
    /// the verification, which carry the confirmed (two-factor) tokens.
    static func confirm(_ phone: TestPhone, deviceID: String, client: any TestClientProtocol, token: String) async throws
        -> (TestResponse, [String: Any])
    {
        let (_, challenge) = try await client.postJSON("/api/user/devices/\(deviceID)/challenges", token: token)
        return try await client.postJSON(
            "/api/user/devices/\(deviceID)/challenges/\(try #require(challenge["id"] as? String))/verify", token: token,
            ["signature": try phone.signDER(try #require(challenge["stringToSign"] as? String))])
    }

    /// Binds `phone` end to end; returns the device id.
    static func bind(_ phone: TestPhone, server: TestServer, client: any TestClientProtocol, token: String) async throws -> String {
        let (created, device) = try await client.postJSON("/api/user/devices", token: token, ["name": "iPhone XS", "key": phone.publicKeyHex])
        #expect(created.status == .created)
        let deviceID = try #require(device["deviceId"] as? String)
        let challengeID = try #require(device["challengeId"] as? String)
        let (verified, _) = try await client.postJSON(
            "/api/user/devices/\(deviceID)/verify", token: token,
            ["challengeId": challengeID, "signature": try phone.signDER(try await server.latestOTP())])
        #expect(verified.status == .noContent)
        return deviceID
    }

    @Test("bind with the SMS OTP, pass a challenge, get confirmed tokens that stay confirmed on refresh")
    func bindChallengeConfirmedTokens() async throws {
        try await Self.withUserToken { server, client, token, basic in
            let phone = TestPhone()
            let deviceID = try await Self.bind(phone, server: server, client: client, token: token)

            let (created, challenge) = try await client.postJSON("/api/user/devices/\(deviceID)/challenges", token: token)
            #expect(created.status == .created)
            let challengeID = try #require(challenge["id"] as? String)
            let stringToSign = try #require(challenge["stringToSign"] as? String)
            // Raw r‖s signatures are accepted as well as DER.
            let (verified, confirmed) = try await client.postJSON(
                "/api/user/devices/\(deviceID)/challenges/\(challengeID)/verify", token: token, ["signature": try phone.signRaw(stringToSign)])
            #expect(verified.status == .ok)
            let access = try #require(confirmed["token"] as? String)
            let refresh = try #require(confirmed["refresh_token"] as? String)

            let claims = try await server.runtime.signer.verify(access)
            #expect(claims.cnf?.kid == deviceID)
            #expect(claims.acr == AccessTokenClaims.twoFactorACR)
            #expect(claims.amr == ["pwd", "hwk"])

            let (_, introspection) = try await client.token([("token", access)], basic: basic, path: "/oauth/introspect")
            #expect(introspection["active"] as? Bool == true)
            #expect((introspection["cnf"] as? [String: String])?["kid"] == deviceID)

            let (_, refreshed) = try await client.token([("grant_type", "refresh_token"), ("refresh_token", refresh)], basic: basic)
            let refreshedClaims = try await server.runtime.signer.verify(try #require(refreshed["access_token"] as? String))
            #expect(refreshedClaims.cnf?.kid == deviceID && refreshedClaims.acr == AccessTokenClaims.twoFactorACR)

            // Replaying the answered challenge is refused.
            let (replay, _) = try await client.postJSON(
                "/api/user/devices/\(deviceID)/challenges/\(challengeID)/verify", token: token, ["signature": try phone.signDER(stringToSign)])
            #expect(replay.status == .conflict)

            let devices = try await client.executeRequest(uri: "/api/user/devices", method: .get, headers: HTTP.bearer(token), body: nil)
            let list = try #require(try JSONSerialization.jsonObject(with: Data(buffer: devices.body)) as? [[String: Any]])
            #expect(list.count == 1 && list[0]["status"] as? String == "ACTIVE" && list[0]["lastUsedAt"] is String)

            // Removing the device ends its confirmed tokens, access and refresh.
            // (With the confirmed token: removing a device needs fresh two factors.)
            let removed = try await client.executeRequest(
                uri: "/api/user/devices/\(deviceID)", method: .delete, headers: HTTP.bearer(access), body: nil)
            #expect(removed.status == .noContent)
            let (_, afterRemoval) = try await client.token([("token", access)], basic: basic, path: "/oauth/introspect")
            #expect(afterRemoval["active"] as? Bool == false)
            let (refreshAfter, _) = try await client.token(
                [("grant_type", "refresh_token"), ("refresh_token", try #require(refreshed["refresh_token"] as? String))], basic: basic)
            #expect(refreshAfter.status == .badRequest)
            // The user's plain token still works: only the device's confirmation ended.
            let (_, plain) = try await client.token([("token", token)], basic: basic, path: "/oauth/introspect")
            #expect(plain["active"] as? Bool == true)
        }
    }

    @Test("wrong OTP signatures: 403 each, the 6th answer finds the challenge closed, even with the right OTP")
    func fiveWrongAnswersEndTheChallenge() async throws {
        try await Self.withUserToken { server, client, token, _ in
            let phone = TestPhone()
            let (_, device) = try await client.postJSON("/api/user/devices", token: token, ["name": "Pixel", "key": phone.publicKeyHex])
            let deviceID = try #require(device["deviceId"] as? String)
            let challengeID = try #require(device["challengeId"] as? String)
            let otp = try await server.latestOTP()
            for wrong in ["000000", "111111", "222222", "333333", "444444"] where wrong != otp {
                let (response, problem) = try await client.postJSON(
                    "/api/user/devices/\(deviceID)/verify", token: token, ["challengeId": challengeID, "signature": try phone.signDER(wrong)])
                #expect(response.status == .forbidden)
                #expect(problem["status"] as? Int == 403)
            }
            let (sixth, _) = try await client.postJSON(
                "/api/user/devices/\(deviceID)/verify", token: token, ["challengeId": challengeID, "signature": try phone.signDER(otp)])
            #expect(sixth.status == .conflict)
            #expect(try await server.runtime.store.device(id: deviceID)?.status == .created)
            #expect(try await server.runtime.store.challenge(id: challengeID)?.status == .failed)
        }
    }

    @Test("another key's signature, an expired OTP and a foreign device are refused")
    func refusals() async throws {
        try await Self.withUserToken { server, client, token, _ in
            let phone = TestPhone()
            let (_, device) = try await client.postJSON("/api/user/devices", token: token, ["name": "Pixel", "key": phone.publicKeyHex])
            let deviceID = try #require(device["deviceId"] as? String)
            let challengeID = try #require(device["challengeId"] as? String)
            let otp = try await server.latestOTP()

            let (otherKey, _) = try await client.postJSON(
                "/api/user/devices/\(deviceID)/verify", token: token, ["challengeId": challengeID, "signature": try TestPhone().signDER(otp)])
            #expect(otherKey.status == .forbidden)

            // A challenge for an unbound device cannot be created.
            let (early, _) = try await client.postJSON("/api/user/devices/\(deviceID)/challenges", token: token)
            #expect(early.status == .conflict)

            server.time.advance(by: 301)
            let (expired, _) = try await client.postJSON(
                "/api/user/devices/\(deviceID)/verify", token: token, ["challengeId": challengeID, "signature": try phone.signDER(otp)])
            #expect(expired.status == .conflict)

            let (unknown, _) = try await client.postJSON(
                "/api/user/devices/nope/verify", token: token, ["challengeId": challengeID, "signature": try phone.signDER(otp)])
            #expect(unknown.status == .notFound)
        }
    }

    @Test("another user cannot see, verify, challenge or delete my device")
    func isolation() async throws {
        try await Self.withUserToken { server, client, token, basic in
            let deviceID = try await Self.bind(TestPhone(), server: server, client: client, token: token)
            try await server.createUser("mallory", password: "mallory-password")
            let (_, tokens) = try await client.token(
                [("grant_type", "password"), ("username", "mallory"), ("password", "mallory-password")], basic: basic)
            let mallory = try #require(tokens["access_token"] as? String)
            let (challenge, _) = try await client.postJSON("/api/user/devices/\(deviceID)/challenges", token: mallory)
            #expect(challenge.status == .notFound)
            let list = try await client.executeRequest(uri: "/api/user/devices", method: .get, headers: HTTP.bearer(mallory), body: nil)
            #expect(String(buffer: list.body) == "[]")
            // Even with fresh two factors (her own device), mallory cannot delete alice's device.
            let malloryTwoFactor = try await AssuranceTests.twoFactorToken(server: server, client: client, token: mallory)
            let deleted = try await client.executeRequest(
                uri: "/api/user/devices/\(deviceID)", method: .delete, headers: HTTP.bearer(malloryTwoFactor.access), body: nil)
            #expect(deleted.status == .notFound)
            #expect(try await server.runtime.store.device(id: deviceID)?.status == .active)
        }
    }

    struct BadDeviceCall: Sendable, CustomTestStringConvertible {
        var name: String
        var body: String
        var status: HTTPResponse.Status
        var testDescription: String { name }
    }

    static let badCreates: [BadDeviceCall] = [
        .init(name: "key not hex", body: #"{"name":"x","key":"zz"}"#, status: .badRequest),
        .init(name: "key off the curve", body: #"{"name":"x","key":"04"# + String(repeating: "11", count: 64) + #""}"#, status: .badRequest),
        .init(name: "key too short", body: #"{"name":"x","key":"0401"}"#, status: .badRequest),
        .init(name: "empty name", body: #"{"name":"  ","key":"04"}"#, status: .badRequest),
        .init(name: "missing key", body: #"{"name":"x"}"#, status: .badRequest),
        .init(name: "not JSON", body: #"name=x"#, status: .badRequest),
    ]

    @Test("bad device creations get 400 problems and store nothing", arguments: badCreates)
    func badCreate(_ bad: BadDeviceCall) async throws {
        try await Self.withUserToken { server, client, token, _ in
            let response = try await client.executeRequest(
                uri: "/api/user/devices", method: .post, headers: HTTP.bearer(token, json: true), body: ByteBuffer(string: bad.body))
            #expect(response.status == bad.status)
            #expect(response.headers[.contentType] == "application/problem+json")
            #expect(try await server.count("devices") == 0)
            #expect(try await server.count("notifications") == 0)
        }
    }

    @Test("a malformed or oversized signature is a 400 and counts no attempt")
    func malformedSignature() async throws {
        try await Self.withUserToken { server, client, token, _ in
            let phone = TestPhone()
            let (_, device) = try await client.postJSON("/api/user/devices", token: token, ["name": "Pixel", "key": phone.publicKeyHex])
            let deviceID = try #require(device["deviceId"] as? String)
            let challengeID = try #require(device["challengeId"] as? String)
            for signature in ["not-hex", "3006020101020101ff", String(repeating: "30", count: 300)] {
                let (response, _) = try await client.postJSON(
                    "/api/user/devices/\(deviceID)/verify", token: token, ["challengeId": challengeID, "signature": signature])
                #expect(response.status == .badRequest)
            }
            #expect(try await server.runtime.store.challenge(id: challengeID)?.attempts == 0)
        }
    }

    @Test("a client token cannot manage devices")
    func needsUserToken() async throws {
        try await TestServer.with { server in
            let basic = HTTP.basic("shop", try await server.createClient())
            try await server.test { client in
                let (_, tokens) = try await client.token([("grant_type", "client_credentials")], basic: basic)
                let (response, _) = try await client.postJSON(
                    "/api/user/devices", token: try #require(tokens["access_token"] as? String), ["name": "x", "key": TestPhone().publicKeyHex])
                #expect(response.status == .forbidden)
            }
        }
    }

    @Test("20 concurrent answers to one challenge: exactly one gets tokens")
    func concurrentAnswers() async throws {
        try await Self.withUserToken { server, client, token, _ in
            let phone = TestPhone()
            let deviceID = try await Self.bind(phone, server: server, client: client, token: token)
            let (_, challenge) = try await client.postJSON("/api/user/devices/\(deviceID)/challenges", token: token)
            let challengeID = try #require(challenge["id"] as? String)
            let signature = try phone.signDER(try #require(challenge["stringToSign"] as? String))
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        try await client.postJSON(
                            "/api/user/devices/\(deviceID)/challenges/\(challengeID)/verify", token: token, ["signature": signature]
                        ).0.status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == .ok }.count == 1)
            #expect(statuses.allSatisfy { $0 == .ok || $0 == .conflict })
        }
    }
}

extension TestClientProtocol {
    func sendJSON(_ method: HTTPRequest.Method, _ uri: String, token: String, _ body: [String: String]? = nil) async throws -> (
        TestResponse, [String: Any]
    ) {
        let data = try body.map { try JSONSerialization.data(withJSONObject: $0) }
        let response = try await executeRequest(
            uri: uri, method: method, headers: HTTP.bearer(token, json: true), body: data.map { ByteBuffer(data: $0) })
        return (response, try HTTP.json(response.body))
    }
}

@Suite("Push MFA challenges (the push alternative)")
struct PushMFATests {
    @Test("approve on the bound device, poll VERIFIED, fetch confirmed tokens once")
    func approve() async throws {
        try await DevicesTests.withUserToken { server, client, token, _ in
            let phone = TestPhone()
            let deviceID = try await DevicesTests.bind(phone, server: server, client: client, token: token)
            let (created, challenge) = try await client.sendJSON(.post, "/api/user/mfa/challenges", token: token)
            #expect(created.status == .created)
            #expect(challenge["status"] as? String == "PENDING")
            #expect(challenge["expiresAt"] is String)
            let id = try #require(challenge["id"] as? String)
            #expect(try await server.count("notifications") == 2, "the binding SMS and one push to the one ACTIVE device")

            let (polled, pending) = try await client.sendJSON(.get, "/api/user/mfa/challenges/\(id)", token: token)
            #expect(polled.status == .ok && pending["status"] as? String == "PENDING")

            // A signature over the DENIED message cannot approve; another key cannot answer at all.
            let (mismatch, _) = try await client.sendJSON(
                .patch, "/api/user/mfa/challenges/\(id)", token: token,
                ["status": "VERIFIED", "deviceId": deviceID, "signature": try phone.signDER("\(id):DENIED")])
            #expect(mismatch.status == .forbidden)
            let (thief, _) = try await client.sendJSON(
                .patch, "/api/user/mfa/challenges/\(id)", token: token,
                ["status": "VERIFIED", "deviceId": deviceID, "signature": try TestPhone().signDER("\(id):VERIFIED")])
            #expect(thief.status == .forbidden)

            let (answered, verified) = try await client.sendJSON(
                .patch, "/api/user/mfa/challenges/\(id)", token: token,
                ["status": "VERIFIED", "deviceId": deviceID, "signature": try phone.signDER("\(id):VERIFIED")])
            #expect(answered.status == .ok && verified["status"] as? String == "VERIFIED")

            let (redeemed, tokens) = try await client.sendJSON(.post, "/api/user/mfa/challenges/\(id)/token", token: token)
            #expect(redeemed.status == .ok)
            let claims = try await server.runtime.signer.verify(try #require(tokens["token"] as? String))
            #expect(claims.cnf?.kid == deviceID && claims.amr == ["pwd", "hwk"])
            let (again, _) = try await client.sendJSON(.post, "/api/user/mfa/challenges/\(id)/token", token: token)
            #expect(again.status == .conflict, "the tokens are handed out once")
        }
    }

    @Test("a denial is final; an unanswered challenge expires; no bound device, no push")
    func denyAndExpire() async throws {
        try await DevicesTests.withUserToken { server, client, token, _ in
            let (none, _) = try await client.sendJSON(.post, "/api/user/mfa/challenges", token: token)
            #expect(none.status == .notFound)

            let phone = TestPhone()
            let deviceID = try await DevicesTests.bind(phone, server: server, client: client, token: token)
            let (_, first) = try await client.sendJSON(.post, "/api/user/mfa/challenges", token: token)
            let denyID = try #require(first["id"] as? String)
            let (denied, body) = try await client.sendJSON(
                .patch, "/api/user/mfa/challenges/\(denyID)", token: token,
                ["status": "DENIED", "deviceId": deviceID, "signature": try phone.signDER("\(denyID):DENIED")])
            #expect(denied.status == .ok && body["status"] as? String == "DENIED")
            let (token1, _) = try await client.sendJSON(.post, "/api/user/mfa/challenges/\(denyID)/token", token: token)
            #expect(token1.status == .conflict)
            let (flip, _) = try await client.sendJSON(
                .patch, "/api/user/mfa/challenges/\(denyID)", token: token,
                ["status": "VERIFIED", "deviceId": deviceID, "signature": try phone.signDER("\(denyID):VERIFIED")])
            #expect(flip.status == .conflict)

            let (_, second) = try await client.sendJSON(.post, "/api/user/mfa/challenges", token: token)
            let lateID = try #require(second["id"] as? String)
            server.time.advance(by: 301)
            let (_, expired) = try await client.sendJSON(.get, "/api/user/mfa/challenges/\(lateID)", token: token)
            #expect(expired["status"] as? String == "EXPIRED")
            let (late, _) = try await client.sendJSON(
                .patch, "/api/user/mfa/challenges/\(lateID)", token: token,
                ["status": "VERIFIED", "deviceId": deviceID, "signature": try phone.signDER("\(lateID):VERIFIED")])
            #expect(late.status == .conflict)

            let (bad, _) = try await client.sendJSON(
                .patch, "/api/user/mfa/challenges/\(lateID)", token: token, ["status": "MAYBE", "deviceId": deviceID, "signature": "00"])
            #expect(bad.status == .badRequest)
        }
    }
}

@Suite("Binding is itself protected: approval by a bound device (RTS art. 24) and a per-user binding lock")
struct BindingProtectionTests {
    @Test("a second device waits in PENDING_COMMIT until an ACTIVE device approves it with its key")
    func secondDeviceNeedsApproval() async throws {
        try await DevicesTests.withUserToken { server, client, token, _ in
            let first = TestPhone()
            let firstID = try await DevicesTests.bind(first, server: server, client: client, token: token)

            let second = TestPhone()
            let secondID = try await DevicesTests.bind(second, server: server, client: client, token: token)
            #expect(try await server.runtime.store.device(id: secondID)?.status == .pendingCommit)
            let (early, _) = try await client.postJSON("/api/user/devices/\(secondID)/challenges", token: token)
            #expect(early.status == .conflict, "a device awaiting approval cannot pass MFA")
            #expect(try await server.count("notifications") == 3, "two SMS and one push asking the first device to approve")

            // Approving needs fresh two factors: a token confirmed by the first device.
            let (_, confirmed) = try await DevicesTests.confirm(first, deviceID: firstID, client: client, token: token)
            let twoFactor = try #require(confirmed["token"] as? String)

            let message = DeviceService.approvalMessage(deviceID: secondID, publicKeyHex: second.publicKeyHex)
            let (selfApproval, _) = try await client.postJSON(
                "/api/user/devices/\(secondID)/approve", token: twoFactor, ["approverDeviceId": secondID, "signature": try second.signDER(message)])
            #expect(selfApproval.status == .notFound, "a device cannot approve itself")
            let (forged, _) = try await client.postJSON(
                "/api/user/devices/\(secondID)/approve", token: twoFactor,
                ["approverDeviceId": firstID, "signature": try TestPhone().signDER(message)])
            #expect(forged.status == .forbidden)
            let otherMessage = DeviceService.approvalMessage(deviceID: secondID, publicKeyHex: TestPhone().publicKeyHex)
            let (wrongKey, _) = try await client.postJSON(
                "/api/user/devices/\(secondID)/approve", token: twoFactor,
                ["approverDeviceId": firstID, "signature": try first.signDER(otherMessage)])
            #expect(wrongKey.status == .forbidden, "an approval names the key it approves")

            let (approved, _) = try await client.postJSON(
                "/api/user/devices/\(secondID)/approve", token: twoFactor, ["approverDeviceId": firstID, "signature": try first.signDER(message)])
            #expect(approved.status == .noContent)
            #expect(try await server.runtime.store.device(id: secondID)?.status == .active)
            let (again, _) = try await client.postJSON(
                "/api/user/devices/\(secondID)/approve", token: twoFactor, ["approverDeviceId": firstID, "signature": try first.signDER(message)])
            #expect(again.status == .conflict)
        }
    }

    @Test("with approval switched off, a second device is ACTIVE at once")
    func approvalOff() async throws {
        try await DevicesTests.withUserToken(["devices.requireApproval": .bool(false)]) { server, client, token, _ in
            _ = try await DevicesTests.bind(TestPhone(), server: server, client: client, token: token)
            let secondID = try await DevicesTests.bind(TestPhone(), server: server, client: client, token: token)
            #expect(try await server.runtime.store.device(id: secondID)?.status == .active)
        }
    }

    @Test("wrong binding answers count per user across challenges; at the limit binding is blocked until the lock ends")
    func bindingLock() async throws {
        try await DevicesTests.withUserToken(["devices.bindingMaxFailures": .int(3), "devices.bindingLockSeconds": .int(600)]) {
            server, client, token, _ in
            let phone = TestPhone()
            var lastOTP = ""
            for round in 0..<3 {
                let (_, device) = try await client.postJSON("/api/user/devices", token: token, ["name": "try \(round)", "key": phone.publicKeyHex])
                let deviceID = try #require(device["deviceId"] as? String)
                let challengeID = try #require(device["challengeId"] as? String)
                lastOTP = try await server.latestOTP()
                let (wrong, _) = try await client.postJSON(
                    "/api/user/devices/\(deviceID)/verify", token: token,
                    ["challengeId": challengeID, "signature": try phone.signDER(lastOTP == "123456" ? "654321" : "123456")])
                #expect(wrong.status == .forbidden, "round \(round)")
            }
            let (blocked, _) = try await client.postJSON("/api/user/devices", token: token, ["name": "blocked", "key": phone.publicKeyHex])
            #expect(blocked.status == .tooManyRequests)

            server.time.advance(by: 601)
            let deviceID = try await DevicesTests.bind(phone, server: server, client: client, token: token)
            #expect(try await server.runtime.store.device(id: deviceID)?.status == .active)
        }
    }
}
