import Configuration
import Foundation
import HTTPTypes
import HummingbirdTesting
import StrongAuthCore
import StrongAuthServer
import Testing

/// SMS pumping (SECURITY.md): every OTP SMS the server sends is counted per user and per phone
/// number, and a user cannot pile up unfinished devices.
@Suite("OTP SMS caps and the pending-device cap")
struct SMSCapTests {
    /// The messages written to the file channel so far (the outbox delivered first).
    static func sentMessages(_ server: TestServer) async throws -> [String] {
        try await server.deliveredNotifications().map { try #require($0["message"]) }
    }

    /// A 429 in the Kontist face's format with a `Retry-After` of at most `limit` seconds.
    static func expectTooMany(_ response: TestResponse, atMost limit: Int) throws {
        #expect(response.status == .tooManyRequests)
        #expect(response.headers[.contentType] == "application/problem+json")
        let retryAfter = try #require(response.headers[.retryAfter].flatMap { Int($0) })
        #expect((1...limit).contains(retryAfter))
        let body = try HTTP.json(response.body)
        #expect(body["status"] as? Int == 429)
    }

    @Test("12 bindings in a few seconds send sms.otpPerUserPerHour SMS (5 by default); the rest are 429 with Retry-After and send nothing")
    func perUserCap() async throws {
        try await DevicesTests.withUserToken(["devices.maxPendingPerUser": .int(50)]) { server, client, token, basic in
            var statuses: [HTTPResponse.Status] = []
            for _ in 0..<12 {
                let (response, _) = try await client.postJSON("/api/user/devices", token: token, ["name": "Phone", "key": TestPhone().publicKeyHex])
                statuses.append(response.status)
                if response.status == .tooManyRequests { try Self.expectTooMany(response, atMost: 3600) }
            }
            #expect(statuses == Array(repeating: .created, count: 5) + Array(repeating: .tooManyRequests, count: 7))
            #expect(try await Self.sentMessages(server).count == 5)
            #expect(try await server.count("devices") == 5)

            // After the hour the user gets codes again (with a fresh token: the first has expired).
            server.time.advance(by: 3601)
            let (_, tokens) = try await client.token(
                [("grant_type", "password"), ("username", "alice"), ("password", "correct horse")], basic: basic)
            let fresh = try #require(tokens["access_token"] as? String)
            let (again, _) = try await client.postJSON("/api/user/devices", token: fresh, ["name": "Phone", "key": TestPhone().publicKeyHex])
            #expect(again.status == .created)
        }
    }

    @Test("a phone number gets at most sms.otpPerPhonePerHour codes, whichever user asks and for what (binding or step-up)")
    func perPhoneCap() async throws {
        try await TestServer.with(["sms.otpPerUserPerHour": .int(10), "sms.otpPerPhonePerHour": .int(3)]) { server in
            // Every test user has the same phone number.
            let basic = HTTP.basic("shop", try await server.createClient())
            _ = try await server.createUser("alice")
            _ = try await server.createUser("bob")
            try await server.test { client in
                for (user, count) in [("alice", 2), ("bob", 1)] {
                    let (_, tokens) = try await client.token(
                        [("grant_type", "password"), ("username", user), ("password", "correct horse")], basic: basic)
                    let token = try #require(tokens["access_token"] as? String)
                    for _ in 0..<count {
                        let (created, _) = try await client.postJSON(
                            "/api/user/devices", token: token, ["name": "Phone", "key": TestPhone().publicKeyHex])
                        #expect(created.status == .created)
                    }
                }
                let (_, tokens) = try await client.token(
                    [("grant_type", "password"), ("username", "bob"), ("password", "correct horse")], basic: basic)
                let (refused, _) = try await client.postJSON(
                    "/api/user/devices", token: try #require(tokens["access_token"] as? String), ["name": "Phone", "key": TestPhone().publicKeyHex])
                try Self.expectTooMany(refused, atMost: 3600)

                // The self-service step-up SMS draws on the same budget of the number.
                var browser = Browser(client: client)
                _ = try await browser.signInUser("bob", "correct horse")
                let csrf = try #require(try await browser.get("/self-service/account").csrf)
                let stepUp = try await browser.post("/self-service/account/delete", ["_csrf": csrf])
                #expect(stepUp.status == .tooManyRequests)
                #expect(stepUp.headers[.retryAfter].flatMap { Int($0) }.map { (1...3600).contains($0) } == true)
            }
            #expect(try await Self.sentMessages(server).count == 3)
        }
    }

    @Test("at most devices.maxPendingPerUser (3) unfinished devices per user; removing one or letting it lapse frees a place")
    func pendingCap() async throws {
        try await DevicesTests.withUserToken { server, client, token, _ in
            var deviceIDs: [String] = []
            for _ in 0..<3 {
                let (created, body) = try await client.postJSON(
                    "/api/user/devices", token: token, ["name": "Phone", "key": TestPhone().publicKeyHex])
                #expect(created.status == .created)
                deviceIDs.append(try #require(body["deviceId"] as? String))
            }
            let (refused, _) = try await client.postJSON("/api/user/devices", token: token, ["name": "Phone", "key": TestPhone().publicKeyHex])
            // A place frees when the oldest binding can no longer finish: OTP plus approval lifetime.
            try Self.expectTooMany(refused, atMost: 600)
            #expect(try await Self.sentMessages(server).count == 3)

            // Removed (by its owner, with a confirmed token or in self-service): its place is free.
            let first = try #require(try await server.runtime.store.device(id: deviceIDs[0]))
            try await server.runtime.devices.removeDevice(userID: first.userID, deviceID: first.id, source: nil)
            let (afterRemoval, _) = try await client.postJSON("/api/user/devices", token: token, ["name": "Phone", "key": TestPhone().publicKeyHex])
            #expect(afterRemoval.status == .created)
            let (full, _) = try await client.postJSON("/api/user/devices", token: token, ["name": "Phone", "key": TestPhone().publicKeyHex])
            try Self.expectTooMany(full, atMost: 600)

            server.time.advance(by: 601)
            let (afterLapse, _) = try await client.postJSON("/api/user/devices", token: token, ["name": "Phone", "key": TestPhone().publicKeyHex])
            #expect(afterLapse.status == .created)
            #expect(try await Self.sentMessages(server).count == 5)
        }
    }

    @Test("the binding SMS carries no caller-chosen text: not the device name")
    func noDeviceNameInSMS() async throws {
        try await DevicesTests.withUserToken { server, client, token, _ in
            let name = "WIN A PRIZE call +44 909 879 0000"
            let (created, _) = try await client.postJSON("/api/user/devices", token: token, ["name": name, "key": TestPhone().publicKeyHex])
            #expect(created.status == .created)
            let message = try #require(try await Self.sentMessages(server).last)
            #expect(!message.contains("PRIZE"))
            #expect(!message.contains("909"))
            #expect(message.firstMatch(of: #/ is (\d{6})\./#) != nil)
        }
    }
}

@Suite("OTP SMS cap settings")
struct SMSCapSettingsTests {
    static func settings(_ environment: [String: String]) async throws -> ServerSettings {
        try ServerSettings(reader: try await ServerSettings.reader(flags: [:], environment: environment))
    }

    @Test("sms.otpPerUserPerHour, sms.otpPerPhonePerHour (5) and devices.maxPendingPerUser (3) by default; set by env; 0 is refused")
    func capSettings() async throws {
        let defaults = try await Self.settings([:])
        #expect(defaults.devices.sms == SMSLimits(perUser: 5, perPhone: 5, window: 3600))
        #expect(defaults.devices.maxPendingPerUser == 3)
        let set = try await Self.settings([
            "STRONGAUTH_SMS_OTP_PER_USER_PER_HOUR": "7", "STRONGAUTH_SMS_OTP_PER_PHONE_PER_HOUR": "9", "STRONGAUTH_DEVICES_MAX_PENDING_PER_USER": "2",
        ])
        #expect(set.devices.sms == SMSLimits(perUser: 7, perPhone: 9, window: 3600))
        #expect(set.devices.maxPendingPerUser == 2)
        for bad in ["STRONGAUTH_SMS_OTP_PER_USER_PER_HOUR", "STRONGAUTH_SMS_OTP_PER_PHONE_PER_HOUR", "STRONGAUTH_DEVICES_MAX_PENDING_PER_USER"] {
            await #expect(throws: SettingsError.self) { try await Self.settings([bad: "0"]) }
        }
    }
}
