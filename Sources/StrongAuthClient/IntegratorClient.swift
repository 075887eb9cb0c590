import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import StrongAuthAPI

/// The integrator side of the StrongAuth SDK: an OAuth client (client_credentials, password,
/// refresh), introspection and revocation, and finAPI user management.
///
/// ```swift
/// let client = IntegratorClient(baseURL: URL(string: "http://127.0.0.1:8080")!, clientID: "shop", clientSecret: secret)
/// let tokens = try await client.clientCredentials(scope: "accounts")
/// ```
public struct IntegratorClient: Sendable {
    public let baseURL: String
    public let clientID: String
    private let clientSecret: String
    private let http: HTTPClient

    /// - Parameter http: the AsyncHTTPClient to use; the shared singleton by default.
    public init(baseURL: String, clientID: String, clientSecret: String, http: HTTPClient = .shared) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.http = http
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

    /// RFC 6749 §6. The answer carries the rotated refresh token; the old one is spent.
    public func refresh(_ refreshToken: String, scope: String? = nil) async throws -> Components.Schemas.TokenResponse {
        try await token(["grant_type": "refresh_token", "refresh_token": refreshToken, "scope": scope])
    }

    /// RFC 7662.
    public func introspect(_ token: String) async throws -> Components.Schemas.IntrospectionResponse {
        let response = try await postForm("/oauth/introspect", ["token": token])
        return try decode(Components.Schemas.IntrospectionResponse.self, response)
    }

    /// RFC 7009.
    public func revoke(_ token: String) async throws {
        let response = try await postForm("/oauth/revoke", ["token": token])
        guard response.status == .ok else { throw try error(from: response) }
    }

    /// RFC 8414 metadata.
    public func metadata() async throws -> Components.Schemas.AuthorizationServerMetadata {
        var request = HTTPClientRequest(url: baseURL + "/.well-known/oauth-authorization-server")
        request.method = .GET
        return try decode(Components.Schemas.AuthorizationServerMetadata.self, try await send(request))
    }

    private func token(_ parameters: [String: String?]) async throws -> Components.Schemas.TokenResponse {
        try decode(Components.Schemas.TokenResponse.self, try await postForm("/oauth/token", parameters))
    }

    // MARK: finAPI users

    /// `POST /api/v2/users` with a client access token.
    public func createUser(
        _ params: Components.Schemas.FinAPIUserCreateParams, clientAccessToken: String
    ) async throws -> Components.Schemas.FinAPIUser {
        var request = HTTPClientRequest(url: baseURL + "/api/v2/users")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(clientAccessToken)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(data: try JSONEncoder().encode(params)))
        return try decode(Components.Schemas.FinAPIUser.self, try await send(request))
    }

    /// `GET /api/v2/users` with a user access token.
    public func authorisedUser(userAccessToken: String) async throws -> Components.Schemas.FinAPIUser {
        var request = HTTPClientRequest(url: baseURL + "/api/v2/users")
        request.method = .GET
        request.headers.add(name: "Authorization", value: "Bearer \(userAccessToken)")
        return try decode(Components.Schemas.FinAPIUser.self, try await send(request))
    }

    /// `DELETE /api/v2/users` with a user access token.
    public func deleteAuthorisedUser(userAccessToken: String) async throws {
        var request = HTTPClientRequest(url: baseURL + "/api/v2/users")
        request.method = .DELETE
        request.headers.add(name: "Authorization", value: "Bearer \(userAccessToken)")
        _ = try decode(Components.Schemas.FinAPIUserIdentifier.self, try await send(request))
    }

    // MARK: Transport

    struct RawResponse {
        var status: HTTPResponseStatus
        var contentType: String?
        var body: ByteBuffer
    }

    private func postForm(_ path: String, _ parameters: [String: String?]) async throws -> RawResponse {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        let credentials = "\(Self.formEncode(clientID)):\(Self.formEncode(clientSecret))"
        request.headers.add(name: "Authorization", value: "Basic " + Data(credentials.utf8).base64EncodedString())
        let body = parameters.compactMap { key, value in value.map { "\(Self.formEncode(key))=\(Self.formEncode($0))" } }
            .joined(separator: "&")
        request.body = .bytes(ByteBuffer(string: body))
        return try await send(request)
    }

    private func send(_ request: HTTPClientRequest) async throws -> RawResponse {
        let response = try await http.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 20)
        return RawResponse(status: response.status, contentType: response.headers.first(name: "Content-Type"), body: body)
    }

    private func decode<T: Decodable>(_ type: T.Type, _ response: RawResponse) throws -> T {
        guard (200..<300).contains(response.status.code) else { throw try error(from: response) }
        return try JSONDecoder().decode(T.self, from: response.body)
    }

    private func error(from response: RawResponse) throws -> StrongAuthClientError {
        if let oauth = try? JSONDecoder().decode(Components.Schemas.OAuthErrorResponse.self, from: response.body) {
            return .oauth(status: Int(response.status.code), error: oauth.error.rawValue, description: oauth.errorDescription)
        }
        if let problem = try? JSONDecoder().decode(Components.Schemas.Problem.self, from: response.body) {
            return .problem(status: problem.status, title: problem.title, detail: problem.detail)
        }
        return .unexpected(status: Int(response.status.code), body: String(buffer: response.body))
    }

    /// `application/x-www-form-urlencoded` encoding of one component.
    static func formEncode(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }
}

/// A failure reported by the server, in the shape of the face that reported it.
public enum StrongAuthClientError: Error, Equatable, CustomStringConvertible {
    /// RFC 6749 §5.2.
    case oauth(status: Int, error: String, description: String?)
    /// RFC 9457.
    case problem(status: Int, title: String, detail: String?)
    case unexpected(status: Int, body: String)

    public var description: String {
        switch self {
        case .oauth(let status, let error, let description): "\(status) \(error): \(description ?? "")"
        case .problem(let status, let title, let detail): "\(status) \(title): \(detail ?? "")"
        case .unexpected(let status, let body): "unexpected \(status): \(body.prefix(200))"
        }
    }
}
