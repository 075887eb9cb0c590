import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import StrongAuthCore
import StrongAuthServer
import Testing

/// Self-service account actions: deleting the account, changing the password and
/// changing the phone number need fresh two factors (`AssurancePolicy`); a password sign-in first
/// gets the step-up (an approval pushed to a bound device, or an SMS OTP), and the step-up SMS
/// per user are limited.
@Suite("Self-service account actions")
struct SelfServiceAccountTests {
    /// Approves alice's pending step-up approval with the bound `phone` (device `deviceID`).
    static func approvePending(
        _ server: TestServer, _ client: any TestClientProtocol, token: String, phone: TestPhone, deviceID: String, expecting text: String
    ) async throws {
        let aliceID = try #require(try await server.runtime.store.user(realm: "default", username: "alice")).id
        let approval = try #require(try await server.runtime.approvals.pending(userID: aliceID).first)
        #expect(approval.data.contains(text))
        let (approved, _) = try await client.postJSON(
            "/api/user/approvals/\(approval.id)/approve", token: token,
            [
                "deviceId": deviceID, "data": approval.data,
                "signature": try phone.signDER(SelfServiceStepUpTests.approvalMessage(id: approval.id, data: approval.data)),
            ])
        #expect(approved.status == .ok)
    }

    @Test("the actions map to the policy's rows, which need fresh two factors; the texts say what is done")
    func policyRows() {
        let policy = AssurancePolicy.default
        let actions: [(SelfServiceAction, SensitiveAction)] = [
            (.deleteAccount, .deleteAccount), (.changePassword, .changePassword), (.changePhoneNumber("+4917012345678"), .changePhoneNumber),
        ]
        for (action, row) in actions {
            #expect(action.policyAction == row)
            #expect(policy.requirement(for: row) == policy.freshTwoFactor)
            #expect(SelfServiceAction(name: action.name, target: action.target) == action)
        }
        #expect(SelfServiceAction.deleteAccount.text == "Delete your account")
        // Irreversible: confirmed by a step-up of its own even on a freshly raised session.
        #expect(SelfServiceAction.deleteAccount.needsOwnStepUp)
        #expect(!SelfServiceAction.changePassword.needsOwnStepUp && !SelfServiceAction.changePhoneNumber("+4917012345678").needsOwnStepUp)
        #expect(SelfServiceAction.changePhoneNumber("+4917012345678").text == "Change the phone number to +49…78")
    }

    @Test("delete: a password session gets the step-up; the bound device approves; devices, tokens and sessions go, the username is free")
    func deleteAccountAfterApproval() async throws {
        try await DevicesTests.withUserToken { server, client, token, basic in
            let phone = TestPhone()
            let deviceID = try await DevicesTests.bind(phone, server: server, client: client, token: token)
            let (_, tokens) = try await client.token(
                [("grant_type", "password"), ("username", "alice"), ("password", "correct horse")], basic: basic)
            let refresh = try #require(tokens["refresh_token"] as? String)
            var other = Browser(client: client)
            _ = try await other.signInUser("alice", "correct horse")
            var browser = Browser(client: client)
            _ = try await browser.signInUser("alice", "correct horse")
            let page = try await browser.get("/self-service/account")
            #expect(page.status == .ok)
            #expect(page.text.contains("id=\"delete-account\""))
            let csrf = try #require(page.csrf)

            // One factor: nothing is deleted, the step-up starts.
            let asked = try await browser.post("/self-service/account/delete", ["_csrf": csrf])
            #expect(asked.headers[.location] == "/self-service/step-up")
            #expect(try await server.runtime.store.user(realm: "default", username: "alice") != nil)
            #expect(try await browser.get("/self-service/step-up").text.contains("Delete your account"))
            // Continuing before the device decided deletes nothing.
            #expect(try await browser.post("/self-service/step-up/continue", ["_csrf": csrf]).status == .conflict)
            #expect(try await server.runtime.store.user(realm: "default", username: "alice") != nil)

            try await Self.approvePending(server, client, token: token, phone: phone, deviceID: deviceID, expecting: "Delete your account")
            let aliceID = try #require(try await server.runtime.store.user(realm: "default", username: "alice")).id
            let done = try await browser.post("/self-service/step-up/continue", ["_csrf": csrf])
            #expect(done.status == .seeOther)
            #expect(done.headers[.location] == "/self-service/login?done=deleted")
            // Signed out: the cookie is cleared (the session row is gone already, see below).
            #expect(done.headers[values: .setCookie].contains { $0.hasPrefix("sa_self=;") && $0.contains("Max-Age=0") })
            #expect(try await browser.get("/self-service").headers[.location] == "/self-service/login")
            #expect(try await browser.get("/self-service/login?done=deleted").text.contains("Your account is deleted"))

            #expect(try await server.runtime.store.user(id: aliceID) == nil)
            #expect(try await server.runtime.store.devices(userID: aliceID).isEmpty)
            // Every session of the user ended, also the other browser's; the apps' tokens are dead.
            #expect(try await other.get("/self-service").headers[.location] == "/self-service/login")
            let (refreshed, _) = try await client.token([("grant_type", "refresh_token"), ("refresh_token", refresh)], basic: basic)
            #expect(refreshed.status == .badRequest)
            let devices = try await client.executeRequest(uri: "/api/user/devices", method: .get, headers: HTTP.bearer(token), body: nil)
            #expect(devices.status == .unauthorized)
            // The username is free again in the realm.
            #expect(try await server.createUser("alice").id != aliceID)

            let deleted = try await server.runtime.backOffice.auditEvents(realm: "default", limit: 200).filter {
                $0.record.action.rawValue == "user.deleted" && $0.record.subject == "user:\(aliceID)"
            }
            #expect(deleted.count == 1)
            #expect(deleted.first?.record.actor == "user:\(aliceID)")
            #expect(deleted.first?.record.details["via"] == "self-service")
        }
    }

    @Test("each account form refuses a wrong CSRF token and starts nothing")
    func wrongCSRFRefused() async throws {
        try await TestServer.with { server in
            let bob = try await server.createUser("bob")
            try await server.test { client in
                var browser = Browser(client: client)
                _ = try await browser.signInUser("bob", "correct horse")
                _ = try #require(try await browser.get("/self-service/account").csrf)
                for (path, form) in [
                    ("/self-service/account/delete", [String: String]()), ("/self-service/account/phone", ["phone": "+4917098765432"]),
                    ("/self-service/account/password", ["current": "correct horse", "new": "battery staple", "repeat": "battery staple"]),
                ] {
                    var forged = form
                    forged["_csrf"] = "forged"
                    #expect(try await browser.post(path, forged).status == .forbidden, "\(path)")
                    var missing = form
                    missing["_csrf"] = nil
                    #expect(try await browser.post(path, missing).status == .forbidden, "\(path)")
                }
            }
            #expect(try await server.count("challenges") == 0)
            #expect(try await server.runtime.store.user(id: bob.id) == bob)
        }
    }

    @Test("change phone: validated (E.164) before the step-up; the SMS OTP goes to the old number; after it, the old number is told")
    func changePhoneAfterSMS() async throws {
        try await TestServer.with { server in
            let bob = try await server.createUser("bob")
            try await server.test { client in
                var browser = Browser(client: client)
                _ = try await browser.signInUser("bob", "correct horse")
                let csrf = try #require(try await browser.get("/self-service/account").csrf)
                for invalid in ["0151 12345678", "+49 151 12345678", "+0151123456", "+49", "4915112345678", "+49151123456789012"] {
                    #expect(
                        try await browser.post("/self-service/account/phone", ["_csrf": csrf, "phone": invalid]).status == .badRequest, "\(invalid)")
                }
                #expect(try await server.count("challenges") == 0)

                let asked = try await browser.post("/self-service/account/phone", ["_csrf": csrf, "phone": "+4917098765432"])
                #expect(asked.headers[.location] == "/self-service/step-up")
                #expect(try await server.runtime.store.user(id: bob.id)?.phone == "+4915112345678")
                let otp = try await server.latestOTP()
                let code = try #require(try await server.deliveredNotifications().last)
                #expect(code["to"] == "+4915112345678")
                #expect(code["message"]?.contains("Change the phone number to +49…32") == true)
                #expect(code["message"]?.contains("+4917098765432") == false)

                let done = try await browser.post("/self-service/step-up/otp", ["_csrf": csrf, "otp": otp])
                #expect(done.headers[.location] == "/self-service/account?done=phone")
                #expect(try await server.runtime.store.user(id: bob.id)?.phone == "+4917098765432")
                let notice = try #require(try await server.deliveredNotifications().last)
                #expect(notice["kind"] == "sms_notice")
                #expect(notice["to"] == "+4915112345678")
                #expect(notice["message"]?.contains("was changed to +49…32") == true)
                // The new number is where the next code goes.
                let again = try await browser.post("/self-service/account/phone", ["_csrf": csrf, "phone": "+4917098765432"])
                #expect(again.status == .badRequest)  // already the number: nothing to confirm
            }
            let changed = try await server.runtime.backOffice.auditEvents(realm: "default", limit: 200).filter {
                $0.record.action.rawValue == "user.phone_changed"
            }
            #expect(changed.count == 1)
            #expect(changed.first?.record.details["to"] == "+49…32")
        }
    }

    @Test("change password: step-up first, then current + new; all refresh families revoked, other sessions end, this one stays")
    func changePasswordAfterApproval() async throws {
        try await DevicesTests.withUserToken { server, client, token, basic in
            let phone = TestPhone()
            let deviceID = try await DevicesTests.bind(phone, server: server, client: client, token: token)
            let (_, tokens) = try await client.token(
                [("grant_type", "password"), ("username", "alice"), ("password", "correct horse")], basic: basic)
            let refresh = try #require(tokens["refresh_token"] as? String)
            let aliceID = try #require(try await server.runtime.store.user(realm: "default", username: "alice")).id
            let oldHash = try #require(try await server.runtime.store.user(id: aliceID)).passwordHash
            var other = Browser(client: client)
            _ = try await other.signInUser("alice", "correct horse")
            var browser = Browser(client: client)
            _ = try await browser.signInUser("alice", "correct horse")
            let page = try await browser.get("/self-service/account")
            #expect(!page.text.contains("id=\"current-password\""))  // one factor: no password form yet
            let csrf = try #require(page.csrf)
            let form = ["_csrf": csrf, "current": "correct horse", "new": "battery staple", "repeat": "battery staple"]

            // A one-factor session posting the full form changes nothing: it gets the step-up.
            #expect(try await browser.post("/self-service/account/password", form).headers[.location] == "/self-service/step-up")
            #expect(try await server.runtime.store.user(id: aliceID)?.passwordHash == oldHash)
            try await Self.approvePending(server, client, token: token, phone: phone, deviceID: deviceID, expecting: "Change your password")
            let confirmed = try await browser.post("/self-service/step-up/continue", ["_csrf": csrf])
            #expect(confirmed.headers[.location] == "/self-service/account?done=confirmed")
            #expect(try await browser.get("/self-service/account").text.contains("id=\"current-password\""))

            var wrong = form
            wrong["current"] = "not the password"
            #expect(try await browser.post("/self-service/account/password", wrong).status == .unauthorized)
            var mismatch = form
            mismatch["repeat"] = "battery stapler"
            #expect(try await browser.post("/self-service/account/password", mismatch).status == .badRequest)
            #expect(
                try await browser.post(
                    "/self-service/account/password", ["_csrf": csrf, "current": "correct horse", "new": "short", "repeat": "short"]
                )
                .status == .badRequest)
            #expect(try await server.runtime.store.user(id: aliceID)?.passwordHash == oldHash)

            let done = try await browser.post("/self-service/account/password", form)
            #expect(done.headers[.location] == "/self-service/account?done=password")
            #expect(try await server.runtime.store.user(id: aliceID)?.passwordHash != oldHash)
            // This browser stays signed in; the other one is signed out; the apps' families are revoked.
            #expect(try await browser.get("/self-service").status == .ok)
            #expect(try await other.get("/self-service").headers[.location] == "/self-service/login")
            let (refreshed, _) = try await client.token([("grant_type", "refresh_token"), ("refresh_token", refresh)], basic: basic)
            #expect(refreshed.status == .badRequest)
            let (oldGrant, _) = try await client.token(
                [("grant_type", "password"), ("username", "alice"), ("password", "correct horse")], basic: basic)
            #expect(oldGrant.status != .ok)
            let (newGrant, _) = try await client.token(
                [("grant_type", "password"), ("username", "alice"), ("password", "battery staple")], basic: basic)
            #expect(newGrant.status == .ok)
            let audit = try await server.runtime.backOffice.auditEvents(realm: "default", limit: 300).filter {
                $0.record.action.rawValue == "user.password_changed"
            }
            #expect(audit.filter { $0.record.outcome == .failure }.map { $0.record.details["reason"] } == ["wrong_password"])
            #expect(audit.filter { $0.record.outcome == .success }.count == 1)
        }
    }

    @Test("the step-up SMS per user are limited (web.stepUpSmsPerHour): the next is refused with 429 and nothing is sent, until the hour is over")
    func smsLimit() async throws {
        try await TestServer.with(["web.stepUpSmsPerHour": .int(3)]) { server in
            _ = try await server.createUser("bob")
            _ = try await server.createUser("carol")
            try await server.test { client in
                var browser = Browser(client: client)
                _ = try await browser.signInUser("bob", "correct horse")
                let csrf = try #require(try await browser.get("/self-service/account").csrf)
                for _ in 0..<3 {
                    #expect(try await browser.post("/self-service/account/delete", ["_csrf": csrf]).headers[.location] == "/self-service/step-up")
                }
                #expect(try await server.count("notifications") == 3)
                // A second session of the same user shares the count.
                var second = Browser(client: client)
                _ = try await second.signInUser("bob", "correct horse")
                let secondCSRF = try #require(try await second.get("/self-service/account").csrf)
                for refused in [
                    try await browser.post("/self-service/account/delete", ["_csrf": csrf]),
                    try await second.post("/self-service/account/phone", ["_csrf": secondCSRF, "phone": "+4917098765432"]),
                ] {
                    #expect(refused.status == .tooManyRequests)
                    #expect(refused.text.contains("as many codes"))
                }
                #expect(try await server.count("notifications") == 3)
                // Another user is not affected.
                var carol = Browser(client: client)
                _ = try await carol.signInUser("carol", "correct horse")
                let carolCSRF = try #require(try await carol.get("/self-service/account").csrf)
                #expect(try await carol.post("/self-service/account/delete", ["_csrf": carolCSRF]).headers[.location] == "/self-service/step-up")

                // After the hour, codes are sent again.
                server.time.advance(by: 3601)
                var later = Browser(client: client)
                _ = try await later.signInUser("bob", "correct horse")
                let laterCSRF = try #require(try await later.get("/self-service/account").csrf)
                #expect(try await later.post("/self-service/account/delete", ["_csrf": laterCSRF]).headers[.location] == "/self-service/step-up")
            }
            let limited = try await server.runtime.backOffice.auditEvents(realm: "default", limit: 200).filter {
                $0.record.action.rawValue == "selfservice.stepup.started" && $0.record.details["reason"] == "sms_limit"
            }
            #expect(limited.count == 2)
        }
    }
}
