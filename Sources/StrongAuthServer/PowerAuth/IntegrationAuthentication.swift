import Foundation
import HTTPTypes
import Hummingbird
import StrongAuthCore
import StrongAuthProtocol

/// HTTP Basic authentication of integration users on `/powerauth-cloud` (PowerAuth Cloud REST API: "Access is
/// protected with basic HTTP authentication").
enum IntegrationAuthentication {
    static func user(
        of request: Request, context: AppRequestContext, powerAuth: PowerAuthService, failureLimit: FailedAuthenticationLimit
    ) async throws -> IntegrationUser {
        let presented = try credentials(of: request)
        try refuseWhileLimited(presented, context: context, failureLimit: failureLimit)
        guard
            let user = try await powerAuth.authenticateIntegrationUser(
                name: presented.name, password: presented.password, source: context.remoteAddress)
        else {
            throw wrongCredentials(presented, context: context, failureLimit: failureLimit)
        }
        return user
    }

    /// Wrong passwords (a keyed hash each, and an audit record) are limited per (name, address),
    /// like failed client authentication: checked first, charged only on failure
    /// (`wrongCredentials`), so the real back end elsewhere is never refused for someone else's
    /// guesses.
    static func refuseWhileLimited(_ presented: IntegrationCredentials, context: AppRequestContext, failureLimit: FailedAuthenticationLimit)
        throws
    {
        let limits = failureLimit.settings
        if limits.enabled, let retryAfter = failureLimit.limiter.wait(failureKey(presented, context), limit: limits.perClientFailure) {
            throw PowerAuthErrorResponse(
                .tooManyRequests, code: "ERROR_TOO_MANY_REQUESTS", message: "Too many requests; retry after \(retryAfter) s.",
                headers: [.retryAfter: String(retryAfter)])
        }
    }

    /// Charges a failed authentication to the limit and returns the 401 to throw.
    static func wrongCredentials(_ presented: IntegrationCredentials, context: AppRequestContext, failureLimit: FailedAuthenticationLimit)
        -> PowerAuthErrorResponse
    {
        let limits = failureLimit.settings
        if limits.enabled { _ = failureLimit.limiter.take(failureKey(presented, context), limit: limits.perClientFailure) }
        return unauthorized("The integration user's name or password is wrong.")
    }

    private static func failureKey(_ presented: IntegrationCredentials, _ context: AppRequestContext) -> String {
        "integration-failure:\(presented.name):\(context.remoteAddress ?? "unknown")"
    }

    /// The Basic credentials as presented, not yet checked (the signature check reads the user
    /// together with the registration and checks them there).
    static func credentials(of request: Request) throws -> IntegrationCredentials {
        guard let header = request.headers.value(.authorization) else {
            throw unauthorized("HTTP Basic credentials of an integration user are required.")
        }
        guard case .credentials(let name, let password) = HTTPBasic.parse(header), name.utf8.count + 1 + password.utf8.count <= 1024
        else { throw unauthorized("The Authorization header must be HTTP Basic credentials.") }
        return IntegrationCredentials(name: String(name), password: String(password))
    }

    static func unauthorized(_ message: String) -> PowerAuthErrorResponse {
        var headers = HTTPFields()
        headers[.wwwAuthenticate] = "Basic realm=\"powerauth-cloud\", charset=\"UTF-8\""
        return PowerAuthErrorResponse(.unauthorized, code: "ERROR_UNAUTHORIZED", message: message, headers: headers)
    }
}

/// What limits failed authentications per (name, address): the rate-limit settings and the
/// node's limiter (`RateLimitSettings.perClientFailure`).
struct FailedAuthenticationLimit: Sendable {
    let settings: RateLimitSettings
    let limiter: RateLimiter
}
