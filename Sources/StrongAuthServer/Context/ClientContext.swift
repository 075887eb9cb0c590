import Foundation
import HTTPTypes
import Hummingbird
import StrongAuthCore

/// Authenticates the OAuth client of one route set of a client face (Shine's action requests,
/// finAPI's process creation, the client webhook log) once, before its handler, and stores it on
/// the context for `ClientContext`. Where the credentials are differs per face (HTTP Basic, the
/// query or the JSON body, in that face's field names), so each face gives its reader; the reader
/// reads and checks the body exactly as the handler did before (same refusals, same order) and
/// leaves it buffered on the request, so the handler reads it again.
struct ClientMiddleware: FaceAuthenticationMiddleware {
    /// The face's credentials, authenticated as at the token endpoint; refusals in the face's shape.
    let reader: @Sendable (inout Request, AppRequestContext) async throws -> OAuthClient

    init(_ reader: @escaping @Sendable (inout Request, AppRequestContext) async throws -> OAuthClient) {
        self.reader = reader
    }

    static var proof: WritableKeyPath<AppRequestContext, OAuthClient?> { \.client }

    func authenticate(_ request: inout Request, context: AppRequestContext) async throws -> OAuthClient {
        try await reader(&request, context)
    }
}

/// The context of routes an OAuth client calls with its own credentials (action requests, process
/// creation, the client's webhook deliveries): the authenticated client. A route declared with it
/// cannot run for an unauthenticated caller.
struct ClientContext: ChildRequestContext {
    typealias ParentContext = AppRequestContext
    var coreContext: CoreRequestContextStorage
    let remoteAddress: String?
    let client: OAuthClient

    init(context: AppRequestContext) throws {
        // Only reachable if a route was declared without `ClientMiddleware`: refuse rather than run.
        guard let client = context.client else {
            throw ProblemDetails(.unauthorized, "Unauthorized", detail: "Valid client_id and client_secret are required.")
        }
        coreContext = context.coreContext
        remoteAddress = context.remoteAddress
        self.client = client
    }
}
