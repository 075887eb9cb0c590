import Foundation
import HTTPTypes
import Hummingbird
import StrongAuthCore

/// A user access token that `UserTokenMiddleware` has verified for this request, with what the
/// typed contexts need to judge its assurance without reaching for the runtime.
public struct VerifiedUserToken: Sendable {
    public var claims: AccessTokenClaims
    /// The policy in force and the server's clock when the token was verified.
    public var policy: AssurancePolicy
    public var verifiedAt: Date
    /// Set when the route reads the token's liveness itself (`PendingLivenessUserTokenContext`);
    /// `nil` when the middleware has read it.
    public var pendingLiveness: AccessTokenLivenessQuery? = nil
}

/// Verifies `Authorization: Bearer` as a live *user* token on every route of a user-token face
/// and stores it on the context, so that `UserTokenContext` / `TwoFactorContext` (whose `init`
/// cannot be async) can be built from it. Refusals are the faces' problem+json 401/403 with
/// RFC 6750 challenges.
struct UserTokenMiddleware: FaceAuthenticationMiddleware {
    let tokens: TokenService
    let policy: AssurancePolicy
    let time: any TimeSource
    /// The 403 sentence for a client token, in the face's words.
    let wrongKind: String
    /// The routes behind it read the token's liveness with their own first read (their context
    /// is `PendingLivenessUserTokenContext`, which no other context accepts): here only its
    /// signature, expiry, kind and sender constraint are checked.
    var livenessReadByRoute = false

    static var proof: WritableKeyPath<AppRequestContext, VerifiedUserToken?> { \.userToken }

    func authenticate(_ request: inout Request, context: AppRequestContext) async throws -> VerifiedUserToken {
        let claims = try await BearerAuthentication.claims(of: request, tokens: tokens, livenessReadByRoute: livenessReadByRoute)
        guard claims.subjectType == .user else { throw BearerAuthentication.forbidden(wrongKind) }
        return VerifiedUserToken(
            claims: claims, policy: policy, verifiedAt: time.now(),
            pendingLiveness: livenessReadByRoute ? AccessTokenLivenessQuery(claims: claims) : nil)
    }
}

/// The context of routes any live user token may call (list devices, bind one, …). A route
/// declared with it cannot run without a verified user token.
public struct UserTokenContext: ChildRequestContext {
    public typealias ParentContext = AppRequestContext
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: String?
    public let token: VerifiedUserToken

    public init(context: AppRequestContext) throws {
        // A token whose liveness is left to the route is not live for any other context.
        guard let token = context.userToken, token.pendingLiveness == nil else { throw Self.missingToken }
        coreContext = context.coreContext
        remoteAddress = context.remoteAddress
        self.token = token
    }

    public var claims: AccessTokenClaims { token.claims }
    public var userID: String { token.claims.sub.value }
    public var acr: String? { token.claims.acr }
    public var authTime: Date? { token.claims.authTime }

    /// Only reachable if a route was declared without `UserTokenMiddleware` in front of it: refuse
    /// rather than run unauthenticated.
    static var missingToken: ProblemDetails {
        var headers = HTTPFields()
        headers[.wwwAuthenticate] = #"Bearer realm="strongauth""#
        return ProblemDetails(.unauthorized, "Unauthorized", detail: "An access token is required.", headers: headers)
    }
}

/// The context of routes that read the user token's liveness with their own first read
/// (`UserTokenMiddleware(livenessReadByRoute: true)`): the device challenges, the hottest user
/// routes. Its token is signed, unexpired and a user's, but not yet known to be live: the route
/// hands `liveness` to the core service — whose signature requires it — which reads it with the
/// device and the challenge and throws `AccessTokenNotLive` first; `refusingDeadToken` turns
/// that into the 401 the middleware would have sent.
public struct PendingLivenessUserTokenContext: ChildRequestContext {
    public typealias ParentContext = AppRequestContext
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: String?
    public let claims: AccessTokenClaims
    public let liveness: AccessTokenLivenessQuery

    public init(context: AppRequestContext) throws {
        guard let token = context.userToken, let liveness = token.pendingLiveness else { throw UserTokenContext.missingToken }
        coreContext = context.coreContext
        remoteAddress = context.remoteAddress
        claims = token.claims
        self.liveness = liveness
    }

    public var userID: String { claims.sub.value }

    /// Runs `body`; a dead token found by its read is the face's 401 `invalid_token`, in the
    /// scheme the token came in — `DPoP` exactly when it is DPoP-bound, which the middleware's
    /// sender-constraint check has made sure of.
    func refusingDeadToken<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch is AccessTokenNotLive {
            throw BearerAuthentication.invalidToken(dpop: claims.cnf?.jkt != nil)
        }
    }
}

/// The context of routes that change who can act for the user (remove or approve a device,
/// delete the account): its `init` demands the policy's fresh two-factor authentication
/// (`AssurancePolicy.freshTwoFactor`) and otherwise throws the RFC 9470 step-up refusal — 401,
/// `WWW-Authenticate: Bearer error="insufficient_user_authentication", acr_values=…, max_age=…`.
/// A route declared with this context type cannot forget the check.
public struct TwoFactorContext: ChildRequestContext {
    public typealias ParentContext = AppRequestContext
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: String?
    public let token: VerifiedUserToken

    public init(context: AppRequestContext) throws {
        guard let token = context.userToken, token.pendingLiveness == nil else { throw UserTokenContext.missingToken }
        let requirement = token.policy.freshTwoFactor
        guard requirement.isSatisfied(acr: token.claims.acr, authTime: token.claims.authTime, now: token.verifiedAt) else {
            throw Self.stepUp(requirement)
        }
        coreContext = context.coreContext
        remoteAddress = context.remoteAddress
        self.token = token
    }

    public var claims: AccessTokenClaims { token.claims }
    public var userID: String { token.claims.sub.value }
    /// The device that confirmed the token (`cnf.kid`).
    public var confirmingDeviceID: String? { token.claims.cnf?.kid }

    /// RFC 9470 §3: the refusal that tells the client which authentication to obtain.
    static func stepUp(_ requirement: AssuranceRequirement) -> ProblemDetails {
        var headers = HTTPFields()
        headers[.wwwAuthenticate] = requirement.challenge
        return ProblemDetails(
            .unauthorized, "Unauthorized",
            detail: requirement.description + " Sign a device challenge (or answer a push) for a confirmed token and retry.",
            headers: headers)
    }
}
