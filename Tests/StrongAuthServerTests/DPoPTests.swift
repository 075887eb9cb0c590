import Configuration
import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SQLKit
import StrongAuthClient
import StrongAuthCore
import Testing

/// DPoP (RFC 9449) on the token endpoint and the resource faces, in process. The proof checks
/// themselves are in StrongAuthCoreTests/DPoPProofTests; here: what the HTTP faces make of them.
/// The servers run a ticking clock: `DPoPSigner` stamps `iat` with the wall clock, which a frozen
/// server clock would refuse once the (loaded) test run is older than the proof window.
@Suite("DPoP: token binding and resource access (RFC 9449)")
struct DPoPTests {
    static let issuer = "https://auth.test"
    static let dpop = HTTPField.Name("DPoP")!
    static let dpopNonce = HTTPField.Name("DPoP-Nonce")!

    static func tokenHeaders(basic: String?, proofs: [String]) -> HTTPFields {
        var headers = HTTP.formHeaders(basic: basic)
        for proof in proofs { headers.append(HTTPField(name: dpop, value: proof)) }
        return headers
    }

    static func post(
        _ client: any TestClientProtocol, _ pairs: [(String, String)], basic: String?, path: String = "/oauth/token", proofs: [String]
    ) async throws -> (TestResponse, [String: Any]) {
        let response = try await client.executeRequest(
            uri: path, method: .post, headers: tokenHeaders(basic: basic, proofs: proofs), body: HTTP.form(pairs))
        return (response, try HTTP.json(response.body))
    }

    /// The JWT payload of an access token (its signature is checked by the server's own tests).
    static func payload(_ token: String) throws -> [String: Any] {
        let part = try #require(Base64URLDecode(String(token.split(separator: ".")[1])))
        return try #require(try JSONSerialization.jsonObject(with: part) as? [String: Any])
    }

    static func resource(
        _ client: any TestClientProtocol, _ path: String = "/api/user/devices", method: HTTPRequest.Method = .get,
        authorization: String, proof: String?
    ) async throws -> TestResponse {
        var headers = HTTPFields()
        headers[.authorization] = authorization
        if let proof { headers[dpop] = proof }
        return try await client.executeRequest(uri: path, method: method, headers: headers, body: nil)
    }

    static func userToken(_ client: any TestClientProtocol, secret: String, signer: DPoPSigner) async throws -> String {
        let (response, body) = try await post(
            client, [("grant_type", "password"), ("username", "alice"), ("password", "correct horse")], basic: HTTP.basic("shop", secret),
            proofs: [try signer.proof(method: "POST", url: issuer + "/oauth/token")])
        #expect(response.status == .ok)
        #expect(body["token_type"] as? String == "DPoP")
        return try #require(body["access_token"] as? String)
    }

    /// Replayed proofs counted in the open audit failure windows.
    static func replaysCounted(_ server: TestServer) async throws -> Int {
        try await server.runtime.store.pool.withConnection { db in
            try await db.raw("SELECT COALESCE(SUM(failures), 0) AS n FROM audit_failures WHERE action = 'dpop.proof_replayed'").first()?
                .decode(column: "n", as: Int.self) ?? -1
        }
    }

    // MARK: Token endpoint

    @Test(
        "client_credentials with a proof: token_type DPoP, cnf.jkt, a DPoP-Nonce; introspection says so",
        arguments: ["/oauth/token", "/api/v2/oauth/token"])
    func clientCredentialsBound(path: String) async throws {
        try await TestServer.with(tickingClock: true) { server in
            let secret = try await server.createClient()
            let signer = DPoPSigner()
            try await server.test { client in
                let (response, body) = try await Self.post(
                    client, [("grant_type", "client_credentials")], basic: HTTP.basic("shop", secret), path: path,
                    proofs: [try signer.proof(method: "POST", url: Self.issuer + path)])
                #expect(response.status == .ok)
                #expect(body["token_type"] as? String == "DPoP")
                #expect(response.headers[Self.dpopNonce] != nil)
                let token = try #require(body["access_token"] as? String)
                #expect((try Self.payload(token)["cnf"] as? [String: String]) == ["jkt": signer.thumbprint])

                let (_, introspection) = try await client.token([("token", token)], basic: HTTP.basic("shop", secret), path: "/oauth/introspect")
                #expect(introspection["active"] as? Bool == true)
                #expect(introspection["token_type"] as? String == "DPoP")
                #expect((introspection["cnf"] as? [String: String])?["jkt"] == signer.thumbprint)

                // Without a proof: a bearer token as before, and no DPoP header in the answer.
                let (plain, plainBody) = try await client.token([("grant_type", "client_credentials")], basic: HTTP.basic("shop", secret), path: path)
                #expect(plainBody["token_type"] as? String == "Bearer" && plain.headers[Self.dpopNonce] == nil)
                #expect(try Self.payload(try #require(plainBody["access_token"] as? String))["cnf"] == nil)
            }
        }
    }

    @Test("token endpoint refusals: a proof for the other token path, two proofs, a garbage proof → 400 invalid_dpop_proof, no token")
    func tokenEndpointRefusals() async throws {
        try await TestServer.with(tickingClock: true) { server in
            let secret = try await server.createClient()
            let signer = DPoPSigner()
            try await server.test { client in
                let basic = HTTP.basic("shop", secret)
                let grant = [("grant_type", "client_credentials")]
                let forOther = try signer.proof(method: "POST", url: Self.issuer + "/oauth/token")
                for proofs in [[forOther], [try signer.proof(method: "POST", url: Self.issuer + "/api/v2/oauth/token"), forOther], ["not.a.jws"]] {
                    let (response, body) = try await Self.post(client, grant, basic: basic, path: "/api/v2/oauth/token", proofs: proofs)
                    #expect(response.status == .badRequest)
                    #expect(body["error"] as? String == "invalid_dpop_proof")
                    #expect(body["access_token"] == nil)
                    #expect(response.headers[Self.dpopNonce] != nil)
                }
                // A proof for GET, or one already used: refused too.
                let (getResponse, _) = try await Self.post(
                    client, grant, basic: basic, proofs: [try signer.proof(method: "GET", url: Self.issuer + "/oauth/token")])
                #expect(getResponse.status == .badRequest)
                let once = try signer.proof(method: "POST", url: Self.issuer + "/oauth/token")
                #expect(try await Self.post(client, grant, basic: basic, proofs: [once]).0.status == .ok)
                #expect(try await Self.replaysCounted(server) == 0)
                let (replayed, replayedBody) = try await Self.post(client, grant, basic: basic, proofs: [once])
                #expect(replayed.status == .badRequest && replayedBody["error"] as? String == "invalid_dpop_proof")
                // The replay is counted in the audit log's failure windows.
                #expect(try await Self.replaysCounted(server) == 1)
            }
        }
    }

    @Test("a client registered --dpop-required gets no token without a proof")
    func clientRequiresDPoP() async throws {
        try await TestServer.with(tickingClock: true) { server in
            let secret = try await server.runtime.administration.createClient(
                id: "strict", name: nil, scopes: Scopes(["accounts"]), grants: [.clientCredentials],
                registration: ClientRegistration(requiresDPoP: true), actor: "test"
            ).secret
            try await server.test { client in
                let (refused, body) = try await client.token([("grant_type", "client_credentials")], basic: HTTP.basic("strict", secret))
                #expect(refused.status == .badRequest && body["error"] as? String == "invalid_dpop_proof")
                let (ok, okBody) = try await Self.post(
                    client, [("grant_type", "client_credentials")], basic: HTTP.basic("strict", secret),
                    proofs: [try DPoPSigner().proof(method: "POST", url: Self.issuer + "/oauth/token")])
                #expect(ok.status == .ok && okBody["token_type"] as? String == "DPoP")
            }
        }
    }

    @Test("oauth.dpop.requireNonce: a proof without nonce → 400 use_dpop_nonce with DPoP-Nonce; the retry with it → 200")
    func tokenEndpointNonce() async throws {
        try await TestServer.with(["oauth.dpop.requireNonce": .bool(true)], tickingClock: true) { server in
            let secret = try await server.createClient()
            let signer = DPoPSigner()
            try await server.test { client in
                let grant = [("grant_type", "client_credentials")]
                let (first, body) = try await Self.post(
                    client, grant, basic: HTTP.basic("shop", secret), proofs: [try signer.proof(method: "POST", url: Self.issuer + "/oauth/token")])
                #expect(first.status == .badRequest && body["error"] as? String == "use_dpop_nonce")
                let nonce = try #require(first.headers[Self.dpopNonce])
                signer.remember(nonce: nonce)
                let (second, secondBody) = try await Self.post(
                    client, grant, basic: HTTP.basic("shop", secret), proofs: [try signer.proof(method: "POST", url: Self.issuer + "/oauth/token")])
                #expect(second.status == .ok && secondBody["token_type"] as? String == "DPoP")
            }
        }
    }

    @Test("metadata lists dpop_signing_alg_values_supported")
    func metadata() async throws {
        try await TestServer.with(tickingClock: true) { server in
            try await server.test { client in
                let response = try await client.executeRequest(uri: "/.well-known/oauth-authorization-server", method: .get, headers: [:], body: nil)
                let body = try HTTP.json(response.body)
                #expect(body["dpop_signing_alg_values_supported"] as? [String] == ["ES256", "ES384", "PS256", "RS256", "EdDSA"])
            }
        }
    }

    // MARK: Resource faces

    @Test("a bound user token works with Authorization: DPoP and a proof for the request")
    func boundTokenAtResource() async throws {
        try await TestServer.with(tickingClock: true) { server in
            let secret = try await server.createClient()
            try await server.createUser()
            let signer = DPoPSigner()
            try await server.test { client in
                let token = try await Self.userToken(client, secret: secret, signer: signer)
                let url = Self.issuer + "/api/user/devices"
                let ok = try await Self.resource(
                    client, authorization: "DPoP \(token)", proof: try signer.proof(method: "GET", url: url, accessToken: token))
                #expect(ok.status == .ok)
                #expect(ok.headers[Self.dpopNonce] != nil)
                // finAPI's user resource too.
                let finAPI = try await Self.resource(
                    client, "/api/v2/users", authorization: "DPoP \(token)",
                    proof: try signer.proof(method: "GET", url: Self.issuer + "/api/v2/users", accessToken: token))
                #expect(finAPI.status == .ok)
            }
        }
    }

    /// One way each to present a bound token wrongly: 401, the DPoP challenge with its error.
    @Test("a bound token is refused: as Bearer, without proof, replayed proof, wrong ath, another key, wrong htm/htu")
    func boundTokenRefusals() async throws {
        try await TestServer.with(tickingClock: true) { server in
            let secret = try await server.createClient()
            try await server.createUser()
            let signer = DPoPSigner()
            try await server.test { client in
                let token = try await Self.userToken(client, secret: secret, signer: signer)
                let url = Self.issuer + "/api/user/devices"
                let algs = #"algs="ES256 ES384 PS256 RS256 EdDSA""#
                func expectRefused(_ response: TestResponse, _ error: String, _ name: String) {
                    #expect(response.status == .unauthorized, "\(name)")
                    #expect(response.headers[.wwwAuthenticate] == #"DPoP error="\#(error)", "# + algs, "\(name)")
                }
                expectRefused(try await Self.resource(client, authorization: "Bearer \(token)", proof: nil), "invalid_token", "as Bearer")
                expectRefused(
                    try await Self.resource(
                        client, authorization: "Bearer \(token)", proof: try signer.proof(method: "GET", url: url, accessToken: token)),
                    "invalid_token", "as Bearer with a proof")
                expectRefused(try await Self.resource(client, authorization: "DPoP \(token)", proof: nil), "invalid_dpop_proof", "no proof")
                let used = try signer.proof(method: "GET", url: url, accessToken: token)
                #expect(try await Self.resource(client, authorization: "DPoP \(token)", proof: used).status == .ok)
                expectRefused(try await Self.resource(client, authorization: "DPoP \(token)", proof: used), "invalid_dpop_proof", "replayed")
                expectRefused(
                    try await Self.resource(
                        client, authorization: "DPoP \(token)", proof: try signer.proof(method: "GET", url: url, accessToken: "other")),
                    "invalid_dpop_proof", "wrong ath")
                expectRefused(
                    try await Self.resource(client, authorization: "DPoP \(token)", proof: try signer.proof(method: "GET", url: url)),
                    "invalid_dpop_proof", "no ath")
                expectRefused(
                    try await Self.resource(
                        client, authorization: "DPoP \(token)", proof: try DPoPSigner().proof(method: "GET", url: url, accessToken: token)),
                    "invalid_dpop_proof", "another key")
                expectRefused(
                    try await Self.resource(
                        client, authorization: "DPoP \(token)", proof: try signer.proof(method: "POST", url: url, accessToken: token)),
                    "invalid_dpop_proof", "wrong htm")
                expectRefused(
                    try await Self.resource(
                        client, authorization: "DPoP \(token)",
                        proof: try signer.proof(method: "GET", url: Self.issuer + "/api/user/approvals", accessToken: token)),
                    "invalid_dpop_proof", "wrong htu")
                expectRefused(
                    try await Self.resource(
                        client, authorization: "DPoP \(token)",
                        proof: try signer.proof(method: "GET", url: "https://evil.test/api/user/devices", accessToken: token)),
                    "invalid_dpop_proof", "wrong host")
                expectRefused(
                    try await Self.resource(
                        client, authorization: "DPoP \(token)x", proof: try signer.proof(method: "GET", url: url, accessToken: token + "x")),
                    "invalid_token", "broken token")
            }
        }
    }

    @Test("an unbound token with the DPoP scheme is refused; as Bearer it is answered exactly as before")
    func unboundToken() async throws {
        try await TestServer.with(tickingClock: true) { server in
            let secret = try await server.createClient()
            try await server.createUser()
            try await server.test { client in
                let (_, body) = try await client.token(
                    [("grant_type", "password"), ("username", "alice"), ("password", "correct horse")], basic: HTTP.basic("shop", secret))
                let token = try #require(body["access_token"] as? String)
                let signer = DPoPSigner()
                let refused = try await Self.resource(
                    client, authorization: "DPoP \(token)",
                    proof: try signer.proof(method: "GET", url: Self.issuer + "/api/user/devices", accessToken: token))
                #expect(refused.status == .unauthorized)
                #expect(refused.headers[.wwwAuthenticate]?.hasPrefix(#"DPoP error="invalid_token""#) == true)
                let bearer = try await Self.resource(client, authorization: "Bearer \(token)", proof: nil)
                #expect(bearer.status == .ok && bearer.headers[.wwwAuthenticate] == nil && bearer.headers[Self.dpopNonce] == nil)
                let invalid = try await Self.resource(client, authorization: "Bearer nonsense", proof: nil)
                #expect(invalid.headers[.wwwAuthenticate] == #"Bearer realm="strongauth", error="invalid_token""#)
            }
        }
    }

    @Test("oauth.dpop.requireNonce at a resource: 401 use_dpop_nonce with DPoP-Nonce, then 200 with it")
    func resourceNonce() async throws {
        try await TestServer.with(["oauth.dpop.requireNonce": .bool(true)], tickingClock: true) { server in
            let secret = try await server.createClient()
            try await server.createUser()
            let key = P256.Signing.PrivateKey()
            let signer = DPoPSigner(key: key)
            try await server.test { client in
                // The token endpoint first asks for a nonce; the signer keeps the one offered.
                let (first, _) = try await Self.post(
                    client, [("grant_type", "password"), ("username", "alice"), ("password", "correct horse")], basic: HTTP.basic("shop", secret),
                    proofs: [try signer.proof(method: "POST", url: Self.issuer + "/oauth/token")])
                #expect(first.status == .badRequest)
                signer.remember(nonce: first.headers[Self.dpopNonce])
                let token = try await Self.userToken(client, secret: secret, signer: signer)
                let url = Self.issuer + "/api/user/devices"
                // The same key without the nonce: refused, and told the nonce to use.
                let forgetful = DPoPSigner(key: key)
                let refused = try await Self.resource(
                    client, authorization: "DPoP \(token)", proof: try forgetful.proof(method: "GET", url: url, accessToken: token))
                #expect(refused.status == .unauthorized)
                #expect(refused.headers[.wwwAuthenticate]?.hasPrefix(#"DPoP error="use_dpop_nonce""#) == true)
                let offered = refused.headers[Self.dpopNonce]
                #expect(offered != nil)
                forgetful.remember(nonce: offered)
                let retried = try await Self.resource(
                    client, authorization: "DPoP \(token)", proof: try forgetful.proof(method: "GET", url: url, accessToken: token))
                #expect(retried.status == .ok)
            }
        }
    }

    // MARK: Public clients' refresh tokens

    @Test(
        "a public client's refresh token is bound to the DPoP key: refused without a proof, refused (and not spent) with another key, refreshed with it"
    )
    func publicClientRefreshBinding() async throws {
        try await TestServer.with(tickingClock: true) { server in
            let tokens = server.runtime.tokens
            let app = try await server.runtime.administration.createClient(
                id: "app", name: nil, scopes: Scopes(["accounts"]), grants: [.authorizationCode, .refreshToken],
                registration: ClientRegistration(redirectURIs: ["https://app.example/cb"], isPublic: true), actor: "test"
            ).client
            let user = try await server.createUser()
            let signer = DPoPSigner()
            // What the authorization_code grant does once the proof is verified.
            let issued = try await tokens.issueUserTokens(
                userID: user.id, client: app, scopes: Scopes(["accounts"]), amr: ["pwd"], withRefreshToken: true,
                dpopKeyThumbprint: signer.thumbprint)
            let refreshToken = try #require(issued.refreshToken)
            #expect(issued.dpopKeyThumbprint == signer.thumbprint)
            func refresh(_ key: String?) async throws -> IssuedTokens {
                try await tokens.issueTokens(
                    for: TokenRequest(grantType: "refresh_token", refreshToken: refreshToken, dpopKeyThumbprint: key), client: app, source: nil)
            }
            await #expect(throws: OAuthError(.invalidDPoPProof, "This refresh token is bound to a DPoP key: send a proof signed with it.")) {
                try await refresh(nil)
            }
            await #expect(throws: OAuthError.invalidGrant("The refresh token is bound to another DPoP key.")) {
                try await refresh(DPoPSigner().thumbprint)
            }
            let refreshed = try await refresh(signer.thumbprint)
            #expect(refreshed.dpopKeyThumbprint == signer.thumbprint)
            let successor = try #require(refreshed.refreshToken)
            // The successor is bound as well.
            await #expect(throws: OAuthError.self) {
                try await tokens.issueTokens(
                    for: TokenRequest(grantType: "refresh_token", refreshToken: successor, dpopKeyThumbprint: DPoPSigner().thumbprint),
                    client: app, source: nil)
            }
            let introspected = try await tokens.validateAccessToken(refreshed.accessToken)
            #expect(introspected?.cnf?.jkt == signer.thumbprint)

            // A confidential client's refresh token is not bound (RFC 9449 §5): its access tokens are.
            try await server.createClient()
            let shop = try #require(try await server.runtime.store.client(id: "shop"))
            let confidential = try await tokens.issueUserTokens(
                userID: user.id, client: shop, scopes: Scopes(["accounts"]), amr: ["pwd"], withRefreshToken: true,
                dpopKeyThumbprint: signer.thumbprint)
            #expect(confidential.refreshToken != nil)
            let plainRefresh = try await tokens.issueTokens(
                for: TokenRequest(grantType: "refresh_token", refreshToken: confidential.refreshToken), client: shop, source: nil)
            #expect(plainRefresh.dpopKeyThumbprint == nil)
        }
    }
}
