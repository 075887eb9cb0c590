import Foundation
import HTTPTypes
import Hummingbird
import StrongAuthCore

/// Authenticates the integration user (HTTP Basic, PowerAuth Cloud REST API) once for every route of the
/// PowerAuth integration face and stores it on the context, so that `IntegrationUserContext`
/// (whose `init` cannot be async) can be built from it. A handler of that face therefore cannot
/// run for an unauthenticated caller. Refusals are PowerAuth's 401 `ERROR_UNAUTHORIZED` with a
/// Basic challenge, exactly as when each handler authenticated itself.
struct IntegrationUserMiddleware: FaceAuthenticationMiddleware {
    let powerAuth: PowerAuthService
    let failureLimit: FailedAuthenticationLimit

    static var proof: WritableKeyPath<AppRequestContext, IntegrationUser?> { \.integrationUser }

    func authenticate(_ request: inout Request, context: AppRequestContext) async throws -> IntegrationUser {
        try await IntegrationAuthentication.user(of: request, context: context, powerAuth: powerAuth, failureLimit: failureLimit)
    }
}

/// The context of the PowerAuth integration routes (`/powerauth-cloud/v2/…` registrations,
/// operations, token verification, webhook deliveries): the authenticated integration user, whose
/// realm and applications scope everything the route may touch.
public struct IntegrationUserContext: ChildRequestContext {
    public typealias ParentContext = AppRequestContext
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: String?
    public let user: IntegrationUser

    public init(context: AppRequestContext) throws {
        // Only reachable if a route was declared without `IntegrationUserMiddleware`: refuse
        // rather than run unauthenticated.
        guard let user = context.integrationUser else {
            throw IntegrationAuthentication.unauthorized("HTTP Basic credentials of an integration user are required.")
        }
        coreContext = context.coreContext
        remoteAddress = context.remoteAddress
        self.user = user
    }

    /// The realm of the user and of all its applications.
    public var realmID: String { user.realmID }
    /// The applications the user may act on.
    public var applicationIDs: [String] { user.applicationIDs }
}

/// For the integration routes that read the integration user together with what they act on (an
/// operation's status and creation, the hottest): checks the form of the Basic credentials and the
/// failure limit, and hands them on unchecked for the core to check against the user its read
/// returns (`PendingIntegrationUserContext`). When the core finds them wrong
/// (`PowerAuthServiceError.unauthorized`), the failure is charged to the limit and the answer is
/// the same 401 as `IntegrationUserMiddleware`'s.
struct IntegrationCallerMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let failureLimit: FailedAuthenticationLimit

    func handle(_ request: Request, context: AppRequestContext, next: (Request, AppRequestContext) async throws -> Response)
        async throws -> Response
    {
        let presented = try IntegrationAuthentication.credentials(of: request)
        try IntegrationAuthentication.refuseWhileLimited(presented, context: context, failureLimit: failureLimit)
        var context = context
        context.integrationCaller = presented
        do {
            return try await next(request, context)
        } catch PowerAuthServiceError.unauthorized {
            throw IntegrationAuthentication.wrongCredentials(presented, context: context, failureLimit: failureLimit)
        }
    }
}

/// The context of the integration routes behind `IntegrationCallerMiddleware`: credentials
/// presented, not yet checked. The route hands `caller` to the core service — whose signature
/// requires it — which checks it against the user read with the route's data before using
/// anything it read.
public struct PendingIntegrationUserContext: ChildRequestContext {
    public typealias ParentContext = AppRequestContext
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: String?
    public let caller: IntegrationCredentials

    public init(context: AppRequestContext) throws {
        // Only reachable if a route was declared without `IntegrationCallerMiddleware`.
        guard let caller = context.integrationCaller else {
            throw IntegrationAuthentication.unauthorized("HTTP Basic credentials of an integration user are required.")
        }
        coreContext = context.coreContext
        remoteAddress = context.remoteAddress
        self.caller = caller
    }
}

/// The route groups of the PowerAuth integration face, built once (in `buildRouter` or
/// `buildIntegrationRouter`) and handed to its controllers: one `/powerauth-cloud` group with
/// PowerAuth's error middleware, and within it the routes that need an authenticated integration
/// user. `/v2/signature/verify` stays on the outer group: the core checks the presented credentials
/// together with the registration (`PowerAuthService.verifySignature(caller:)`).
struct IntegrationFace {
    /// `/powerauth-cloud`, PowerAuth's error shape, no authentication of its own.
    let group: RouterGroup<AppRequestContext>
    /// The same prefix, every route behind `IntegrationUserMiddleware`.
    let users: RouterGroup<IntegrationUserContext>
    /// The same prefix, routes whose core service checks the credentials with its own first read
    /// (`IntegrationCallerMiddleware`).
    let callers: RouterGroup<PendingIntegrationUserContext>

    init(router: Router<AppRequestContext>, powerAuth: PowerAuthService, failureLimit: FailedAuthenticationLimit) {
        group = router.group("/powerauth-cloud").add(middleware: PowerAuthErrorMiddleware())
        users = group.group().add(middleware: IntegrationUserMiddleware(powerAuth: powerAuth, failureLimit: failureLimit))
            .group(context: IntegrationUserContext.self)
        callers = group.group().add(middleware: IntegrationCallerMiddleware(failureLimit: failureLimit))
            .group(context: PendingIntegrationUserContext.self)
    }
}
