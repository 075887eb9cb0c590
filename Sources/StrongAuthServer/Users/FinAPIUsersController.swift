import Foundation
import Hummingbird
import StrongAuthAPI
import StrongAuthCore
import StrongAuthProtocol
import StrongAuthStore

/// finAPI's user management (finAPI's API documentation): a client creates users, a user reads and deletes itself.
struct FinAPIUsersController {
    let administration: AdministrationService
    let tokens: TokenService
    let store: SQLStore
    let settings: ServerSettings
    let time: any TimeSource

    /// Creating takes a client token; reading oneself any user token; deleting the account fresh
    /// two factors (`AssurancePolicy`, `.deleteAccount`), declared by the route's context type.
    func addRoutes(to router: Router<AppRequestContext>) {
        router.post("/api/v2/users", use: create)
        let users = router.group().add(
            middleware: UserTokenMiddleware(
                tokens: tokens, policy: settings.assurance, time: time,
                wrongKind: "This service needs a user token (password grant)."))
        users.group(context: UserTokenContext.self).get("/api/v2/users", use: show)
        users.group(context: TwoFactorContext.self).delete("/api/v2/users", use: delete)
    }

    /// `POST /api/v2/users` with a client token. The client owns the user: only it can log the user
    /// in. The user is of the client's realm (the token's `realm`), so the same id in another
    /// realm neither conflicts nor is revealed.
    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Response {
        let claims = try await BearerAuthentication.claims(of: request, tokens: tokens)
        guard claims.subjectType == .client else {
            throw BearerAuthentication.forbidden("Creating users needs a client token (client_credentials grant).")
        }
        let params = try await JSONBody.decode(
            Components.Schemas.FinAPIUserCreateParams.self, from: request, limit: settings.maxBodyBytes)
        let created: (user: User, password: String)
        do {
            created = try await administration.createUser(
                username: params.id ?? SecureRandom.uuid(), password: params.password, phone: params.phone,
                email: params.email, ownerClientID: claims.clientID, realm: claims.realm ?? Realm.defaultID,
                actor: "client:\(claims.clientID)")
        } catch let error as ValidationError {
            throw ProblemDetails.badRequest("The user cannot be created.", errors: [error])
        } catch StoreError.conflict {
            throw ProblemDetails(.conflict, "Conflict", detail: "A user with this id already exists.")
        }
        return try JSONResponse.make(
            Components.Schemas.FinAPIUser(
                id: created.user.username, password: created.password, email: created.user.email, phone: created.user.phone,
                isAutoUpdateEnabled: params.isAutoUpdateEnabled ?? false),
            status: .created)
    }

    /// `GET /api/v2/users` with a user token: the authorised user, password masked.
    @Sendable func show(_ request: Request, context: UserTokenContext) async throws -> Response {
        let user = try await user(id: context.userID)
        return try JSONResponse.make(
            Components.Schemas.FinAPIUser(
                id: user.username, password: "XXXXX", email: user.email, phone: user.phone, isAutoUpdateEnabled: false))
    }

    /// `DELETE /api/v2/users` with a user token: the user, its tokens and everything bound to it go.
    @Sendable func delete(_ request: Request, context: TwoFactorContext) async throws -> Response {
        let user = try await user(id: context.userID)
        try await administration.deleteUser(id: user.id, actor: "user:\(user.id)", source: context.remoteAddress)
        return try JSONResponse.make(Components.Schemas.FinAPIUserIdentifier(id: user.username))
    }

    private func user(id: String) async throws -> User {
        guard let user = try await store.user(id: id) else {
            throw ProblemDetails(.unauthorized, "Unauthorized", detail: "The user no longer exists.")
        }
        return user
    }
}
