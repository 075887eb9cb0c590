import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import StrongAuthCore
import StrongAuthProtocol
import StrongAuthServer
import Testing

/// Self-service: a password sign-in is one factor. Activating a new device or removing
/// one first asks for a second factor — an approval pushed to a bound device, or an SMS OTP for a
/// user without one — and a password-only session never yields an ACTIVE device.
@Suite("Self-service step-up")
struct SelfServiceStepUpTests {
    /// What a bound ECDSA phone signs to approve an approval: the core's message, which binds the
    /// approval's id and its exact data (SECURITY.md).
    static func approvalMessage(id: String, data: String) -> String { ApprovalService.approvalMessage(id: id, data: data) }

    /// The user's registrations that the key exchange turned ACTIVE (or that are ACTIVE otherwise).
    static func activeRegistrations(_ server: TestServer, _ username: String) async throws -> Int {
        try await server.runtime.store.registrations(realm: "default", externalUserID: username, includeRemoved: false)
            .filter { $0.status(at: server.time.now()) == .active }.count
    }

    /// Runs the key exchange with every activation code the user's registrations offer (what an
    /// attacker with the password would do with the code on the page).
    static func exchangeEveryCode(_ server: TestServer, _ username: String, _ application: OpenedApplication) async throws {
        for registration in try await server.runtime.store.registrations(realm: "default", externalUserID: username, includeRemoved: false) {
            guard let code = registration.activation.activationCode else { continue }
            _ = try? await server.activate(code: code, application: application)
        }
    }

    @Test("attack 1: password sign-in → activate → key exchange yields no ACTIVE device, with or without a bound device")
    func passwordAloneYieldsNoActiveDevice() async throws {
        try await TestServer.with { server in
            let alice = try await server.createUser("alice")
            _ = try await server.createUser("bob")
            _ = try await server.activeDevice(userID: alice.id)  // alice has a bound phone; bob has none
            let (application, _) = try await server.powerAuthSetup()
            try await server.test { client in
                for username in ["alice", "bob"] {
                    var browser = Browser(client: client)
                    #expect(try await browser.signInUser(username, "correct horse").status == .seeOther)
                    let csrf = try #require(try await browser.get("/self-service").csrf)
                    let made = try await browser.post("/self-service/devices", ["_csrf": csrf, "applicationId": "my-application"])
                    #expect(made.status == .seeOther)
                    if let location = made.headers[.location] { _ = try await browser.get(location) }
                    try await Self.exchangeEveryCode(server, username, application)
                    #expect(try await Self.activeRegistrations(server, username) == 0, "\(username)")
                    #expect(made.headers[.location] == "/self-service/step-up", "\(username)")
                }
            }
        }
    }

    @Test("the approval pushed to the bound device: shown with its text, approved with the device's signature, then the activation proceeds once")
    func approvalByBoundDevice() async throws {
        try await DevicesTests.withUserToken { server, client, token, _ in
            let phone = TestPhone()
            let deviceID = try await DevicesTests.bind(phone, server: server, client: client, token: token)
            let (application, _) = try await server.powerAuthSetup()
            var browser = Browser(client: client)
            _ = try await browser.signInUser("alice", "correct horse")
            let csrf = try #require(try await browser.get("/self-service").csrf)
            let pushesBefore = try await server.count("notifications")
            let made = try await browser.post("/self-service/devices", ["_csrf": csrf, "applicationId": "my-application"])
            #expect(made.headers[.location] == "/self-service/step-up")
            #expect(try await server.count("notifications") == pushesBefore + 1)  // the push to the bound phone
            #expect(try await server.runtime.store.registrations(realm: "default", externalUserID: "alice", includeRemoved: false).isEmpty)

            let waiting = try await browser.get("/self-service/step-up")
            #expect(waiting.status == .ok)
            #expect(waiting.text.contains("id=\"step-up-status\">PENDING"))
            #expect(waiting.text.contains("http-equiv=\"refresh\""))
            #expect(waiting.text.contains("Activate a new device in self-service"))
            // Continuing before the device decided changes nothing.
            #expect(try await browser.post("/self-service/step-up/continue", ["_csrf": csrf]).status == .conflict)

            let list = try await client.executeRequest(uri: "/api/user/approvals", method: .get, headers: HTTP.bearer(token), body: nil)
            let pending = try #require(try JSONSerialization.jsonObject(with: Data(buffer: list.body)) as? [[String: Any]])
            let approval = try #require(pending.first)
            let approvalID = try #require(approval["id"] as? String)
            let data = try #require(approval["data"] as? String)
            #expect(data.contains("Activate a new device in self-service"))
            // Another key's signature is refused; the bound phone's is accepted.
            let (stranger, _) = try await client.postJSON(
                "/api/user/approvals/\(approvalID)/approve", token: token,
                ["deviceId": deviceID, "data": data, "signature": try TestPhone().signDER(Self.approvalMessage(id: approvalID, data: data))])
            #expect(stranger.status == .forbidden)
            #expect(try await browser.post("/self-service/step-up/continue", ["_csrf": csrf]).status == .conflict)
            let (approved, _) = try await client.postJSON(
                "/api/user/approvals/\(approvalID)/approve", token: token,
                ["deviceId": deviceID, "data": data, "signature": try phone.signDER(Self.approvalMessage(id: approvalID, data: data))])
            #expect(approved.status == .ok)
            #expect(try await browser.get("/self-service/step-up").text.contains("id=\"step-up-continue\""))

            let done = try await browser.post("/self-service/step-up/continue", ["_csrf": csrf])
            #expect(done.status == .seeOther)
            let location = try #require(done.headers[.location])
            #expect(location.hasPrefix("/self-service/devices/") && location.hasSuffix("?done=created"))
            #expect(try await browser.get(location).text.contains("data:image/svg+xml;base64,"))
            try await Self.exchangeEveryCode(server, "alice", application)
            #expect(try await Self.activeRegistrations(server, "alice") == 1)
            // The approval raised the session once: continuing again makes no second registration.
            #expect(try await browser.post("/self-service/step-up/continue", ["_csrf": csrf]).status == .conflict)
            #expect(try await server.runtime.store.registrations(realm: "default", externalUserID: "alice", includeRemoved: false).count == 1)
            // The next new device needs its own approval, even on this two-factor session.
            #expect(
                try await browser.post("/self-service/devices", ["_csrf": csrf, "applicationId": "my-application"]).headers[.location]
                    == "/self-service/step-up")
        }
    }

    @Test("a bound PowerAuth phone sees the step-up in the mobile token API and approves it with its signature")
    func approvalByPowerAuthPhone() async throws {
        try await TestServer.with { server in
            _ = try await server.createUser("alice")
            let (application, basic) = try await server.powerAuthSetup()
            try await server.test { client in
                let (_, created) = try await client.integration(
                    .post, "/powerauth-cloud/v2/registrations", basic: basic, ["userId": "alice", "appId": "my-application"])
                var phone = try await server.activate(code: try #require(created["activationCode"] as? String), application: application)
                _ = try await client.integration(.post, "/powerauth-cloud/v2/registrations/\(phone.registrationID)/commit", basic: basic, [:])
                #expect(try await Self.activeRegistrations(server, "alice") == 1)

                var browser = Browser(client: client)
                _ = try await browser.signInUser("alice", "correct horse")
                let csrf = try #require(try await browser.get("/self-service").csrf)
                #expect(
                    try await browser.post("/self-service/devices", ["_csrf": csrf, "applicationId": "my-application"]).headers[.location]
                        == "/self-service/step-up")

                let registration = try #require(try await server.runtime.store.registration(id: phone.registrationID))
                let token = try await server.runtime.powerAuth.createToken(for: registration, signatureType: "possession")
                let nonce = SecureRandom.bytes(16)
                let timestamp = UInt64(server.time.now().epochMilliseconds)
                let digest = PowerAuthTokenDigest.compute(tokenSecret: token.secret, nonce: nonce, timestamp: timestamp, version: .v3_1)
                let tokenHeader = PowerAuthTokenHeader(tokenID: token.id, tokenDigest: digest, nonce: nonce, timestamp: timestamp, version: .v3_1)
                let (_, list) = try await PowerAuthOperationsTests.mobile(
                    client, "/list", header: ("X-PowerAuth-Token", tokenHeader.headerValue), body: Array("{}".utf8))
                let operation = try #require((list["responseObject"] as? [[String: Any]])?.first)
                let id = try #require(operation["id"] as? String)
                let data = try #require(operation["data"] as? String)
                #expect((operation["formData"] as? [String: Any])?["message"] as? String == "Activate a new device in self-service")
                let body = try PowerAuthOperationsTests.json(["requestObject": ["id": id, "data": data]])
                let (authorized, _) = try await PowerAuthOperationsTests.mobile(
                    client, "/authorize", header: ("X-PowerAuth-Authorization", phone.sign(uriID: "/operation/authorize", body: body)), body: body)
                #expect(authorized.status == .ok)

                let done = try await browser.post("/self-service/step-up/continue", ["_csrf": csrf])
                #expect(done.headers[.location]?.hasSuffix("?done=created") == true)
                try await Self.exchangeEveryCode(server, "alice", application)
                #expect(try await Self.activeRegistrations(server, "alice") == 2)
            }
        }
    }

    @Test("a rejected approval refuses the activation")
    func rejectedApproval() async throws {
        try await DevicesTests.withUserToken { server, client, token, _ in
            let phone = TestPhone()
            let deviceID = try await DevicesTests.bind(phone, server: server, client: client, token: token)
            _ = try await server.powerAuthSetup()
            var browser = Browser(client: client)
            _ = try await browser.signInUser("alice", "correct horse")
            let csrf = try #require(try await browser.get("/self-service").csrf)
            _ = try await browser.post("/self-service/devices", ["_csrf": csrf, "applicationId": "my-application"])
            let aliceID = try #require(try await server.runtime.store.user(realm: "default", username: "alice")).id
            let approvalID = try #require(try await server.runtime.approvals.pending(userID: aliceID).first?.id)
            let (rejected, _) = try await client.postJSON(
                "/api/user/approvals/\(approvalID)/reject", token: token,
                ["deviceId": deviceID, "signature": try phone.signDER(ApprovalService.rejectionMessage(id: approvalID)), "reason": "NOT_ME"])
            #expect(rejected.status == .ok)
            #expect(try await browser.get("/self-service/step-up").text.contains("id=\"step-up-status\">REJECTED"))
            #expect(try await browser.post("/self-service/step-up/continue", ["_csrf": csrf]).status == .forbidden)
            #expect(try await server.runtime.store.registrations(realm: "default", externalUserID: "alice", includeRemoved: false).isEmpty)
        }
    }

    @Test("without a device: an SMS OTP; 5 wrong codes close it (the right one is refused after), a new code proceeds")
    func smsOTP() async throws {
        try await TestServer.with { server in
            _ = try await server.createUser("bob")
            let (application, _) = try await server.powerAuthSetup()
            try await server.test { client in
                var browser = Browser(client: client)
                _ = try await browser.signInUser("bob", "correct horse")
                let csrf = try #require(try await browser.get("/self-service").csrf)
                #expect(
                    try await browser.post("/self-service/devices", ["_csrf": csrf, "applicationId": "my-application"]).headers[.location]
                        == "/self-service/step-up")
                let page = try await browser.get("/self-service/step-up")
                #expect(page.text.contains("id=\"otp\""))
                #expect(page.text.contains("5678"))
                #expect(!page.text.contains("+4915112345678"))
                let otp = try await server.latestOTP()
                for wrong in ["000000", "111111", "222222", "333333", "444444", "555555"].filter({ $0 != otp }).prefix(5) {
                    #expect(try await browser.post("/self-service/step-up/otp", ["_csrf": csrf, "otp": wrong]).status == .unauthorized)
                }
                #expect(try await browser.post("/self-service/step-up/otp", ["_csrf": csrf, "otp": otp]).status == .forbidden)
                #expect(try await server.runtime.store.registrations(realm: "default", externalUserID: "bob", includeRemoved: false).isEmpty)

                _ = try await browser.post("/self-service/devices", ["_csrf": csrf, "applicationId": "my-application"])
                let fresh = try await server.latestOTP()
                let done = try await browser.post("/self-service/step-up/otp", ["_csrf": csrf, "otp": fresh])
                #expect(done.status == .seeOther)
                #expect(done.headers[.location]?.hasSuffix("?done=created") == true)
                try await Self.exchangeEveryCode(server, "bob", application)
                #expect(try await Self.activeRegistrations(server, "bob") == 1)
                // The code is spent.
                #expect(try await browser.post("/self-service/step-up/otp", ["_csrf": csrf, "otp": fresh]).status == .conflict)
            }
            let failures = try await server.runtime.backOffice.auditEvents(realm: "default", limit: 200).filter {
                $0.record.action.rawValue == "selfservice.stepup" && $0.record.outcome == .failure
            }
            #expect(failures.filter { $0.record.details["reason"] == "wrong_code" }.count == 5)
        }
    }

    @Test("an expired step-up is refused: the SMS code and the approved approval, while the session lives on")
    func expiredStepUp() async throws {
        try await DevicesTests.withUserToken { server, client, token, _ in
            _ = try await server.createUser("bob")
            _ = try await server.powerAuthSetup()
            var bob = Browser(client: client)
            _ = try await bob.signInUser("bob", "correct horse")
            let bobCSRF = try #require(try await bob.get("/self-service").csrf)
            _ = try await bob.post("/self-service/devices", ["_csrf": bobCSRF, "applicationId": "my-application"])
            let otp = try await server.latestOTP()

            let phone = TestPhone()
            let deviceID = try await DevicesTests.bind(phone, server: server, client: client, token: token)
            var alice = Browser(client: client)
            _ = try await alice.signInUser("alice", "correct horse")
            let aliceCSRF = try #require(try await alice.get("/self-service").csrf)
            _ = try await alice.post("/self-service/devices", ["_csrf": aliceCSRF, "applicationId": "my-application"])
            let aliceID = try #require(try await server.runtime.store.user(realm: "default", username: "alice")).id
            let approval = try #require(try await server.runtime.approvals.pending(userID: aliceID).first)
            let (approved, _) = try await client.postJSON(
                "/api/user/approvals/\(approval.id)/approve", token: token,
                [
                    "deviceId": deviceID, "data": approval.data,
                    "signature": try phone.signDER(Self.approvalMessage(id: approval.id, data: approval.data)),
                ])
            #expect(approved.status == .ok)

            // Both sessions stay alive (each request moves the idle expiry), the step-ups run out.
            server.time.advance(by: 200)
            #expect(try await bob.get("/self-service").status == .ok)
            #expect(try await alice.get("/self-service").status == .ok)
            server.time.advance(by: 150)
            #expect(try await bob.post("/self-service/step-up/otp", ["_csrf": bobCSRF, "otp": otp]).status == .forbidden)
            #expect(try await alice.post("/self-service/step-up/continue", ["_csrf": aliceCSRF]).status == .forbidden)
            #expect(try await server.runtime.store.registrations(realm: "default", externalUserID: "bob", includeRemoved: false).isEmpty)
            #expect(try await server.runtime.store.registrations(realm: "default", externalUserID: "alice", includeRemoved: false).isEmpty)
        }
    }

    @Test("no device and no phone: activation is refused with what to do; nothing is created")
    func noPhoneNoDevice() async throws {
        try await TestServer.with { server in
            _ = try await server.runtime.administration.createUser(
                username: "carol", password: "correct horse", phone: nil, email: nil, ownerClientID: nil, actor: "test")
            _ = try await server.powerAuthSetup()
            try await server.test { client in
                var browser = Browser(client: client)
                _ = try await browser.signInUser("carol", "correct horse")
                let csrf = try #require(try await browser.get("/self-service").csrf)
                let refused = try await browser.post("/self-service/devices", ["_csrf": csrf, "applicationId": "my-application"])
                #expect(refused.status == .conflict)
                #expect(refused.text.contains("ask your bank to register your phone number"))
            }
            #expect(try await server.runtime.store.registrations(realm: "default", externalUserID: "carol", includeRemoved: false).isEmpty)
            #expect(try await server.count("challenges") == 0)
        }
    }

    @Test("removing needs the second factor, which then holds for max_age; blocking stays one-factor")
    func removeWithStepUp() async throws {
        try await DevicesTests.withUserToken { server, client, token, _ in
            let phone = TestPhone()
            let bound = try await DevicesTests.bind(phone, server: server, client: client, token: token)
            let aliceID = try #require(try await server.runtime.store.user(realm: "default", username: "alice")).id
            let spare = try await server.activeDevice(userID: aliceID)
            let third = try await server.activeDevice(userID: aliceID)
            var browser = Browser(client: client)
            _ = try await browser.signInUser("alice", "correct horse")
            let csrf = try #require(try await browser.get("/self-service").csrf)
            #expect(
                try await browser.post("/self-service/devices/\(third)/block", ["_csrf": csrf, "reason": "USER_REQUEST"]).headers[.location]
                    == "/self-service?done=blocked")

            #expect(try await browser.post("/self-service/devices/\(spare)/remove", ["_csrf": csrf]).headers[.location] == "/self-service/step-up")
            #expect(try await server.runtime.store.device(id: spare)?.status == .active)
            let approval = try #require(try await server.runtime.approvals.pending(userID: aliceID).first)
            #expect(approval.data.contains("Remove the device \(spare.prefix(8))"))
            _ = try await client.postJSON(
                "/api/user/approvals/\(approval.id)/approve", token: token,
                [
                    "deviceId": bound, "data": approval.data,
                    "signature": try phone.signDER(Self.approvalMessage(id: approval.id, data: approval.data)),
                ])
            #expect(try await browser.post("/self-service/step-up/continue", ["_csrf": csrf]).headers[.location] == "/self-service?done=removed")
            #expect(try await server.runtime.store.device(id: spare)?.status == .removed)

            // Within max_age the session is two-factor: the next removal proceeds at once …
            server.time.advance(by: 200)
            #expect(
                try await browser.post("/self-service/devices/\(third)/remove", ["_csrf": csrf]).headers[.location] == "/self-service?done=removed")
            // … after it, a step-up again.
            server.time.advance(by: 150)
            #expect(try await browser.get("/self-service").status == .ok)
            #expect(try await browser.post("/self-service/devices/\(bound)/remove", ["_csrf": csrf]).headers[.location] == "/self-service/step-up")
            #expect(try await server.runtime.store.device(id: bound)?.status == .active)
        }
    }
}
