import Foundation
import HTTPTypes
import Hummingbird
import StrongAuthAPI

/// Applies the per-source-address limit (`RateLimiter`) to the endpoints where a credential, an
/// OTP or a challenge answer is presented, and answers `429` with `Retry-After` in the face's
/// own error format. The per-client limit of the token endpoint is applied by `OAuthController`
/// once it knows the client.
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    /// Which endpoints are limited, as one bucket per class and address, and how a refusal looks.
    enum Face {
        case oauth
        case problem
        case powerAuth
        /// The ABN AMRO login face: its `messages` shape (`ABNAMROError`).
        case abnAMRO
    }

    let limiter: RateLimiter
    let limit: RateLimiter.Limit

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let (bucket, face) = Self.classify(method: request.method, path: request.uri.path) else {
            return try await next(request, context)
        }
        let address = context.remoteAddress ?? "unknown"
        if let retryAfter = limiter.take("\(bucket):\(address)", limit: limit) {
            context.logger.notice("rate limited", metadata: ["bucket": "\(bucket)", "source": "\(address)"])
            return try Self.refusal(face, retryAfter: retryAfter)
        }
        return try await next(request, context)
    }

    /// The limited endpoints: tokens, device OTPs and challenges, session logins and scenario
    /// answers, the back-office and self-service sign-in forms, PowerAuth activation and signature-checked phone calls. Integration APIs
    /// (trusted back ends) and reads are not limited here.
    static func classify(method: HTTPRequest.Method, path: String) -> (String, Face)? {
        switch method {
        case .post where path == "/oauth/token" || path == "/api/v2/oauth/token":
            return ("token", .oauth)
        case .post where path.hasPrefix("/api/user/devices/") && (path.hasSuffix("/verify") || path.contains("/challenges")),
            .post where path.hasPrefix("/api/user/mfa/challenges"):
            return ("device", .problem)
        case .get where path == "/session/loginchallenge" || path == "/session/sessionhandoverchallenge",
            .put where path == "/session/loginresponse",
            .post where path.hasPrefix("/usertokens/session/"):
            return ("login", .abnAMRO)
        case .post where path == "/admin/login" || path == "/self-service/login":
            // bcrypt per try, unauthenticated: without a limit, a cheap CPU flood. One bucket per
            // form, so a flood of one does not lock the other's users out.
            return (path == "/admin/login" ? "admin-login" : "self-service-login", .problem)
        case .post where path == "/enrollment-server/pa/v3/activation/create" || path == "/enrollment-server/pa/v3/signature/validate"
            || path == "/enrollment-server/api/auth/token/app/operation/authorize":
            return ("powerauth", .powerAuth)
        default:
            return nil
        }
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
