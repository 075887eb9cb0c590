import Foundation
import StrongAuthAPI
import StrongAuthProtocol

/// What an app keeps between sending the browser to the authorization endpoint and the callback:
/// the `state` it checks, the PKCE verifier it redeems the code with, the redirect URI, and the
/// issuer whose `iss` the callback must carry (RFC 9207, the mix-up defence).
public struct PendingAuthorization: Sendable, Equatable, Codable {
    public var state: String
    public var codeVerifier: String
    public var redirectURI: String
    public var issuer: String

    public init(state: String, codeVerifier: String, redirectURI: String, issuer: String) {
        self.state = state
        self.codeVerifier = codeVerifier
        self.redirectURI = redirectURI
        self.issuer = issuer
    }
}

/// Why a callback is not a usable code.
public enum AuthorizationCallbackError: Error, Equatable, Sendable {
    /// The server answered with an error (RFC 6749 §4.1.2.1), e.g. `access_denied`.
    case authorizationFailed(error: String, description: String?)
    /// `state` is not the one this app sent: a forged or crossed callback.
    case stateMismatch
    /// `iss` is missing or another server's (RFC 9207 §2.4).
    case issuerMismatch
    /// No `code`, or not a URL at all.
    case malformedCallback
}

/// The authorization code flow with PKCE (RFC 6749 §4.1, RFC 7636) for an app: build the URL the
/// browser opens, read the callback, and redeem the code (`IntegratorClient.exchangeCode`).
///
/// ```swift
/// let (url, pending) = AuthorizationCodeFlow.authorizationURL(
///     issuer: "https://auth.bank.example", clientID: "app", redirectURI: "https://app.example/cb", scope: "accounts")
/// // … the browser signs in and comes back to the redirect URI …
/// let code = try AuthorizationCodeFlow.code(fromCallback: callbackURL, pending: pending)
/// let tokens = try await client.exchangeCode(code, pending: pending)
/// ```
public enum AuthorizationCodeFlow {
    /// A new PKCE pair: a 43-character verifier and its S256 challenge.
    public static func pkcePair() -> (verifier: String, challenge: String) {
        let verifier = PKCE.generateVerifier()
        return (verifier, PKCE.challenge(for: verifier))
    }

    /// The authorization URL with every parameter (PKCE S256, a fresh `state`), and what to keep
    /// for the callback. `acrValues` asks for an assurance level (`urn:strongauth:acr:2fa`).
    public static func authorizationURL(
        issuer: String, clientID: String, redirectURI: String, scope: String? = nil, acrValues: String? = nil
    ) -> (url: String, pending: PendingAuthorization) {
        let pending = newPending(redirectURI: redirectURI, issuer: issuer)
        let url = endpoint(issuer) + "?" + query(parameters(clientID: clientID, pending: pending, scope: scope, acrValues: acrValues))
        return (url, pending)
    }

    /// The authorization URL of a pushed request (RFC 9126 §4): only `client_id` and `request_uri`.
    public static func authorizationURL(issuer: String, clientID: String, requestURI: String) -> String {
        endpoint(issuer) + "?" + query([("client_id", clientID), ("request_uri", requestURI)])
    }

    /// The code of a callback, after checking `state` and `iss`; the server's error, if it sent one.
    public static func code(fromCallback callback: String, pending: PendingAuthorization) throws -> String {
        guard let components = URLComponents(string: callback) else { throw AuthorizationCallbackError.malformedCallback }
        var values: [String: String] = [:]
        for item in components.queryItems ?? [] {
            guard values[item.name] == nil else { throw AuthorizationCallbackError.malformedCallback }
            values[item.name] = item.value ?? ""
        }
        // State and issuer first: an error from a forged or mixed-up callback is not believed either.
        guard let state = values["state"], ConstantTime.equals(state, pending.state) else { throw AuthorizationCallbackError.stateMismatch }
        guard values["iss"] == pending.issuer else { throw AuthorizationCallbackError.issuerMismatch }
        if let error = values["error"] {
            throw AuthorizationCallbackError.authorizationFailed(error: error, description: values["error_description"])
        }
        guard let code = values["code"], !code.isEmpty else { throw AuthorizationCallbackError.malformedCallback }
        return code
    }

    static func newPending(redirectURI: String, issuer: String) -> PendingAuthorization {
        PendingAuthorization(
            state: Base64URL.encode(SecureRandom.bytes(16)), codeVerifier: PKCE.generateVerifier(), redirectURI: redirectURI, issuer: issuer)
    }

    static func parameters(clientID: String, pending: PendingAuthorization, scope: String?, acrValues: String?) -> [(String, String)] {
        var pairs = [
            ("response_type", "code"), ("client_id", clientID), ("redirect_uri", pending.redirectURI), ("state", pending.state),
            ("code_challenge", PKCE.challenge(for: pending.codeVerifier)), ("code_challenge_method", PKCE.method),
        ]
        if let scope { pairs.append(("scope", scope)) }
        if let acrValues { pairs.append(("acr_values", acrValues)) }
        return pairs
    }

    private static func endpoint(_ issuer: String) -> String {
        (issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer) + "/oauth/authorize"
    }

    private static func query(_ pairs: [(String, String)]) -> String {
        pairs.map { "\(IntegratorClient.formEncode($0.0))=\(IntegratorClient.formEncode($0.1))" }.joined(separator: "&")
    }
}

extension IntegratorClient {
    /// Pushes an authorization request (RFC 9126), authenticated as at the token endpoint;
    /// returns the URL for the browser and what to keep for the callback.
    public func pushAuthorizationRequest(issuer: String, redirectURI: String, scope: String? = nil, acrValues: String? = nil)
        async throws -> (url: String, pending: PendingAuthorization)
    {
        let pending = AuthorizationCodeFlow.newPending(redirectURI: redirectURI, issuer: issuer)
        let pairs = AuthorizationCodeFlow.parameters(clientID: clientID, pending: pending, scope: scope, acrValues: acrValues)
        let pushed = try transport.decode(
            Components.Schemas.PushedAuthorizationResponse.self,
            try await postForm("/oauth/par", Dictionary(uniqueKeysWithValues: pairs.map { ($0.0, Optional($0.1)) })))
        return (AuthorizationCodeFlow.authorizationURL(issuer: issuer, clientID: clientID, requestURI: pushed.requestUri), pending)
    }

    /// Redeems a code from `AuthorizationCodeFlow.code(fromCallback:pending:)` (RFC 6749 §4.1.3,
    /// RFC 7636 §4.5).
    public func exchangeCode(_ code: String, pending: PendingAuthorization) async throws -> Components.Schemas.TokenResponse {
        try transport.decode(
            Components.Schemas.TokenResponse.self,
            try await postForm(
                "/oauth/token",
                [
                    "grant_type": "authorization_code", "code": code, "redirect_uri": pending.redirectURI,
                    "code_verifier": pending.codeVerifier,
                ]))
    }
}
