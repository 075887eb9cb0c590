import Foundation
import HTTPTypes
import Hummingbird
import StrongAuthCore

/// Resumes the web session of one area (back office or self-service) for every route of its
/// signed-in group and stores it on the context, so that `OperatorContext` can be built from it.
/// Without a live session of a still-active principal the browser goes to the area's sign-in page,
/// exactly as each page did itself. CSRF stays with the form handling (`WebPages.action`): it needs
/// the form body, which only an action reads.
struct WebSessionMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let web: WebPages

    func handle(_ request: Request, context: AppRequestContext, next: (Request, AppRequestContext) async throws -> Response)
        async throws -> Response
    {
        guard let signedIn = try await web.signedIn(request) else { return web.redirect(to: "\(web.area.path)/login") }
        var context = context
        context.webSignedIn = signedIn
        return try await next(request, context)
    }
}

/// A context that carries a signed-in browser (`WebPages.page` / `WebPages.action` take any).
protocol WebSignedInContext: RequestContext {
    var signedIn: WebSignedIn { get }
    var remoteAddress: String? { get }
}

/// The context of the back office's signed-in routes (`/admin/…` but sign-in and assets): the
/// operator's web session, name and realm. A route declared with it cannot run for a browser
/// without an operator session.
struct OperatorContext: ChildRequestContext, WebSignedInContext {
    typealias ParentContext = AppRequestContext
    var coreContext: CoreRequestContextStorage
    let remoteAddress: String?
    let signedIn: WebSignedIn

    init(context: AppRequestContext) throws {
        // Only reachable without `WebSessionMiddleware` (of the admin area) in front: refuse.
        guard let signedIn = context.webSignedIn, signedIn.session.kind == .operator else {
            throw ProblemDetails(.unauthorized, "Unauthorized", detail: "An operator session is required.")
        }
        coreContext = context.coreContext
        remoteAddress = context.remoteAddress
        self.signedIn = signedIn
    }
}

/// The context of the self-service area's signed-in routes (`/self-service/…` but sign-in): the
/// end user's web session, name and realm. A route declared with it cannot run for a browser
/// without a user session; the sign-in form stays outside the group.
struct SelfServiceContext: ChildRequestContext, WebSignedInContext {
    typealias ParentContext = AppRequestContext
    var coreContext: CoreRequestContextStorage
    let remoteAddress: String?
    let signedIn: WebSignedIn

    init(context: AppRequestContext) throws {
        // Only reachable without `WebSessionMiddleware` (of the self-service area) in front:
        // refuse. An operator's session is not a user's, even if one were on the context.
        guard let signedIn = context.webSignedIn, signedIn.session.kind == .user else {
            throw ProblemDetails(.unauthorized, "Unauthorized", detail: "A self-service session is required.")
        }
        coreContext = context.coreContext
        remoteAddress = context.remoteAddress
        self.signedIn = signedIn
    }
}
