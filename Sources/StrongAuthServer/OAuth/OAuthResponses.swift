import Foundation
import HTTPTypes
import Hummingbird
import StrongAuthAPI
import StrongAuthCore

/// JSON responses of the OAuth endpoints, with the headers RFC 6749 §5.1 requires.
enum OAuthResponses {
    static let pragma = HTTPField.Name("Pragma")!

    private static let contentType = "application/json;charset=UTF-8"

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        uncached(try JSONResponse.make(value, status: status, contentType: contentType))
    }

    /// The same for the hottest answers, whose members are written directly (`JSONObjectWritable`).
    static func json(object value: some JSONObjectWritable, status: HTTPResponse.Status = .ok) throws -> Response {
        uncached(try JSONResponse.make(object: value, status: status, contentType: contentType))
    }

    /// `response` with the `Pragma: no-cache` RFC 6749 §5.1 asks of every token answer.
    private static func uncached(_ response: Response) -> Response {
        var response = response
        response.headers[pragma] = "no-cache"
        return response
    }

    /// The RFC 6749 §5.2 error response: 401 with `WWW-Authenticate` for `invalid_client`
    /// (the client tried to authenticate), 503 when the server itself could not answer, else 400.
    static func error(_ error: OAuthError, bodyTooLarge: Bool = false) -> Response {
        let code = Components.Schemas.OAuthErrorResponse._ErrorPayload(rawValue: error.code.rawValue) ?? .invalidRequest
        let body = Components.Schemas.OAuthErrorResponse(error: code, errorDescription: error.description)
        let status: HTTPResponse.Status =
            switch error.code {
            case .invalidClient: .unauthorized
            case .temporarilyUnavailable: .serviceUnavailable
            default: bodyTooLarge ? .contentTooLarge : .badRequest
            }
        // Encoding two strings cannot fail; fall back to an empty body rather than a 500 if it did.
        var response = (try? json(body, status: status)) ?? Response(status: status)
        if error.code == .invalidClient {
            response.headers[.wwwAuthenticate] = #"Basic realm="strongauth", charset="UTF-8""#
        }
        return response
    }
}

/// The token endpoint's answer (every grant) and introspection's, written directly in the generated
/// types' declaration order, omitting `nil` as their synthesised `Encodable` does (a debug build
/// compares every answer with Foundation's encoding of the same value). Through the `Encoder`
/// protocol the introspection answer was ~4 % of an introspection's CPU.
extension Components.Schemas.TokenResponse: JSONObjectWritable {
    func writeMembers(to object: inout JSONDirectObject) throws {
        object.member("access_token", accessToken)
        object.member("token_type", tokenType.rawValue)
        object.member("expires_in", expiresIn)
        object.member("refresh_token", refreshToken)
        object.member("scope", scope)
    }
}

extension Components.Schemas.IntrospectionResponse: JSONObjectWritable {
    func writeMembers(to object: inout JSONDirectObject) throws {
        object.member("active", active)
        object.member("scope", scope)
        object.member("client_id", clientId)
        object.member("sub", sub)
        object.member("subject_type", subjectType?.rawValue)
        object.member("token_type", tokenType?.rawValue)
        if let exp { object.member("exp", exp) }
        if let iat { object.member("iat", iat) }
        if let aud { object.member("aud", strings: aud) }
        object.member("iss", iss)
        object.member("jti", jti)
        if let amr { object.member("amr", strings: amr) }
        object.member("acr", acr)
        if let authTime { object.member("auth_time", authTime) }
        if let cnf { try object.member("cnf", object: cnf) }
    }
}

extension Components.Schemas.IntrospectionResponse.CnfPayload: JSONObjectWritable {
    func writeMembers(to object: inout JSONDirectObject) throws {
        object.member("kid", kid)
        object.member("jkt", jkt)
    }
}
