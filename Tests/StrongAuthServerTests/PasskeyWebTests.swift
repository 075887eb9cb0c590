import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import StrongAuthCore
import StrongAuthProtocol
import Testing

@testable import StrongAuthServer

/// The passkey pages (issue 17) in-process: the one script and where it is allowed, the JSON
/// routes' refusals (no CSRF token, no session, a one-factor session, another approval's
/// ceremony, other data), and whole ceremonies with `SoftwareAuthenticator` — add, sign in (a
/// two-factor session at once), approve on the web, and the hosted login's passkey factor.
@Suite("Passkeys on the web")
struct PasskeyWebTests {
    /// `TestServer`'s issuer: the default RP ID is its host, the default origin the issuer.
    static let origin = "https://auth.test"

    static func policy(_ page: Browser.Page) -> String { page.headers[.contentSecurityPolicy] ?? "" }

    static func allowsScript(_ page: Browser.Page) -> Bool {
        policy(page).contains("script-src 'self'") && page.text.contains("<script src=\"\(PasskeyScript.versionedPath)\" defer></script>")
    }

    static func scriptFree(_ page: Browser.Page) -> Bool {
        !policy(page).contains("script-src") && policy(page).hasPrefix("default-src 'none';") && !page.text.contains("<script")
    }

    /// The value of `data-csrf` on the page's passkey button.
    static func buttonCSRF(_ page: Browser.Page) throws -> String {
        let range = try #require(page.text.range(of: "data-csrf=\""))
        return String(page.text[range.upperBound...].prefix { $0 != "\"" })
    }

    /// A JSON member of an answer as the core's type.
    static func decode<T: Decodable>(_ value: Any?, as type: T.Type = T.self) throws -> T {
        try JSONDecoder().decode(T.self, from: try JSONSerialization.data(withJSONObject: try #require(value)))
    }

    /// The request options of an options answer.
    static func requestOptions(_ answer: [String: Any]) throws -> PublicKeyCredentialRequestOptionsJSON {
        try decode(answer["publicKey"])
    }

    /// A response of the authenticator as the JSON the script posts.
    static func json(_ value: some Encodable) throws -> Any {
        try JSONSerialization.jsonObject(with: try JSONEncoder().encode(value))
    }

    /// Signs `username` in with the password and adds a passkey after the SMS step-up; the
    /// passkey and the two-factor browser.
    static func addPasskey(_ server: TestServer, _ browser: inout Browser, _ username: String = "alice") async throws -> SoftwareAuthenticator {
        _ = try await browser.signInUser(username, "correct horse")
        let confirm = try await browser.get("/self-service/passkeys/new")
        #expect(confirm.text.contains("confirm-add-passkey"))
        #expect(scriptFree(confirm))
        let stepUp = try await browser.post("/self-service/passkeys/new", ["_csrf": try #require(confirm.csrf)])
        #expect(stepUp.headers[.location] == "/self-service/step-up")
        let done = try await browser.post("/self-service/step-up/otp", ["_csrf": try #require(confirm.csrf), "otp": try await server.latestOTP()])
        #expect(done.headers[.location] == "/self-service/passkeys/new")
        let page = try await browser.get("/self-service/passkeys/new")
        #expect(allowsScript(page))
        let csrf = try buttonCSRF(page)
        let (options, optionsBody) = try await browser.postJSON(
            "/self-service/passkeys/registration/options", ["name": "Laptop"], csrf: csrf)
        #expect(options.status == .ok, "\(options.text)")
        var passkey = SoftwareAuthenticator(origin: origin)
        let credential = passkey.register(try decode(optionsBody["publicKey"], as: PublicKeyCredentialCreationOptionsJSON.self))
        let (registered, answer) = try await browser.postJSON(
            "/self-service/passkeys/registration",
            ["ceremonyId": try #require(optionsBody["ceremonyId"] as? String), "credential": try json(credential)], csrf: csrf)
        #expect(registered.status == .ok, "\(registered.text)")
        #expect(answer["redirect"] as? String == "/self-service?done=passkey")
        return passkey
    }

    @Test("/static/passkeys.js: JavaScript, cached a year under its versioned URL, revalidated by ETag")
    func script() async throws {
        try await TestServer.with { server in
            try await server.test { client in
                let versioned = try await client.executeRequest(uri: PasskeyScript.versionedPath, method: .get, headers: [:], body: nil)
                #expect(versioned.status == .ok)
                #expect(versioned.headers[.contentType] == "text/javascript; charset=utf-8")
                #expect(versioned.headers[.cacheControl] == "public, max-age=31536000, immutable")
                #expect(String(buffer: versioned.body).contains("navigator.credentials.create"))
                let plain = try await client.executeRequest(uri: PasskeyScript.path, method: .get, headers: [:], body: nil)
                #expect(plain.headers[.cacheControl] == "no-cache")
                let etag = try #require(plain.headers[.eTag])
                let again = try await client.executeRequest(uri: PasskeyScript.path, method: .get, headers: [.ifNoneMatch: etag], body: nil)
                #expect(again.status == .notModified)
                #expect(again.body.readableBytes == 0)
            }
        }
    }

    @Test("only pages with a passkey button load the script and allow it; every other page keeps the script-free policy")
    func contentSecurityPolicy() async throws {
        try await TestServer.with { server in
            _ = try await server.createUser("alice")
            try await server.test { client in
                var browser = Browser(client: client)
                #expect(Self.allowsScript(try await browser.get("/self-service/login")))
                #expect(Self.scriptFree(try await browser.get("/admin/login")))
                _ = try await browser.signInUser("alice", "correct horse")
                for path in ["/self-service", "/self-service/account", "/self-service/approvals", "/self-service/passkeys/new"] {
                    #expect(Self.scriptFree(try await browser.get(path)), "\(path)")
                }
                // The script lists no inline handlers: nothing but the tag loads it.
                var anonymous = Browser(client: client)
                let login = try await anonymous.get("/self-service/login")
                #expect(!login.text.contains(" onclick="))
                #expect(!Self.policy(login).contains("unsafe"))
            }
        }
    }

    @Test("attack: the JSON routes refuse a missing or wrong CSRF token, a missing session and a one-factor session")
    func refusals() async throws {
        try await TestServer.with { server in
            _ = try await server.createUser("alice")
            try await server.test { client in
                var stranger = Browser(client: client)
                // The sign-in options need the sign-in page's token, bound to its pre-session cookie.
                let login = try await stranger.get("/self-service/login")
                let loginCSRF = try Self.buttonCSRF(login)
                #expect(try await stranger.postJSON("/self-service/passkeys/sign-in/options", [:], csrf: nil).0.status == .forbidden)
                #expect(try await stranger.postJSON("/self-service/passkeys/sign-in/options", [:], csrf: "x" + loginCSRF).0.status == .forbidden)
                var otherBrowser = Browser(client: client)
                #expect(try await otherBrowser.postJSON("/self-service/passkeys/sign-in/options", [:], csrf: loginCSRF).0.status == .forbidden)
                #expect(try await stranger.postJSON("/self-service/passkeys/sign-in/options", [:], csrf: loginCSRF).0.status == .ok)
                // A sign-in with a ceremony that does not exist, and with a body that is no credential.
                let bogus = try await stranger.postJSON(
                    "/self-service/passkeys/sign-in", ["ceremonyId": "nope", "credential": ["id": "x"]], csrf: loginCSRF)
                #expect(bogus.0.status == .badRequest)
                #expect(bogus.0.headers[.contentType] == "application/problem+json")
                #expect(stranger.cookies["sa_self"] == nil)

                // Without a session: the signed-in routes send the browser to the sign-in page.
                for path in [
                    "/self-service/passkeys/registration/options", "/self-service/passkeys/registration", "/self-service/approvals/a/passkey/options",
                    "/self-service/approvals/a/passkey",
                ] {
                    let answer = try await stranger.postJSON(path, [:], csrf: loginCSRF).0
                    #expect(answer.status == .seeOther && answer.headers[.location] == "/self-service/login", "\(path)")
                }
                for (method, path) in [
                    (HTTPRequest.Method.get, "/self-service/passkeys/new"), (.post, "/self-service/passkeys/new"), (.get, "/self-service/approvals"),
                    (.get, "/self-service/approvals/a"), (.post, "/self-service/approvals/a/reject"),
                ] {
                    let answer = try await client.executeRequest(
                        uri: path, method: method, headers: [.contentType: "application/x-www-form-urlencoded", .cookie: "sa_self=forged"],
                        body: ByteBuffer(string: "_csrf=x"))
                    #expect(answer.status == .seeOther && answer.headers[.location] == "/self-service/login", "\(method) \(path)")
                }
                // A one-factor session cannot start a registration, with or without its token.
                var browser = Browser(client: client)
                _ = try await browser.signInUser("alice", "correct horse")
                let csrf = try #require(try await browser.get("/self-service").csrf)
                #expect(try await browser.postJSON("/self-service/passkeys/registration/options", [:], csrf: nil).0.status == .forbidden)
                let oneFactor = try await browser.postJSON("/self-service/passkeys/registration/options", [:], csrf: csrf)
                #expect(oneFactor.0.status == .forbidden)
                #expect(oneFactor.1["detail"] as? String != nil)
                // A form-encoded body (what a cross-site form could send) is no JSON call.
                let form = try await browser.post("/self-service/passkeys/registration/options", ["_csrf": csrf])
                #expect(form.status == .unsupportedMediaType)
            }
        }
    }

    @Test("add a passkey after the step-up; it lists as a device; a passkey alone signs in, two-factor at once")
    func addAndSignIn() async throws {
        try await TestServer.with { server in
            let alice = try await server.createUser("alice")
            try await server.test { client in
                var browser = Browser(client: client)
                var passkey = try await Self.addPasskey(server, &browser)
                let home = try await browser.get("/self-service?done=passkey")
                #expect(home.text.contains("Laptop") && home.text.contains("Passkey"))
                #expect(home.text.contains("Your passkey is added"))

                var fresh = Browser(client: client)
                let login = try await fresh.get("/self-service/login")
                let csrf = try Self.buttonCSRF(login)
                let (_, options) = try await fresh.postJSON("/self-service/passkeys/sign-in/options", [:], csrf: csrf)
                let publicKey = try Self.decode(options["publicKey"], as: PublicKeyCredentialRequestOptionsJSON.self)
                #expect(publicKey.allowCredentials.isEmpty)  // discoverable: no username asked
                let ceremonyID = try #require(options["ceremonyId"] as? String)
                let assertion = try Self.json(passkey.assert(publicKey, userHandle: PasskeyService.userHandle(userID: alice.id)))
                let (signedIn, answer) = try await fresh.postJSON(
                    "/self-service/passkeys/sign-in", ["ceremonyId": ceremonyID, "credential": assertion], csrf: csrf)
                #expect(signedIn.status == .ok, "\(signedIn.text)")
                #expect(answer["redirect"] as? String == "/self-service")
                #expect(fresh.cookies["sa_self"] != nil)
                // Two factors: the password form of the account page needs no step-up.
                #expect(try await fresh.get("/self-service/account").text.contains("id=\"change-password\""))
                // On the two-factor session, the registration options still need the page's token.
                let sessionCSRF = try #require(try await fresh.get("/self-service").csrf)
                #expect(try await fresh.postJSON("/self-service/passkeys/registration/options", [:], csrf: nil).0.status == .forbidden)
                #expect(try await fresh.postJSON("/self-service/passkeys/registration/options", [:], csrf: csrf).0.status == .forbidden)
                #expect(try await fresh.postJSON("/self-service/passkeys/registration/options", [:], csrf: sessionCSRF).0.status == .ok)
                // The ceremony is spent: the same assertion signs no one in again.
                var replay = Browser(client: client)
                let replayCSRF = try Self.buttonCSRF(try await replay.get("/self-service/login"))
                let again = try await replay.postJSON(
                    "/self-service/passkeys/sign-in", ["ceremonyId": ceremonyID, "credential": assertion], csrf: replayCSRF)
                #expect(again.0.status != .ok)
                #expect(replay.cookies["sa_self"] == nil)

                // A clone (the counter it saw last time) is refused, and the passkey is blocked.
                var clone = Browser(client: client)
                let cloneCSRF = try Self.buttonCSRF(try await clone.get("/self-service/login"))
                let (_, cloneOptions) = try await clone.postJSON("/self-service/passkeys/sign-in/options", [:], csrf: cloneCSRF)
                let stale = passkey.assertion(
                    rpID: try Self.requestOptions(cloneOptions).rpId, challenge: try Self.requestOptions(cloneOptions).challenge,
                    userHandle: PasskeyService.userHandle(userID: alice.id))
                let cloneCeremony = try #require(cloneOptions["ceremonyId"] as? String)
                let cloned = try await clone.postJSON(
                    "/self-service/passkeys/sign-in", ["ceremonyId": cloneCeremony, "credential": try Self.json(stale)], csrf: cloneCSRF)
                #expect(cloned.0.status == .forbidden)
                #expect((cloned.1["detail"] as? String)?.contains("BLOCKED") == true)
                #expect(clone.cookies["sa_self"] == nil)
                #expect(try await server.runtime.store.devices(userID: alice.id).first { $0.kind == .passkey }?.status == .blocked)
            }
        }
    }

    @Test("the sign-in page of a realm signs in that realm's users with their passkeys, and no one else's")
    func realmSignIn() async throws {
        try await TestServer.with { server in
            try await server.runtime.administration.createRealm(id: "bank-b", actor: "test")
            let bob = try await server.runtime.administration.createUser(
                username: "bob", password: "b password", phone: nil, email: nil, ownerClientID: nil, realm: "bank-b", actor: "test"
            ).user
            try await server.test { client in
                var passkey = SoftwareAuthenticator(origin: Self.origin)
                let started = try await server.runtime.passkeys.registrationOptions(
                    userID: bob.id, name: "Key", assurance: .twoFactor, source: nil)
                _ = try await server.runtime.passkeys.register(
                    userID: bob.id, ceremonyID: started.ceremony.id, otp: nil, response: passkey.register(started.options), source: nil)
                var realmPage = Browser(client: client)
                #expect(try await realmPage.get("/self-service/login?realm=bank-b").text.contains("data-passkey-realm=\"bank-b\""))
                let cases: [(page: String, realm: String?, expected: HTTPResponse.Status)] = [
                    ("/self-service/login", nil, .forbidden), ("/self-service/login?realm=bank-b", "bank-b", .ok),
                ]
                for (page, realm, expected) in cases {
                    var browser = Browser(client: client)
                    let csrf = try Self.buttonCSRF(try await browser.get(page))
                    let fields: [String: Any] = realm.map { ["realm": $0] } ?? [:]
                    let (_, options) = try await browser.postJSON("/self-service/passkeys/sign-in/options", fields, csrf: csrf)
                    var body = fields
                    body["ceremonyId"] = try #require(options["ceremonyId"] as? String)
                    let assertion = passkey.assert(try Self.requestOptions(options), userHandle: PasskeyService.userHandle(userID: bob.id))
                    body["credential"] = try Self.json(assertion)
                    let answer = try await browser.postJSON("/self-service/passkeys/sign-in", body, csrf: csrf).0
                    #expect(answer.status == expected, "\(page): \(answer.text)")
                    #expect((browser.cookies["sa_self"] != nil) == (expected == .ok))
                }
            }
        }
    }

    @Test("approve on the web with a passkey: the page shows what is signed; other data and another approval's ceremony fail")
    func approve() async throws {
        try await TestServer.with { server in
            let alice = try await server.createUser("alice")
            try await server.test { client in
                var browser = Browser(client: client)
                var passkey = try await Self.addPasskey(server, &browser)
                let first = try await server.runtime.approvals.createSelfServiceApproval(
                    user: alice, text: "Pay 42 EUR to Bob", title: "Transfer", lifetime: 300, source: nil)
                let second = try await server.runtime.approvals.createSelfServiceApproval(
                    user: alice, text: "Pay 7 EUR to Carol", title: "Transfer", lifetime: 300, source: nil)
                let page = try await browser.get("/self-service/approvals/\(first.id)")
                #expect(page.status == .ok)
                #expect(Self.allowsScript(page))
                #expect(page.text.contains("approve:\(first.id):\(first.data)"))
                let csrf = try Self.buttonCSRF(page)
                #expect(try await browser.postJSON("/self-service/approvals/\(first.id)/passkey/options", [:], csrf: nil).0.status == .forbidden)
                let forged = try await browser.postJSON("/self-service/approvals/\(first.id)/passkey/options", [:], csrf: "x" + csrf)
                #expect(forged.0.status == .forbidden)
                let refusals = try await server.runtime.backOffice.auditEvents(realm: "default", limit: 100).filter {
                    $0.record.action == .webCSRFRefused && $0.record.actor == "user:\(alice.id)"
                }
                #expect(refusals.count == 2)

                // A ceremony of the second approval does not approve the first.
                let (_, otherOptions) = try await browser.postJSON("/self-service/approvals/\(second.id)/passkey/options", [:], csrf: csrf)
                let crossed = try await browser.postJSON(
                    "/self-service/approvals/\(first.id)/passkey",
                    [
                        "ceremonyId": try #require(otherOptions["ceremonyId"] as? String), "data": first.data,
                        "credential": try Self.json(passkey.assert(try Self.requestOptions(otherOptions))),
                    ], csrf: csrf)
                #expect(crossed.0.status == .forbidden, "\(crossed.0.text)")
                #expect((crossed.1["detail"] as? String)?.contains("attempts left") == true, "\(crossed.0.text)")

                // Other data than shown: refused and counted.
                let (_, options) = try await browser.postJSON("/self-service/approvals/\(first.id)/passkey/options", [:], csrf: csrf)
                #expect(options["data"] as? String == first.data)
                let wrongData = try await browser.postJSON(
                    "/self-service/approvals/\(first.id)/passkey",
                    [
                        "ceremonyId": try #require(options["ceremonyId"] as? String), "data": "Pay 4200 EUR to Mallory",
                        "credential": try Self.json(passkey.assert(try Self.requestOptions(options))),
                    ], csrf: csrf)
                #expect(wrongData.0.status == .forbidden, "\(wrongData.0.text)")

                // The data shown, the passkey's signature over it: approved.
                let (_, fresh) = try await browser.postJSON("/self-service/approvals/\(first.id)/passkey/options", [:], csrf: csrf)
                let (approved, answer) = try await browser.postJSON(
                    "/self-service/approvals/\(first.id)/passkey",
                    [
                        "ceremonyId": try #require(fresh["ceremonyId"] as? String), "data": first.data,
                        "credential": try Self.json(passkey.assert(try Self.requestOptions(fresh))),
                    ], csrf: csrf)
                #expect(approved.status == .ok, "\(approved.text)")
                #expect(answer["redirect"] as? String == "/self-service/approvals/\(first.id)?done=approved")
                #expect(try await server.runtime.store.approval(id: first.id)?.status == .approved)
                #expect(try await browser.get("/self-service/approvals/\(first.id)").text.contains("id=\"approval-status\">APPROVED"))

                // Reject is a plain form; another user's approval reads as absent.
                let reject = try await browser.post("/self-service/approvals/\(second.id)/reject", ["_csrf": csrf])
                #expect(reject.status == .seeOther)
                #expect(try await server.runtime.store.approval(id: second.id)?.status == .rejected)
                // The audit names the user who rejected it, not a device.
                let rejected = try await server.runtime.backOffice.auditEvents(realm: "default", limit: 200).filter {
                    $0.record.action == .approval(.rejected) && $0.record.subject?.contains(second.id) == true
                }
                #expect(rejected.map(\.record.actor) == ["user:\(alice.id)"])
                let bob = try await server.createUser("bob")
                let bobs = try await server.runtime.approvals.createSelfServiceApproval(
                    user: bob, text: "Bob's", title: "Transfer", lifetime: 300, source: nil)
                #expect(try await browser.get("/self-service/approvals/\(bobs.id)").status == .notFound)
                #expect(try await browser.postJSON("/self-service/approvals/\(bobs.id)/passkey/options", [:], csrf: csrf).0.status != .ok)
                #expect(try await browser.post("/self-service/approvals/\(bobs.id)/reject", ["_csrf": csrf]).status == .notFound)
                #expect(try await server.runtime.store.approval(id: bobs.id)?.status == .pending)
            }
        }
    }

    @Test("a password session's step-up is answered with the passkey on the step-up page, then the action is done")
    func stepUpWithPasskey() async throws {
        try await TestServer.with { server in
            let alice = try await server.createUser("alice")
            try await server.test { client in
                var browser = Browser(client: client)
                var passkey = try await Self.addPasskey(server, &browser)
                let passkeyID = try #require(try await server.runtime.store.devices(userID: alice.id).first { $0.kind == .passkey }?.id)

                // A new browser with the password alone: removing the passkey needs a second factor.
                var other = Browser(client: client)
                _ = try await other.signInUser("alice", "correct horse")
                let csrf = try #require(try await other.get("/self-service").csrf)
                let started = try await other.post("/self-service/devices/\(passkeyID)/remove", ["_csrf": csrf])
                #expect(started.headers[.location] == "/self-service/step-up")
                let page = try await other.get("/self-service/step-up")
                #expect(Self.allowsScript(page))
                #expect(!page.text.contains("http-equiv=\"refresh\""))  // a reload would cancel the passkey prompt
                let approvalID = try #require(try await server.runtime.approvals.pending(userID: alice.id).first?.id)
                #expect(page.text.contains("/self-service/approvals/\(approvalID)/passkey/options"))
                let buttonCSRF = try Self.buttonCSRF(page)
                let (_, options) = try await other.postJSON("/self-service/approvals/\(approvalID)/passkey/options", [:], csrf: buttonCSRF)
                let (approved, answer) = try await other.postJSON(
                    "/self-service/approvals/\(approvalID)/passkey",
                    [
                        "ceremonyId": try #require(options["ceremonyId"] as? String), "data": try #require(options["data"] as? String),
                        "credential": try Self.json(passkey.assert(try Self.requestOptions(options))),
                    ], csrf: buttonCSRF)
                #expect(approved.status == .ok, "\(approved.text)")
                #expect(answer["redirect"] as? String == "/self-service/step-up")
                let done = try await other.post("/self-service/step-up/continue", ["_csrf": csrf])
                #expect(done.headers[.location] == "/self-service?done=removed")
                #expect(try await server.runtime.store.device(id: passkeyID)?.status == .removed)
            }
        }
    }

    @Test("a new device's approval is approved on the web with the passkey; the web's Reject is refused for it, without an error")
    func newDeviceApproval() async throws {
        try await TestServer.with { server in
            let alice = try await server.createUser("alice")
            let basic = HTTP.basic("shop", try await server.createClient())
            try await server.test { client in
                var browser = Browser(client: client)
                var passkey = try await Self.addPasskey(server, &browser)
                // The passkey is the bound device: a new phone through the Kontist face waits for it.
                let (_, tokens) = try await client.token(
                    [("grant_type", "password"), ("username", "alice"), ("password", "correct horse")], basic: basic)
                let token = try #require(tokens["access_token"] as? String)
                let phone = TestPhone()
                let (created, device) = try await client.postJSON(
                    "/api/user/devices", token: token, ["name": "New phone", "key": phone.publicKeyHex])
                #expect(created.status == .created)
                let deviceID = try #require(device["deviceId"] as? String)
                let (verified, _) = try await client.postJSON(
                    "/api/user/devices/\(deviceID)/verify", token: token,
                    ["challengeId": try #require(device["challengeId"] as? String), "signature": try phone.signDER(try await server.latestOTP())])
                #expect(verified.status.code < 300)
                let approval = try #require(try await server.runtime.approvals.pending(userID: alice.id).first)
                #expect(approval.template == ApprovalService.newDeviceTemplate)
                let page = try await browser.get("/self-service/approvals/\(approval.id)")
                #expect(!page.text.contains("reject-approval"))
                let csrf = try Self.buttonCSRF(page)
                let reject = try await browser.post("/self-service/approvals/\(approval.id)/reject", ["_csrf": csrf])
                #expect(reject.status == .conflict)
                #expect(try await server.runtime.store.approval(id: approval.id)?.status == .pending)

                let (_, options) = try await browser.postJSON("/self-service/approvals/\(approval.id)/passkey/options", [:], csrf: csrf)
                let (approved, _) = try await browser.postJSON(
                    "/self-service/approvals/\(approval.id)/passkey",
                    [
                        "ceremonyId": try #require(options["ceremonyId"] as? String), "data": approval.data,
                        "credential": try Self.json(passkey.assert(try Self.requestOptions(options))),
                    ], csrf: csrf)
                #expect(approved.status == .ok, "\(approved.text)")
                #expect(try await server.runtime.store.device(id: deviceID)?.status == .active)
            }
        }
    }

    @Test("the hosted login offers the passkey after the password; bound to the browser and its CSRF token; amr pwd hwk user")
    func hostedLogin() async throws {
        try await TestServer.with { server in
            _ = try await server.createUser("alice")
            try await server.test { client in
                var browser = Browser(client: client)
                var passkey = try await Self.addPasskey(server, &browser)
                let basic = try await AuthorizationCodeTests.createApp(server, defaultACR: AssuranceLevel.twoFactor.rawValue)
                let verifier = PKCE.generateVerifier()
                var login = Browser(client: client)
                let waiting = try await AuthorizationCodeTests.signIn(
                    &login, AuthorizationCodeTests.parameters(challenge: PKCE.challenge(for: verifier)))
                #expect(waiting.status == .seeOther)
                let wait = try await login.get(try #require(waiting.headers[.location]))
                #expect(Self.allowsScript(wait))
                #expect(wait.text.contains("id=\"login-passkey\""))
                #expect(!wait.text.contains("http-equiv=\"refresh\""))
                let handle = try #require(wait.text.range(of: "data-passkey-login=\"")).upperBound
                let loginHandle = String(wait.text[handle...].prefix { $0 != "\"" })
                let csrf = try Self.buttonCSRF(wait)

                #expect(try await login.postJSON("/oauth/authorize/passkey/options", ["login": loginHandle], csrf: nil).0.status == .forbidden)
                var thief = Browser(client: client)
                #expect(try await thief.postJSON("/oauth/authorize/passkey/options", ["login": loginHandle], csrf: csrf).0.status == .forbidden)
                // Before the password there is no user to ask a passkey of.
                var early = Browser(client: client)
                let parameters = AuthorizationCodeTests.parameters(challenge: PKCE.challenge(for: PKCE.generateVerifier()))
                let loginPage = try await early.get("/oauth/authorize?" + AuthorizationCodeTests.query(parameters))
                let earlyHandle = try #require(AuthorizationCodeTests.field("login", in: loginPage))
                let earlyCSRF = try #require(AuthorizationCodeTests.field("_csrf", in: loginPage))
                let beforePassword = try await early.postJSON("/oauth/authorize/passkey/options", ["login": earlyHandle], csrf: earlyCSRF)
                #expect(beforePassword.0.status == .badRequest)
                // A sign-in ceremony (another purpose, no user) does not finish this login.
                var signInPage = Browser(client: client)
                let signInCSRF = try Self.buttonCSRF(try await signInPage.get("/self-service/login"))
                let (_, signIn) = try await signInPage.postJSON("/self-service/passkeys/sign-in/options", [:], csrf: signInCSRF)
                let crossed = try await login.postJSON(
                    "/oauth/authorize/passkey",
                    [
                        "login": loginHandle, "ceremonyId": try #require(signIn["ceremonyId"] as? String),
                        "credential": try Self.json(passkey.assert(try Self.requestOptions(signIn))),
                    ], csrf: csrf)
                #expect(crossed.0.status == .conflict, "\(crossed.0.text)")
                #expect(try await server.count("authorization_codes") == 0)

                let (_, options) = try await login.postJSON("/oauth/authorize/passkey/options", ["login": loginHandle], csrf: csrf)
                let assertion = try Self.json(passkey.assert(try Self.requestOptions(options)))
                let (done, answer) = try await login.postJSON(
                    "/oauth/authorize/passkey",
                    ["login": loginHandle, "ceremonyId": try #require(options["ceremonyId"] as? String), "credential": assertion], csrf: csrf)
                #expect(done.status == .ok, "\(done.text)")
                let redirect = try #require(answer["redirect"] as? String)
                #expect(redirect.hasPrefix(AuthorizationCodeTests.redirectURI + "?code="))
                let code = try #require(URLComponents(string: redirect)?.queryItems?.first { $0.name == "code" }?.value)
                let (tokens, body) = try await AuthorizationCodeTests.exchange(client, code: code, verifier: verifier, basic: basic)
                #expect(tokens.status == .ok)
                #expect(body["access_token"] != nil)
                let events = try await server.runtime.backOffice.auditEvents(realm: "default", limit: 50)
                #expect(events.contains { $0.record.action == .authorizationLogin && $0.record.details["amr"] == "pwd hwk user" })
            }
        }
    }
}

extension Browser {
    /// A `fetch` of `passkeys.js`: JSON with the page's token in `X-CSRF-Token`; the answer's JSON.
    mutating func postJSON(_ path: String, _ body: [String: Any], csrf: String?) async throws -> (Page, [String: Any]) {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if let csrf { headers[HTTPField.Name("X-CSRF-Token")!] = csrf }
        if !cookies.isEmpty { headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
        let data = try JSONSerialization.data(withJSONObject: body)
        let response = try await client.executeRequest(uri: path, method: .post, headers: headers, body: ByteBuffer(data: data))
        for header in response.headers[values: .setCookie] {
            let pair = header.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            if header.contains("Max-Age=0") || pair[1].isEmpty { cookies[String(pair[0])] = nil } else { cookies[String(pair[0])] = String(pair[1]) }
        }
        let text = String(buffer: response.body)
        let json = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
        return (Page(status: response.status, headers: response.headers, text: text), json)
    }
}
