import Foundation
import HTTPTypes
import Hummingbird
import StrongAuthAPI
import StrongAuthCore

/// JSON responses of the OAuth endpoints, with the headers RFC 6749 §5.1 requires.
enum OAuthResponses {
    static let pragma = HTTPField.Name("Pragma")!

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        var response = try JSONResponse.make(value, status: status, contentType: "application/json;charset=UTF-8")
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
