import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import StrongAuthCore
import StrongAuthProtocol
import StrongAuthServer
import Testing

/// The authorization code flow with PKCE (RFC 6749 §4.1, RFC 7636, RFC 9207) through the hosted
/// login, pushed authorization requests (RFC 9126), and every refusal the RFCs and RFC 9700 ask for.
@Suite("Authorization code flow, hosted login and PAR")
struct AuthorizationCodeTests {
    static let redirectURI = "https://app.example/callback"

    /// A confidential client "app" with the authorization_code and refresh_token grants.
    @discardableResult
    static func createApp(
        _ server: TestServer, id: String = "app", defaultACR: String? = nil, requirePAR: Bool = false,
        redirectURIs: [String] = [redirectURI], grants: Set<GrantType> = [.authorizationCode, .refreshToken]
    ) async throws -> String {
        let secret = try await server.runtime.administration.createClient(
            id: id, name: "Banking App", scopes: Scopes(["accounts", "transfers"]), grants: grants,
            registration: ClientRegistration(
                redirectURIs: redirectURIs, requiresPushedAuthorizationRequests: requirePAR, defaultACR: defaultACR),
            actor: "test"
        ).secret
        return HTTP.basic(id, secret)
    }

    static func query(_ pairs: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return pairs.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&")
    }

    /// The parameters of a valid request; `dropping` leaves some out, `with` replaces or adds.
    static func parameters(
        challenge: String, dropping: Set<String> = [], with extra: [(String, String)] = [], client: String = "app"
    ) -> [(String, String)] {
        var pairs: [(String, String)] = [
            ("response_type", "code"), ("client_id", client), ("redirect_uri", redirectURI), ("scope", "accounts"),
            ("state", "s-123"), ("code_challenge", challenge), ("code_challenge_method", "S256"),
        ]
        pairs.removeAll { dropping.contains($0.0) || extra.map(\.0).contains($0.0) }
        return pairs + extra
    }

    /// The query parameters of a redirect's Location.
    static func redirectParameters(_ page: Browser.Page) throws -> [String: String] {
        let location = try #require(page.headers[.location])
        let components = try #require(URLComponents(string: location))
        return Dictionary(uniqueKeysWithValues: (components.queryItems ?? []).map { ($0.name, $0.value ?? "") })
    }

    static func field(_ name: String, in page: Browser.Page) -> String? {
        guard let range = page.text.range(of: "name=\"\(name)\" value=\"") else { return nil }
        return String(page.text[range.upperBound...].prefix { $0 != "\"" })
    }

    /// Opens the login page for `pairs` and posts the password; the response of the post.
    static func signIn(_ browser: inout Browser, _ pairs: [(String, String)], password: String = "correct horse") async throws -> Browser.Page {
        let page = try await browser.get("/oauth/authorize?" + query(pairs))
        #expect(page.status == .ok, "\(page.text)")
        let login = try #require(field("login", in: page))
        return try await browser.post(
            "/oauth/authorize/login", ["_csrf": page.csrf ?? "", "login": login, "username": "alice", "password": password])
    }

    static func exchange(
        _ client: any TestClientProtocol, code: String, verifier: String, basic: String, redirectURI: String? = redirectURI
    ) async throws -> (TestResponse, [String: Any]) {
        var pairs = [("grant_type", "authorization_code"), ("code", code), ("code_verifier", verifier)]
        if let redirectURI { pairs.append(("redirect_uri", redirectURI)) }
        return try await client.token(pairs, basic: basic)
    }

    /// The id and data of the user's newest pending approval (what the phone's app lists).
    static func pendingApproval(_ client: any TestClientProtocol, token: String) async throws -> (id: String, data: String) {
        let list = try await client.executeRequest(uri: "/api/user/approvals", method: .get, headers: HTTP.bearer(token), body: nil)
        let pending = try #require(try JSONSerialization.jsonObject(with: Data(buffer: list.body)) as? [[String: Any]])
        let approval = try #require(pending.first)
        return (try #require(approval["id"] as? String), try #require(approval["data"] as? String))
    }

    /// A server with the client "app" and alice, and a fresh code of hers (one-factor login) with its verifier.
    static func withCode(
        _ body: @Sendable (TestServer, any TestClientProtocol, _ basic: String, _ code: String, _ verifier: String) async throws -> Void
    ) async throws {
        try await TestServer.with { server in
            let basic = try await createApp(server)
            try await server.createUser()
            let verifier = PKCE.generateVerifier()
            try await server.test { client in
                var browser = Browser(client: client)
                try await body(server, client, basic, try await code(&browser, challenge: PKCE.challenge(for: verifier)), verifier)
            }
        }
    }

    /// A code for alice through the one-factor login.
    static func code(_ browser: inout Browser, challenge: String) async throws -> String {
        let done = try await signIn(&browser, parameters(challenge: challenge))
        #expect(done.status == .seeOther)
        return try #require(try redirectParameters(done)["code"])
    }

    @Test("RFC 6749 §4.1 + RFC 7636: authorize → login form → password → code (with state and iss) → tokens → refresh")
    func fullFlow() async throws {
        try await TestServer.with { server in
            let basic = try await Self.createApp(server)
            try await server.createUser()
            let verifier = PKCE.generateVerifier()
            try await server.test { client in
                var browser = Browser(client: client)
                let page = try await browser.get("/oauth/authorize?" + Self.query(Self.parameters(challenge: PKCE.challenge(for: verifier))))
                #expect(page.status == .ok)
                #expect(page.text.contains("Sign in to Banking App"))
                #expect(!page.text.contains("<script"))
                #expect(page.headers[.contentSecurityPolicy]?.contains("default-src 'none'") == true)
                // Browsers check form-action on the redirect after the post: the client's origin, nothing else.
                #expect(page.headers[.contentSecurityPolicy]?.contains("form-action 'self' https://app.example;") == true)
                let cookie = try #require(page.headers[values: .setCookie].first { $0.hasPrefix("sa_authz=") })
                #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Secure"))

                let done = try await browser.post(
                    "/oauth/authorize/login",
                    [
                        "_csrf": page.csrf ?? "", "login": try #require(Self.field("login", in: page)), "username": "alice",
                        "password": "correct horse",
                    ])
                #expect(done.status == .seeOther)
                #expect(done.headers[.location]?.hasPrefix(Self.redirectURI + "?") == true)
                let response = try Self.redirectParameters(done)
                #expect(response["state"] == "s-123")
                #expect(response["iss"] == "https://auth.test")
                let code = try #require(response["code"])
                #expect(Base64URL.decode(code)?.count == 32)

                let (issued, tokens) = try await Self.exchange(client, code: code, verifier: verifier, basic: basic)
                #expect(issued.status == .ok)
                let access = try #require(tokens["access_token"] as? String)
                let refresh = try #require(tokens["refresh_token"] as? String)
                #expect(tokens["scope"] as? String == "accounts")
                let claims = try await server.runtime.signer.verify(access)
                #expect(claims.acr == AssuranceLevel.oneFactor.rawValue)
                #expect(claims.amr == ["pwd"])
                #expect(claims.authTime != nil)
                #expect(claims.clientID == "app")

                let (refreshed, again) = try await client.token([("grant_type", "refresh_token"), ("refresh_token", refresh)], basic: basic)
                #expect(refreshed.status == .ok)
                #expect(again["refresh_token"] as? String != refresh)
            }
            let actions = try await server.runtime.backOffice.auditEvents(realm: "default", limit: 50).map(\.record.action.rawValue)
            #expect(actions.contains("authorization.login"))
            #expect(actions.contains("authorization_code.issued"))
        }
    }

    @Test(
        "§4.1.2.1: refusals after the client and redirect URI are verified go to the redirect URI with error, state and iss",
        arguments: [
            ("no PKCE", ["code_challenge", "code_challenge_method"], [(String, String)](), "invalid_request"),
            ("plain", [], [("code_challenge_method", "plain")], "invalid_request"),
            ("no method", ["code_challenge_method"], [], "invalid_request"),
            ("scope too wide", [], [("scope", "accounts admin")], "invalid_scope"),
            ("response_type token", [], [("response_type", "token")], "unsupported_response_type"),
            ("no response_type", ["response_type"], [], "invalid_request"),
            ("malformed challenge", [], [("code_challenge", "short")], "invalid_request"),
            ("max_age negative", [], [("max_age", "-1")], "invalid_request"),
            ("request objects", [], [("request", "eyJhbGciOiJub25lIn0.e30.")], "invalid_request"),
        ])
    func redirectedRefusals(name: String, dropping: [String], with extra: [(String, String)], error: String) async throws {
        try await TestServer.with { server in
            try await Self.createApp(server)
            try await server.test { client in
                var browser = Browser(client: client)
                let challenge = PKCE.challenge(for: PKCE.generateVerifier())
                let page = try await browser.get(
                    "/oauth/authorize?" + Self.query(Self.parameters(challenge: challenge, dropping: Set(dropping), with: extra)))
                #expect(page.status == .found, "\(name)")
                #expect(page.headers[.location]?.hasPrefix(Self.redirectURI + "?") == true, "\(name)")
                let response = try Self.redirectParameters(page)
                #expect(response["error"] == error, "\(name)")
                #expect(response["state"] == "s-123", "\(name)")
                #expect(response["iss"] == "https://auth.test", "\(name)")
                #expect(response["code"] == nil, "\(name)")
            }
            #expect(try await server.count("authorization_requests") == 0)
        }
    }

    @Test(
        "§4.1.2.1: an unknown client or a redirect URI that is not registered is shown on a page (400), never redirected",
        arguments: [
            ("unknown client", [("client_id", "nobody")]),
            ("unregistered redirect_uri", [("redirect_uri", "https://evil.example/callback")]),
            ("prefix of a registered one", [("redirect_uri", "https://app.example/callback/more")]),
            ("other loopback host", [("redirect_uri", "http://localhost:8080/callback")]),
            ("no client_id", [("client_id", "")]),
        ])
    func pageRefusals(name: String, with extra: [(String, String)]) async throws {
        try await TestServer.with { server in
            try await Self.createApp(server)
            try await server.test { client in
                var browser = Browser(client: client)
                let page = try await browser.get(
                    "/oauth/authorize?" + Self.query(Self.parameters(challenge: PKCE.challenge(for: PKCE.generateVerifier()), with: extra)))
                #expect(page.status == .badRequest, "\(name)")
                #expect(page.headers[.location] == nil, "\(name)")
                #expect(page.text.contains("id=\"authorize-error\""), "\(name)")
            }
        }
    }

    @Test("a repeated parameter (RFC 6749 §3.1) is shown on a page: nothing in the request can be trusted")
    func repeatedParameter() async throws {
        try await TestServer.with { server in
            try await Self.createApp(server)
            try await server.test { client in
                var browser = Browser(client: client)
                let pairs = Self.parameters(challenge: PKCE.challenge(for: PKCE.generateVerifier()))
                let page = try await browser.get("/oauth/authorize?" + Self.query(pairs + [("redirect_uri", "https://evil.example/cb")]))
                #expect(page.status == .badRequest)
                #expect(page.headers[.location] == nil)
            }
        }
    }

    @Test("acr_values cannot lower the client's default of two factors; max_age is met by the fresh login")
    func acrFloor() async throws {
        try await TestServer.with { server in
            try await Self.createApp(server, defaultACR: AssuranceLevel.twoFactor.rawValue)
            try await server.createUser()
            try await server.test { client in
                var browser = Browser(client: client)
                let pairs = Self.parameters(
                    challenge: PKCE.challenge(for: PKCE.generateVerifier()),
                    with: [("acr_values", AssuranceLevel.oneFactor.rawValue), ("max_age", "0")])
                let started = try await Self.signIn(&browser, pairs)
                #expect(started.headers[.location]?.hasPrefix("/oauth/authorize/wait?login=") == true)
            }
        }
    }

    @Test("RFC 8252 §7.3: a loopback redirect URI matches with any port; redirect_uri may be left out when only one is registered")
    func loopbackAndOmittedRedirect() async throws {
        try await TestServer.with { server in
            let basic = try await Self.createApp(server, redirectURIs: ["http://127.0.0.1/cb"])
            try await server.createUser()
            let verifier = PKCE.generateVerifier()
            try await server.test { client in
                var browser = Browser(client: client)
                let pairs = Self.parameters(challenge: PKCE.challenge(for: verifier), with: [("redirect_uri", "http://127.0.0.1:53127/cb")])
                let done = try await Self.signIn(&browser, pairs)
                #expect(done.headers[.location]?.hasPrefix("http://127.0.0.1:53127/cb?") == true)
                let code = try #require(try Self.redirectParameters(done)["code"])
                // §4.1.3: the token request must name the same redirect_uri.
                let (wrong, _) = try await Self.exchange(client, code: code, verifier: verifier, basic: basic, redirectURI: "http://127.0.0.1/cb")
                #expect(wrong.status == .badRequest)

                let other = PKCE.generateVerifier()
                let omitted = try await Self.signIn(&browser, Self.parameters(challenge: PKCE.challenge(for: other), dropping: ["redirect_uri"]))
                #expect(omitted.headers[.location]?.hasPrefix("http://127.0.0.1/cb?") == true)
                let (ok, _) = try await Self.exchange(
                    client, code: try #require(try Self.redirectParameters(omitted)["code"]), verifier: other, basic: basic, redirectURI: nil)
                #expect(ok.status == .ok)
            }
        }
    }

    @Test("RFC 7636 §4.6: a wrong verifier is invalid_grant and uses the code up; so is a malformed one refused")
    func wrongVerifier() async throws {
        try await Self.withCode { _, client, basic, code, verifier in
            let (missing, missingBody) = try await client.token(
                [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", Self.redirectURI)], basic: basic)
            #expect(missing.status == .badRequest)
            #expect(missingBody["error"] as? String == "invalid_request")
            let (short, shortBody) = try await Self.exchange(client, code: code, verifier: "abc", basic: basic)
            #expect(short.status == .badRequest)
            #expect(shortBody["error"] as? String == "invalid_request")
            let (wrong, body) = try await Self.exchange(client, code: code, verifier: PKCE.generateVerifier(), basic: basic)
            #expect(wrong.status == .badRequest)
            #expect(body["error"] as? String == "invalid_grant")
            let (late, _) = try await Self.exchange(client, code: code, verifier: verifier, basic: basic)
            #expect(late.status == .badRequest)
        }
    }

    @Test("§4.1.2: a code presented twice is refused and revokes the refresh token and access token its first use issued")
    func codeReuseRevokes() async throws {
        try await Self.withCode { server, client, basic, code, verifier in
            let (first, tokens) = try await Self.exchange(client, code: code, verifier: verifier, basic: basic)
            #expect(first.status == .ok)
            let access = try #require(tokens["access_token"] as? String)
            let refresh = try #require(tokens["refresh_token"] as? String)
            #expect(try await server.runtime.tokens.validateAccessToken(access) != nil)

            let (second, body) = try await Self.exchange(client, code: code, verifier: verifier, basic: basic)
            #expect(second.status == .badRequest)
            #expect(body["error"] as? String == "invalid_grant")
            #expect(try await server.runtime.tokens.validateAccessToken(access) == nil)
            let (refreshed, refreshBody) = try await client.token(
                [("grant_type", "refresh_token"), ("refresh_token", refresh)], basic: basic)
            #expect(refreshed.status == .badRequest)
            #expect(refreshBody["error"] as? String == "invalid_grant")
            let reuse = try await server.runtime.backOffice.auditEvents(realm: "default", limit: 50).filter {
                $0.record.action == .authorizationCodeReuseDetected
            }
            #expect(reuse.count == 1)
        }
    }

    @Test("a code is bound to its client, its redirect URI, and lives 60 s")
    func codeBindings() async throws {
        try await TestServer.with { server in
            let basic = try await Self.createApp(server)
            let otherBasic = try await Self.createApp(server, id: "other")
            try await server.createUser()
            try await server.test { client in
                var browser = Browser(client: client)
                let verifier = PKCE.generateVerifier()
                let code = try await Self.code(&browser, challenge: PKCE.challenge(for: verifier))
                let (foreign, _) = try await Self.exchange(client, code: code, verifier: verifier, basic: otherBasic)
                #expect(foreign.status == .badRequest)
                let (mismatch, body) = try await Self.exchange(
                    client, code: code, verifier: verifier, basic: basic, redirectURI: "https://app.example/other")
                #expect(mismatch.status == .badRequest)
                #expect(body["error"] as? String == "invalid_grant")

                let later = PKCE.generateVerifier()
                let expiring = try await Self.code(&browser, challenge: PKCE.challenge(for: later))
                server.time.advance(by: 61)
                let (expired, expiredBody) = try await Self.exchange(client, code: expiring, verifier: later, basic: basic)
                #expect(expired.status == .badRequest)
                #expect(expiredBody["error"] as? String == "invalid_grant")
            }
        }
    }

    @Test("another browser (no cookie, or another cookie) cannot finish a login; a forged CSRF token is refused")
    func anotherBrowser() async throws {
        try await TestServer.with { server in
            try await Self.createApp(server)
            try await server.createUser()
            try await server.test { client in
                var browser = Browser(client: client)
                let page = try await browser.get(
                    "/oauth/authorize?" + Self.query(Self.parameters(challenge: PKCE.challenge(for: PKCE.generateVerifier()))))
                let login = try #require(Self.field("login", in: page))
                let form = ["_csrf": page.csrf ?? "", "login": login, "username": "alice", "password": "correct horse"]
                var stranger = Browser(client: client)
                let noCookie = try await stranger.post("/oauth/authorize/login", form)
                #expect(noCookie.status == .badRequest)
                #expect(noCookie.headers[.location] == nil)
                // A browser of its own (its own cookie and CSRF token) with the stolen login handle.
                let own = try await stranger.get(
                    "/oauth/authorize?" + Self.query(Self.parameters(challenge: PKCE.challenge(for: PKCE.generateVerifier()))))
                let theirs = try await stranger.post("/oauth/authorize/login", form.merging(["_csrf": own.csrf ?? ""]) { $1 })
                #expect(theirs.status == .badRequest)
                #expect(theirs.headers[.location] == nil)
                var forged = form
                forged["_csrf"] = "x" + String((page.csrf ?? "").dropFirst())
                if forged["_csrf"] == form["_csrf"] { forged["_csrf"] = "y" + String((page.csrf ?? "").dropFirst()) }
                #expect(try await browser.post("/oauth/authorize/login", forged).status == .badRequest)
                // The right browser still can.
                #expect(try await browser.post("/oauth/authorize/login", form).status == .seeOther)
                // …once.
                #expect(try await browser.post("/oauth/authorize/login", form).status == .badRequest)
            }
        }
    }

    @Test("a wrong password shows the form again (401) and counts on the password lockout like the password grant")
    func wrongPassword() async throws {
        try await TestServer.with { server in
            try await Self.createApp(server)
            let alice = try await server.createUser()
            try await server.test { client in
                var browser = Browser(client: client)
                let wrong = try await Self.signIn(
                    &browser, Self.parameters(challenge: PKCE.challenge(for: PKCE.generateVerifier())), password: "nope")
                #expect(wrong.status == .unauthorized)
                #expect(wrong.headers[.location] == nil)
                #expect(wrong.text.contains("Username or password is wrong"))
                let login = try #require(Self.field("login", in: wrong))
                let right = try await browser.post(
                    "/oauth/authorize/login", ["_csrf": wrong.csrf ?? "", "login": login, "username": "alice", "password": "correct horse"])
                #expect(right.status == .seeOther)
            }
            let records = try await server.runtime.backOffice.auditEvents(realm: "default", limit: 50).filter {
                $0.record.action == .loginPassword && $0.record.subject == "user:\(alice.id)"
            }
            #expect(records.map(\.record.outcome).contains(.failure))
            #expect(records.map(\.record.outcome).contains(.success))
            let counted = try await server.count("audit_failures WHERE action = 'authorization.login' AND reason = 'invalid_credentials'")
            #expect(counted == 1)
        }
    }

    @Test("RFC 9126: PAR answers 201 with a request_uri that works once, for 60 s, for its client only")
    func pushedRequests() async throws {
        try await TestServer.with { server in
            let basic = try await Self.createApp(server, requirePAR: true)
            let otherBasic = try await Self.createApp(server, id: "other")
            try await server.createUser()
            let verifier = PKCE.generateVerifier()
            try await server.test { client in
                var browser = Browser(client: client)
                // Required but not used: refused at the redirect URI.
                let direct = try await browser.get("/oauth/authorize?" + Self.query(Self.parameters(challenge: PKCE.challenge(for: verifier))))
                #expect(direct.status == .found)
                #expect(try Self.redirectParameters(direct)["error"] == "invalid_request")

                func push(_ pairs: [(String, String)], basic: String) async throws -> (TestResponse, [String: Any]) {
                    let response = try await client.executeRequest(
                        uri: "/oauth/par", method: .post, headers: HTTP.formHeaders(basic: basic), body: HTTP.form(pairs))
                    return (response, try HTTP.json(response.body))
                }
                let (withURI, refusal) = try await push(
                    Self.parameters(challenge: PKCE.challenge(for: verifier), with: [("request_uri", "urn:x")]), basic: basic)
                #expect(withURI.status == .badRequest)
                #expect(refusal["error"] as? String == "invalid_request")
                let (noPKCE, noPKCEBody) = try await push(Self.parameters(challenge: "", dropping: ["code_challenge"]), basic: basic)
                #expect(noPKCE.status == .badRequest)
                #expect(noPKCEBody["error"] as? String == "invalid_request")
                let (unauthenticated, _) = try await push(
                    Self.parameters(challenge: PKCE.challenge(for: verifier)), basic: HTTP.basic("app", "wrong"))
                #expect(unauthenticated.status == .unauthorized)

                let (pushed, body) = try await push(Self.parameters(challenge: PKCE.challenge(for: verifier)), basic: basic)
                #expect(pushed.status == .created)
                #expect(body["expires_in"] as? Int == 60)
                let requestURI = try #require(body["request_uri"] as? String)
                #expect(requestURI.hasPrefix("urn:ietf:params:oauth:request_uri:"))

                // Another client cannot use it (and does not use it up).
                let foreign = try await browser.get("/oauth/authorize?" + Self.query([("client_id", "other"), ("request_uri", requestURI)]))
                #expect(foreign.status == .badRequest)
                _ = otherBasic
                let page = try await browser.get("/oauth/authorize?" + Self.query([("client_id", "app"), ("request_uri", requestURI)]))
                #expect(page.status == .ok)
                let reused = try await browser.get("/oauth/authorize?" + Self.query([("client_id", "app"), ("request_uri", requestURI)]))
                #expect(reused.status == .badRequest)
                #expect(reused.headers[.location] == nil)
                let done = try await browser.post(
                    "/oauth/authorize/login",
                    [
                        "_csrf": page.csrf ?? "", "login": try #require(Self.field("login", in: page)), "username": "alice",
                        "password": "correct horse",
                    ])
                let code = try #require(try Self.redirectParameters(done)["code"])
                let (issued, _) = try await Self.exchange(client, code: code, verifier: verifier, basic: basic)
                #expect(issued.status == .ok)

                let (late, lateBody) = try await push(Self.parameters(challenge: PKCE.challenge(for: verifier)), basic: basic)
                #expect(late.status == .created)
                server.time.advance(by: 61)
                let expired = try await browser.get(
                    "/oauth/authorize?" + Self.query([("client_id", "app"), ("request_uri", try #require(lateBody["request_uri"] as? String))]))
                #expect(expired.status == .badRequest)
            }
        }
    }

    @Test("2fa by the bound device: the approval 'Sign in to Banking App' is pushed; the page waits; approved → code → acr 2fa, amr pwd hwk")
    func deviceApproval() async throws {
        try await DevicesTests.withUserToken { server, client, token, _ in
            let phone = TestPhone()
            let deviceID = try await DevicesTests.bind(phone, server: server, client: client, token: token)
            let basic = try await Self.createApp(server, defaultACR: AssuranceLevel.twoFactor.rawValue)
            let verifier = PKCE.generateVerifier()
            var browser = Browser(client: client)
            let started = try await Self.signIn(&browser, Self.parameters(challenge: PKCE.challenge(for: verifier)))
            #expect(started.status == .seeOther)
            let waitPath = try #require(started.headers[.location])
            #expect(waitPath.hasPrefix("/oauth/authorize/wait?login="))
            let waiting = try await browser.get(waitPath)
            #expect(waiting.text.contains("id=\"login-status\">PENDING"))
            #expect(waiting.text.contains("http-equiv=\"refresh\""))
            #expect(!waiting.text.contains("<script"))
            let login = try #require(Self.field("login", in: waiting))
            let csrf = try #require(waiting.csrf)
            #expect(try await browser.post("/oauth/authorize/continue", ["_csrf": csrf, "login": login]).status == .conflict)

            let (approvalID, data) = try await Self.pendingApproval(client, token: token)
            #expect(data.contains("Sign in to Banking App"))
            let (approved, _) = try await client.postJSON(
                "/api/user/approvals/\(approvalID)/approve", token: token,
                ["deviceId": deviceID, "data": data, "signature": try phone.signDER(ApprovalService.approvalMessage(id: approvalID, data: data))])
            #expect(approved.status == .ok)
            #expect(try await browser.get(waitPath).text.contains("id=\"login-status\">APPROVED"))
            let done = try await browser.post("/oauth/authorize/continue", ["_csrf": csrf, "login": login])
            #expect(done.status == .seeOther)
            let code = try #require(try Self.redirectParameters(done)["code"])
            let (issued, tokens) = try await Self.exchange(client, code: code, verifier: verifier, basic: basic)
            #expect(issued.status == .ok)
            let claims = try await server.runtime.signer.verify(try #require(tokens["access_token"] as? String))
            #expect(claims.acr == AssuranceLevel.twoFactor.rawValue)
            #expect(claims.amr == ["pwd", "hwk"])
            // Refreshed tokens keep the two factors.
            let (_, refreshed) = try await client.token(
                [("grant_type", "refresh_token"), ("refresh_token", try #require(tokens["refresh_token"] as? String))], basic: basic)
            let again = try await server.runtime.signer.verify(try #require(refreshed["access_token"] as? String))
            #expect(again.acr == AssuranceLevel.twoFactor.rawValue)
        }
    }

    @Test("2fa asked by acr_values; a rejection on the device is access_denied at the redirect URI")
    func deviceRejection() async throws {
        try await DevicesTests.withUserToken { server, client, token, _ in
            let phone = TestPhone()
            let deviceID = try await DevicesTests.bind(phone, server: server, client: client, token: token)
            try await Self.createApp(server)
            var browser = Browser(client: client)
            let started = try await Self.signIn(
                &browser,
                Self.parameters(challenge: PKCE.challenge(for: PKCE.generateVerifier()), with: [("acr_values", AssuranceLevel.twoFactor.rawValue)]))
            let waiting = try await browser.get(try #require(started.headers[.location]))
            let (approvalID, _) = try await Self.pendingApproval(client, token: token)
            let (rejected, _) = try await client.postJSON(
                "/api/user/approvals/\(approvalID)/reject", token: token,
                ["deviceId": deviceID, "signature": try phone.signDER(ApprovalService.rejectionMessage(id: approvalID))])
            #expect(rejected.status == .ok)
            let done = try await browser.post(
                "/oauth/authorize/continue", ["_csrf": waiting.csrf ?? "", "login": try #require(Self.field("login", in: waiting))])
            #expect(done.status == .seeOther)
            let response = try Self.redirectParameters(done)
            #expect(response["error"] == "access_denied")
            #expect(response["code"] == nil)
            #expect(response["state"] == "s-123")
        }
    }

    @Test("2fa without a device: an SMS OTP; a wrong code is refused, the right one gives a code with amr pwd sms")
    func smsOTP() async throws {
        try await TestServer.with { server in
            let basic = try await Self.createApp(server, defaultACR: AssuranceLevel.twoFactor.rawValue)
            try await server.createUser()
            let verifier = PKCE.generateVerifier()
            try await server.test { client in
                var browser = Browser(client: client)
                let started = try await Self.signIn(&browser, Self.parameters(challenge: PKCE.challenge(for: verifier)))
                let page = try await browser.get(try #require(started.headers[.location]))
                #expect(page.text.contains("id=\"otp\""))
                let otp = try await server.latestOTP()
                #expect(try await server.deliveredNotifications().last?["message"]?.contains("Sign in to Banking App") == true)
                let form = ["_csrf": page.csrf ?? "", "login": try #require(Self.field("login", in: page))]
                let wrong = try await browser.post("/oauth/authorize/otp", form.merging(["otp": otp == "000000" ? "111111" : "000000"]) { $1 })
                #expect(wrong.status == .unauthorized)
                let done = try await browser.post("/oauth/authorize/otp", form.merging(["otp": otp]) { $1 })
                #expect(done.status == .seeOther)
                let code = try #require(try Self.redirectParameters(done)["code"])
                let (issued, tokens) = try await Self.exchange(client, code: code, verifier: verifier, basic: basic)
                #expect(issued.status == .ok)
                let claims = try await server.runtime.signer.verify(try #require(tokens["access_token"] as? String))
                #expect(claims.acr == AssuranceLevel.twoFactor.rawValue)
                #expect(claims.amr == ["pwd", "sms"])
            }
        }
    }

    @Test("the SMS code: five wrong codes close it, the right one is refused after; no device and no phone is a page, not a code")
    func smsLimitsAndNoSecondFactor() async throws {
        try await TestServer.with { server in
            try await Self.createApp(server, defaultACR: AssuranceLevel.twoFactor.rawValue)
            try await server.createUser()
            _ = try await server.runtime.administration.createUser(
                username: "nophone", password: "correct horse", phone: nil, email: nil, ownerClientID: nil, actor: "test")
            try await server.test { client in
                var browser = Browser(client: client)
                let started = try await Self.signIn(&browser, Self.parameters(challenge: PKCE.challenge(for: PKCE.generateVerifier())))
                let page = try await browser.get(try #require(started.headers[.location]))
                let otp = try await server.latestOTP()
                let form = ["_csrf": page.csrf ?? "", "login": try #require(Self.field("login", in: page))]
                for wrong in ["000000", "111111", "222222", "333333", "444444", "555555"].filter({ $0 != otp }).prefix(5) {
                    #expect(try await browser.post("/oauth/authorize/otp", form.merging(["otp": wrong]) { $1 }).status == .unauthorized)
                }
                let closed = try await browser.post("/oauth/authorize/otp", form.merging(["otp": otp]) { $1 })
                #expect(closed.status == .forbidden)
                #expect(closed.headers[.location] == nil)

                var other = Browser(client: client)
                let page2 = try await other.get(
                    "/oauth/authorize?" + Self.query(Self.parameters(challenge: PKCE.challenge(for: PKCE.generateVerifier()))))
                let nothing = try await other.post(
                    "/oauth/authorize/login",
                    [
                        "_csrf": page2.csrf ?? "", "login": try #require(Self.field("login", in: page2)), "username": "nophone",
                        "password": "correct horse",
                    ])
                #expect(nothing.status == .conflict)
                #expect(nothing.headers[.location] == nil)
            }
        }
    }

    @Test("a login not finished within 10 minutes is gone")
    func loginExpires() async throws {
        try await TestServer.with { server in
            try await Self.createApp(server)
            try await server.createUser()
            try await server.test { client in
                var browser = Browser(client: client)
                let page = try await browser.get(
                    "/oauth/authorize?" + Self.query(Self.parameters(challenge: PKCE.challenge(for: PKCE.generateVerifier()))))
                server.time.advance(by: AuthorizationService.loginLifetime)
                let late = try await browser.post(
                    "/oauth/authorize/login",
                    [
                        "_csrf": page.csrf ?? "", "login": try #require(Self.field("login", in: page)), "username": "alice",
                        "password": "correct horse",
                    ])
                #expect(late.status == .badRequest)
                #expect(late.headers[.location] == nil)
            }
        }
    }

    @Test("RFC 8414 metadata names the authorization and PAR endpoints, code, S256, iss and the acr values")
    func metadata() async throws {
        try await TestServer.with { server in
            try await server.test { client in
                let response = try await client.executeRequest(uri: "/.well-known/oauth-authorization-server", method: .get, headers: [:], body: nil)
                let body = try HTTP.json(response.body)
                #expect(body["authorization_endpoint"] as? String == "https://auth.test/oauth/authorize")
                #expect(body["pushed_authorization_request_endpoint"] as? String == "https://auth.test/oauth/par")
                #expect(body["response_types_supported"] as? [String] == ["code"])
                #expect(body["code_challenge_methods_supported"] as? [String] == ["S256"])
                #expect(body["authorization_response_iss_parameter_supported"] as? Bool == true)
                #expect((body["grant_types_supported"] as? [String])?.contains("authorization_code") == true)
                #expect((body["acr_values_supported"] as? [String])?.contains(AssuranceLevel.twoFactor.rawValue) == true)
            }
        }
    }
}
