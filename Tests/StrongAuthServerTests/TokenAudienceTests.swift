import Foundation
import HTTPTypes
import HummingbirdTesting
import JWTKit
import NIOCore
import StrongAuthCore
import Testing

/// Who a token is for, and who may learn about it.
@Suite("Token audience (RFC 9068 §2.2, RFC 8707) and introspection by whom (RFC 7662 §4)")
struct TokenAudienceTests {
    /// The claims of a JWT, unverified (the tests only read what the server put there).
    static func payload(_ jwt: String) throws -> [String: Any] {
        let part = try #require(jwt.split(separator: ".").dropFirst().first)
        var base64 = part.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        let data = try #require(Data(base64Encoded: base64))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func audience(_ jwt: String) throws -> [String] {
        let aud = try payload(jwt)["aud"]
        if let single = aud as? String { return [single] }
        return try #require(aud as? [String])
    }

    @Test("every access token names its client in aud, and the RFC 8707 resources it asked for")
    func audienceOnEveryToken() async throws {
        try await TestServer.with { server in
            let basic = HTTP.basic("shop", try await server.createClient())
            try await server.createUser()
            try await server.test { client in
                let (_, clientToken) = try await client.token([("grant_type", "client_credentials")], basic: basic)
                #expect(try Self.audience(try #require(clientToken["access_token"] as? String)) == ["shop"])

                let (_, userTokens) = try await client.token(
                    [
                        ("grant_type", "password"), ("username", "alice"), ("password", "correct horse"),
                        ("resource", "https://api.bank.example/accounts"), ("resource", "https://api.bank.example/payments"),
                    ],
                    basic: basic)
                #expect(
                    try Self.audience(try #require(userTokens["access_token"] as? String))
                        == ["shop", "https://api.bank.example/accounts", "https://api.bank.example/payments"])

                let (_, refreshed) = try await client.token(
                    [("grant_type", "refresh_token"), ("refresh_token", try #require(userTokens["refresh_token"] as? String))],
                    basic: basic)
                #expect(try Self.audience(try #require(refreshed["access_token"] as? String)) == ["shop"])
            }
        }
    }

    @Test("a resource that is not an absolute URI without fragment is invalid_target")
    func invalidResource() async throws {
        try await TestServer.with { server in
            let basic = HTTP.basic("shop", try await server.createClient())
            try await server.test { client in
                for resource in ["accounts", "/relative", "https://api.example/x#frag", "https://a b/"] {
                    let (response, body) = try await client.token(
                        [("grant_type", "client_credentials"), ("resource", resource)], basic: basic)
                    #expect(response.status == .badRequest, "\(resource)")
                    #expect(body["error"] as? String == "invalid_target", "\(resource)")
                }
                let many = (0..<6).map { ("resource", "https://api.example/\($0)") }
                let (response, body) = try await client.token([("grant_type", "client_credentials")] + many, basic: basic)
                #expect(response.status == .badRequest)
                #expect(body["error"] as? String == "invalid_target")
                let (repeated, repeatedBody) = try await client.token(
                    [("grant_type", "client_credentials"), ("scope", "accounts"), ("scope", "accounts")], basic: basic)
                #expect(repeated.status == .badRequest, "only resource may repeat")
                #expect(repeatedBody["error"] as? String == "invalid_request")
            }
        }
    }

    @Test("another client learns nothing by introspection; a resource server of the installation does")
    func introspectionByOtherClients() async throws {
        try await TestServer.with { server in
            let shop = HTTP.basic("shop", try await server.createClient())
            let other = HTTP.basic("other", try await server.createClient("other"))
            let resourceSecret = try await server.runtime.administration.createClient(
                id: "accounts-api", name: nil, scopes: Scopes(["accounts"]), grants: [.clientCredentials], isResourceServer: true,
                actor: "test"
            ).secret
            let resourceServer = HTTP.basic("accounts-api", resourceSecret)
            try await server.createUser()
            try await server.test { client in
                let (_, tokens) = try await client.token(
                    [("grant_type", "password"), ("username", "alice"), ("password", "correct horse")], basic: shop)
                let access = try #require(tokens["access_token"] as? String)
                let refresh = try #require(tokens["refresh_token"] as? String)

                for token in [access, refresh] {
                    let (_, own) = try await client.token([("token", token)], basic: shop, path: "/oauth/introspect")
                    #expect(own["active"] as? Bool == true)
                    #expect((own["aud"] as? [String])?.first == "shop")

                    let (foreignResponse, foreign) = try await client.token([("token", token)], basic: other, path: "/oauth/introspect")
                    #expect(foreignResponse.status == .ok)
                    #expect(foreign["active"] as? Bool == false)
                    #expect(foreign.count == 1, "nothing about another client's token: not sub, not amr, not cnf")

                    let (_, resource) = try await client.token([("token", token)], basic: resourceServer, path: "/oauth/introspect")
                    #expect(resource["active"] as? Bool == true)
                    #expect(resource["client_id"] as? String == "shop")
                }
            }
        }
    }

    @Test("confirmed tokens never carry more scope than the token that asked for them")
    func confirmedTokensKeepTheScope() async throws {
        try await TestServer.with { server in
            let basic = HTTP.basic("shop", try await server.createClient())
            try await server.createUser()
            try await server.test { client in
                let (_, narrow) = try await client.token(
                    [("grant_type", "password"), ("username", "alice"), ("password", "correct horse"), ("scope", "accounts")],
                    basic: basic)
                let token = try #require(narrow["access_token"] as? String)
                #expect(narrow["scope"] as? String == "accounts")
                let phone = TestPhone()
                let deviceID = try await DevicesTests.bind(phone, server: server, client: client, token: token)
                let (verified, confirmed) = try await DevicesTests.confirm(phone, deviceID: deviceID, client: client, token: token)
                #expect(verified.status == .ok)
                #expect(confirmed["scope"] as? String == "accounts", "not the client's accounts and transfers")
                #expect(try Self.payload(try #require(confirmed["token"] as? String))["scope"] as? String == "accounts")
            }
        }
    }
}
