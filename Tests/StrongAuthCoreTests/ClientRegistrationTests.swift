import Foundation
import Testing

@testable import StrongAuthCore

/// What `clients create` accepts for the authorization endpoint: redirect URIs a browser or a
/// native app can safely be sent to (RFC 9700 §4.1, RFC 8252 §7), public clients limited to
/// the grants that carry their own proof, a JWK Set of the right shape, a known acr.
@Suite("Client registration")
struct ClientRegistrationTests {
    @Test(
        "redirect URIs: https, loopback http, reverse-domain private-use schemes",
        arguments: [
            "https://app.example/cb", "https://app.example:8443/cb?x=1", "http://127.0.0.1:8080/cb", "http://localhost/cb",
            "http://[::1]:9000/cb", "com.example.app:/oauth2redirect",
        ])
    func acceptedRedirectURIs(uri: String) throws {
        try ClientRegistration.validateRedirectURI(uri)
    }

    @Test(
        "redirect URIs refused: relative, fragment, plain http elsewhere, dangerous or dot-less schemes, whitespace",
        arguments: [
            "/cb", "app.example/cb", "https://app.example/cb#frag", "http://app.example/cb", "http://10.0.0.1/cb",
            "javascript:alert(1)", "myapp:/cb", "https://app.example/c b", "data:text/html,x", "https:///cb",
        ])
    func refusedRedirectURIs(uri: String) {
        #expect(throws: ValidationError.self) { try ClientRegistration.validateRedirectURI(uri) }
    }

    @Test("the authorization_code grant needs a redirect URI; each URI once")
    func authorizationCodeNeedsRedirect() throws {
        #expect(throws: ValidationError.self) { try ClientRegistration().validate(grants: [.authorizationCode]) }
        #expect(throws: ValidationError.self) {
            try ClientRegistration(redirectURIs: ["https://a.example/cb", "https://a.example/cb"]).validate(grants: [.authorizationCode])
        }
        try ClientRegistration(redirectURIs: ["https://a.example/cb"]).validate(grants: [.authorizationCode, .refreshToken])
    }

    @Test("a public client: authorization_code (and refresh_token) only, no keys")
    func publicClients() throws {
        let uris = ["https://a.example/cb"]
        try ClientRegistration(redirectURIs: uris, isPublic: true).validate(grants: [.authorizationCode, .refreshToken])
        #expect(throws: ValidationError.self) {
            try ClientRegistration(redirectURIs: uris, isPublic: true).validate(grants: [.authorizationCode, .clientCredentials])
        }
        #expect(throws: ValidationError.self) { try ClientRegistration(isPublic: true).validate(grants: [.password]) }
        #expect(throws: ValidationError.self) {
            try ClientRegistration(redirectURIs: uris, isPublic: true, jwks: #"{"keys":[{"kty":"EC"}]}"#).validate(grants: [.authorizationCode])
        }
    }

    @Test("a JWK Set has keys, each with kty; the acr is a known level")
    func jwksAndACR() throws {
        try ClientRegistration(jwks: #"{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b"}]}"#).validate(grants: [.clientCredentials])
        let bads = [
            "", "[]", #"{"keys":[]}"#, #"{"keys":[{"crv":"P-256"}]}"#, "not json",
            // A private key, a shared secret, a key missing a coordinate, a curve jwt-kit cannot verify with.
            #"{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b","d":"c"}]}"#, #"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#,
            #"{"keys":[{"kty":"EC","crv":"P-256","x":"a"}]}"#, #"{"keys":[{"kty":"EC","crv":"secp256k1","x":"a","y":"b"}]}"#,
            #"{"keys":[{"kty":"RSA","n":"a","e":"AQAB","p":"x"}]}"#,
        ]
        for bad in bads {
            #expect(throws: ValidationError.self) { try ClientRegistration(jwks: bad).validate(grants: [.clientCredentials]) }
        }
        try ClientRegistration(defaultACR: AssuranceLevel.twoFactor.rawValue).validate(grants: [.clientCredentials])
        #expect(throws: ValidationError.self) { try ClientRegistration(defaultACR: "urn:x:3fa").validate(grants: [.clientCredentials]) }
    }
}
