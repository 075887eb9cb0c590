import AsyncHTTPClient
import Foundation
import NIOCore
import StrongAuthAPI

/// The integrator side of the StrongAuth SDK: an OAuth client (client_credentials, password,
/// refresh), introspection and revocation, and finAPI user management.
///
/// ```swift
/// let client = IntegratorClient(baseURL: "http://127.0.0.1:8080", clientID: "shop", clientSecret: secret)
/// let tokens = try await client.clientCredentials(scope: "accounts")
/// ```
public struct IntegratorClient: Sendable {
    public let clientID: String
    /// `nil` for a public client (RFC 6749 §2.1): it sends only `client_id`, and PKCE or DPoP
    /// carries the proof.
    private let clientSecret: String?
    let transport: Transport
    /// Signs a DPoP proof for every token request and resource call (`withDPoP`).
    public private(set) var dpop: DPoPSigner?

    /// - Parameters:
    ///   - clientSecret: the secret of a confidential client; `nil` for a public client.
    ///   - http: the AsyncHTTPClient to use; the shared singleton by default.
    public init(baseURL: String, clientID: String, clientSecret: String?, http: HTTPClient = .shared) {
        transport = Transport(baseURL: baseURL, http: http)
        self.clientID = clientID
        self.clientSecret = clientSecret
    }

    public var baseURL: String { transport.baseURL }

    /// The same client, asking for DPoP-bound tokens (RFC 9449) with `signer`'s key and using
    /// them with proofs on the resource calls.
    public func withDPoP(_ signer: DPoPSigner) -> IntegratorClient {
        var copy = self
        copy.dpop = signer
        return copy
    }

    // MARK: OAuth 2.0

    /// RFC 6749 §4.4.
    public func clientCredentials(scope: String? = nil) async throws -> Components.Schemas.TokenResponse {
        try await token(["grant_type": "client_credentials", "scope": scope])
    }

    /// RFC 6749 §4.3 (Kontist's `fetchTokenFromCredentials`, finAPI's user login).
    public func password(username: String, password: String, scope: String? = nil) async throws -> Components.Schemas.TokenResponse {
        try await token(["grant_type": "password", "username": username, "password": password, "scope": scope])
    }

    /// RFC 6749 §6 (Kontist's `tokenManager.refresh`). The answer carries the rotated refresh
    /// token; the old one is spent. A confirmed refresh token yields confirmed access tokens.
    public func refresh(_ refreshToken: String, scope: String? = nil) async throws -> Components.Schemas.TokenResponse {
        try await token(["grant_type": "refresh_token", "refresh_token": refreshToken, "scope": scope])
    }

    /// RFC 7662.
    public func introspect(_ token: String) async throws -> Components.Schemas.IntrospectionResponse {
        try transport.decode(Components.Schemas.IntrospectionResponse.self, try await postForm("/oauth/introspect", ["token": token]))
    }

    /// RFC 7009.
    public func revoke(_ token: String) async throws {
        try transport.expectSuccess(try await postForm("/oauth/revoke", ["token": token]))
    }

    /// RFC 8414 metadata.
    public func metadata() async throws -> Components.Schemas.AuthorizationServerMetadata {
        try transport.decode(
            Components.Schemas.AuthorizationServerMetadata.self, try await transport.send(.GET, "/.well-known/oauth-authorization-server"))
    }

    private func token(_ parameters: [String: String?]) async throws -> Components.Schemas.TokenResponse {
        try transport.decode(Components.Schemas.TokenResponse.self, try await postForm("/oauth/token", parameters, dpop: dpop))
    }

    // MARK: finAPI users

    /// `POST /api/v2/users` with a client access token.
    public func createUser(
        _ params: Components.Schemas.FinAPIUserCreateParams, clientAccessToken: String
    ) async throws -> Components.Schemas.FinAPIUser {
        try transport.decode(
            Components.Schemas.FinAPIUser.self, try await transport.sendJSON(.POST, "/api/v2/users", bearer: clientAccessToken, dpop: dpop, params))
    }

    /// `GET /api/v2/users` with a user access token.
    public func authorisedUser(userAccessToken: String) async throws -> Components.Schemas.FinAPIUser {
        try transport.decode(
            Components.Schemas.FinAPIUser.self,
            try await transport.sendJSON(.GET, "/api/v2/users", bearer: userAccessToken, dpop: dpop, Optional<String>.none))
    }

    /// `DELETE /api/v2/users` with a user access token.
    public func deleteAuthorisedUser(userAccessToken: String) async throws {
        _ = try transport.decode(
            Components.Schemas.FinAPIUserIdentifier.self,
            try await transport.sendJSON(.DELETE, "/api/v2/users", bearer: userAccessToken, dpop: dpop, Optional<String>.none))
    }

    // MARK: Transport

    func postForm(_ path: String, _ parameters: [String: String?], dpop: DPoPSigner? = nil) async throws -> Transport.RawResponse {
        var parameters = parameters
        var headers = [("Content-Type", "application/x-www-form-urlencoded")]
        if let clientSecret {
            let credentials = "\(Self.formEncode(clientID)):\(Self.formEncode(clientSecret))"
            headers.append(("Authorization", "Basic " + Data(credentials.utf8).base64EncodedString()))
        } else {
            parameters["client_id"] = clientID
        }
        let body = parameters.compactMap { key, value in value.map { "\(Self.formEncode(key))=\(Self.formEncode($0))" } }
            .joined(separator: "&")
        guard let dpop else { return try await transport.send(.POST, path, headers: headers, body: ByteBuffer(string: body)) }
        return try await transport.sendWithProof(dpop, .POST, path, accessToken: nil) { proof in
            try await transport.send(.POST, path, headers: headers + [("DPoP", proof)], body: ByteBuffer(string: body))
        }
    }

    /// `application/x-www-form-urlencoded` encoding of one component.
    public static func formEncode(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }
}
