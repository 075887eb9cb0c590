import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

@Suite("finAPI users (/api/v2/users)")
struct FinAPIUsersTests {
    static let createBody =
        #"{"id":"finapi-user","password":"s3cret-pass","email":"user@example.com","phone":"+49 99 999999-999","isAutoUpdateEnabled":false}"#

    @Test("a client creates a user; the user logs in, reads itself, deletes itself; its tokens die with it")
    func lifecycle() async throws {
        try await TestServer.with { server in
            let basic = HTTP.basic("shop", try await server.createClient())
            try await server.test { client in
                let (_, clientTokens) = try await client.token([("grant_type", "client_credentials")], basic: basic)
                let clientToken = try #require(clientTokens["access_token"] as? String)

                let created = try await client.executeRequest(
                    uri: "/api/v2/users", method: .post, headers: HTTP.bearer(clientToken, json: true), body: ByteBuffer(string: Self.createBody))
                #expect(created.status == .created)
                let user = try HTTP.json(created.body)
                #expect(user["id"] as? String == "finapi-user")
                #expect(user["password"] as? String == "s3cret-pass")
                #expect(user["email"] as? String == "user@example.com")

                let (login, userTokens) = try await client.token(
                    [("grant_type", "password"), ("username", "finapi-user"), ("password", "s3cret-pass")], basic: basic)
                #expect(login.status == .ok)
                let userToken = try #require(userTokens["access_token"] as? String)
                let refresh = try #require(userTokens["refresh_token"] as? String)

                let shown = try await client.executeRequest(uri: "/api/v2/users", method: .get, headers: HTTP.bearer(userToken), body: nil)
                #expect(shown.status == .ok)
                let shownBody = try HTTP.json(shown.body)
                #expect(shownBody["id"] as? String == "finapi-user")
                #expect(shownBody["password"] as? String == "XXXXX")

                // Deleting the account needs fresh two factors (AssurancePolicy): the password token is
                // refused with RFC 9470's step-up, a token confirmed by a bound device is not.
                let oneFactor = try await client.executeRequest(uri: "/api/v2/users", method: .delete, headers: HTTP.bearer(userToken), body: nil)
                #expect(oneFactor.status == .unauthorized)
                #expect(oneFactor.headers[.wwwAuthenticate] == AssuranceTests.stepUp)
                let confirmed = try await AssuranceTests.twoFactorToken(server: server, client: client, token: userToken)
                let deleted = try await client.executeRequest(
                    uri: "/api/v2/users", method: .delete, headers: HTTP.bearer(confirmed.access), body: nil)
                #expect(deleted.status == .ok)

                let (relogin, _) = try await client.token(
                    [("grant_type", "password"), ("username", "finapi-user"), ("password", "s3cret-pass")], basic: basic)
                #expect(relogin.status == .badRequest)
                let (refreshed, _) = try await client.token([("grant_type", "refresh_token"), ("refresh_token", refresh)], basic: basic)
                #expect(refreshed.status == .badRequest)
                let (_, introspection) = try await client.token([("token", userToken)], basic: basic, path: "/oauth/introspect")
                #expect(introspection["active"] as? Bool == false)
                let again = try await client.executeRequest(uri: "/api/v2/users", method: .get, headers: HTTP.bearer(userToken), body: nil)
                #expect(again.status == .unauthorized)
            }
            #expect(try await server.count("users") == 0)
            #expect(try await server.count("refresh_tokens") == 0)
        }
    }

    @Test("omitted id and password are generated and returned once")
    func generatedCredentials() async throws {
        try await TestServer.with { server in
            let basic = HTTP.basic("shop", try await server.createClient())
            try await server.test { client in
                let (_, tokens) = try await client.token([("grant_type", "client_credentials")], basic: basic)
                let created = try await client.executeRequest(
                    uri: "/api/v2/users", method: .post, headers: HTTP.bearer(try #require(tokens["access_token"] as? String), json: true),
                    body: ByteBuffer(string: "{}"))
                #expect(created.status == .created)
                let body = try HTTP.json(created.body)
                let id = try #require(body["id"] as? String)
                let password = try #require(body["password"] as? String)
                #expect(password.count >= 20)
                let (login, _) = try await client.token([("grant_type", "password"), ("username", id), ("password", password)], basic: basic)
                #expect(login.status == .ok)
            }
        }
    }

    @Test("users of one client are invisible to another client")
    func tenantIsolation() async throws {
        try await TestServer.with { server in
            let shop = HTTP.basic("shop", try await server.createClient("shop"))
            let other = HTTP.basic("other", try await server.createClient("other"))
            try await server.test { client in
                let (_, tokens) = try await client.token([("grant_type", "client_credentials")], basic: shop)
                _ = try await client.executeRequest(
                    uri: "/api/v2/users", method: .post, headers: HTTP.bearer(try #require(tokens["access_token"] as? String), json: true),
                    body: ByteBuffer(string: Self.createBody))
                let (foreign, body) = try await client.token(
                    [("grant_type", "password"), ("username", "finapi-user"), ("password", "s3cret-pass")], basic: other)
                #expect(foreign.status == .badRequest)
                #expect(body["error"] as? String == "invalid_grant")
            }
        }
    }

    struct BadCall: Sendable, CustomTestStringConvertible {
        var name: String
        var method: HTTPRequest.Method
        var token: TokenKind
        var contentType: String?
        var body: String?
        var status: HTTPResponse.Status
        var testDescription: String { name }
        enum TokenKind: Sendable { case none, client, user, garbage }
    }

    static let badCalls: [BadCall] = [
        .init(name: "create without a token", method: .post, token: .none, contentType: "application/json", body: createBody, status: .unauthorized),
        .init(
            name: "create with a garbage token", method: .post, token: .garbage, contentType: "application/json", body: createBody,
            status: .unauthorized),
        .init(name: "create with a user token", method: .post, token: .user, contentType: "application/json", body: createBody, status: .forbidden),
        .init(
            name: "create with a form body", method: .post, token: .client, contentType: "application/x-www-form-urlencoded", body: "id=x",
            status: .unsupportedMediaType),
        .init(
            name: "create with malformed JSON", method: .post, token: .client, contentType: "application/json", body: #"{"id": "#, status: .badRequest
        ),
        .init(
            name: "create with a wrongly typed field", method: .post, token: .client, contentType: "application/json", body: #"{"id": 42}"#,
            status: .badRequest),
        .init(
            name: "create with a too short password", method: .post, token: .client, contentType: "application/json",
            body: #"{"id":"bob","password":"123"}"#, status: .badRequest),
        .init(
            name: "create with an invalid phone", method: .post, token: .client, contentType: "application/json",
            body: #"{"id":"bob","phone":"call me"}"#, status: .badRequest),
        .init(
            name: "create a duplicate", method: .post, token: .client, contentType: "application/json", body: #"{"id":"alice"}"#, status: .conflict),
        .init(
            name: "create with a body over 64 KiB", method: .post, token: .client, contentType: "application/json",
            body: #"{"id":"x","pad":""# + String(repeating: "a", count: 70_000) + #""}"#, status: .contentTooLarge),
        .init(name: "read with a client token", method: .get, token: .client, status: .forbidden),
        .init(name: "read without a token", method: .get, token: .none, status: .unauthorized),
        .init(name: "delete with a client token", method: .delete, token: .client, status: .forbidden),
    ]

    @Test("bad calls get RFC 9457 problems with the right status and write nothing", arguments: badCalls)
    func rejectsBadCalls(_ bad: BadCall) async throws {
        try await TestServer.with { server in
            let basic = HTTP.basic("shop", try await server.createClient())
            try await server.createUser()
            try await server.test { client in
                var headers = HTTPFields()
                switch bad.token {
                case .none: break
                case .garbage: headers[.authorization] = "Bearer not-a-token"
                case .client:
                    let (_, tokens) = try await client.token([("grant_type", "client_credentials")], basic: basic)
                    headers[.authorization] = "Bearer \(try #require(tokens["access_token"] as? String))"
                case .user:
                    let (_, tokens) = try await client.token(
                        [("grant_type", "password"), ("username", "alice"), ("password", "correct horse")], basic: basic)
                    headers[.authorization] = "Bearer \(try #require(tokens["access_token"] as? String))"
                }
                if let contentType = bad.contentType { headers[.contentType] = contentType }
                let response = try await client.executeRequest(
                    uri: "/api/v2/users", method: bad.method, headers: headers, body: bad.body.map { ByteBuffer(string: $0) })
                #expect(response.status == bad.status)
                #expect(response.headers[.contentType] == "application/problem+json")
                let problem = try HTTP.json(response.body)
                #expect(problem["status"] as? Int == Int(bad.status.code))
                #expect(problem["title"] is String)
                if bad.status == .unauthorized {
                    #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
                }
            }
            #expect(try await server.count("users") == 1)
        }
    }
}
