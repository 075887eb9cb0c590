import Foundation
import HTTPTypes
import Hummingbird
import StrongAuthCore
import StrongAuthProtocol

/// What the phone face's middleware verified for this request: the ACTIVE registration whose
/// PowerAuth signature (with the header and the raw body it covers) or MAC token authenticated it.
struct VerifiedPhone: Sendable {
    var registration: Registration
    /// The signature header and the signed raw body; nil when a MAC token authenticated the request.
    var signature: (header: PowerAuthAuthorizationHeader, body: [UInt8])?
}

/// Verifies the PowerAuth signature (`X-PowerAuth-Authorization`) of one phone route over its
/// `uriID` and raw body, demanding a valid one from a known activation, and stores it on the
/// context for `PhoneSignedContext`. The signed data differs per route (`uriID`, factors), so the
/// middleware is per route (`PhoneFace.signed(_:twoFactors:)`). Refusals are 401
/// `ERR_AUTHENTICATION`, as when each handler verified itself.
struct PhoneSignatureMiddleware: FaceAuthenticationMiddleware {
    let powerAuth: PowerAuthService
    let maxBodyBytes: Int
    let uriID: String
    let twoFactors: Bool

    static var proof: WritableKeyPath<AppRequestContext, VerifiedPhone?> { \.phone }

    func authenticate(_ request: inout Request, context: AppRequestContext) async throws -> VerifiedPhone {
        let signed = try await PhoneAuthentication.signedRequest(
            request, context: context, powerAuth: powerAuth, maxBodyBytes: maxBodyBytes, uriID: uriID, twoFactors: twoFactors)
        return VerifiedPhone(registration: try signed.validRegistration(), signature: (signed.header, signed.body))
    }
}

/// Verifies the MAC token (`X-PowerAuth-Token`) of the phone's token-authenticated routes and
/// stores its ACTIVE registration on the context for `PhoneTokenContext`.
struct PhoneTokenMiddleware: FaceAuthenticationMiddleware {
    let powerAuth: PowerAuthService

    static var proof: WritableKeyPath<AppRequestContext, VerifiedPhone?> { \.phone }

    func authenticate(_ request: inout Request, context: AppRequestContext) async throws -> VerifiedPhone {
        VerifiedPhone(registration: try await PhoneAuthentication.tokenRegistration(request, powerAuth: powerAuth), signature: nil)
    }
}

/// The context of phone routes that need a valid PowerAuth signature: the activation that
/// signed, the header (factors, version, application key) and the raw body that was signed —
/// the body has been read; handlers decode `body`, never `request.body`.
struct PhoneSignedContext: ChildRequestContext {
    typealias ParentContext = AppRequestContext
    var coreContext: CoreRequestContextStorage
    let remoteAddress: String?
    let registration: Registration
    let header: PowerAuthAuthorizationHeader
    let body: [UInt8]

    init(context: AppRequestContext) throws {
        // Only reachable without `PhoneSignatureMiddleware` in front: refuse rather than run.
        guard let phone = context.phone, let signature = phone.signature else { throw PhoneAuthentication.authenticationFailed }
        coreContext = context.coreContext
        remoteAddress = context.remoteAddress
        registration = phone.registration
        header = signature.header
        body = signature.body
    }
}

/// The context of phone routes a MAC token authenticates (`X-PowerAuth-Token`): the ACTIVE
/// registration the token belongs to.
struct PhoneTokenContext: ChildRequestContext {
    typealias ParentContext = AppRequestContext
    var coreContext: CoreRequestContextStorage
    let remoteAddress: String?
    let registration: Registration

    init(context: AppRequestContext) throws {
        // Only reachable without `PhoneTokenMiddleware` in front: refuse rather than run.
        guard let phone = context.phone else { throw PhoneAuthentication.authenticationFailed }
        coreContext = context.coreContext
        remoteAddress = context.remoteAddress
        registration = phone.registration
    }
}

/// One route group of the phone face (`/enrollment-server/…`) with PowerAuth's error middleware,
/// and the typed sub-groups its routes are declared on.
struct PhoneFace {
    let group: RouterGroup<AppRequestContext>
    let powerAuth: PowerAuthService
    let maxBodyBytes: Int
    /// The `powerauth` bucket per address, for the routes `rateLimited()` / `signed(_:twoFactors:rateLimited:)` give.
    let rateLimit: RateLimitMiddleware

    /// `mobileTokenErrors`: the Mobile Token API's own error codes, inside the PowerAuth error
    /// shape and outside the authentication, so they apply to its failures too.
    init(
        router: Router<AppRequestContext>, path: RouterPath, powerAuth: PowerAuthService, maxBodyBytes: Int, rateLimit: RateLimitMiddleware,
        mobileTokenErrors: Bool = false
    ) {
        let outer = router.group(path).add(middleware: PowerAuthErrorMiddleware())
        group = mobileTokenErrors ? outer.add(middleware: MobileTokenErrorMiddleware()) : outer
        self.powerAuth = powerAuth
        self.maxBodyBytes = maxBodyBytes
        self.rateLimit = rateLimit
    }

    /// Routes signed with `uriID` (at least two factors if `twoFactors`); with `rateLimited`, the
    /// `powerauth` bucket in front of the signature check.
    func signed(_ uriID: String, twoFactors: Bool, rateLimited: Bool = false) -> RouterGroup<PhoneSignedContext> {
        let routes = rateLimited ? self.rateLimited() : group.group()
        return routes.add(
            middleware: PhoneSignatureMiddleware(powerAuth: powerAuth, maxBodyBytes: maxBodyBytes, uriID: uriID, twoFactors: twoFactors)
        ).group(context: PhoneSignedContext.self)
    }

    /// Routes in the `powerauth` bucket (inside the face's error shape: the 429 is PowerAuth's
    /// `ERROR_TOO_MANY_REQUESTS`, which the Mobile Token codes leave as it is).
    func rateLimited() -> RouterGroup<AppRequestContext> {
        group.group().add(middleware: rateLimit)
    }

    /// Routes authenticated by a MAC token.
    func token() -> RouterGroup<PhoneTokenContext> {
        group.group().add(middleware: PhoneTokenMiddleware(powerAuth: powerAuth)).group(context: PhoneTokenContext.self)
    }
}
