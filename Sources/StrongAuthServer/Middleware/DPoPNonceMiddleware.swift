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
        if response.headers[DPoPHTTP.nonceHeader] == nil, request.headers[.authorization]?.lowercased().hasPrefix("dpop ") == true {
            response.headers[DPoPHTTP.nonceHeader] = dpop.freshNonce()
        }
        return response
    }
}
