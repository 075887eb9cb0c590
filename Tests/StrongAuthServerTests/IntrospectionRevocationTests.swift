import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

@Suite("Introspection (RFC 7662) and revocation (RFC 7009)")
struct IntrospectionRevocationTests {
    @Test("an active token introspects with its claims; garbage, expired and revoked ones do not")
    func introspection() async throws {
        try await TestServer.with(["tokens.accessLifetimeSeconds": .int(60)]) { server in
            let secret = try await server.createClient()
            let basic = HTTP.basic("shop", secret)
            try await server.test { client in
                let (_, tokens) = try await client.token([("grant_type", "client_credentials")], basic: basic)
                let token = try #require(tokens["access_token"] as? String)

                let (response, active) = try await client.token([("token", token)], basic: basic, path: "/oauth/introspect")
                #expect(response.status == .ok)
                #expect(response.headers[.cacheControl] == "no-store")
                #expect(active["active"] as? Bool == true)
                #expect(active["client_id"] as? String == "shop")
                #expect(active["sub"] as? String == "shop")
                #expect(active["subject_type"] as? String == "client")
                #expect(active["scope"] as? String == "accounts transfers")
                #expect(active["token_type"] as? String == "Bearer")
                #expect(active["exp"] as? Int != nil && active["iat"] as? Int != nil)

                for garbage in ["garbage", "a.b.c", token + "x", String(token.dropLast(4))] {
                    let (_, body) = try await client.token([("token", garbage)], basic: basic, path: "/oauth/introspect")
                    #expect(body["active"] as? Bool == false)
                    #expect(body.count == 1, "an inactive token reveals nothing else")
                }

                server.time.advance(by: 61)
                let (_, expired) = try await client.token([("token", token)], basic: basic, path: "/oauth/introspect")
                #expect(expired["active"] as? Bool == false)
            }
        }
    }

    @Test("introspecting a valid token still needs the right client secret (the one-read path)")
    func validTokenWrongSecret() async throws {
        try await TestServer.with { server in
            let secret = try await server.createClient()
            try await server.test { client in
                let (_, tokens) = try await client.token([("grant_type", "client_credentials")], basic: HTTP.basic("shop", secret))
                let token = try #require(tokens["access_token"] as? String)
                for basic in [HTTP.basic("shop", secret + "x"), HTTP.basic("nobody", secret), HTTP.basic("shop", "")] {
                    let (response, body) = try await client.token([("token", token)], basic: basic, path: "/oauth/introspect")
                    #expect(response.status == .unauthorized)
                    #expect(body["error"] as? String == "invalid_client")
                    #expect(body["active"] == nil, "nothing about the token leaks to an unauthenticated caller")
                }
                let (missing, _) = try await client.token([], basic: HTTP.basic("shop", secret + "x"), path: "/oauth/introspect")
                #expect(missing.status == .unauthorized, "client authentication is decided before a missing token")
            }
        }
    }

    @Test("introspection and revocation need client authentication")
    func needsClientAuthentication() async throws {
        try await TestServer.with { server in
            try await server.createClient()
            try await server.test { client in
                for path in ["/oauth/introspect", "/oauth/revoke"] {
                    let (response, body) = try await client.token([("token", "x")], basic: nil, path: path)
                    #expect(response.status == .unauthorized)
                    #expect(body["error"] as? String == "invalid_client")
                }
            }
        }
    }

    @Test("revoking an access token makes it inactive; another client's revocation does nothing")
    func revokeAccessToken() async throws {
        try await TestServer.with { server in
            let shop = HTTP.basic("shop", try await server.createClient("shop"))
            let other = HTTP.basic("other", try await server.createClient("other"))
            try await server.test { client in
                let (_, tokens) = try await client.token([("grant_type", "client_credentials")], basic: shop)
                let token = try #require(tokens["access_token"] as? String)

                let (foreign, _) = try await client.token([("token", token)], basic: other, path: "/oauth/revoke")
                #expect(foreign.status == .ok)
                let (_, stillActive) = try await client.token([("token", token)], basic: shop, path: "/oauth/introspect")
                #expect(stillActive["active"] as? Bool == true)

                let (revoked, _) = try await client.token(
                    [("token", token), ("token_type_hint", "access_token")], basic: shop, path: "/oauth/revoke")
                #expect(revoked.status == .ok)
                let (_, inactive) = try await client.token([("token", token)], basic: shop, path: "/oauth/introspect")
                #expect(inactive["active"] as? Bool == false)

                let (unknownHint, body) = try await client.token(
                    [("token", token), ("token_type_hint", "id_token")], basic: shop, path: "/oauth/revoke")
                #expect(unknownHint.status == .badRequest)
                #expect(body["error"] as? String == "unsupported_token_type")
            }
        }
    }

    @Test("revoking a refresh token revokes its family; refresh tokens introspect too")
    func revokeRefreshToken() async throws {
        try await TestServer.with { server in
            let basic = HTTP.basic("shop", try await server.createClient())
            try await server.createUser()
            try await server.test { client in
                let (_, tokens) = try await client.token(
                    [("grant_type", "password"), ("username", "alice"), ("password", "correct horse")], basic: basic)
                let refresh = try #require(tokens["refresh_token"] as? String)
                let access = try #require(tokens["access_token"] as? String)

                let (_, introspected) = try await client.token([("token", refresh)], basic: basic, path: "/oauth/introspect")
                #expect(introspected["active"] as? Bool == true)
                #expect(introspected["token_type"] as? String == "refresh_token")

                _ = try await client.token([("token", refresh)], basic: basic, path: "/oauth/revoke")
                let (refreshed, body) = try await client.token([("grant_type", "refresh_token"), ("refresh_token", refresh)], basic: basic)
                #expect(refreshed.status == .badRequest)
                #expect(body["error"] as? String == "invalid_grant")
                let (_, accessState) = try await client.token([("token", access)], basic: basic, path: "/oauth/introspect")
                #expect(accessState["active"] as? Bool == false)
            }
        }
    }
}
