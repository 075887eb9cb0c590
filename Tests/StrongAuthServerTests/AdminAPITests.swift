import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SQLKit
import StrongAuthCore
import StrongAuthServer
import Testing

/// `/admin/v1` through the router (docs/admin-api.md): who may call it (a client token with the
/// `admin` scope, or an operator session with its CSRF token), that it acts in the caller's realm
/// only, and that every change holds at once — disabled clients, rotated secrets, locked users.
@Suite("Admin API")
struct AdminAPITests {
    /// An access token of `id` (client_credentials) with `scope`.
    static func clientToken(_ client: any TestClientProtocol, _ id: String, _ secret: String, scope: String) async throws -> String {
        let (response, body) = try await client.token([("grant_type", "client_credentials"), ("scope", scope)], basic: HTTP.basic(id, secret))
        #expect(response.status == .ok, "token for \(id): \(body)")
        return body["access_token"] as? String ?? ""
    }

    static func call(
        _ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ path: String, token: String?, headers extra: HTTPFields = [:]
    ) async throws -> (status: HTTPResponse.Status, body: [String: Any], headers: HTTPFields) {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        let response = try await client.executeRequest(uri: path, method: method, headers: headers, body: nil)
        return (response.status, try HTTP.json(response.body), response.headers)
    }

    /// Audit records of `action` by `actor`, journalled or sealed, counted in one statement (a
    /// record sealed between two reads would otherwise be counted twice or not at all).
    static func audited(_ server: TestServer, _ action: String, actor: String) async throws -> Int {
        try await server.runtime.store.pool.withConnection { db in
            try await db.raw(
                """
                SELECT (SELECT COUNT(*) FROM audit_journal WHERE action = \(bind: action) AND actor = \(bind: actor))
                     + (SELECT COUNT(*) FROM audit_events WHERE action = \(bind: action) AND actor = \(bind: actor)) AS n
                """
            ).first()?.decode(column: "n", as: Int.self) ?? 0
        }
    }

    /// A server with the client `shop` (every grant), the user alice, and an `admin` client's token.
    static func withShopAndAdmin(
        _ body:
            @Sendable (TestServer, any TestClientProtocol, _ shopSecret: String, _ adminSecret: String, _ adminToken: String) async throws
            -> Void
    ) async throws {
        try await TestServer.with { server in
            let shop = try await server.createClient("shop")
            let admin = try await server.createClient("admin", scopes: ["admin"], grants: [.clientCredentials])
            try await server.createUser("alice")
            try await server.test { client in
                try await body(server, client, shop, admin, try await clientToken(client, "admin", admin, scope: "admin"))
            }
        }
    }

    /// Alice's password-grant answer through `shop`.
    static func aliceLogin(_ client: any TestClientProtocol, shop: String) async throws -> [String: Any] {
        try await client.token(
            [("grant_type", "password"), ("username", "alice"), ("password", "correct horse")], basic: HTTP.basic("shop", shop)
        ).1
    }

    @Test("no token 401; a token without the admin scope, or a user's token, 403; the banner's admin client works")
    func refusals() async throws {
        try await TestServer.with { server in
            let shop = try await server.createClient("shop", scopes: ["accounts", "admin"])
            let admin = try await server.createClient("admin", scopes: ["admin"], grants: [.clientCredentials])
            try await server.createUser("alice")
            try await server.test { client in
                #expect(try await Self.call(client, .get, "/admin/v1/clients", token: nil).status == .unauthorized)
                #expect(try await Self.call(client, .get, "/admin/v1/clients", token: "not-a-token").status == .unauthorized)
                let accounts = try await Self.clientToken(client, "shop", shop, scope: "accounts")
                let refused = try await Self.call(client, .get, "/admin/v1/clients", token: accounts)
                #expect(refused.status == .forbidden)
                #expect(refused.headers[.contentType] == "application/problem+json")
                // A user's token never administers, whatever scope its client could ask for.
                let (_, user) = try await client.token(
                    [("grant_type", "password"), ("username", "alice"), ("password", "correct horse"), ("scope", "admin")],
                    basic: HTTP.basic("shop", shop))
                #expect(try await Self.call(client, .get, "/admin/v1/clients", token: user["access_token"] as? String).status == .forbidden)
                let token = try await Self.clientToken(client, "admin", admin, scope: "admin")
                let listed = try await Self.call(client, .get, "/admin/v1/clients", token: token)
                #expect(listed.status == .ok)
                let ids = (listed.body["clients"] as? [[String: Any]] ?? []).compactMap { $0["clientId"] as? String }
                #expect(ids == ["admin", "shop"])
                #expect(!String(describing: listed.body).contains("hash"))
            }
        }
    }

    @Test("disable: the client is refused at once, its tokens introspect inactive and stop refreshing; enable restores")
    func disableClient() async throws {
        try await Self.withShopAndAdmin { server, client, shop, admin, token in
            let login = try await Self.aliceLogin(client, shop: shop)
            let access = login["access_token"] as? String ?? ""
            let refresh = login["refresh_token"] as? String ?? ""

            let disabled = try await Self.call(client, .post, "/admin/v1/clients/shop/disable", token: token)
            #expect(disabled.status == .ok)
            #expect(disabled.body["status"] as? String == "disabled")
            #expect(try await Self.audited(server, "client.disabled", actor: "client:admin") == 1)
            // Twice is one change: one audit record.
            #expect(try await Self.call(client, .post, "/admin/v1/clients/shop/disable", token: token).status == .ok)
            #expect(try await Self.audited(server, "client.disabled", actor: "client:admin") == 1)

            let (denied, _) = try await client.token([("grant_type", "client_credentials")], basic: HTTP.basic("shop", shop))
            #expect(denied.status == .unauthorized)
            let (refreshed, _) = try await client.token(
                [("grant_type", "refresh_token"), ("refresh_token", refresh)], basic: HTTP.basic("shop", shop))
            #expect(refreshed.status != .ok)
            let (_, introspected) = try await client.token(
                [("token", access)], basic: HTTP.basic("admin", admin), path: "/oauth/introspect")
            #expect(introspected["active"] as? Bool == false)
            let me = try await client.executeRequest(uri: "/api/v2/users", method: .get, headers: HTTP.bearer(access), body: nil)
            #expect(me.status == .unauthorized)

            #expect(try await Self.call(client, .post, "/admin/v1/clients/shop/enable", token: token).body["status"] as? String == "active")
            let (again, _) = try await client.token([("grant_type", "client_credentials")], basic: HTTP.basic("shop", shop))
            #expect(again.status == .ok)
        }
    }

    @Test("create: a client in the admin's realm, its secret once; bad input 400, a taken id 409")
    func createClient() async throws {
        try await Self.withShopAndAdmin { server, client, _, _, token in
            func create(_ json: String) async throws -> (HTTPResponse.Status, [String: Any]) {
                var headers = HTTP.bearer(token, json: true)
                headers[.contentType] = "application/json"
                let response = try await client.executeRequest(
                    uri: "/admin/v1/clients", method: .post, headers: headers, body: ByteBuffer(string: json))
                return (response.status, try HTTP.json(response.body))
            }
            let (status, created) = try await create(#"{"clientId": "webshop", "scopes": ["accounts"], "grants": ["client_credentials"]}"#)
            #expect(status == .created)
            let secret = created["clientSecret"] as? String ?? ""
            #expect((created["client"] as? [String: Any])?["realm"] as? String == Realm.defaultID)
            #expect(try await client.token([("grant_type", "client_credentials")], basic: HTTP.basic("webshop", secret)).0.status == .ok)
            #expect(try await Self.audited(server, "client.created", actor: "client:admin") == 1)
            #expect(try await create(#"{"clientId": "webshop", "grants": ["client_credentials"]}"#).0 == .conflict)
            #expect(try await create(#"{"clientId": "bad id", "grants": ["client_credentials"]}"#).0 == .badRequest)
            #expect(try await create(#"{"clientId": "x", "grants": []}"#).0 == .badRequest)
            #expect(try await create(#"{"clientId": "x", "grants": ["implicit"]}"#).0 == .badRequest)
            #expect(try await create(#"{"clientId": 1}"#).0 == .badRequest)
        }
    }

    @Test("rotate-secret: the old secret is refused at once, the new one accepted, shown once")
    func rotateSecret() async throws {
        try await TestServer.with { server in
            let old = try await server.createClient("shop")
            let admin = try await server.createClient("admin", scopes: ["admin"], grants: [.clientCredentials])
            try await server.test { client in
                let token = try await Self.clientToken(client, "admin", admin, scope: "admin")
                let rotated = try await Self.call(client, .post, "/admin/v1/clients/shop/rotate-secret", token: token)
                #expect(rotated.status == .ok)
                let new = rotated.body["secret"] as? String ?? ""
                #expect(new.hasPrefix(SecretPrefix.clientSecret) && new != old)
                #expect(try await client.token([("grant_type", "client_credentials")], basic: HTTP.basic("shop", old)).0.status == .unauthorized)
                #expect(try await client.token([("grant_type", "client_credentials")], basic: HTTP.basic("shop", new)).0.status == .ok)
                #expect(try await Self.audited(server, "client.secret_rotated", actor: "client:admin") == 1)
                #expect(try await Self.call(client, .get, "/admin/v1/clients/shop", token: token).body["secret"] == nil)
            }
        }
    }

    @Test("delete: refresh tokens revoked with the client, its id never given out again")
    func deleteClient() async throws {
        try await Self.withShopAndAdmin { server, client, shop, admin, token in
            let login = try await Self.aliceLogin(client, shop: shop)
            #expect(try await Self.call(client, .delete, "/admin/v1/clients/shop", token: token).status == .noContent)
            #expect(try await Self.call(client, .get, "/admin/v1/clients/shop", token: token).status == .notFound)
            #expect(try await Self.call(client, .delete, "/admin/v1/clients/shop", token: token).status == .notFound)
            let families = try await server.runtime.store.pool.withConnection { db in
                try await db.raw("SELECT COUNT(*) AS n FROM token_families WHERE client_id = 'shop' AND revoked_at IS NULL").first()?
                    .decode(column: "n", as: Int.self) ?? -1
            }
            #expect(families == 0)
            await #expect(throws: StoreError.self) { try await server.createClient("shop") }
            let (_, introspected) = try await client.token(
                [("token", login["access_token"] as? String ?? "")], basic: HTTP.basic("admin", admin), path: "/oauth/introspect")
            #expect(introspected["active"] as? Bool == false)
            #expect(try await Self.audited(server, "client.deleted", actor: "client:admin") == 1)
        }
    }

    @Test("an admin of another realm sees and changes nothing here: 404 as for a missing object")
    func otherRealm() async throws {
        try await TestServer.with { server in
            try await server.createClient("shop")
            let user = try await server.createUser("alice")
            try await server.runtime.administration.createRealm(id: "other", actor: "test")
            let theirs = try await server.runtime.administration.createClient(
                id: "their-admin", name: nil, scopes: Scopes(["admin"]), grants: [.clientCredentials], realm: "other", actor: "test"
            ).secret
            try await server.test { client in
                let token = try await Self.clientToken(client, "their-admin", theirs, scope: "admin")
                for (method, path) in [
                    (HTTPRequest.Method.get, "/admin/v1/clients/shop"), (.post, "/admin/v1/clients/shop/disable"),
                    (.post, "/admin/v1/clients/shop/rotate-secret"), (.delete, "/admin/v1/clients/shop"),
                    (.get, "/admin/v1/users/\(user.id)"), (.get, "/admin/v1/users/alice"), (.post, "/admin/v1/users/alice/lock"),
                    (.delete, "/admin/v1/users/alice"),
                ] {
                    let answer = try await Self.call(client, method, path, token: token)
                    #expect(answer.status == .notFound, "\(method) \(path)")
                }
                #expect(try await server.runtime.store.client(id: "shop")?.status == .active)
                #expect(try await server.runtime.store.user(id: user.id)?.status == .active)
                let listed = try await Self.call(client, .get, "/admin/v1/clients", token: token)
                #expect((listed.body["clients"] as? [[String: Any]] ?? []).compactMap { $0["clientId"] as? String } == ["their-admin"])
                #expect((try await Self.call(client, .get, "/admin/v1/users", token: token).body["users"] as? [Any])?.isEmpty == true)
            }
        }
    }

    @Test("a disabled admin client's token is refused at once")
    func disabledAdmin() async throws {
        try await TestServer.with { server in
            let admin = try await server.createClient("admin", scopes: ["admin"], grants: [.clientCredentials])
            try await server.test { client in
                let token = try await Self.clientToken(client, "admin", admin, scope: "admin")
                #expect(try await Self.call(client, .get, "/admin/v1/clients", token: token).status == .ok)
                try await server.runtime.lifecycle.setActive(.client, id: "admin", active: false, realm: Realm.defaultID, actor: "operator:cli")
                #expect(try await Self.call(client, .get, "/admin/v1/clients", token: token).status == .unauthorized)
            }
        }
    }

    @Test("users: list, show, lock (sign-in and refresh refused), unlock, delete")
    func users() async throws {
        try await TestServer.with { server in
            let shop = try await server.createClient("shop")
            let admin = try await server.createClient("admin", scopes: ["admin"], grants: [.clientCredentials])
            let alice = try await server.createUser("alice")
            try await server.createUser("bob")
            try await server.test { client in
                let token = try await Self.clientToken(client, "admin", admin, scope: "admin")
                let page = try await Self.call(client, .get, "/admin/v1/users?limit=1", token: token)
                #expect((page.body["users"] as? [[String: Any]])?.first?["username"] as? String == "alice")
                #expect(page.body["next"] as? String == "alice")
                let rest = try await Self.call(client, .get, "/admin/v1/users?limit=1&after=alice", token: token)
                #expect((rest.body["users"] as? [[String: Any]])?.first?["username"] as? String == "bob")
                #expect(try await Self.call(client, .get, "/admin/v1/users/\(alice.id)", token: token).body["username"] as? String == "alice")

                let login = [("grant_type", "password"), ("username", "alice"), ("password", "correct horse")]
                let before = try await client.token(login, basic: HTTP.basic("shop", shop)).1
                #expect(try await Self.call(client, .post, "/admin/v1/users/alice/lock", token: token).body["status"] as? String == "disabled")
                #expect(try await client.token(login, basic: HTTP.basic("shop", shop)).0.status != .ok)
                // A refresh token issued before the lock does not outlive it.
                let refresh = [("grant_type", "refresh_token"), ("refresh_token", before["refresh_token"] as? String ?? "")]
                #expect(try await client.token(refresh, basic: HTTP.basic("shop", shop)).0.status != .ok)
                #expect(try await Self.call(client, .post, "/admin/v1/users/alice/unlock", token: token).body["status"] as? String == "active")
                #expect(try await client.token(login, basic: HTTP.basic("shop", shop)).0.status == .ok)
                #expect(try await Self.audited(server, "user.locked", actor: "client:admin") == 1)
                #expect(try await Self.audited(server, "user.unlocked", actor: "client:admin") == 1)

                #expect(try await Self.call(client, .delete, "/admin/v1/users/alice", token: token).status == .noContent)
                #expect(try await server.runtime.store.user(id: alice.id) == nil)
                #expect(try await Self.call(client, .get, "/admin/v1/users/alice", token: token).status == .notFound)
            }
        }
    }

    @Test("applications and integration users: disable, rotate the password, delete; an app with registrations is kept (409)")
    func powerAuth() async throws {
        try await TestServer.with { server in
            let admin = try await server.createClient("admin", scopes: ["admin"], grants: [.clientCredentials])
            _ = try await server.runtime.powerAuth.createApplication(id: "my-application", name: nil, callbackURL: nil, actor: "test")
            _ = try await server.runtime.powerAuth.createApplication(id: "unused", name: nil, callbackURL: nil, actor: "test")
            let created = try await server.runtime.powerAuth.createIntegrationUser(
                name: "integration-user", applicationIDs: ["my-application"], actor: "test")
            try await server.createUser("end-user-1234")
            try await server.test { client in
                let token = try await Self.clientToken(client, "admin", admin, scope: "admin")
                let registration = try await client.executeRequest(
                    uri: "/powerauth-cloud/v2/registrations", method: .post,
                    headers: [.authorization: HTTP.basic("integration-user", created.password), .contentType: "application/json"],
                    body: ByteBuffer(string: #"{"userId": "end-user-1234", "appId": "my-application"}"#))
                #expect(registration.status == .ok || registration.status == .created)

                let apps = try await Self.call(client, .get, "/admin/v1/applications", token: token)
                #expect(
                    (apps.body["applications"] as? [[String: Any]] ?? []).compactMap { $0["applicationId"] as? String } == [
                        "my-application", "unused",
                    ])
                #expect(try await Self.call(client, .delete, "/admin/v1/applications/my-application", token: token).status == .conflict)
                #expect(try await Self.call(client, .delete, "/admin/v1/applications/unused", token: token).status == .noContent)
                #expect(
                    try await Self.call(client, .post, "/admin/v1/applications/my-application/disable", token: token).body["status"] as? String
                        == "disabled")

                let rotated = try await Self.call(client, .post, "/admin/v1/integration-users/integration-user/rotate-password", token: token)
                let password = rotated.body["secret"] as? String ?? ""
                let registrations = { @Sendable (password: String) async throws -> HTTPResponse.Status in
                    let response = try await client.executeRequest(
                        uri: "/powerauth-cloud/v2/registrations?userId=end-user-1234", method: .get,
                        headers: [.authorization: HTTP.basic("integration-user", password)], body: nil)
                    return response.status
                }
                #expect(try await registrations(created.password) == .unauthorized)
                #expect(try await registrations(password) != .unauthorized)
                #expect(try await Self.call(client, .post, "/admin/v1/integration-users/integration-user/disable", token: token).status == .ok)
                #expect(try await registrations(password) == .unauthorized)
                #expect(try await Self.call(client, .delete, "/admin/v1/integration-users/integration-user", token: token).status == .noContent)
                #expect(try await Self.call(client, .get, "/admin/v1/integration-users", token: token).body["integrationUsers"] as? [Any] != nil)
            }
        }
    }

    @Test("an operator session: GET with the cookie, unsafe methods only with X-CSRF-Token; TOTP reset and disable end it")
    func operatorSession() async throws {
        try await TestServer.with { server in
            let olga = try await server.runtime.operators.create(username: "olga", password: "operator pw", actor: "test")
            _ = try await server.runtime.operators.create(username: "oscar", password: "operator pw", actor: "test")
            try await server.createUser("alice")
            try await server.test { client in
                var browser = Browser(client: client)
                #expect(try await browser.signInOperator("olga", "operator pw", code: server.totp(olga)).status == .seeOther)
                let cookie: HTTPFields = [.cookie: "sa_admin=\(browser.cookies["sa_admin"] ?? "")"]
                let listed = try await Self.call(client, .get, "/admin/v1/operators", token: nil, headers: cookie)
                #expect(listed.status == .ok)
                let csrf = listed.headers[HTTPField.Name("X-CSRF-Token")!] ?? ""
                #expect(!csrf.isEmpty)
                // A cross-site form post carries the cookie but not the header.
                #expect(try await Self.call(client, .post, "/admin/v1/users/alice/lock", token: nil, headers: cookie).status == .forbidden)
                var wrong = cookie
                // Differs from the real token in its first character, whatever that is.
                wrong[HTTPField.Name("X-CSRF-Token")!] = (csrf.hasPrefix("x") ? "y" : "x") + csrf.dropFirst()
                #expect(try await Self.call(client, .post, "/admin/v1/users/alice/lock", token: nil, headers: wrong).status == .forbidden)
                #expect(try await server.runtime.store.user(realm: Realm.defaultID, username: "alice")?.status == .active)
                var good = cookie
                good[HTTPField.Name("X-CSRF-Token")!] = csrf
                #expect(try await Self.call(client, .post, "/admin/v1/users/alice/lock", token: nil, headers: good).status == .ok)
                #expect(try await Self.audited(server, "user.locked", actor: "operator:\(olga.operator.id)") == 1)

                let reset = try await Self.call(client, .post, "/admin/v1/operators/oscar/reset-totp", token: nil, headers: good)
                #expect((reset.body["otpauthUri"] as? String)?.hasPrefix("otpauth://") == true)
                // Disabling oneself ends one's own session: the next request is refused.
                #expect(try await Self.call(client, .post, "/admin/v1/operators/olga/disable", token: nil, headers: good).status == .ok)
                #expect(try await Self.call(client, .get, "/admin/v1/operators", token: nil, headers: cookie).status == .unauthorized)
            }
        }
    }
}
