import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import StrongAuthAPI

/// HTTP plumbing shared by the SDK's clients: JSON in and out, errors in the shape of the face
/// that reported them.
struct Transport: Sendable {
    let baseURL: String
    let http: HTTPClient

    init(baseURL: String, http: HTTPClient) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.http = http
    }

    struct RawResponse {
        var status: HTTPResponseStatus
        var body: ByteBuffer
        var headers: HTTPHeaders = [:]
    }

    func send(
        _ method: HTTPMethod, _ path: String, headers: [(String, String)] = [], body: ByteBuffer? = nil
    ) async throws -> RawResponse {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(body) }
        let response = try await http.execute(request, timeout: .seconds(30))
        return RawResponse(status: response.status, body: try await response.body.collect(upTo: 1 << 20), headers: response.headers)
    }

    /// Sends `value` as JSON with a bearer token or, with `dpop`, a DPoP-bound token
    /// (`Authorization: DPoP` and a proof for this request, RFC 9449 §7).
    func sendJSON(
        _ method: HTTPMethod, _ path: String, bearer: String, dpop: DPoPSigner? = nil, _ value: (some Encodable)?
    ) async throws -> RawResponse {
        var headers: [(String, String)] = []
        var body: ByteBuffer?
        if let value {
            headers.append(("Content-Type", "application/json"))
            body = ByteBuffer(data: try JSONEncoder().encode(value))
        }
        guard let dpop else { return try await send(method, path, headers: [("Authorization", "Bearer \(bearer)")] + headers, body: body) }
        return try await sendWithProof(dpop, method, path, accessToken: bearer) { proof in
            try await send(method, path, headers: [("Authorization", "DPoP \(bearer)"), ("DPoP", proof)] + headers, body: body)
        }
    }

    /// Sends a request carrying a fresh proof from `signer`, remembers the nonce the server
    /// offers, and sends once more (with a new proof) when the server asked for a nonce
    /// (`use_dpop_nonce`, RFC 9449 §8).
    func sendWithProof(
        _ signer: DPoPSigner, _ method: HTTPMethod, _ path: String, accessToken: String?, _ send: (String) async throws -> RawResponse
    ) async throws -> RawResponse {
        var response = try await send(try signer.proof(method: method.rawValue, url: baseURL + path, accessToken: accessToken))
        let offered = response.headers.first(name: "DPoP-Nonce")
        signer.remember(nonce: offered)
        if offered != nil, Self.asksForNonce(response) {
            response = try await send(try signer.proof(method: method.rawValue, url: baseURL + path, accessToken: accessToken))
            signer.remember(nonce: response.headers.first(name: "DPoP-Nonce"))
        }
        return response
    }

    /// `use_dpop_nonce`: a 400 from the token endpoint or a 401 challenge from a resource.
    static func asksForNonce(_ response: RawResponse) -> Bool {
        if response.status == .unauthorized {
            return response.headers[canonicalForm: "WWW-Authenticate"].contains { $0.contains(#"error="use_dpop_nonce""#) }
        }
        guard response.status == .badRequest else { return false }
        return (try? JSONDecoder().decode(Components.Schemas.OAuthErrorResponse.self, from: response.body))?.error == .useDpopNonce
    }

    func decode<T: Decodable>(_ type: T.Type, _ response: RawResponse) throws -> T {
        try expectSuccess(response)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(T.self, from: response.body)
    }

    func expectSuccess(_ response: RawResponse) throws {
        guard (200..<300).contains(response.status.code) else { throw error(from: response) }
    }

    func error(from response: RawResponse) -> StrongAuthClientError {
        if let oauth = try? JSONDecoder().decode(Components.Schemas.OAuthErrorResponse.self, from: response.body) {
            return .oauth(status: Int(response.status.code), error: oauth.error.rawValue, description: oauth.errorDescription)
        }
        if let problem = try? JSONDecoder().decode(Components.Schemas.Problem.self, from: response.body) {
            return .problem(status: problem.status, title: problem.title, detail: problem.detail)
        }
        if let refusal = try? JSONDecoder().decode(Components.Schemas.ABNAMROMessages.self, from: response.body),
            let message = refusal.messages.first
        {
            return .messages(status: Int(response.status.code), key: message.messageKey, text: message.messageText)
        }
        return .unexpected(status: Int(response.status.code), body: String(buffer: response.body))
    }
}

/// A failure reported by the server, in the shape of the face that reported it.
public enum StrongAuthClientError: Error, Equatable, CustomStringConvertible {
    /// RFC 6749 §5.2.
    case oauth(status: Int, error: String, description: String?)
    /// RFC 9457.
    case problem(status: Int, title: String, detail: String?)
    /// The ABN AMRO login's shape (`{"messages": [{"messageKey", "messageText", …}]}`): its first message.
    case messages(status: Int, key: String, text: String)
    case unexpected(status: Int, body: String)

    /// The HTTP status the server answered with.
    public var status: Int {
        switch self {
        case .oauth(let status, _, _), .problem(let status, _, _), .messages(let status, _, _), .unexpected(let status, _): status
        }
    }

    public var description: String {
        switch self {
        case .oauth(let status, let error, let description): "\(status) \(error): \(description ?? "")"
        case .problem(let status, let title, let detail): "\(status) \(title): \(detail ?? "")"
        case .messages(let status, let key, let text): "\(status) \(key): \(text)"
        case .unexpected(let status, let body): "unexpected \(status): \(body.prefix(200))"
        }
    }
}
