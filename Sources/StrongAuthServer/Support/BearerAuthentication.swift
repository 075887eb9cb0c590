import HTTPTypes
import Hummingbird
import StrongAuthCore
import StrongAuthProtocol

/// `Authorization: Bearer` on the resource faces (RFC 6750), and `Authorization: DPoP` with a
/// proof for DPoP-bound tokens (RFC 9449 §7): a live StrongAuth access token or a 401 problem
/// with the `WWW-Authenticate` challenge the RFCs define.
enum BearerAuthentication {
    /// With `livenessReadByRoute`, the token's liveness is not read here: the route reads it
    /// with its own first read and refuses with `invalidToken(dpop:)`.
    static func claims(of request: Request, tokens: TokenService, livenessReadByRoute: Bool = false) async throws -> AccessTokenClaims {
        guard let header = request.headers.value(.authorization) else {
            throw unauthorized(#"Bearer realm="strongauth""#, "An access token is required.")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        let scheme = parts.first?.lowercased()
        guard parts.count == 2, scheme == "bearer" || scheme == "dpop" else {
            throw unauthorized(#"Bearer realm="strongauth", error="invalid_request""#, "Use Authorization: Bearer <access token>.")
        }
        let token = String(parts[1].trimmingHTTPWhitespace())
        // RFC 9449 §7: a DPoP-bound token only with `Authorization: DPoP` and a proof for this request.
        let dpop =
            scheme == "dpop"
            ? DPoPResourceRequest(
                proof: DPoPHTTP.proof(in: request), method: request.method.rawValue,
                uri: DPoPHTTP.uri(of: request, issuer: tokens.configuration.issuer)) : nil
        let claims: AccessTokenClaims?
        do {
            claims = try await tokens.validateAccessToken(token, dpop: dpop, livenessReadByRoute: livenessReadByRoute)
        } catch let refusal as SenderConstraintRefusal {
            throw dpopRefusal(refusal, tokens: tokens)
        }
        guard let claims else { throw invalidToken(dpop: dpop != nil) }
        return claims
    }

    /// The 401 for a token that is not (or no longer) valid: `invalid_token` in the scheme it came in.
    static func invalidToken(dpop: Bool) -> ProblemDetails {
        if dpop { return dpopUnauthorized("invalid_token", "The access token is invalid, expired or revoked.") }
        return unauthorized(#"Bearer realm="strongauth", error="invalid_token""#, "The access token is invalid, expired or revoked.")
    }

    /// The RFC 9449 §7.1 refusal of a token presented with the wrong scheme or a bad proof.
    private static func dpopRefusal(_ refusal: SenderConstraintRefusal, tokens: TokenService) -> ProblemDetails {
        switch refusal {
        case .boundTokenPresentedAsBearer:
            return dpopUnauthorized("invalid_token", "This access token is DPoP-bound: send it as Authorization: DPoP with a DPoP proof.")
        case .unboundTokenPresentedAsDPoP:
            return dpopUnauthorized("invalid_token", "This access token is not DPoP-bound: send it as Authorization: Bearer.")
        case .proof(let error):
            // A fresh nonce with every proof refusal: the client's retry needs it for use_dpop_nonce.
            return dpopUnauthorized(error.kind.rawValue, error.description, nonce: tokens.dpop.freshNonce())
        }
    }

    private static func dpopUnauthorized(_ error: String, _ detail: String, nonce: String? = nil) -> ProblemDetails {
        var headers = HTTPFields()
        headers[.wwwAuthenticate] = DPoPHTTP.challenge(error: error)
        if let nonce { headers[DPoPHTTP.nonceHeader] = nonce }
        return ProblemDetails(.unauthorized, "Unauthorized", detail: detail, headers: headers)
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
