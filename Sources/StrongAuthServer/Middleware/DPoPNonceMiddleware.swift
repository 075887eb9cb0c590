import StrongAuthProtocol
import Hummingbird
import StrongAuthCore

/// RFC 9449 §8.2: every answer to a request made with `Authorization: DPoP` offers a fresh
/// server nonce, so that a client never needs a refused request to learn the next one before its
/// nonce goes stale. Refusals carry one already (`BearerAuthentication`); bearer requests get none.
struct DPoPNonceMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let dpop: DPoPVerifier

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        if let authorization = request.headers.value(.authorization), Self.isDPoPScheme(authorization),
            response.headers[DPoPHTTP.nonceHeader] == nil
        {
            response.headers[DPoPHTTP.nonceHeader] = dpop.freshNonce()
        }
        return response
    }

    /// Whether the header's scheme is `DPoP` (any case): every bearer request passes here, and
    /// lowercasing its whole token to ask was a copy per request.
    static func isDPoPScheme(_ authorization: String) -> Bool { HTTPAuthorization.hasScheme("dpop", authorization) }
}
