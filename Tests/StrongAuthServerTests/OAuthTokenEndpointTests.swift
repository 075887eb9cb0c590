import Foundation
import HTTPTypes
import HummingbirdTesting
import JWTKit
import NIOCore
import StrongAuthCore
import Testing

@Suite("OAuth token endpoint (RFC 6749)")
struct OAuthTokenEndpointTests {
    @Test("client_credentials: an ES256 JWT with kid, verifiable with the published JWKS", arguments: ["/oauth/token", "/api/v2/oauth/token"])
    func clientCredentials(path: String) async throws {
        try await TestServer.with { server in
            let secret = try await server.createClient()
            try await server.test { client in
                let (response, body) = try await client.token(
                    [("grant_type", "client_credentials"), ("scope", "accounts")], basic: HTTP.basic("shop", secret), path: path)
                #expect(response.status == .ok)
                #expect(response.headers[.cacheControl] == "no-store")
                #expect(body["token_type"] as? String == "Bearer")
                #expect(body["expires_in"] as? Int == 900)
                #expect(body["scope"] as? String == "accounts")
                #expect(body["refresh_token"] == nil)
                let token = try #require(body["access_token"] as? String)

                let jwks = try await client.executeRequest(uri: "/.well-known/jwks.json", method: .get, headers: [:], body: nil)
                let keys = try await JWTKeyCollection().add(jwksJSON: String(buffer: jwks.body))
                let claims = try await keys.verify(token, as: AccessTokenClaims.self)
                #expect(claims.sub.value == "shop")
                #expect(claims.clientID == "shop")
                #expect(claims.subjectType == .client)
                #expect(claims.iss.value == "https://auth.test")
                #expect(claims.exp.value == server.time.now().addingTimeInterval(900))

                let header = try #require(Base64URLDecode(String(token.split(separator: ".")[0])))
                let headerJSON = try #require(try JSONSerialization.jsonObject(with: header) as? [String: String])
                #expect(headerJSON["alg"] == "ES256")
                #expect(headerJSON["typ"] == "at+jwt")
                #expect(headerJSON["kid"] == server.runtime.signer.activeKID)
                // exp is a whole number of seconds (RFC 7519 NumericDate as an integer).
                let payload = try #require(Base64URLDecode(String(token.split(separator: ".")[1])))
                let payloadJSON = try #require(try JSONSerialization.jsonObject(with: payload) as? [String: Any])
                #expect(payloadJSON["exp"] as? Int == Int(claims.exp.value.timeIntervalSince1970))
                #expect(!String(decoding: payload, as: UTF8.self).contains(#/"exp":\d+\./#))
            }
        }
    }

    @Test("client authentication by form body works like HTTP Basic")
    func formClientAuthentication() async throws {
        try await TestServer.with { server in
            let secret = try await server.createClient()
            try await server.test { client in
                let (response, body) = try await client.token(
                    [("grant_type", "client_credentials"), ("client_id", "shop"), ("client_secret", secret)], basic: nil)
                #expect(response.status == .ok)
                #expect(body["scope"] as? String == "accounts transfers")
            }
        }
    }

    /// One bad request each: the RFC 6749 §5.2 error, its status, and nothing written.
    struct BadRequest: Sendable, CustomTestStringConvertible {
        var name: String
        var contentType: String? = "application/x-www-form-urlencoded"
        var authorization: Authorization = .valid
        var body: String
        var status: HTTPResponse.Status
        var error: String
        var testDescription: String { name }

        enum Authorization: Sendable { case valid, wrongSecret, unknownClient, none, malformed }
    }

    static let badRequests: [BadRequest] = [
        .init(
            name: "wrong client secret", authorization: .wrongSecret, body: "grant_type=client_credentials", status: .unauthorized,
            error: "invalid_client"),
        .init(
            name: "unknown client", authorization: .unknownClient, body: "grant_type=client_credentials", status: .unauthorized,
            error: "invalid_client"),
        .init(
            name: "no client authentication", authorization: .none, body: "grant_type=client_credentials", status: .unauthorized,
            error: "invalid_client"),
        .init(
            name: "malformed Basic header", authorization: .malformed, body: "grant_type=client_credentials", status: .unauthorized,
            error: "invalid_client"),
        .init(name: "unknown grant type", body: "grant_type=implicit&code=x", status: .badRequest, error: "unsupported_grant_type"),
        .init(
            name: "authorization_code for a client without that grant", body: "grant_type=authorization_code&code=x", status: .badRequest,
            error: "unauthorized_client"),
        .init(name: "scope beyond the client's", body: "grant_type=client_credentials&scope=admin", status: .badRequest, error: "invalid_scope"),
        .init(name: "malformed scope", body: "grant_type=client_credentials&scope=%22quoted%22", status: .badRequest, error: "invalid_scope"),
        .init(name: "missing grant_type", body: "scope=accounts", status: .badRequest, error: "invalid_request"),
        .init(
            name: "JSON instead of a form", contentType: "application/json", body: #"{"grant_type":"client_credentials"}"#, status: .badRequest,
            error: "invalid_request"),
        .init(name: "no content type", contentType: nil, body: "grant_type=client_credentials", status: .badRequest, error: "invalid_request"),
        .init(
            name: "percent-encoded invalid UTF-8", body: "grant_type=client_credentials&scope=%FF%FE", status: .badRequest, error: "invalid_request"),
        .init(name: "bad percent escape", body: "grant_type=client%zzcredentials", status: .badRequest, error: "invalid_request"),
        .init(name: "repeated parameter", body: "grant_type=client_credentials&grant_type=password", status: .badRequest, error: "invalid_request"),
        .init(
            name: "Basic and client_secret together", body: "grant_type=client_credentials&client_secret=x", status: .badRequest,
            error: "invalid_request"),
        .init(name: "password grant without password", body: "grant_type=password&username=alice", status: .badRequest, error: "invalid_request"),
        .init(name: "refresh grant without token", body: "grant_type=refresh_token", status: .badRequest, error: "invalid_request"),
        .init(
            name: "refresh grant with a garbage token", body: "grant_type=refresh_token&refresh_token=sa_rt_nope", status: .badRequest,
            error: "invalid_grant"),
        .init(
            name: "wrong password", body: "grant_type=password&username=alice&password=wrong-password", status: .badRequest, error: "invalid_grant"),
        .init(name: "unknown user", body: "grant_type=password&username=mallory&password=whatever1", status: .badRequest, error: "invalid_grant"),
        .init(
            name: "body over 64 KiB", body: "grant_type=client_credentials&pad=" + String(repeating: "a", count: 70_000), status: .contentTooLarge,
            error: "invalid_request"),
    ]

    @Test("bad input gets the RFC 6749 error, never a 5xx, and writes nothing", arguments: badRequests)
    func rejectsBadInput(_ bad: BadRequest) async throws {
        try await TestServer.with { server in
            let secret = try await server.createClient()
            try await server.createUser()
            let (usersBefore, tokensBefore) = (try await server.count("users"), try await server.count("refresh_tokens"))
            try await server.test { client in
                var headers = HTTPFields()
                if let contentType = bad.contentType { headers[.contentType] = contentType }
                switch bad.authorization {
                case .valid: headers[.authorization] = HTTP.basic("shop", secret)
                case .wrongSecret: headers[.authorization] = HTTP.basic("shop", secret + "x")
                case .unknownClient: headers[.authorization] = HTTP.basic("nobody", secret)
                case .malformed: headers[.authorization] = "Basic !!!not-base64"
                case .none: break
                }
                let response = try await client.executeRequest(
                    uri: "/oauth/token", method: .post, headers: headers, body: ByteBuffer(string: bad.body))
                #expect(response.status == bad.status)
                let body = try HTTP.json(response.body)
                #expect(body["error"] as? String == bad.error)
                #expect(body["error_description"] is String)
                #expect(response.headers[.cacheControl] == "no-store")
                #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
                if bad.status == .unauthorized {
                    #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Basic") == true)
                }
            }
            #expect(try await server.count("users") == usersBefore)
            #expect(try await server.count("refresh_tokens") == tokensBefore)
        }
    }

    @Test("a body that is not UTF-8 is invalid_request")
    func rawInvalidUTF8() async throws {
        try await TestServer.with { server in
            let secret = try await server.createClient()
            try await server.test { client in
                var body = ByteBuffer(string: "grant_type=client_credentials&scope=")
                body.writeBytes([0xFF, 0xFE])
                let response = try await client.executeRequest(
                    uri: "/oauth/token", method: .post, headers: HTTP.formHeaders(basic: HTTP.basic("shop", secret)), body: body)
                #expect(response.status == .badRequest)
                #expect(try HTTP.json(response.body)["error"] as? String == "invalid_request")
            }
        }
    }

    @Test("a grant the client is not registered for is unauthorized_client")
    func grantNotAllowed() async throws {
        try await TestServer.with { server in
            let secret = try await server.createClient("machine", grants: [.clientCredentials])
            try await server.createUser()
            try await server.test { client in
                let (response, body) = try await client.token(
                    [("grant_type", "password"), ("username", "alice"), ("password", "correct horse")], basic: HTTP.basic("machine", secret))
                #expect(response.status == .badRequest)
                #expect(body["error"] as? String == "unauthorized_client")
            }
        }
    }

    @Test("password grant then refresh: rotation, and reuse revokes the family and its access tokens")
    func refreshRotationAndReuse() async throws {
        try await TestServer.with { server in
            let secret = try await server.createClient()
            try await server.createUser()
            let basic = HTTP.basic("shop", secret)
            try await server.test { client in
                let (first, tokens) = try await client.token(
                    [("grant_type", "password"), ("username", "alice"), ("password", "correct horse"), ("scope", "accounts")], basic: basic)
                #expect(first.status == .ok)
                let refresh1 = try #require(tokens["refresh_token"] as? String)
                let access1 = try #require(tokens["access_token"] as? String)

                let (second, rotated) = try await client.token([("grant_type", "refresh_token"), ("refresh_token", refresh1)], basic: basic)
                #expect(second.status == .ok)
                let refresh2 = try #require(rotated["refresh_token"] as? String)
                #expect(refresh2 != refresh1)
                #expect(rotated["scope"] as? String == "accounts")

                // A narrower scope is fine; a wider one is invalid_scope and does not spend the token.
                let (wider, widerBody) = try await client.token(
                    [("grant_type", "refresh_token"), ("refresh_token", refresh2), ("scope", "accounts transfers")], basic: basic)
                #expect(wider.status == .badRequest)
                #expect(widerBody["error"] as? String == "invalid_scope")

                // Replaying the spent token: invalid_grant, and the whole family dies.
                let (reuse, reuseBody) = try await client.token([("grant_type", "refresh_token"), ("refresh_token", refresh1)], basic: basic)
                #expect(reuse.status == .badRequest)
                #expect(reuseBody["error"] as? String == "invalid_grant")
                let (afterReuse, _) = try await client.token([("grant_type", "refresh_token"), ("refresh_token", refresh2)], basic: basic)
                #expect(afterReuse.status == .badRequest)

                // …and so do the access tokens issued from it.
                let (_, introspection) = try await client.token([("token", access1)], basic: basic, path: "/oauth/introspect")
                #expect(introspection["active"] as? Bool == false)
            }
            let events = try await server.runtime.store.auditEvents(after: 0, limit: 100)
            #expect(events.contains { $0.record.action.rawValue == "refresh.reuse_detected" })
        }
    }

    @Test("another client cannot redeem a client's refresh token")
    func refreshTokenBoundToClient() async throws {
        try await TestServer.with { server in
            let shop = try await server.createClient("shop")
            let other = try await server.createClient("other")
            try await server.createUser()
            try await server.test { client in
                let (_, tokens) = try await client.token(
                    [("grant_type", "password"), ("username", "alice"), ("password", "correct horse")], basic: HTTP.basic("shop", shop))
                let refresh = try #require(tokens["refresh_token"] as? String)
                let (stolen, body) = try await client.token(
                    [("grant_type", "refresh_token"), ("refresh_token", refresh)], basic: HTTP.basic("other", other))
                #expect(stolen.status == .badRequest)
                #expect(body["error"] as? String == "invalid_grant")
                // The rightful client still can: the attempt spent nothing.
                let (own, _) = try await client.token([("grant_type", "refresh_token"), ("refresh_token", refresh)], basic: HTTP.basic("shop", shop))
                #expect(own.status == .ok)
            }
        }
    }

    @Test("five wrong passwords lock the password factor; the right one is refused until the lock ends")
    func passwordLockout() async throws {
        try await TestServer.with(["lockout.durationSeconds": .int(600)]) { server in
            let secret = try await server.createClient()
            let alice = try await server.createUser()
            let basic = HTTP.basic("shop", secret)
            try await server.test { client in
                for _ in 1...5 {
                    let (response, body) = try await client.token(
                        [("grant_type", "password"), ("username", "alice"), ("password", "wrong-password")], basic: basic)
                    #expect(response.status == .badRequest)
                    #expect(body["error"] as? String == "invalid_grant")
                }
                let right = [("grant_type", "password"), ("username", "alice"), ("password", "correct horse")]
                let (locked, _) = try await client.token(right, basic: basic)
                #expect(locked.status == .badRequest)

                server.time.advance(by: 601)
                let (unlocked, _) = try await client.token(right, basic: basic)
                #expect(unlocked.status == .ok)
            }
            #expect(try await server.runtime.store.user(id: alice.id)?.failedLoginAttempts == 0)
            // The try against the lock is counted per window; the chain has it once it is over.
            try await server.runtime.store.sealFailureWindows(closedBy: server.time.now().addingTimeInterval(3600))
            let failures = try await server.runtime.store.auditEvents(after: 0, limit: 100).filter {
                $0.record.action.rawValue == "login.password" && $0.record.outcome == .failure
            }
            #expect(failures.count == 6)
            #expect(failures.last?.record.details["reason"] == "locked")
        }
    }

    @Test("four wrong passwords then the right one: no lock, the count starts again")
    func successResetsCount() async throws {
        try await TestServer.with { server in
            let secret = try await server.createClient()
            try await server.createUser()
            let basic = HTTP.basic("shop", secret)
            try await server.test { client in
                for round in 1...2 {
                    for _ in 1...4 {
                        _ = try await client.token([("grant_type", "password"), ("username", "alice"), ("password", "wrong-password")], basic: basic)
                    }
                    let (ok, _) = try await client.token(
                        [("grant_type", "password"), ("username", "alice"), ("password", "correct horse")], basic: basic)
                    #expect(ok.status == .ok, "round \(round)")
                }
            }
        }
    }
}

/// Decodes base64url for test assertions.
func Base64URLDecode(_ string: String) -> Data? {
    var base64 = string.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    while base64.count % 4 != 0 { base64.append("=") }
    return Data(base64Encoded: base64)
}
