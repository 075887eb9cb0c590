import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import StrongAuthCore
import StrongAuthProtocol
import StrongAuthStore

/// The authorization endpoint and its hosted login (RFC 6749 §4.1): server-rendered pages, no
/// JavaScript. Thin: parses the query and forms, checks the browser's cookie and CSRF token, and
/// renders what `AuthorizationService` decides.
///
/// The browser is bound by a cookie (`sa_authz`, HttpOnly, SameSite=Lax, Secure with an https
/// issuer) whose keyed hash the login's row holds: a login started in one browser cannot be
/// finished in another. Success and refusals after a form post are `303 See Other` (RFC 9700
/// §4.12: the password is never re-posted to the client).
struct AuthorizationController: Sendable {
    let authorization: AuthorizationService
    /// The CSRF tokens of the forms (the HMAC of the browser's cookie).
    let webSessions: WebSessionService
    let renderer: WebRenderer
    let rateLimiter: RateLimiter
    /// Rate limits, the issuer (Secure cookies) and the body limit.
    let settings: ServerSettings
    /// The passkey as the second factor, beside the approval and the SMS code.
    let passkeys: PasskeyService

    static let cookieName = "sa_authz"
    static let cookiePath = "/oauth/authorize"

    func addRoutes(to router: Router<AppRequestContext>) {
        // Every request writes a login row: the `authorize` bucket per address.
        router.group().add(
            middleware: RateLimitMiddleware(bucket: "authorize", face: .problem, limiter: rateLimiter, settings: settings.rateLimits)
        ).get("/oauth/authorize", use: authorize)
        router.get("/oauth/authorize/wait", use: wait)
        router.post("/oauth/authorize/continue", use: continueAfterApproval)
        // bcrypt per password, a guess per OTP: the `authorize-login` bucket per address.
        let limited = router.group().add(
            middleware: RateLimitMiddleware(bucket: "authorize-login", face: .problem, limiter: rateLimiter, settings: settings.rateLimits))
        limited.post("/oauth/authorize/login", use: password)
        limited.post("/oauth/authorize/otp", use: otp)
        limited.post("/oauth/authorize/passkey/options", use: passkeyOptions)
        limited.post("/oauth/authorize/passkey", use: passkey)
    }

    // MARK: Handlers

    @Sendable func authorize(_ request: Request, context: AppRequestContext) async throws -> Response {
        do {
            var parameters = try FormBody.parse(ByteBuffer(string: request.uri.query ?? ""))
            let resources = FormBody.values("resource", in: parameters)
            parameters["resource"] = nil
            let authorizationRequest = try await authorization.authorizationRequest(parameters, resources: resources)
            guard let client = try await authorization.activeClient(id: authorizationRequest.clientID) else {
                return errorPage(.badRequest, "The application is unknown or disabled.")
            }
            let existing = request.cookies[Self.cookieName]?.value
            let browserSecret = existing.flatMap { $0.hasPrefix("sa_az_") && $0.utf8.count < 128 ? $0 : nil } ?? SecureRandom.token(prefix: "sa_az_")
            let handle = try await authorization.startLogin(authorizationRequest, browserSecret: browserSecret)
            var response = loginPage(handle: handle, browserSecret: browserSecret, request: authorizationRequest, client: client)
            if browserSecret != existing { response.setCookie(cookie(browserSecret)) }
            return response
        } catch AuthorizationRequestError.untrusted(let error) {
            context.logger.info("authorization request refused", metadata: ["error": "\(error.code.rawValue)"])
            return errorPage(.badRequest, error.description)
        } catch AuthorizationRequestError.redirect(let error, let redirectURI, let state) {
            return redirect(AuthorizationResponse.error(error, redirectURI: redirectURI, state: state, issuer: authorization.issuer), .found)
        } catch let error as OAuthError {
            // A malformed query (a repeated parameter, bad escapes): nothing in it can be trusted.
            return errorPage(.badRequest, error.description)
        }
    }

    @Sendable func password(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await form(request) { form, browserSecret, handle in
            do {
                let step = try await authorization.submitPassword(
                    handle: handle, browserSecret: browserSecret, username: form["username"] ?? "", password: form["password"] ?? "",
                    source: context.remoteAddress)
                return respond(step, handle: handle)
            } catch AuthorizationLoginError.invalidCredentials {
                let (login, client) = try await authorization.login(handle: handle, browserSecret: browserSecret)
                return loginPage(
                    handle: handle, browserSecret: browserSecret, request: login.request, client: client,
                    username: form["username"] ?? "", error: "Username or password is wrong, or the account is locked for a while.",
                    status: .unauthorized)
            }
        }
    }

    @Sendable func wait(_ request: Request, context: AppRequestContext) async throws -> Response {
        guard let browserSecret = request.cookies[Self.cookieName]?.value, let handle = request.uri.queryParameters["login"].map(String.init)
        else { return goneResponse() }
        return try await handlingErrors { try await waitPage(handle: handle, browserSecret: browserSecret) }
    }

    @Sendable func continueAfterApproval(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await form(request) { _, browserSecret, handle in
            do {
                return respond(
                    try await authorization.continueAfterApproval(handle: handle, browserSecret: browserSecret, source: context.remoteAddress),
                    handle: handle)
            } catch StepUpError.pending {
                return try await waitPage(handle: handle, browserSecret: browserSecret, error: "The sign-in is not approved yet.", status: .conflict)
            }
        }
    }

    @Sendable func otp(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await form(request) { form, browserSecret, handle in
            do {
                return respond(
                    try await authorization.verifyOTP(
                        handle: handle, browserSecret: browserSecret, code: form["otp"] ?? "", source: context.remoteAddress),
                    handle: handle)
            } catch StepUpError.wrongCode(let remaining) {
                return try await waitPage(
                    handle: handle, browserSecret: browserSecret,
                    error: "That code is wrong. \(remaining) more \(remaining == 1 ? "try" : "tries") with this code.", status: .unauthorized)
            }
        }
    }

    /// The passkey ceremony of the login (JSON for `passkeys.js`; `X-CSRF-Token` bound to the cookie).
    @Sendable func passkeyOptions(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(PasskeyLoginOptionsBody.self, from: request, limit: settings.maxBodyBytes)
        let browserSecret = try passkeyBrowser(request)
        let ceremony = try await passkeyRefusals {
            try await authorization.passkeyOptions(handle: body.login, browserSecret: browserSecret, passkeys: passkeys)
        }
        return try JSONResponse.make(CeremonyAnswer(ceremonyId: ceremony.ceremony.id, publicKey: ceremony.options))
    }

    /// The passkey's assertion: the code redirect as `{"redirect": …}` for the script to follow.
    @Sendable func passkey(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(PasskeyLoginBody.self, from: request, limit: settings.maxBodyBytes)
        let browserSecret = try passkeyBrowser(request)
        let step = try await passkeyRefusals {
            try await authorization.verifyPasskey(
                handle: body.login, browserSecret: browserSecret, ceremonyID: body.ceremonyId, response: body.credential, passkeys: passkeys,
                source: context.remoteAddress)
        }
        switch step {
        case .redirect(let location): return try JSONResponse.make(RedirectAnswer(redirect: location))
        case .secondFactor: return try JSONResponse.make(RedirectAnswer(redirect: "/oauth/authorize/wait?login=\(body.login)"))
        }
    }

    /// The browser's cookie, if the request's `X-CSRF-Token` is its token.
    private func passkeyBrowser(_ request: Request) throws -> String {
        guard let browserSecret = request.cookies[Self.cookieName]?.value, !browserSecret.isEmpty,
            webSessions.checkCSRF(request.headers[SelfServicePasskeys.csrfHeader], for: browserSecret)
        else { throw SelfServicePasskeys.csrfRefused }
        return browserSecret
    }

    /// The login's and the passkey service's refusals as problems the script shows.
    private func passkeyRefusals<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch AuthorizationLoginError.gone, AuthorizationLoginError.invalidCredentials {
            throw ProblemDetails(.badRequest, "Bad Request", detail: "This sign-in has expired, is finished, or was started in another browser.")
        } catch let error as PasskeyError {
            throw SelfServicePasskeys.problem(error)
        }
    }

    // MARK: Pages

    private func loginPage(
        handle: String, browserSecret: String, request: AuthorizationRequest, client: OAuthClient, username: String = "",
        error: String? = nil, status: HTTPResponse.Status = .ok
    ) -> Response {
        let context: [String: Any] = [
            "clientName": client.name, "scope": request.scope, "twoFactor": request.assurance == .twoFactor, "login": handle,
            "csrf": webSessions.csrfToken(for: browserSecret), "username": username,
        ]
        return allowingRedirect(
            to: request.redirectURI,
            renderer.page("authorize-login", context, layout: layout("Sign in to \(client.name)", error: error), status: status))
    }

    /// The pages' CSP with the client's redirect URI added to `form-action`: browsers apply
    /// `form-action` to the redirects that follow a form post too (CSP Level 3 §6.4.2), and the
    /// forms here end at the client.
    private func allowingRedirect(to redirectURI: String, _ response: Response) -> Response {
        guard let source = Self.formActionSource(redirectURI), let policy = response.headers[.contentSecurityPolicy] else { return response }
        var response = response
        response.headers[.contentSecurityPolicy] = policy.replacingOccurrences(of: "form-action 'self'", with: "form-action 'self' \(source)")
        return response
    }

    /// The CSP source of a redirect URI: its origin for http(s), its scheme for an app's own
    /// scheme (RFC 8252 §7.1); `nil` for anything that would not be a single source.
    static func formActionSource(_ redirectURI: String) -> String? {
        // Registered redirect URIs are validated already; this only keeps the header well formed.
        let safe = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "+-.[]:"))
        guard let components = URLComponents(string: redirectURI), let scheme = components.scheme?.lowercased(),
            scheme.unicodeScalars.allSatisfy({ $0.isASCII && safe.contains($0) })
        else { return nil }
        guard scheme == "http" || scheme == "https" else { return scheme + ":" }
        guard let host = components.host, !host.isEmpty, host.unicodeScalars.allSatisfy({ $0.isASCII && safe.contains($0) }) else {
            return nil
        }
        return "\(scheme)://\(host)" + (components.port.map { ":\($0)" } ?? "")
    }

    private func waitPage(handle: String, browserSecret: String, error: String? = nil, status: HTTPResponse.Status = .ok) async throws
        -> Response
    {
        let (login, client) = try await authorization.login(handle: handle, browserSecret: browserSecret)
        var context: [String: Any] = ["clientName": client.name, "login": handle, "csrf": webSessions.csrfToken(for: browserSecret)]
        var refresh: Int?
        switch login.secondFactor {
        case .approval:
            guard let approval = try await authorization.approval(of: login) else { return goneResponse() }
            let approvalStatus = approval.status(at: authorization.now)
            context["approval"] =
                [
                    "status": approvalStatus.rawValue, "pending": approvalStatus == .pending, "devices": "your phone",
                    "text": approval.message ?? "", "expires": WebFormat.time(approval.expiresAt),
                ] as [String: Any]
            if approvalStatus == .pending { refresh = 3 }
        case .smsOTP:
            context["sms"] = true
        case .passkey, nil:
            return goneResponse()
        }
        var frame = layout("Confirm the sign-in", error: error)
        // The passkey beside it: the page loads the script and does not reload itself (a reload
        // would cancel the passkey prompt; "check now" and Continue stay).
        let withPasskey = try await authorization.offersPasskey(login)
        if withPasskey {
            context["passkey"] = true
            frame["script"] = PasskeyScript.versionedPath
        } else if let refresh, error == nil {
            frame["refreshSeconds"] = refresh
        }
        let page = allowingRedirect(to: login.request.redirectURI, renderer.page("authorize-wait", context, layout: frame, status: status))
        return withPasskey ? PasskeyScript.allowingScript(page) : page
    }

    private func layout(_ title: String, error: String? = nil) -> [String: Any] {
        var layout: [String: Any] = ["title": title, "areaName": "sign-in", "idleMinutes": Int(AuthorizationService.loginLifetime / 60)]
        if let error { layout["error"] = error }
        return layout
    }

    private func errorPage(_ status: HTTPResponse.Status, _ message: String) -> Response {
        renderer.page(
            "authorize-error", ["heading": "The sign-in cannot go on", "message": message], layout: layout("Sign-in error"), status: status)
    }

    private func goneResponse() -> Response {
        errorPage(.badRequest, "This sign-in has expired, is finished, or was started in another browser.")
    }

    // MARK: Plumbing

    /// The next step: the second-factor page, or the client's redirect URI.
    private func respond(_ step: AuthorizationLoginStep, handle: String) -> Response {
        switch step {
        case .secondFactor: redirect("/oauth/authorize/wait?login=\(handle)", .seeOther)
        case .redirect(let location): redirect(location, .seeOther)
        }
    }

    /// A form of the login: read, its CSRF token checked against the browser's cookie, then `body`
    /// with the form, the cookie and the login's handle; the core's refusals become pages.
    private func form(_ request: Request, _ body: ([String: String], String, String) async throws -> Response) async throws -> Response {
        guard request.headers[.contentType]?.lowercased().hasPrefix(FormBody.mediaType) == true,
            let buffer = try? await request.body.collect(upTo: settings.maxBodyBytes), let form = try? FormBody.parse(buffer)
        else { return errorPage(.badRequest, "The form could not be read.") }
        guard let browserSecret = request.cookies[Self.cookieName]?.value, !browserSecret.isEmpty,
            webSessions.checkCSRF(form["_csrf"], for: browserSecret), let handle = form["login"]
        else { return goneResponse() }
        return try await handlingErrors { try await body(form, browserSecret, handle) }
    }

    private func handlingErrors(_ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch AuthorizationLoginError.gone, AuthorizationLoginError.invalidCredentials {
            return goneResponse()
        } catch StepUpError.noSecondFactor {
            return errorPage(
                .conflict,
                "This application needs a second factor, but you have no active device and no phone number is registered. "
                    + "Please ask your bank to register your phone number.")
        } catch StepUpError.tooManySMS(let retryAfter) {
            var response = errorPage(.tooManyRequests, "We have sent as many codes to your phone as we may within an hour. Please try again later.")
            response.headers[.retryAfter] = String(retryAfter)
            return response
        } catch StepUpError.closed, StepUpError.noStepUp {
            return errorPage(.forbidden, "The code has expired or was tried too often. Please start the sign-in again.")
        } catch StepUpError.refused, StepUpError.pending {
            return errorPage(.conflict, "The confirmation did not succeed. Please start the sign-in again.")
        } catch StepUpError.wrongCode {
            return errorPage(.unauthorized, "That code is wrong.")
        }
    }

    private func redirect(_ location: String, _ status: HTTPResponse.Status) -> Response {
        var headers = HTTPFields()
        headers[.location] = location
        WebRenderer.addSecurityHeaders(&headers)
        return Response(status: status, headers: headers)
    }

    /// HttpOnly and SameSite=Lax (the browser arrives from the client's site by a top-level
    /// GET), scoped to the endpoint, Secure when the issuer is https (or `web.secureCookies`); a
    /// session cookie.
    private func cookie(_ value: String) -> Cookie {
        Cookie(
            name: Self.cookieName, value: value, path: Self.cookiePath, secure: settings.web.secureCookies || settings.issuer.hasPrefix("https://"),
            httpOnly: true,
            sameSite: .lax)
    }
}

private struct PasskeyLoginOptionsBody: Decodable {
    /// The login's handle.
    var login: String
}

private struct PasskeyLoginBody: Decodable {
    var login: String
    var ceremonyId: String
    var credential: AuthenticationResponseJSON
}
