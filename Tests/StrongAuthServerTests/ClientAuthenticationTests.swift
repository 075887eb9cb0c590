import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import JWTKit
import NIOCore
import StrongAuthCore
import StrongAuthProtocol
import Testing

/// `private_key_jwt` (RFC 7523 §2.2) and public clients (RFC 6749 §2.1): who may authenticate
/// how, and every way an assertion is refused — each refusal the same `invalid_client`.
@Suite("Client authentication: private_key_jwt and public clients")
struct ClientAuthenticationTests {
    static let assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

    /// The claims of a client assertion; any of them may be left out to test a refusal.
    struct AssertionClaims: JWTPayload {
        var iss: String?
        var sub: String?
        var aud: [String]?
        var exp: Int?
        var iat: Int?
        var jti: String?
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    /// A client key pair: the private key signs, the JWK Set is what the client registers.
    struct ClientKey {
        let privateKey = P256.Signing.PrivateKey()
        var jwks: String {
            let raw = Array(privateKey.publicKey.rawRepresentation)
            return
                #"{"keys":[{"kty":"EC","crv":"P-256","use":"sig","kid":"k1","x":"\#(Base64URL.encode(raw[0..<32]))","y":"\#(Base64URL.encode(raw[32...]))"}]}"#
        }

        func sign(_ claims: AssertionClaims, kid: String = "k1") async throws -> String {
            let keys = JWTKeyCollection()
            await keys.add(ecdsa: try ES256PrivateKey(backing: privateKey), kid: JWKIdentifier(string: kid))
            return try await keys.sign(claims, kid: JWKIdentifier(string: kid))
        }
    }

    static func claims(
        _ server: TestServer, client: String = "bank-tpp", aud: String = "https://auth.test", lifetime: Int = 60, jti: String = UUID().uuidString
    )
        -> AssertionClaims
    {
        let now = Int(server.time.now().timeIntervalSince1970)
        return AssertionClaims(iss: client, sub: client, aud: [aud], exp: now + lifetime, iat: now, jti: jti)
    }

    @discardableResult
    static func createKeyClient(_ server: TestServer, key: ClientKey, id: String = "bank-tpp") async throws -> String {
        try await server.runtime.administration.createClient(
            id: id, name: nil, scopes: Scopes(["accounts"]), grants: [.clientCredentials], registration: ClientRegistration(jwks: key.jwks),
            actor: "test"
        ).secret
    }

    static func assertionForm(_ assertion: String, grant: Bool = true) -> [(String, String)] {
        (grant ? [("grant_type", "client_credentials")] : []) + [("client_assertion_type", assertionType), ("client_assertion", assertion)]
    }

    @Test("private_key_jwt: an ES256 assertion with aud = issuer or token endpoint gets a token; the client has no secret")
    func privateKeyJWT() async throws {
        try await TestServer.with { server in
            let key = ClientKey()
            let secret = try await Self.createKeyClient(server, key: key)
            #expect(secret.isEmpty)
            try await server.test { client in
                for aud in ["https://auth.test", "https://auth.test/oauth/token"] {
                    let assertion = try await key.sign(Self.claims(server, aud: aud))
                    let (response, body) = try await client.token(Self.assertionForm(assertion), basic: nil)
                    #expect(response.status == .ok, "aud \(aud): \(body)")
                    #expect(body["scope"] as? String == "accounts")
                }
                // client_id in the body must name the assertion's subject.
                let assertion = try await key.sign(Self.claims(server))
                let (same, _) = try await client.token(Self.assertionForm(assertion) + [("client_id", "bank-tpp")], basic: nil)
                #expect(same.status == .ok)
                let (other, body) = try await client.token(
                    Self.assertionForm(try await key.sign(Self.claims(server))) + [("client_id", "shop")], basic: nil)
                #expect(other.status == .unauthorized)
                #expect(body["error"] as? String == "invalid_client")
            }
        }
    }

    @Test("private_key_jwt: a replayed jti is refused, on the token endpoint and across endpoints")
    func replayedJTI() async throws {
        try await TestServer.with { server in
            let key = ClientKey()
            try await Self.createKeyClient(server, key: key)
            try await server.test { client in
                let assertion = try await key.sign(Self.claims(server, jti: "once"))
                let (first, _) = try await client.token(Self.assertionForm(assertion), basic: nil)
                #expect(first.status == .ok)
                let (second, body) = try await client.token(Self.assertionForm(assertion), basic: nil)
                #expect(second.status == .unauthorized)
                #expect(body["error"] as? String == "invalid_client")
                // The same jti in a freshly signed assertion is a replay too.
                let (third, _) = try await client.token(Self.assertionForm(try await key.sign(Self.claims(server, jti: "once"))), basic: nil)
                #expect(third.status == .unauthorized)
                let (revoke, _) = try await client.token(
                    [("token", "x")] + Self.assertionForm(assertion, grant: false), basic: nil, path: "/oauth/revoke")
                #expect(revoke.status == .unauthorized)
            }
        }
    }

    @Test(
        "private_key_jwt refusals: wrong aud, iss ≠ sub, expired, too long-lived, no jti, another key, HS256 (client_secret_jwt), alg none",
        arguments: ["aud", "iss", "expired", "lifetime", "jti", "key", "hs256", "none", "garbage"])
    func assertionRefusals(_ flaw: String) async throws {
        try await TestServer.with { server in
            let key = ClientKey()
            try await Self.createKeyClient(server, key: key)
            try await server.test { client in
                var claims = Self.claims(server)
                var assertion: String
                switch flaw {
                case "aud": claims.aud = ["https://elsewhere.test"]
                case "iss": claims.iss = "shop"
                case "expired": claims.exp = Int(server.time.now().timeIntervalSince1970) - 1
                case "lifetime": claims.exp = Int(server.time.now().timeIntervalSince1970) + 3600 + 120
                case "jti": claims.jti = nil
                default: break
                }
                switch flaw {
                case "key":
                    assertion = try await ClientKey().sign(claims)
                case "hs256":
                    let keys = JWTKeyCollection()
                    await keys.add(hmac: HMACKey(from: "a shared secret of at least 32 bytes!"), digestAlgorithm: .sha256)
                    assertion = try await keys.sign(claims)
                case "none":
                    let header = Base64URL.encode(Array(#"{"alg":"none","typ":"JWT"}"#.utf8))
                    let payload = Base64URL.encode(Array(try JSONEncoder().encode(claims)))
                    assertion = "\(header).\(payload)."
                case "garbage":
                    assertion = "not.a.jwt"
                default:
                    assertion = try await key.sign(claims)
                }
                let form = Self.assertionForm(assertion) + (flaw == "garbage" ? [("client_id", "bank-tpp")] : [])
                let (response, body) = try await client.token(form, basic: nil)
                #expect(response.status == .unauthorized, "\(flaw): \(body)")
                #expect(body["error"] as? String == "invalid_client")
            }
        }
    }

    @Test("one method only: an assertion with HTTP Basic or client_secret, or a wrong assertion type, is invalid_request")
    func oneMethod() async throws {
        try await TestServer.with { server in
            let key = ClientKey()
            try await Self.createKeyClient(server, key: key)
            let secret = try await server.createClient()
            try await server.test { client in
                let assertion = try await key.sign(Self.claims(server))
                let (withBasic, _) = try await client.token(Self.assertionForm(assertion), basic: HTTP.basic("shop", secret))
                #expect(withBasic.status == .badRequest)
                let (withSecret, _) = try await client.token(Self.assertionForm(assertion) + [("client_secret", secret)], basic: nil)
                #expect(withSecret.status == .badRequest)
                let (wrongType, body) = try await client.token(
                    [("grant_type", "client_credentials"), ("client_assertion_type", "urn:x"), ("client_assertion", assertion)], basic: nil)
                #expect(wrongType.status == .badRequest)
                #expect(body["error"] as? String == "invalid_request")
                // A private_key_jwt client has no secret to fall back on.
                let (noSecret, _) = try await client.token(
                    [("grant_type", "client_credentials"), ("client_id", "bank-tpp"), ("client_secret", "")], basic: nil)
                #expect(noSecret.status == .unauthorized)
            }
        }
    }

    @Test("private_key_jwt introspects with aud = the introspection endpoint")
    func introspectionWithAssertion() async throws {
        try await TestServer.with { server in
            let key = ClientKey()
            try await Self.createKeyClient(server, key: key)
            try await server.test { client in
                let (_, issued) = try await client.token(Self.assertionForm(try await key.sign(Self.claims(server))), basic: nil)
                let token = try #require(issued["access_token"] as? String)
                let assertion = try await key.sign(Self.claims(server, aud: "https://auth.test/oauth/introspect"))
                let (response, body) = try await client.token(
                    [("token", token)] + Self.assertionForm(assertion, grant: false), basic: nil, path: "/oauth/introspect")
                #expect(response.status == .ok)
                #expect(body["active"] as? Bool == true)
            }
        }
    }

    @Test(
        "public client: client_id alone reaches the grant and revocation; never introspection or a client API; a confidential client needs its secret"
    )
    func publicClients() async throws {
        try await TestServer.with { server in
            let created = try await server.runtime.administration.createClient(
                id: "mobile", name: nil, scopes: Scopes(["accounts"]), grants: [.authorizationCode, .refreshToken],
                registration: ClientRegistration(redirectURIs: ["com.example.bank:/cb"], isPublic: true), actor: "test")
            #expect(created.secret.isEmpty)
            #expect(created.client.secretHash.isEmpty)
            try await server.createClient()
            try await server.test { client in
                // Authenticated as a public client: the grant itself refuses the unknown token.
                let (refresh, body) = try await client.token(
                    [("grant_type", "refresh_token"), ("refresh_token", "sa_rt_unknown"), ("client_id", "mobile")], basic: nil)
                #expect(refresh.status == .badRequest)
                #expect(body["error"] as? String == "invalid_grant")
                let (revoke, _) = try await client.token([("token", "x"), ("client_id", "mobile")], basic: nil, path: "/oauth/revoke")
                #expect(revoke.status == .ok)
                let (introspect, refused) = try await client.token([("token", "x"), ("client_id", "mobile")], basic: nil, path: "/oauth/introspect")
                #expect(introspect.status == .unauthorized)
                #expect(refused["error"] as? String == "invalid_client")
                // A secret does not make a public client confidential.
                let (withSecret, _) = try await client.token(
                    [("grant_type", "refresh_token"), ("refresh_token", "x"), ("client_id", "mobile"), ("client_secret", "")], basic: nil)
                #expect(withSecret.status == .unauthorized)
                // A confidential client cannot leave its secret out.
                let (confidential, noAuth) = try await client.token([("grant_type", "client_credentials"), ("client_id", "shop")], basic: nil)
                #expect(confidential.status == .unauthorized)
                #expect(noAuth["error"] as? String == "invalid_client")
                // Nor can a public client call a client API (Shine's action requests).
                var headers = HTTPFields()
                headers[.contentType] = "application/json"
                let api = try await client.executeRequest(
                    uri: "/v2/authentication/oauth2/action_request/x/poll?client_id=mobile", method: .get, headers: headers, body: nil)
                #expect(api.status == .unauthorized)
            }
        }
    }

    @Test("a public or private_key_jwt client has no secret to rotate")
    func noSecretToRotate() async throws {
        try await TestServer.with { server in
            let key = ClientKey()
            try await Self.createKeyClient(server, key: key)
            await #expect(throws: (any Error).self) {
                try await server.runtime.lifecycle.rotateSecret(.client, id: "bank-tpp", realm: "default", actor: "test")
            }
        }
    }

    @Test("metadata lists private_key_jwt, its algorithms, and none where public clients are served")
    func metadata() async throws {
        try await TestServer.with { server in
            try await server.test { client in
                let response = try await client.executeRequest(uri: "/.well-known/oauth-authorization-server", method: .get, headers: [:], body: nil)
                let body = try HTTP.json(response.body)
                let token = try #require(body["token_endpoint_auth_methods_supported"] as? [String])
                #expect(Set(token) == ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"])
                #expect(!((body["introspection_endpoint_auth_methods_supported"] as? [String]) ?? ["none"]).contains("none"))
                let algs = try #require(body["token_endpoint_auth_signing_alg_values_supported"] as? [String])
                #expect(algs.contains("ES256") && !algs.contains { $0.hasPrefix("HS") || $0 == "none" })
            }
        }
    }
}
