import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import StrongAuthServer

/// The faces as typed request contexts (docs/security-model.md): a route declares what authentication it needs
/// by its context type. These tests pin the two halves of that promise — a context refuses to
/// exist without its face's middleware (so a route wired to the wrong group cannot run
/// unauthenticated), and every route of a face refuses an unauthenticated caller before it reads
/// the body, in the face's own error shape.
@Suite("Faces as typed request contexts")
struct FaceContextTests {
    /// A route declared with `IntegrationUserContext` but without `IntegrationUserMiddleware` in
    /// front of it is refused with PowerAuth's 401 and a Basic challenge, never run.
    @Test("IntegrationUserContext without its middleware refuses")
    func integrationContextRequiresMiddleware() async throws {
        let router = Router(context: AppRequestContext.self)
        router.group("/powerauth-cloud").add(middleware: PowerAuthErrorMiddleware()).group(context: IntegrationUserContext.self)
            .get("/v2/anything") { _, context in context.user.name }
        try await Application(router: router).test(.router) { client in
            let response = try await client.execute(uri: "/powerauth-cloud/v2/anything", method: .get)
            let json = try HTTP.json(response.body)
            expectPowerAuthError(response, json, status: .unauthorized, code: "ERROR_UNAUTHORIZED")
            #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Basic") == true)
        }
    }

    /// The same for the integration routes whose core checks the credentials with its own read:
    /// without `IntegrationCallerMiddleware`, even valid-looking Basic credentials never reach a
    /// `PendingIntegrationUserContext` route.
    @Test("PendingIntegrationUserContext without its middleware refuses")
    func pendingIntegrationContextRequiresMiddleware() async throws {
        let router = Router(context: AppRequestContext.self)
        router.group("/powerauth-cloud").add(middleware: PowerAuthErrorMiddleware()).group(context: PendingIntegrationUserContext.self)
            .get("/v2/anything") { _, context in context.caller.name }
        try await Application(router: router).test(.router) { client in
            let response = try await client.execute(
                uri: "/powerauth-cloud/v2/anything", method: .get, headers: [.authorization: HTTP.basic("user", "password")])
            let json = try HTTP.json(response.body)
            expectPowerAuthError(response, json, status: .unauthorized, code: "ERROR_UNAUTHORIZED")
            #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Basic") == true)
        }
    }

    /// A token whose liveness the middleware left to the route opens `PendingLivenessUserTokenContext`
    /// only — never a context that assumes a live token — and an ordinary verified token does not
    /// open `PendingLivenessUserTokenContext` (whose route would then skip nothing, but would be
    /// wired to the wrong group). Both are refused with the 401, the handler never runs.
    @Test("a token pending its liveness opens only PendingLivenessUserTokenContext, and only such a token opens it")
    func pendingLivenessContexts() async throws {
        try await DevicesTests.withUserToken { server, _, token, _ in
            let runtime = server.runtime
            func middleware(_ livenessReadByRoute: Bool) -> UserTokenMiddleware {
                UserTokenMiddleware(
                    tokens: runtime.tokens, policy: runtime.settings.assurance, time: runtime.time, wrongKind: "user token",
                    livenessReadByRoute: livenessReadByRoute)
            }
            let router = Router(context: AppRequestContext.self)
            router.group("/pending").add(middleware: middleware(true)).group(context: UserTokenContext.self)
                .get("/live") { _, _ in "ran" }
            router.group("/pending").add(middleware: middleware(true)).group(context: TwoFactorContext.self)
                .get("/two-factor") { _, _ in "ran" }
            router.group("/pending").add(middleware: middleware(true)).group(context: PendingLivenessUserTokenContext.self)
                .get("/right") { _, _ in "ran" }
            router.group("/checked").add(middleware: middleware(false)).group(context: PendingLivenessUserTokenContext.self)
                .get("/wrong") { _, _ in "ran" }
            try await Application(router: router).test(.router) { client in
                for uri in ["/pending/live", "/pending/two-factor", "/checked/wrong"] {
                    let response = try await client.execute(uri: uri, method: .get, headers: HTTP.bearer(token))
                    #expect(response.status == .unauthorized, "\(uri)")
                    #expect(String(buffer: response.body) != "ran", "\(uri)")
                }
                let response = try await client.execute(uri: "/pending/right", method: .get, headers: HTTP.bearer(token))
                #expect(response.status == .ok && String(buffer: response.body) == "ran")
            }
        }
    }

    /// Every route of the integration face but signature verification authenticates the
    /// integration user first: no credentials and a malformed body is still the 401.
    @Test("every integration route refuses an unauthenticated caller before reading the body")
    func integrationRoutesAuthenticateFirst() async throws {
        let routes: [(HTTPRequest.Method, String)] = [
            (.post, "/powerauth-cloud/v2/registrations"), (.get, "/powerauth-cloud/v2/registrations?userId=u"),
            (.get, "/powerauth-cloud/v2/registrations/r"), (.put, "/powerauth-cloud/v2/registrations/r"),
            (.delete, "/powerauth-cloud/v2/registrations/r"), (.post, "/powerauth-cloud/v2/registrations/r/commit"),
            (.post, "/powerauth-cloud/v2/signature/verify"), (.post, "/powerauth-cloud/v2/token/verify"),
            (.post, "/powerauth-cloud/v2/operations"), (.get, "/powerauth-cloud/v2/operations?userId=u"),
            (.get, "/powerauth-cloud/v2/operations/o"), (.delete, "/powerauth-cloud/v2/operations/o"),
            (.get, "/powerauth-cloud/v2/webhooks/deliveries"), (.post, "/powerauth-cloud/v2/webhooks/deliveries/d/retry"),
        ]
        try await TestServer.with { server in
            try await server.test { client in
                for (method, uri) in routes {
                    let response = try await client.execute(
                        uri: uri, method: method, headers: [.contentType: "application/json"], body: ByteBuffer(string: "{not json"))
                    let json = try HTTP.json(response.body)
                    expectPowerAuthError(response, json, status: .unauthorized, code: "ERROR_UNAUTHORIZED")
                    #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Basic") == true, "\(method) \(uri)")
                }
            }
        }
    }

    /// The phone contexts refuse to exist without their middleware: PowerAuth's 401
    /// `ERR_AUTHENTICATION`, the handler never runs.
    @Test("PhoneSignedContext and PhoneTokenContext without their middleware refuse")
    func phoneContextsRequireMiddleware() async throws {
        let router = Router(context: AppRequestContext.self)
        let group = router.group("/enrollment-server").add(middleware: PowerAuthErrorMiddleware())
        group.group(context: PhoneSignedContext.self).post("/signed") { _, context in context.registration.id }
        group.group(context: PhoneTokenContext.self).post("/token") { _, context in context.registration.id }
        try await Application(router: router).test(.router) { client in
            for uri in ["/enrollment-server/signed", "/enrollment-server/token"] {
                let response = try await client.execute(uri: uri, method: .post)
                expectPowerAuthError(response, try HTTP.json(response.body), status: .unauthorized, code: "ERR_AUTHENTICATION")
            }
        }
    }

    /// Every signed or token-authenticated phone route refuses a request without its signature or
    /// token before it decodes the body: the 401, not a 400 for the malformed body.
    @Test("every authenticated phone route refuses an unsigned request before reading the body")
    func phoneRoutesAuthenticateFirst() async throws {
        let routes = [
            "/enrollment-server/pa/v3/activation/remove", "/enrollment-server/pa/v3/token/create",
            "/enrollment-server/pa/v3/token/remove", "/enrollment-server/pa/v3/signature/validate",
            "/enrollment-server/api/auth/token/app/operation/list", "/enrollment-server/api/auth/token/app/operation/detail",
            "/enrollment-server/api/auth/token/app/operation/authorize", "/enrollment-server/api/auth/token/app/operation/cancel",
        ]
        try await TestServer.with { server in
            try await server.test { client in
                for uri in routes {
                    let response = try await client.execute(
                        uri: uri, method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: "{not json"))
                    // The Mobile Token API answers in its own codes (Mobile-Token-API.md).
                    let code = uri.contains("/api/auth/token/app/") ? "POWERAUTH_AUTH_FAIL" : "ERR_AUTHENTICATION"
                    expectPowerAuthError(response, try HTTP.json(response.body), status: .unauthorized, code: code)
                }
            }
        }
    }

    /// `OperatorContext` refuses to exist without `WebSessionMiddleware`: the handler never runs.
    @Test("OperatorContext without its middleware refuses")
    func operatorContextRequiresMiddleware() async throws {
        let router = Router(context: AppRequestContext.self)
        router.add(middleware: ProblemMiddleware())
        router.group(context: OperatorContext.self).get("/admin/anything") { _, context in context.signedIn.name }
        try await Application(router: router).test(.router) { client in
            let response = try await client.execute(uri: "/admin/anything", method: .get)
            #expect(response.status == .unauthorized)
        }
    }

    /// Every signed-in back-office route sends a browser without an operator session to the
    /// sign-in page, form posts included, before it reads the form.
    @Test("every signed-in back-office route redirects a browser without a session to the sign-in page")
    func adminRoutesNeedASession() async throws {
        let routes: [(HTTPRequest.Method, String)] = [
            (.get, "/admin"), (.get, "/admin/users"), (.get, "/admin/users/u"), (.post, "/admin/users/u/unlock"),
            (.get, "/admin/devices"), (.get, "/admin/devices/d"), (.post, "/admin/devices/d/block"), (.post, "/admin/devices/d/unblock"),
            (.post, "/admin/devices/d/remove"), (.get, "/admin/registrations/new"), (.post, "/admin/registrations"),
            (.get, "/admin/approvals"), (.get, "/admin/approvals/a"), (.get, "/admin/webhooks"), (.post, "/admin/webhooks/w/retry"),
            (.get, "/admin/audit"), (.post, "/admin/logout"),
        ]
        try await TestServer.with { server in
            try await server.test { client in
                for (method, uri) in routes {
                    let response = try await client.execute(
                        uri: uri, method: method, headers: [.contentType: "application/x-www-form-urlencoded", .cookie: "sa_admin=forged"],
                        body: ByteBuffer(string: "_csrf=x"))
                    #expect(response.status == .seeOther, "\(method) \(uri)")
                    #expect(response.headers[.location] == "/admin/login", "\(method) \(uri)")
                }
            }
        }
    }
    /// `SelfServiceContext` refuses to exist without `WebSessionMiddleware`: the handler never runs.
    @Test("SelfServiceContext without its middleware refuses")
    func selfServiceContextRequiresMiddleware() async throws {
        let router = Router(context: AppRequestContext.self)
        router.add(middleware: ProblemMiddleware())
        router.group(context: SelfServiceContext.self).get("/self-service/anything") { _, context in context.signedIn.name }
        try await Application(router: router).test(.router) { client in
            let response = try await client.execute(uri: "/self-service/anything", method: .get)
            #expect(response.status == .unauthorized)
            #expect(response.headers[.contentType] == "application/problem+json")
        }
    }

    /// Every signed-in self-service route sends a browser without a user session to the sign-in
    /// page, form posts included, before it reads the form; the sign-in form stays reachable.
    @Test("every signed-in self-service route redirects a browser without a session to the sign-in page")
    func selfServiceRoutesNeedASession() async throws {
        let routes: [(HTTPRequest.Method, String)] = [
            (.get, "/self-service"), (.get, "/self-service/devices/d"), (.post, "/self-service/devices"),
            (.get, "/self-service/step-up"), (.post, "/self-service/step-up/continue"), (.post, "/self-service/step-up/otp"),
            (.post, "/self-service/devices/d/block"), (.post, "/self-service/devices/d/remove"), (.get, "/self-service/account"),
            (.post, "/self-service/account/delete"), (.post, "/self-service/account/phone"), (.post, "/self-service/account/password"),
            (.post, "/self-service/logout"),
        ]
        try await TestServer.with { server in
            try await server.test { client in
                for (method, uri) in routes {
                    let response = try await client.execute(
                        uri: uri, method: method,
                        headers: [.contentType: "application/x-www-form-urlencoded", .cookie: "sa_self=forged"],
                        body: ByteBuffer(string: "_csrf=x"))
                    #expect(response.status == .seeOther, "\(method) \(uri)")
                    #expect(response.headers[.location] == "/self-service/login", "\(method) \(uri)")
                }
                let login = try await client.execute(uri: "/self-service/login", method: .get)
                #expect(login.status == .ok)
            }
        }
    }
    /// `ClientContext` refuses to exist without `ClientMiddleware`: a problem+json 401, the handler
    /// never runs.
    @Test("ClientContext without its middleware refuses")
    func clientContextRequiresMiddleware() async throws {
        let router = Router(context: AppRequestContext.self)
        router.add(middleware: ProblemMiddleware())
        router.group(context: ClientContext.self).get("/v2/anything") { _, context in context.client.id }
        try await Application(router: router).test(.router) { client in
            let response = try await client.execute(uri: "/v2/anything", method: .get)
            #expect(response.status == .unauthorized)
            #expect(response.headers[.contentType] == "application/problem+json")
        }
    }

    /// Every route of the client faces (action requests, process creation, the client webhook
    /// log) refuses a caller without valid client credentials with a problem+json 401; a
    /// malformed body is still refused first as before (400), since the credentials may be in it.
    @Test("every client route refuses a caller without client credentials in problem+json")
    func clientRoutesAuthenticate() async throws {
        let processes = #"{"clientId":"nobody","clientSecret":"wrong","clientReferences":[{"clientReference":"r"}],"processId":"USER_ONLY"}"#
        let routes: [(HTTPRequest.Method, String, String)] = [
            (.post, "/v2/authentication/oauth2/action_request", #"{"action":"a","uid":"u","payload":{}}"#),
            (.get, "/v2/authentication/oauth2/action_request/x/poll", ""),
            (.post, "/v2/authentication/oauth2/action_request/x/poll", ""),
            (.post, "/v2/authentication/oauth2/action_request/verify", #"{"token":"t","action":"a","payload":{}}"#),
            (.get, "/v2/webhooks/deliveries", ""), (.post, "/v2/webhooks/deliveries/d/retry", ""),
            (.post, "/api/v1/processes", processes),
        ]
        try await TestServer.with { server in
            try await server.test { client in
                for (method, uri, body) in routes {
                    let response = try await client.execute(
                        uri: uri, method: method, headers: [.contentType: "application/json"], body: ByteBuffer(string: body))
                    #expect(response.status == .unauthorized, "\(method) \(uri)")
                    #expect(response.headers[.contentType] == "application/problem+json", "\(method) \(uri)")
                }
                let malformed = try await client.execute(
                    uri: "/v2/authentication/oauth2/action_request", method: .post, headers: [.contentType: "application/json"],
                    body: ByteBuffer(string: "{not json"))
                #expect(malformed.status == .badRequest)
            }
        }
    }
}
