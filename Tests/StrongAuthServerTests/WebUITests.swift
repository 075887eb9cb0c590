import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdOTP
import HummingbirdTesting
import NIOCore
import SQLKit
import StrongAuthCore
import StrongAuthServer
import Testing

/// The back office and self-service pages through the router: sign-in with password and TOTP,
/// attempt limits, CSRF, idle expiry, every screen, and who may see and change what.
@Suite("Web UI")
struct WebUITests {
    // MARK: Sign-in

    @Test("an operator signs in with password and TOTP; wrong factors and a replayed code are refused")
    func operatorSignIn() async throws {
        try await TestServer.with { server in
            let created = try await server.runtime.operators.create(username: "olga", password: "operator pw", actor: "test")
            try await server.test { client in
                var browser = Browser(client: client)
                #expect(try await browser.signInOperator("olga", "wrong pw", code: server.totp(created)).status == .unauthorized)
                #expect(try await browser.signInOperator("olga", "operator pw", code: "000000").status == .unauthorized)
                #expect(try await browser.signInOperator("nobody", "operator pw", code: server.totp(created)).status == .unauthorized)
                let good = try await browser.signInOperator("olga", "operator pw", code: server.totp(created))
                #expect(good.status == .seeOther)
                #expect(good.headers[.location] == "/admin")
                let setCookie = good.headers[values: .setCookie].first { $0.hasPrefix("sa_admin=") } ?? ""
                #expect(setCookie.contains("HttpOnly"))
                #expect(setCookie.contains("SameSite=Strict"))
                #expect(setCookie.contains("Path=/admin"))
                let dashboard = try await browser.get("/admin")
                #expect(dashboard.status == .ok)
                #expect(dashboard.text.contains("Dashboard"))
                #expect(dashboard.headers[.contentSecurityPolicy]?.contains("default-src 'none'") == true)
                // The same code a second time (another browser) is a replay.
                var other = Browser(client: client)
                #expect(try await other.signInOperator("olga", "operator pw", code: server.totp(created)).status == .unauthorized)
            }
            // Only the keyed hash of the cookie token is stored.
            let stored = try await server.runtime.store.pool.withConnection { db in
                try await db.raw("SELECT token_hash FROM web_sessions").all().map { try $0.decode(column: "token_hash", as: String.self) }
            }
            #expect(stored.count == 1)
            #expect(stored.allSatisfy { !$0.hasPrefix("sa_ws_") && $0.count == 64 })
        }
    }

    @Test("5 wrong passwords lock the password factor, 5 wrong codes the TOTP factor")
    func operatorLockout() async throws {
        try await TestServer.with { server in
            let created = try await server.runtime.operators.create(username: "olga", password: "operator pw", actor: "test")
            try await server.test { client in
                var browser = Browser(client: client)
                for _ in 0..<5 { _ = try await browser.signInOperator("olga", "wrong pw", code: "123456") }
                #expect(try await browser.signInOperator("olga", "operator pw", code: server.totp(created)).status == .unauthorized)
                server.time.advance(by: 901)  // the lock (lockout.durationSeconds) ends
                for _ in 0..<5 { _ = try await browser.signInOperator("olga", "operator pw", code: "000001") }
                #expect(try await browser.signInOperator("olga", "operator pw", code: server.totp(created)).status == .unauthorized)
                server.time.advance(by: 901)
                #expect(try await browser.signInOperator("olga", "operator pw", code: server.totp(created)).status == .seeOther)
            }
            // Tries against a lock are counted per window; the chain has them once it is over.
            try await server.runtime.store.sealFailureWindows(closedBy: server.time.now().addingTimeInterval(3600))
            let failures = try await server.runtime.backOffice.auditEvents(realm: "default", limit: 100).filter {
                $0.record.action.rawValue == "operator.signin" && $0.record.outcome == .failure
            }
            #expect(failures.contains { $0.record.details["reason"] == "password_locked" })
            #expect(failures.contains { $0.record.details["reason"] == "totp_locked" })
        }
    }

    @Test("forms without the session's CSRF token are refused")
    func csrf() async throws {
        try await TestServer.with { server in
            let user = try await server.createUser()
            let created = try await server.runtime.operators.create(username: "olga", password: "operator pw", actor: "test")
            try await server.test { client in
                var browser = Browser(client: client)
                // A sign-in post without the pre-session cookie's token.
                let forged = try await browser.post("/admin/login", ["username": "olga", "password": "operator pw", "totp": "000000"])
                #expect(forged.status == .forbidden)
                _ = try await browser.signInOperator("olga", "operator pw", code: server.totp(created))
                let page = try await browser.get("/admin/users/\(user.id)")
                let csrf = try #require(page.csrf)
                #expect(try await browser.post("/admin/users/\(user.id)/unlock", [:]).status == .forbidden)
                #expect(
                    try await browser.post("/admin/users/\(user.id)/unlock", ["_csrf": (csrf.hasPrefix("x") ? "y" : "x") + csrf.dropFirst()]).status
                        == .forbidden)
                let accepted = try await browser.post("/admin/users/\(user.id)/unlock", ["_csrf": csrf])
                #expect(accepted.status == .seeOther)
            }
            let actions = try await server.runtime.backOffice.auditEvents(realm: "default", limit: 100).map(\.record.action.rawValue)
            #expect(actions.filter { $0 == "web.csrf_refused" }.count == 2)
            #expect(actions.contains("user.unlocked"))
        }
    }

    @Test("a session ends after 5 minutes idle, and at logout")
    func idleExpiry() async throws {
        try await TestServer.with { server in
            let created = try await server.runtime.operators.create(username: "olga", password: "operator pw", actor: "test")
            try await server.test { client in
                var browser = Browser(client: client)
                _ = try await browser.signInOperator("olga", "operator pw", code: server.totp(created))
                server.time.advance(by: 299)
                #expect(try await browser.get("/admin").status == .ok)
                server.time.advance(by: 299)  // each request moved the expiry on
                #expect(try await browser.get("/admin/users").status == .ok)
                server.time.advance(by: 301)
                let expired = try await browser.get("/admin")
                #expect(expired.status == .seeOther)
                #expect(expired.headers[.location] == "/admin/login")

                server.time.advance(by: 60)
                _ = try await browser.signInOperator("olga", "operator pw", code: server.totp(created))
                let csrf = try #require(try await browser.get("/admin").csrf)
                #expect(try await browser.post("/admin/logout", ["_csrf": csrf]).status == .seeOther)
                #expect(try await browser.get("/admin").status == .seeOther)
            }
        }
    }

    // MARK: Screens

    @Test("every operator screen renders; a registration shows its QR code; block, unblock and remove")
    func operatorScreens() async throws {
        try await TestServer.with { server in
            let user = try await server.createUser()
            let created = try await server.runtime.operators.create(username: "olga", password: "operator pw", actor: "test")
            _ = try await server.runtime.powerAuth.createApplication(id: "mobile", name: "Mobile bank", callbackURL: nil, actor: "test")
            try await server.test { client in
                var browser = Browser(client: client)
                _ = try await browser.signInOperator("olga", "operator pw", code: server.totp(created))
                let form = try await browser.get("/admin/registrations/new?userId=alice")
                #expect(form.text.contains("Mobile bank"))
                let made = try await browser.post(
                    "/admin/registrations", ["_csrf": try #require(form.csrf), "userId": "alice", "applicationId": "mobile"])
                #expect(made.status == .seeOther)
                let location = try #require(made.headers[.location])
                let deviceID = String(location.dropFirst("/admin/devices/".count).prefix { $0 != "?" })
                let page = try await browser.get(location)
                #expect(page.status == .ok)
                #expect(page.text.contains("data:image/svg+xml;base64,"))
                #expect(page.text.contains("id=\"device-status\">CREATED"))
                let registration = try #require(try await server.runtime.store.registration(id: deviceID))
                #expect(registration.device.userID == user.id)
                #expect(page.text.contains(try #require(registration.activation.activationCode)))

                for (path, heading) in [
                    ("/admin", "Dashboard"), ("/admin/users?q=ali", "alice"), ("/admin/users/\(user.id)", "User alice"),
                    ("/admin/devices", "Devices and registrations"), ("/admin/devices?status=CREATED", deviceID),
                    ("/admin/approvals", "Operations and action requests"), ("/admin/webhooks", "Webhook deliveries"),
                    ("/admin/audit", "Audit log"), ("/admin/audit?verify=1", "Intact"),
                ] {
                    let response = try await browser.get(path)
                    #expect(response.status == .ok, "\(path)")
                    #expect(response.text.contains(heading), "\(path) shows \(heading)")
                }
                #expect(try await browser.get("/admin/assets/app.css").status == .ok)

                // A CREATED registration cannot be blocked; removing it works once.
                let csrf = try #require(page.csrf)
                #expect(try await browser.post("/admin/devices/\(deviceID)/block", ["_csrf": csrf, "reason": "DEVICE_LOST"]).status == .conflict)
                #expect(try await browser.post("/admin/devices/\(deviceID)/remove", ["_csrf": csrf]).status == .seeOther)
                #expect(try await browser.post("/admin/devices/\(deviceID)/remove", ["_csrf": csrf]).status == .conflict)
                #expect(try await browser.get("/admin/devices/\(deviceID)").text.contains("id=\"device-status\">REMOVED"))
                #expect(try await browser.get("/admin/devices/nope").status == .notFound)
            }
            let actions = try await server.runtime.backOffice.auditEvents(
                realm: "default",
                subject: "device:\(try #require(try await server.runtime.backOffice.recentDevices(realm: "default", status: nil).first?.device.id))",
                limit: 10
            ).map(\.record)
            #expect(actions.contains { $0.action.rawValue == "powerauth.registration.created" && $0.actor.hasPrefix("operator:") })
            #expect(actions.contains { $0.action.rawValue == "powerauth.registration.removed" && $0.actor.hasPrefix("operator:") })
        }
    }

    @Test("an ECDSA device is blocked with a reason and unblocked by an operator")
    func blockUnblock() async throws {
        try await TestServer.with { server in
            let user = try await server.createUser()
            let device = try await server.activeDevice(userID: user.id)
            let created = try await server.runtime.operators.create(username: "olga", password: "operator pw", actor: "test")
            try await server.test { client in
                var browser = Browser(client: client)
                _ = try await browser.signInOperator("olga", "operator pw", code: server.totp(created))
                let csrf = try #require(try await browser.get("/admin/devices/\(device)").csrf)
                #expect(try await browser.post("/admin/devices/\(device)/block", ["_csrf": csrf, "reason": "bad reason!"]).status == .badRequest)
                #expect(try await browser.post("/admin/devices/\(device)/block", ["_csrf": csrf, "reason": "DEVICE_STOLEN"]).status == .seeOther)
                let blocked = try await browser.get("/admin/devices/\(device)")
                #expect(blocked.text.contains("id=\"device-status\">BLOCKED"))
                #expect(blocked.text.contains("DEVICE_STOLEN"))
                #expect(try await browser.post("/admin/devices/\(device)/unblock", ["_csrf": csrf]).status == .seeOther)
                #expect(try await browser.get("/admin/devices/\(device)").text.contains("id=\"device-status\">ACTIVE"))
            }
        }
    }

    // MARK: Authorization

    @Test("operator pages need an operator session; a user's session is not one")
    func operatorPagesNeedOperator() async throws {
        try await TestServer.with { server in
            _ = try await server.createUser()
            try await server.test { client in
                var browser = Browser(client: client)
                for path in ["/admin", "/admin/users", "/admin/devices", "/admin/audit", "/admin/webhooks", "/admin/approvals"] {
                    let response = try await browser.get(path)
                    #expect(response.status == .seeOther, "\(path)")
                    #expect(response.headers[.location] == "/admin/login")
                }
                #expect(try await browser.post("/admin/registrations", ["userId": "x", "applicationId": "y"]).status == .seeOther)
                #expect(try await browser.signInUser("alice", "correct horse").status == .seeOther)
                // Present the user's session token as an operator cookie: still not an operator.
                browser.cookies["sa_admin"] = browser.cookies["sa_self"]
                #expect(try await browser.get("/admin").status == .seeOther)
                #expect(try await browser.get("/self-service").status == .ok)
            }
        }
    }

    @Test("a user sees and changes only their own devices; wrong passwords count against the password factor")
    func selfService() async throws {
        try await TestServer.with { server in
            let alice = try await server.createUser("alice")
            let bob = try await server.createUser("bob")
            let alicesDevice = try await server.activeDevice(userID: alice.id)
            let bobsDevice = try await server.activeDevice(userID: bob.id)
            _ = try await server.runtime.powerAuth.createApplication(id: "mobile", name: "Mobile bank", callbackURL: nil, actor: "test")
            try await server.test { client in
                var browser = Browser(client: client)
                #expect(try await browser.signInUser("alice", "wrong").status == .unauthorized)
                #expect(try await browser.signInUser("alice", "correct horse").status == .seeOther)
                let home = try await browser.get("/self-service")
                #expect(home.status == .ok)
                #expect(home.text.contains(alicesDevice))
                #expect(!home.text.contains(bobsDevice))
                let csrf = try #require(home.csrf)
                #expect(try await browser.get("/self-service/devices/\(bobsDevice)").status == .notFound)
                #expect(try await browser.post("/self-service/devices/\(bobsDevice)/block", ["_csrf": csrf]).status == .notFound)
                #expect(try await browser.post("/self-service/devices/\(bobsDevice)/remove", ["_csrf": csrf]).status == .notFound)
                #expect(try await server.runtime.store.device(id: bobsDevice)?.status == .active)

                #expect(
                    try await browser.post("/self-service/devices/\(alicesDevice)/block", ["_csrf": csrf, "reason": "USER_REQUEST"]).status
                        == .seeOther)
                #expect(try await server.runtime.store.device(id: alicesDevice)?.status == .blocked)
                // Removing asks for a second factor first: with no ACTIVE device left, an SMS OTP.
                #expect(
                    try await browser.post("/self-service/devices/\(alicesDevice)/remove", ["_csrf": csrf]).headers[.location]
                        == "/self-service/step-up")
                #expect(try await server.runtime.store.device(id: alicesDevice)?.status == .blocked)
                #expect(
                    try await browser.post("/self-service/step-up/otp", ["_csrf": csrf, "otp": try await server.latestOTP()]).status == .seeOther)
                #expect(try await server.runtime.store.device(id: alicesDevice)?.status == .removed)

                // Activate a new device (a step-up of its own): a registration of alice with its QR code.
                #expect(
                    try await browser.post("/self-service/devices", ["_csrf": csrf, "applicationId": "mobile"]).headers[.location]
                        == "/self-service/step-up")
                let made = try await browser.post("/self-service/step-up/otp", ["_csrf": csrf, "otp": try await server.latestOTP()])
                #expect(made.status == .seeOther)
                let page = try await browser.get(try #require(made.headers[.location]))
                #expect(page.text.contains("data:image/svg+xml;base64,"))
                #expect(try await server.runtime.store.registrations(realm: "default", externalUserID: "alice", includeRemoved: false).count == 1)
                #expect(try await server.runtime.store.registrations(realm: "default", externalUserID: "bob", includeRemoved: false).isEmpty)
            }
            #expect(try await server.runtime.store.user(id: alice.id)?.failedLoginAttempts == 0)
        }
    }
}

// MARK: - Helpers

extension TestServer {
    /// The operator's current TOTP code, from the printed Base32 secret (as an authenticator app does).
    func totp(_ created: CreatedOperator) -> String {
        let secret = String(decoding: Base32Decoding.decode(created.totpSecret), as: UTF8.self)
        let code = TOTP(secret: secret).compute(date: time.now())
        return String(format: "%06d", code)
    }

    /// An ACTIVE ECDSA device of the user, written straight to the store.
    func activeDevice(userID: String) async throws -> String {
        let id = UUID().uuidString.lowercased()
        try await runtime.store.pool.withConnection { db in
            try await db.raw(
                """
                INSERT INTO devices (id, user_id, kind, name, public_key, status, created_at, activated_at)
                VALUES (\(bind: id), \(bind: userID), 'ecdsa-p256', \(bind: "Phone \(id.prefix(4))"), '04', 'ACTIVE',
                        \(bind: time.now().epochMilliseconds), \(bind: time.now().epochMilliseconds))
                """
            ).run()
        }
        return id
    }
}

enum Base32Decoding {
    static func decode(_ text: String) -> [UInt8] {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var buffer = 0
        var bits = 0
        var output: [UInt8] = []
        for character in text {
            guard let value = alphabet.firstIndex(of: character) else { continue }
            buffer = (buffer << 5) | value
            bits += 5
            if bits >= 8 {
                output.append(UInt8((buffer >> (bits - 8)) & 0xFF))
                bits -= 8
            }
        }
        return output
    }
}

/// A minimal browser over the test client: a cookie jar and form posts.
struct Browser {
    struct Page {
        var status: HTTPResponse.Status
        var headers: HTTPFields
        var text: String
        /// The first CSRF token in the page's forms.
        var csrf: String? {
            guard let range = text.range(of: "name=\"_csrf\" value=\"") else { return nil }
            return String(text[range.upperBound...].prefix { $0 != "\"" })
        }
    }

    let client: any TestClientProtocol
    var cookies: [String: String] = [:]

    init(client: any TestClientProtocol) {
        self.client = client
    }

    mutating func get(_ path: String) async throws -> Page {
        try await send(path, method: .get, body: nil)
    }

    mutating func post(_ path: String, _ form: [String: String]) async throws -> Page {
        try await send(path, method: .post, body: HTTP.form(form.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))
    }

    mutating func signInOperator(_ username: String, _ password: String, code: String) async throws -> Page {
        let form = try await get("/admin/login")
        return try await post("/admin/login", ["_csrf": form.csrf ?? "", "username": username, "password": password, "totp": code])
    }

    mutating func signInUser(_ username: String, _ password: String) async throws -> Page {
        let form = try await get("/self-service/login")
        return try await post("/self-service/login", ["_csrf": form.csrf ?? "", "username": username, "password": password])
    }

    private mutating func send(_ path: String, method: HTTPRequest.Method, body: ByteBuffer?) async throws -> Page {
        var headers = HTTPFields()
        if body != nil { headers[.contentType] = "application/x-www-form-urlencoded" }
        // The real browser sends a cookie only under its path; the test sends all (the server must not care).
        if !cookies.isEmpty { headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
        let response = try await client.executeRequest(uri: path, method: method, headers: headers, body: body)
        for header in response.headers[values: .setCookie] {
            let pair = header.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            if header.contains("Max-Age=0") || pair[1].isEmpty { cookies[String(pair[0])] = nil } else { cookies[String(pair[0])] = String(pair[1]) }
        }
        return Page(status: response.status, headers: response.headers, text: String(buffer: response.body))
    }
}
