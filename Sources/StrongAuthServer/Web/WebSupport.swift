import Foundation
import HTTPTypes
import Hummingbird
import Mustache
import NIOCore
import StrongAuthCore
import StrongAuthProtocol
import StrongAuthStore

/// One area of pages: the operators' back office or the end users' self-service. Each has its
/// own cookie (scoped to its path) and its own kind of session, so neither can use the other's.
enum WebArea: Sendable {
    case admin
    case selfService

    var kind: WebSessionKind { self == .admin ? .operator : .user }
    var path: String { self == .admin ? "/admin" : "/self-service" }
    var name: String { self == .admin ? "back office" : "self-service" }
    var cookieName: String { self == .admin ? "sa_admin" : "sa_self" }
    /// The pre-session cookie that binds the sign-in form's CSRF token.
    var preSessionCookieName: String { cookieName + "_pre" }
}

/// A signed-in browser: its cookie token, the session and who it is.
struct WebSignedIn: Sendable {
    var token: String
    var session: WebSession
    /// The CSRF token of this session's forms.
    var csrf: String
    /// The operator's or user's name, for the page header.
    var name: String
    /// The realm of the operator or user: the only one whose objects the pages show.
    var realm: String
    var principalID: String { session.principalID }
}

/// Renders templates inside the layout and adds the headers every page carries.
struct WebRenderer: Sendable {
    private let library: MustacheLibrary

    init() throws {
        var library = MustacheLibrary()
        for (name, text) in WebTemplates.all { try library.register(text, named: name) }
        self.library = library
    }

    /// Renders `template` with `context` into the layout (`layout` adds title, navigation …).
    func page(_ template: String, _ context: [String: Any], layout: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        let content = library.render(context, withTemplate: template) ?? ""
        var frame = layout
        frame["content"] = content
        let html = library.render(frame, withTemplate: "layout") ?? ""
        return Self.htmlResponse(html, status: status)
    }

    static func htmlResponse(_ html: String, status: HTTPResponse.Status) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        addSecurityHeaders(&headers)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// No scripts at all, images only from here or data: URIs (the QR code), forms only to here,
    /// never framed, never cached, no referrer.
    static func addSecurityHeaders(_ headers: inout HTTPFields) {
        headers[.contentSecurityPolicy] =
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        headers[.cacheControl] = "no-store"
    }
}

/// What both areas' controllers share: sessions, CSRF, forms, redirects, cookies and formatting.
struct WebPages: Sendable {
    let webSessions: WebSessionService
    /// The signed-in operator or user behind a session.
    let store: SQLStore
    /// Audits refused CSRF checks.
    let backOffice: BackOfficeService
    /// The web session settings and the body limit.
    let settings: ServerSettings
    let renderer: WebRenderer
    let area: WebArea

    var secureCookies: Bool { settings.web.secureCookies }

    // MARK: Sessions

    /// The signed-in principal of this area, if the cookie names a live session of a still-active one.
    func signedIn(_ request: Request) async throws -> WebSignedIn? {
        guard let token = request.cookies[area.cookieName]?.value,
            let session = try await webSessions.resume(token: token, kind: area.kind)
        else { return nil }
        let name: String
        let realm: String
        switch area {
        case .admin:
            guard let found = try await store.operator(id: session.principalID), found.status == .active else { return nil }
            (name, realm) = (found.username, found.realmID)
        case .selfService:
            guard let user = try await store.user(id: session.principalID), user.status == .active else { return nil }
            (name, realm) = (user.username, user.realmID)
        }
        return WebSignedIn(token: token, session: session, csrf: webSessions.csrfToken(for: token), name: name, realm: realm)
    }

    /// A page on a signed-in route: the session is the context's (`WebSessionMiddleware`). There is
    /// no variant that resumes the session itself: a signed-in page is declared on its area's
    /// group (`OperatorContext`, `SelfServiceContext`), so none can forget the session.
    func page(_ context: some WebSignedInContext, _ body: (WebSignedIn) async throws -> Response) async throws -> Response {
        try await handlingErrors(context.signedIn) { try await body(context.signedIn) }
    }

    /// A form post on a signed-in route: the session is the context's; the CSRF check is here.
    func action(_ request: Request, context: some WebSignedInContext, _ body: (WebSignedIn, [String: String]) async throws -> Response)
        async throws -> Response
    {
        try await checkedAction(request, signedIn: context.signedIn, source: context.remoteAddress, body)
    }

    /// The form and its CSRF token checked, then `body`.
    private func checkedAction(
        _ request: Request, signedIn: WebSignedIn, source: String?, _ body: (WebSignedIn, [String: String]) async throws -> Response
    ) async throws -> Response {
        guard let form = try await readForm(request) else {
            return errorPage(.badRequest, "The form could not be read.", signedIn: signedIn)
        }
        guard webSessions.checkCSRF(form["_csrf"], for: signedIn.token) else {
            try await backOffice.audit(
                actor: principalLabel(signedIn), action: .webCSRFRefused, subject: nil, source: source,
                details: ["path": request.uri.path])
            return errorPage(.forbidden, "This form has expired or did not come from this site. Reload the page and try again.", signedIn: signedIn)
        }
        return try await handlingErrors(signedIn) { try await body(signedIn, form) }
    }

    /// `operator:<id>` or `user:<id>`: the actor of audit records.
    func principalLabel(_ signedIn: WebSignedIn) -> String {
        "\(area.kind.rawValue):\(signedIn.principalID)"
    }

    private func handlingErrors(_ signedIn: WebSignedIn, _ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch BackOfficeError.notFound {
            return errorPage(.notFound, "There is no such thing, or it is not yours to see.", signedIn: signedIn)
        } catch BackOfficeError.invalidState(let message) {
            return errorPage(.conflict, "That is not possible now: \(message).", signedIn: signedIn)
        } catch BackOfficeError.validation(let field, let message) {
            return errorPage(.badRequest, "\(field): \(message).", signedIn: signedIn)
        } catch PowerAuthServiceError.registrationNotFound {
            return errorPage(.notFound, "There is no such registration.", signedIn: signedIn)
        } catch let error as StepUpError {
            return stepUpErrorPage(error, signedIn: signedIn)
        } catch AccountError.changedConcurrently {
            return errorPage(.conflict, "Your account was changed meanwhile. Please reload the page and try again.", signedIn: signedIn)
        } catch AccountError.noSuchUser {
            return errorPage(.notFound, "There is no such account.", signedIn: signedIn)
        }
    }

    /// The self-service step-up's refusals (docs/security-model.md), each with what to do next.
    private func stepUpErrorPage(_ error: StepUpError, signedIn: WebSignedIn) -> Response {
        switch error {
        case .noSecondFactor:
            errorPage(
                .conflict,
                "You have no active device and no phone number is registered, so we cannot confirm it is you beyond your password. "
                    + "Please ask your bank to register your phone number.", signedIn: signedIn)
        case .noStepUp:
            errorPage(
                .conflict, "Nothing is waiting for confirmation (it may have been replaced by a newer request). Please start again.",
                signedIn: signedIn)
        case .pending:
            errorPage(.conflict, "The request is not approved yet.", signedIn: signedIn)
        case .refused(let status):
            errorPage(.forbidden, "The confirmation did not succeed (\(status)). Please start again.", signedIn: signedIn)
        case .wrongCode(let remaining):
            errorPage(.unauthorized, "That code is wrong. \(remaining) more tries with this code.", signedIn: signedIn)
        case .closed:
            errorPage(.forbidden, "The code has expired or was tried too often. Please start again to get a new code.", signedIn: signedIn)
        case .tooManySMS(let retryAfter):
            retrying(
                after: retryAfter,
                errorPage(
                    .tooManyRequests, "We have sent as many codes to your phone as we may within an hour. Please try again later.",
                    signedIn: signedIn))
        }
    }

    /// Starts a session after a successful sign-in: a new cookie (a fresh token, so a token
    /// planted before sign-in is useless), the pre-session cookie cleared.
    func startSession(principalID: String) async throws -> Response {
        try await startSession(principalID: principalID, secondFactor: nil, answering: redirect(to: area.path))
    }

    /// The same with `answer` (the passkey sign-in's JSON) and a session that starts two-factor
    /// when the sign-in gave `secondFactor` too.
    func startSession(principalID: String, secondFactor: StepUpMethod?, answering answer: Response) async throws -> Response {
        let token = try await webSessions.start(kind: area.kind, principalID: principalID, secondFactor: secondFactor)
        var response = answer
        response.setCookie(cookie(area.cookieName, token))
        response.setCookie(cookie(area.preSessionCookieName, "", maxAge: 0))
        return response
    }

    func endSession(_ signedIn: WebSignedIn) async throws -> Response {
        try await webSessions.end(token: signedIn.token)
        var response = redirect(to: "\(area.path)/login")
        response.setCookie(cookie(area.cookieName, "", maxAge: 0))
        return response
    }

    // MARK: Sign-in forms

    /// The sign-in page, with a pre-session cookie whose HMAC is the form's CSRF token.
    func loginPage(
        _ template: String, username: String = "", realm: String? = nil, error: String? = nil, status: HTTPResponse.Status = .ok,
        flash: String? = nil
    ) -> Response {
        let preSession = webSessions.newPreSession()
        var layout = layoutContext(title: "Sign in", signedIn: nil, current: nil, flash: flash)
        if let error { layout["error"] = error }
        var fields = ["loginCSRF": webSessions.csrfToken(for: preSession), "username": username]
        // A realm other than the default one travels as a hidden field of the form.
        if let realm, realm != Realm.defaultID, Realm.isValid(id: realm) { fields["realm"] = realm }
        // The self-service sign-in offers a passkey: its page alone of the two loads the script.
        if area == .selfService { layout["script"] = PasskeyScript.versionedPath }
        var response = renderer.page(template, fields, layout: layout, status: status)
        if area == .selfService { response = PasskeyScript.allowingScript(response) }
        response.setCookie(cookie(area.preSessionCookieName, preSession))
        return response
    }

    /// The sign-in form's fields if its CSRF token matches the pre-session cookie, else `nil`.
    func loginForm(_ request: Request, context: AppRequestContext) async throws -> [String: String]? {
        guard let preSession = request.cookies[area.preSessionCookieName]?.value, !preSession.isEmpty,
            let form = try await readForm(request), webSessions.checkCSRF(form["_csrf"], for: preSession)
        else { return nil }
        return form
    }

    // MARK: Plumbing

    /// The `application/x-www-form-urlencoded` body, `nil` when it is not one (or too large).
    func readForm(_ request: Request) async throws -> [String: String]? {
        guard request.headers[.contentType]?.lowercased().hasPrefix(FormBody.mediaType) == true else { return nil }
        guard let body = try? await request.body.collect(upTo: settings.maxBodyBytes) else { return nil }
        return try? FormBody.parse(body)
    }

    func redirect(to location: String) -> Response {
        var headers = HTTPFields()
        headers[.location] = location
        WebRenderer.addSecurityHeaders(&headers)
        return Response(status: .seeOther, headers: headers)
    }

    /// HttpOnly, SameSite=Strict, scoped to the area's path; Secure when configured (TLS).
    func cookie(_ name: String, _ value: String, maxAge: Int? = nil) -> Cookie {
        Cookie(name: name, value: value, maxAge: maxAge, path: area.path, secure: secureCookies, httpOnly: true, sameSite: .strict)
    }

    func errorPage(_ status: HTTPResponse.Status, _ message: String, signedIn: WebSignedIn?) -> Response {
        renderer.page(
            "error", ["heading": status.reasonPhrase, "message": message, "back": area.path],
            layout: layoutContext(title: status.reasonPhrase, signedIn: signedIn, current: nil), status: status)
    }

    /// Title, navigation and the sign-out form of the layout.
    func layoutContext(title: String, signedIn: WebSignedIn?, current: String?, flash: String? = nil) -> [String: Any] {
        let links: [(String, String)] =
            area == .admin
            ? [
                ("/admin", "Dashboard"), ("/admin/users", "Users"), ("/admin/devices", "Devices"),
                ("/admin/registrations/new", "New registration"), ("/admin/approvals", "Approvals"), ("/admin/webhooks", "Webhooks"),
                ("/admin/audit", "Audit log"),
            ]
            : [("/self-service", "Devices"), ("/self-service/approvals", "Approvals"), ("/self-service/account", "Account")]
        var context: [String: Any] = [
            "title": title, "areaName": area.name, "idleMinutes": Int(settings.web.sessionIdleTimeout / 60),
        ]
        if let signedIn {
            context["signedIn"] = true
            context["who"] = signedIn.name
            context["csrf"] = signedIn.csrf
            context["logoutPath"] = "\(area.path)/logout"
            context["nav"] = links.map { ["href": $0.0, "label": $0.1, "current": $0.0 == current] as [String: Any] }
        }
        if let flash { context["flash"] = flash }
        return context
    }

    /// The confirmation for `?done=…` after a redirect (fixed texts: nothing from the URL is echoed).
    static func flash(_ request: Request) -> String? {
        switch request.uri.queryParameters.get("done") {
        case "blocked": "The device is blocked."
        case "unblocked": "The device is active again."
        case "removed": "The device is removed."
        case "unlocked": "The user's locks are cleared."
        case "retried": "The delivery is queued again."
        case "created": "The registration is created: show the code to the user's phone."
        case "deleted": "Your account is deleted. Your devices are removed and every app is signed out."
        case "password": "Your password is changed. Your apps will ask you to sign in again."
        case "phone": "Your phone number is changed. We told your old number by text message."
        case "confirmed": "Thank you. You can now change your password."
        case "passkey": "Your passkey is added. You can sign in and approve with it."
        default: nil
        }
    }
}

/// How the pages show data.
enum WebFormat {
    /// `2026-11-24 10:20:30 UTC`, or `—`.
    static func time(_ date: Date?) -> String {
        guard let date else { return "—" }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withSpaceBetweenDateAndTime]
        return formatter.string(from: date) + " UTC"
    }

    static func iso(_ date: Date) -> String { InternetTimestamp.string(from: date) }

    static func details(_ details: [String: String]) -> String {
        details.keys.sorted().map { "\($0)=\(details[$0] ?? "")" }.joined(separator: ", ")
    }

    static func event(_ event: AuditEvent) -> [String: Any] {
        [
            "sequence": String(event.sequence), "time": time(event.occurredAt), "iso": iso(event.occurredAt), "action": event.record.action.rawValue,
            "outcome": event.record.outcome.rawValue, "actor": event.record.actor, "subject": event.record.subject ?? "",
            "details": details(event.record.details), "hash": event.hash, "shortHash": String(event.hash.prefix(12)) + "…",
        ]
    }

    static func device(_ overview: DeviceOverview, href: String, userLabel: String? = nil) -> [String: Any] {
        let device = overview.device
        var context: [String: Any] = [
            "id": device.id, "href": href, "label": label(of: overview), "kind": kindName(device.kind),
            "status": overview.status.rawValue, "fingerprint": overview.fingerprint ?? "—", "lastUsed": time(device.lastUsedAt),
            "activated": time(device.activatedAt), "created": time(device.createdAt), "userID": device.userID,
            "userLabel": userLabel ?? device.userID,
            "canBlock": DeviceAction.block.allows(from: overview.status), "canUnblock": DeviceAction.unblock.allows(from: overview.status),
            "canRemove": DeviceAction.remove.allows(from: overview.status),
        ]
        if overview.status == .blocked, let reason = device.blockedReason { context["blockedReason"] = reason }
        return context
    }

    static func kindName(_ kind: Device.Kind) -> String {
        switch kind {
        case .powerauth: "PowerAuth"
        case .ecdsaP256: "ECDSA key"
        case .passkey: "Passkey"
        }
    }

    static func label(of overview: DeviceOverview) -> String {
        if !overview.device.name.isEmpty { return overview.device.name }
        return overview.status == .created ? "New device (not activated yet)" : "Device \(overview.device.id.prefix(8))"
    }

    static func approval(_ approval: Approval, at now: Date) -> [String: Any] {
        [
            "id": approval.id, "shortID": String(approval.id.prefix(8)), "kind": approval.kind == .operation ? "Operation" : "Action request",
            "status": approval.status(at: now).rawValue, "data": approval.data, "created": time(approval.createdAt),
            "expires": time(approval.expiresAt), "operationType": approval.operationType,
        ]
    }

    /// The activation section: the QR code (SVG data URI) of `CODE#SIGNATURE` and the code as text.
    static func activation(_ registration: Registration?, status: Device.Status, refresh: String) -> [String: Any]? {
        guard status == .created, let registration, let code = registration.activation.activationCode,
            let signature = registration.activation.activationCodeSignature,
            let qr = try? QRCode.encode("\(code)#\(signature)")
        else { return nil }
        return [
            "code": code, "qrDataURI": "data:image/svg+xml;base64," + Data(qr.svg().utf8).base64EncodedString(),
            "expiresAt": time(registration.activation.expiresAt), "refresh": refresh,
        ]
    }
}

/// `response` with `Retry-After: seconds` (a 429 page of the web area, RFC 6585).
private func retrying(after seconds: Int, _ response: Response) -> Response {
    var response = response
    response.headers[.retryAfter] = String(seconds)
    return response
}
