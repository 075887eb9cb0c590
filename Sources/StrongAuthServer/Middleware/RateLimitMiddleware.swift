import Foundation
import HTTPTypes
import Hummingbird
import StrongAuthAPI

/// One per-source-address bucket (`RateLimiter`) attached to the routes of one face where a
/// credential, an OTP or a challenge answer is presented, answering `429` with `Retry-After` in
/// that face's own error format. Each face adds an instance to the group (or route set) it limits,
/// where its routes are built, in front of its authentication, so a flood is refused before any
/// hash or signature is checked. Instances with the same bucket name share one bucket per address.
/// The buckets: `token` (OAuth token endpoint, both paths), `device` (device OTP and challenge
/// answers, push challenges), `login` (ABN AMRO login and scenario answers), `admin-login` and
/// `self-service-login` (the sign-in forms: bcrypt per try, one bucket per form so a flood of one
/// does not lock the other's users out), `powerauth` (activation, signature validation, operation
/// approval), `authorize` and `authorize-login` (the hosted login's pages and its password and
/// OTP forms). Integration APIs (trusted back ends) and reads are not limited. The per-client limit
/// of the token endpoint is applied by `OAuthController` once it knows the client.
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    /// How a refusal looks: the face's error shape.
    enum Face {
        case oauth
        case problem
        case powerAuth
        /// The ABN AMRO login face: its `messages` shape (`ABNAMROError`).
        case abnAMRO
    }

    let bucket: String
    let face: Face
    let limiter: RateLimiter
    /// `nil` when rate limits are off (`rateLimits.enabled = false`): everything passes.
    let limit: RateLimiter.Limit?

    init(bucket: String, face: Face, limiter: RateLimiter, settings: RateLimitSettings) {
        self.bucket = bucket
        self.face = face
        self.limiter = limiter
        limit = settings.enabled ? settings.perAddress : nil
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let limit else { return try await next(request, context) }
        let address = context.remoteAddress ?? "unknown"
        if let retryAfter = limiter.take("\(bucket):\(address)", limit: limit) {
            context.logger.notice("rate limited", metadata: ["bucket": "\(bucket)", "source": "\(address)"])
            return try Self.refusal(face, retryAfter: retryAfter)
        }
        return try await next(request, context)
    }

    static func refusal(_ face: Face, retryAfter: Int) throws -> Response {
        let message = "Too many requests; retry after \(retryAfter) s."
        let headers: HTTPFields = [.retryAfter: String(retryAfter)]
        switch face {
        case .oauth:
            var response = try OAuthResponses.json(
                Components.Schemas.OAuthErrorResponse(error: .temporarilyUnavailable, errorDescription: message), status: .tooManyRequests)
            response.headers.append(contentsOf: headers)
            return response
        case .problem:
            throw ProblemDetails(.tooManyRequests, "Too Many Requests", detail: message, headers: headers)
        case .powerAuth:
            throw PowerAuthErrorResponse(.tooManyRequests, code: "ERROR_TOO_MANY_REQUESTS", message: message, headers: headers)
        case .abnAMRO:
            return try ABNAMROError(status: .tooManyRequests, key: "MESSAGE_TOO_MANY_REQUESTS", text: message, headers: headers).response()
        }
    }
}
