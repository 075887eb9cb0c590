import HTTPTypes
import Hummingbird
import StrongAuthCore

/// `Authorization: Bearer` on the resource faces (RFC 6750): a live StrongAuth access token or a
/// 401 problem with the `WWW-Authenticate` challenge the RFC defines.
enum BearerAuthentication {
    static func claims(of request: Request, tokens: TokenService) async throws -> AccessTokenClaims {
        guard let header = request.headers[.authorization] else {
            throw unauthorized(#"Bearer realm="strongauth""#, "An access token is required.")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw unauthorized(#"Bearer realm="strongauth", error="invalid_request""#, "Use Authorization: Bearer <access token>.")
        }
        guard let claims = try await tokens.validateAccessToken(String(parts[1]).trimmingCharacters(in: .whitespaces)) else {
            throw unauthorized(#"Bearer realm="strongauth", error="invalid_token""#, "The access token is invalid, expired or revoked.")
        }
        return claims
    }

    private static func unauthorized(_ challenge: String, _ detail: String) -> ProblemDetails {
        var headers = HTTPFields()
        headers[.wwwAuthenticate] = challenge
        return ProblemDetails(.unauthorized, "Unauthorized", detail: detail, headers: headers)
    }

    /// 403 for a valid token of the wrong kind (a client token where a user token is needed, …).
    static func forbidden(_ detail: String) -> ProblemDetails {
        var headers = HTTPFields()
        headers[.wwwAuthenticate] = #"Bearer realm="strongauth", error="insufficient_scope""#
        return ProblemDetails(.forbidden, "Forbidden", detail: detail, headers: headers)
    }
}
