import Foundation
import HTTPTypes
import Hummingbird
import StrongAuthAPI
import StrongAuthCore
import StrongAuthProtocol

/// Who calls the admin API, and the one realm they act in (docs/admin-api.md).
struct AdminPrincipal: Sendable {
    /// `client:<id>` or `operator:<id>`, as the audit log names actors.
    var actor: String
    var realm: String
    /// An operator session's CSRF token, echoed in `X-CSRF-Token` so a browser client can send it back.
    var csrf: String?
}

/// Authenticates `/admin/v1`: an access token of a client holding the `admin` scope
/// (client_credentials; the token's realm is the admin's), or a back-office operator session whose
/// unsafe requests also carry the session's CSRF token in `X-CSRF-Token` (a cookie alone is sent by
/// any page the operator visits). Every check reads the database (the token's liveness, the
/// session and operator rows), so disabling an admin client or operator holds on every node at once.
struct AdminMiddleware: FaceAuthenticationMiddleware {
    static let scope = "admin"
    static let csrfHeader = HTTPField.Name("X-CSRF-Token")!
    let tokens: TokenService
    let web: WebPages

    static var proof: WritableKeyPath<AppRequestContext, AdminPrincipal?> { \.admin }

    func authenticate(_ request: inout Request, context: AppRequestContext) async throws -> AdminPrincipal {
        if request.headers[.authorization] == nil, request.cookies[web.area.cookieName] != nil {
            guard let signedIn = try await web.signedIn(request) else {
                throw ProblemDetails(.unauthorized, "Unauthorized", detail: "The operator session has ended; sign in at /admin/login.")
            }
            if ![.get, .head].contains(request.method), !web.webSessions.checkCSRF(request.headers[Self.csrfHeader], for: signedIn.token) {
                throw ProblemDetails(.forbidden, "Forbidden", detail: "Send the session's CSRF token in X-CSRF-Token (it comes with every GET).")
            }
            return AdminPrincipal(actor: web.principalLabel(signedIn), realm: signedIn.realm, csrf: signedIn.csrf)
        }
        let claims = try await BearerAuthentication.claims(of: request, tokens: tokens)
        guard claims.subjectType == .client, Scopes(parsing: claims.scope)?.values.contains(Self.scope) == true else {
            throw BearerAuthentication.forbidden("The admin API needs a client token (client_credentials) with the 'admin' scope.")
        }
        return AdminPrincipal(actor: "client:\(claims.clientID)", realm: claims.realm ?? Realm.defaultID)
    }
}

/// The context of `/admin/v1` routes: the authenticated admin. A route declared with it cannot run
/// for an unauthenticated caller.
struct AdminContext: ChildRequestContext {
    typealias ParentContext = AppRequestContext
    var coreContext: CoreRequestContextStorage
    let remoteAddress: String?
    let admin: AdminPrincipal

    init(context: AppRequestContext) throws {
        guard let admin = context.admin else { throw ProblemDetails(.unauthorized, "Unauthorized", detail: "An admin credential is required.") }
        coreContext = context.coreContext
        remoteAddress = context.remoteAddress
        self.admin = admin
    }
}

/// `/admin/v1`: the credential lifecycle of `CredentialLifecycleService` as JSON, in the caller's
/// realm only — another realm's object answers 404 exactly like a missing one. Errors are RFC 9457.
struct AdminAPIController {
    let lifecycle: CredentialLifecycleService
    /// Creates clients (`POST /admin/v1/clients`), as `strongauth clients create` does.
    let administration: AdministrationService
    let maxBodyBytes: Int
    let store: any CredentialLifecycleRepository
    let tokens: TokenService
    let web: WebPages

    /// Each kind: its path segment, the path parameter, and the verbs that switch it on and off.
    private static let kinds: [(kind: ManagedKind, path: String, on: String, off: String)] = [
        (.client, "clients", "enable", "disable"), (.application, "applications", "enable", "disable"),
        (.integrationUser, "integration-users", "enable", "disable"), (.operator, "operators", "enable", "disable"),
        (.user, "users", "unlock", "lock"),
    ]

    private static func parameter(_ kind: ManagedKind) -> String {
        switch kind {
        case .client: "clientId"
        case .application: "applicationId"
        case .integrationUser: "name"
        case .operator: "operatorId"
        case .user: "userId"
        }
    }

    func addRoutes(to router: Router<AppRequestContext>) {
        let admin = router.group().add(middleware: AdminMiddleware(tokens: tokens, web: web)).group(context: AdminContext.self)
        for (kind, path, on, off) in Self.kinds {
            let base = "/admin/v1/\(path)"
            let item = "\(base)/{\(Self.parameter(kind))}"
            admin.get(RouterPath(base)) { request, context in
                try await respond(context) {
                    let limit = request.uri.queryParameters.get("limit", as: Int.self) ?? 100
                    return try await AdminViews.list(
                        kind, realm: context.admin.realm, after: request.uri.queryParameters.get("after"), limit: limit, store: store)
                }
            }
            admin.get(RouterPath(item)) { _, context in
                let id = try context.parameters.require(Self.parameter(kind))
                return try await respond(context) { try await AdminViews.show(kind, id: id, realm: context.admin.realm, lifecycle) }
            }
            admin.delete(RouterPath(item)) { _, context in
                let id = try context.parameters.require(Self.parameter(kind))
                return try await respond(context, status: .noContent) {
                    try await lifecycle.delete(kind, id: id, realm: context.admin.realm, actor: context.admin.actor, source: context.remoteAddress)
                    return nil
                }
            }
            for (verb, active) in [(on, true), (off, false)] {
                admin.post(RouterPath("\(item)/\(verb)")) { _, context in
                    let id = try context.parameters.require(Self.parameter(kind))
                    return try await respond(context) {
                        try await lifecycle.setActive(
                            kind, id: id, active: active, realm: context.admin.realm, actor: context.admin.actor, source: context.remoteAddress)
                        return try await AdminViews.show(kind, id: id, realm: context.admin.realm, lifecycle)
                    }
                }
            }
        }
        for (kind, verb) in [(ManagedKind.client, "rotate-secret"), (.integrationUser, "rotate-password")] {
            admin.post(RouterPath("/admin/v1/\(kind == .client ? "clients" : "integration-users")/{\(Self.parameter(kind))}/\(verb)")) {
                _, context in
                let id = try context.parameters.require(Self.parameter(kind))
                return try await respond(context) {
                    let issued = try await lifecycle.rotateSecret(
                        kind, id: id, realm: context.admin.realm, actor: context.admin.actor, source: context.remoteAddress)
                    return AdminViews.issued(id: id, issued)
                }
            }
        }
        admin.post("/admin/v1/clients") { request, context in try await createClient(request, context: context) }
        admin.post("/admin/v1/operators/{operatorId}/reset-totp") { _, context in
            let id = try context.parameters.require("operatorId")
            return try await respond(context) {
                let issued = try await lifecycle.resetTOTP(
                    operatorID: id, realm: context.admin.realm, actor: context.admin.actor, source: context.remoteAddress)
                return AdminViews.issued(id: id, issued)
            }
        }
    }

    /// `POST /admin/v1/clients`: a client in the caller's realm, its secret (if it has one) shown once.
    private func createClient(_ request: Request, context: AdminContext) async throws -> Response {
        let body = try await JSONBody.decode(Components.Schemas.AdminClientCreate.self, from: request, limit: maxBodyBytes)
        var grants = Set<GrantType>()
        for name in body.grants.map(\.rawValue) {
            guard let grant = GrantType(rawValue: name) else {
                throw ProblemDetails.badRequest(
                    "The client cannot be created.", errors: [ValidationError(field: "grants", message: "unknown grant '\(name)'")])
            }
            grants.insert(grant)
        }
        guard let scopes = Scopes(parsing: (body.scopes ?? []).joined(separator: " ")) else {
            throw ProblemDetails.badRequest(
                "The client cannot be created.", errors: [ValidationError(field: "scopes", message: "invalid scope characters")])
        }
        var jwks: String?
        if let set = body.jwks {
            jwks = String(decoding: try JSONEncoder().encode(set), as: UTF8.self)
        }
        let registration = ClientRegistration(
            redirectURIs: body.redirectUris ?? [], isPublic: body._public ?? false, jwks: jwks, requiresDPoP: body.dpopRequired ?? false,
            requiresPushedAuthorizationRequests: body.requirePushedAuthorizationRequests ?? false, defaultACR: body.acr?.rawValue)
        do {
            let created = try await administration.createClient(
                id: body.clientId, name: body.name, scopes: scopes, grants: grants, webhookURL: body.webhookUrl,
                isResourceServer: body.resourceServer ?? false, realm: context.admin.realm, registration: registration,
                actor: context.admin.actor)
            return try await respond(context, status: .created) {
                Components.Schemas.AdminClientCreated(
                    client: AdminViews.client(created.client), clientSecret: created.secret.isEmpty ? nil : created.secret,
                    webhookSecret: created.webhookSecret)
            }
        } catch let error as ValidationError {
            throw ProblemDetails.badRequest("The client cannot be created.", errors: [error])
        } catch StoreError.conflict {
            // Deleted clients' ids stay taken (docs/admin-api.md), in whichever realm.
            throw ProblemDetails(.conflict, "Conflict", detail: "The client id is taken (ids of deleted clients are never reused).")
        }
    }

    /// Runs `body` and answers its value as JSON (or `status` with no body for `nil`), mapping the
    /// lifecycle's refusals to RFC 9457 problems; an operator session's CSRF token rides along.
    private func respond(
        _ context: AdminContext, status: HTTPResponse.Status = .ok, _ body: () async throws -> (any Encodable & Sendable)?
    ) async throws -> Response {
        var response: Response
        do {
            if let value = try await body() {
                response = try JSONResponse.make(value, status: status)
            } else {
                response = Response(status: status)
            }
        } catch LifecycleError.notFound(let kind, let id) {
            throw ProblemDetails(.notFound, "Not Found", detail: "No \(kind.rawValue) '\(id)' in this realm.")
        } catch LifecycleError.conflict(let detail) {
            throw ProblemDetails(.conflict, "Conflict", detail: detail)
        }
        if let csrf = context.admin.csrf { response.headers[AdminMiddleware.csrfHeader] = csrf }
        return response
    }
}

/// The admin API's view of each kind (never a secret, hash or sealed key), shared with the CLI so
/// both print the same JSON.
public enum AdminViews {
    /// A page of the realm's holders of `kind` (users by username after `after`; the rest all at once).
    public static func list(
        _ kind: ManagedKind, realm: String, after: String? = nil, limit: Int = 1000, store: any CredentialLifecycleRepository
    ) async throws -> any Encodable & Sendable {
        switch kind {
        case .client: return Components.Schemas.AdminClientList(clients: try await store.clients(realm: realm).map(client))
        case .application:
            return Components.Schemas.AdminApplicationList(applications: try await store.managedApplications(realm: realm).map(application))
        case .integrationUser:
            return Components.Schemas.AdminIntegrationUserList(integrationUsers: try await store.integrationUsers(realm: realm).map(integrationUser))
        case .operator: return Components.Schemas.AdminOperatorList(operators: try await store.operators(realm: realm).map(`operator`))
        case .user:
            let limit = max(1, min(limit, 1000))
            let users = try await store.users(realm: realm, after: after, limit: limit)
            return Components.Schemas.AdminUserList(users: users.map(user), next: users.count == limit ? users.last?.username : nil)
        }
    }

    /// One holder, found in `realm` only.
    public static func show(_ kind: ManagedKind, id: String, realm: String, _ lifecycle: CredentialLifecycleService) async throws
        -> any Encodable & Sendable
    {
        switch kind {
        case .client: client(try await lifecycle.client(id: id, realm: realm))
        case .application: application(try await lifecycle.application(id: id, realm: realm))
        case .integrationUser: integrationUser(try await lifecycle.integrationUser(name: id, realm: realm))
        case .operator: `operator`(try await lifecycle.operator(id, realm: realm))
        case .user: user(try await lifecycle.user(id, realm: realm))
        }
    }

    public static func client(_ client: OAuthClient) -> Components.Schemas.AdminClient {
        .init(
            clientId: client.id, name: client.name, realm: client.realmID, status: client.status == .active ? .active : .disabled,
            scopes: client.scopes.values.sorted(), grants: client.grants.map(\.rawValue).sorted(), resourceServer: client.isResourceServer,
            webhookUrl: client.webhookURL, redirectUris: client.redirectURIs.isEmpty ? nil : client.redirectURIs,
            tokenEndpointAuthMethod: authMethod(client),
            dpopRequired: client.requiresDPoP, requirePushedAuthorizationRequests: client.requiresPushedAuthorizationRequests,
            acr: client.defaultACR, createdAt: client.createdAt)
    }

    /// The RFC 7591 name of how `client` authenticates.
    static func authMethod(_ client: OAuthClient) -> Components.Schemas.AdminClient.TokenEndpointAuthMethodPayload {
        if client.isPublic { return .none }
        return client.jwks != nil ? .privateKeyJwt : .clientSecretBasic
    }

    public static func application(_ application: PowerAuthApplication) -> Components.Schemas.AdminApplication {
        .init(
            applicationId: application.id, name: application.name, realm: application.realmID,
            status: application.status == .active ? .active : .disabled, appKey: application.applicationKey,
            masterPublicKey: application.masterPublicKey, callbackUrl: application.callbackURL, createdAt: application.createdAt)
    }

    public static func integrationUser(_ user: IntegrationUser) -> Components.Schemas.AdminIntegrationUser {
        .init(
            name: user.name, realm: user.realmID, status: user.status == .active ? .active : .disabled, applications: user.applicationIDs,
            createdAt: user.createdAt)
    }

    public static func `operator`(_ found: Operator) -> Components.Schemas.AdminOperator {
        .init(
            id: found.id, username: found.username, realm: found.realmID, status: found.status == .active ? .active : .disabled,
            createdAt: found.createdAt)
    }

    public static func issued(id: String, _ issued: IssuedSecret) -> Components.Schemas.AdminIssuedSecret {
        .init(id: id, secret: issued.secret, otpauthUri: issued.otpauthURI)
    }

    public static func user(_ user: User) -> Components.Schemas.AdminUser {
        .init(
            id: user.id, username: user.username, realm: user.realmID, status: user.status == .active ? .active : .disabled, phone: user.phone,
            email: user.email, passwordLockedUntil: user.lockedUntil, createdAt: user.createdAt)
    }
}

extension StrongAuthRuntime {
    /// The credential lifecycle over this runtime's store (the CLI and `/admin/v1`).
    public var lifecycle: CredentialLifecycleService {
        CredentialLifecycleService(
            store: store, secretHasher: KeyedHash(key: masterKey.derive(purpose: "secret-hash")), operators: operators,
            administration: administration, time: time)
    }
}
