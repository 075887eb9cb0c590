import Foundation
import Hummingbird
import HummingbirdTesting
import StrongAuthClient
import StrongAuthCore
import StrongAuthProtocol
import StrongAuthServer
import Testing

/// The SDK's authorization code + PKCE helper: the URL it builds, the callback checks (state, iss,
/// errors), and PAR plus the code exchange against a live server.
@Suite("SDK: authorization code flow")
struct AuthorizationCodeSDKTests {
    static let issuer = "https://auth.test"

    @Test("the authorization URL carries response_type, client, redirect, state and an S256 challenge of the kept verifier")
    func authorizationURL() throws {
        let (url, pending) = AuthorizationCodeFlow.authorizationURL(
            issuer: Self.issuer + "/", clientID: "app", redirectURI: "https://app.example/cb?x=1", scope: "accounts transfers",
            acrValues: "urn:strongauth:acr:2fa")
        #expect(url.hasPrefix("https://auth.test/oauth/authorize?"))
        let items = try #require(URLComponents(string: url)?.queryItems)
        let query = Dictionary(uniqueKeysWithValues: items.map { ($0.name, $0.value ?? "") })
        #expect(query["response_type"] == "code")
        #expect(query["client_id"] == "app")
        #expect(query["redirect_uri"] == "https://app.example/cb?x=1")
        #expect(query["scope"] == "accounts transfers")
        #expect(query["acr_values"] == "urn:strongauth:acr:2fa")
        #expect(query["state"] == pending.state)
        #expect(query["code_challenge_method"] == "S256")
        #expect(query["code_challenge"] == PKCE.challenge(for: pending.codeVerifier))
        #expect(PKCE.isValidVerifier(pending.codeVerifier))
        #expect(pending.issuer == Self.issuer + "/")
        let (_, other) = AuthorizationCodeFlow.authorizationURL(issuer: Self.issuer, clientID: "app", redirectURI: "https://app.example/cb")
        #expect(other.state != pending.state && other.codeVerifier != pending.codeVerifier)
        let pair = AuthorizationCodeFlow.pkcePair()
        #expect(PKCE.verify(pair.verifier, against: pair.challenge))
        #expect(
            AuthorizationCodeFlow.authorizationURL(issuer: Self.issuer, clientID: "app", requestURI: "urn:ietf:params:oauth:request_uri:abc")
                == "https://auth.test/oauth/authorize?client_id=app&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Aabc")
    }

    @Test("the callback: the code only with the right state and iss; errors surfaced; forged or mixed-up callbacks refused")
    func callback() throws {
        let pending = PendingAuthorization(
            state: "s1", codeVerifier: PKCE.generateVerifier(), redirectURI: "https://app.example/cb", issuer: Self.issuer)
        let iss = "iss=https%3A%2F%2Fauth.test"
        #expect(try AuthorizationCodeFlow.code(fromCallback: "https://app.example/cb?code=c1&state=s1&\(iss)", pending: pending) == "c1")
        #expect(throws: AuthorizationCallbackError.stateMismatch) {
            try AuthorizationCodeFlow.code(fromCallback: "https://app.example/cb?code=c1&state=s2&\(iss)", pending: pending)
        }
        #expect(throws: AuthorizationCallbackError.stateMismatch) {
            try AuthorizationCodeFlow.code(fromCallback: "https://app.example/cb?code=c1&\(iss)", pending: pending)
        }
        #expect(throws: AuthorizationCallbackError.issuerMismatch) {
            try AuthorizationCodeFlow.code(fromCallback: "https://app.example/cb?code=c1&state=s1", pending: pending)
        }
        #expect(throws: AuthorizationCallbackError.issuerMismatch) {
            try AuthorizationCodeFlow.code(fromCallback: "https://app.example/cb?code=c1&state=s1&iss=https%3A%2F%2Fevil.test", pending: pending)
        }
        #expect(throws: AuthorizationCallbackError.authorizationFailed(error: "access_denied", description: "no")) {
            try AuthorizationCodeFlow.code(
                fromCallback: "https://app.example/cb?error=access_denied&error_description=no&state=s1&\(iss)", pending: pending)
        }
        #expect(throws: AuthorizationCallbackError.malformedCallback) {
            try AuthorizationCodeFlow.code(fromCallback: "https://app.example/cb?state=s1&\(iss)", pending: pending)
        }
        #expect(throws: AuthorizationCallbackError.malformedCallback) {
            try AuthorizationCodeFlow.code(fromCallback: "https://app.example/cb?code=a&code=b&state=s1&\(iss)", pending: pending)
        }
    }

    @Test("live: PAR through the SDK, the hosted login in a browser, the callback checked, the code exchanged once")
    func pushedAndExchanged() async throws {
        try await TestServer.with { server in
            let secret = try await server.runtime.administration.createClient(
                id: "app", name: "Banking App", scopes: Scopes(["accounts"]), grants: [.authorizationCode, .refreshToken],
                registration: ClientRegistration(redirectURIs: ["https://app.example/cb"]), actor: "test"
            ).secret
            try await server.createUser()
            try await buildApplication(runtime: server.runtime).test(.live) { client in
                let port = try #require(client.port)
                let sdk = IntegratorClient(baseURL: "http://127.0.0.1:\(port)", clientID: "app", clientSecret: secret)
                let (url, pending) = try await sdk.pushAuthorizationRequest(
                    issuer: Self.issuer, redirectURI: "https://app.example/cb", scope: "accounts")
                #expect(url.contains("request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3A"))
                var browser = Browser(client: client)
                let page = try await browser.get(String(url.dropFirst(Self.issuer.count)))
                #expect(page.status == .ok)
                let login = try #require(AuthorizationCodeTests.field("login", in: page))
                let done = try await browser.post(
                    "/oauth/authorize/login", ["_csrf": page.csrf ?? "", "login": login, "username": "alice", "password": "correct horse"])
                let callback = try #require(done.headers[.location])
                let code = try AuthorizationCodeFlow.code(fromCallback: callback, pending: pending)
                let tokens = try await sdk.exchangeCode(code, pending: pending)
                #expect(tokens.scope == "accounts")
                #expect(tokens.refreshToken != nil)
                await #expect(throws: StrongAuthClientError.self) { try await sdk.exchangeCode(code, pending: pending) }
                #expect(try await sdk.introspect(tokens.accessToken).active == false)
            }
        }
    }
}
