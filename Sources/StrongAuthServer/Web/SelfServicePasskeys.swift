import Foundation
import HTTPTypes
import Hummingbird
import StrongAuthCore
import StrongAuthProtocol

/// The passkey pages of self-service (issue 17): sign in with a passkey, add one, and approve a
/// pending operation or action request with one. The ceremonies run in `passkeys.js` (the only
/// script, loaded only by these pages); its JSON calls land here. Every JSON call carries the
/// page's CSRF token in `X-CSRF-Token` (a custom header: a cross-site form cannot send it and a
/// cross-site `fetch` needs a preflight that is never granted) and answers RFC 9457 problems.
///
/// The decisions are `PasskeyService`'s; this only parses, checks the browser's binding (the
/// session, or the sign-in form's pre-session cookie) and turns results into redirects.
struct SelfServicePasskeys: Sendable {
    let web: WebPages
    let passkeys: PasskeyService
    let service: BackOfficeService
    let stepUp: StepUpService
    let approvals: ApprovalService
    let rateLimiter: RateLimiter
    let settings: ServerSettings

    static let csrfHeader = HTTPField.Name("X-CSRF-Token")!

    /// The sign-in routes (no session yet) on `router`, the others on the signed-in group.
    func addRoutes(to router: Router<AppRequestContext>, signedIn user: RouterGroup<SelfServiceContext>) {
        // A passkey sign-in is a guess at nothing (the authenticator signs), but each options call
        // writes a ceremony row: the same bucket as the password form.
        let limited = router.group().add(
            middleware: RateLimitMiddleware(bucket: "self-service-login", face: .problem, limiter: rateLimiter, settings: settings.rateLimits))
        limited.post("/self-service/passkeys/sign-in/options") { request, context in
            let body = try await JSONBody.decode(SignInOptionsBody.self, from: request, limit: settings.maxBodyBytes)
            try checkPreSessionCSRF(request)
            let realm = body.realm ?? Realm.defaultID
            guard Realm.isValid(id: realm) else { throw ProblemDetails.badRequest("The realm is not valid.") }
            let started = try await refusing { try await passkeys.authenticationOptions(for: .signIn(realmID: realm)) }
            return try JSONResponse.make(CeremonyAnswer(ceremonyId: started.ceremony.id, publicKey: started.options))
        }
        limited.post("/self-service/passkeys/sign-in") { request, context in
            let body = try await JSONBody.decode(SignInBody.self, from: request, limit: settings.maxBodyBytes)
            try checkPreSessionCSRF(request)
            let realm = body.realm ?? Realm.defaultID
            let (user, _) = try await refusing {
                try await passkeys.authenticate(
                    ceremonyID: body.ceremonyId, response: body.credential, for: .signIn(realmID: realm), source: context.remoteAddress)
            }
            // Possession (the authenticator) and user verification in one gesture: two factors.
            return try await web.startSession(
                principalID: user.id, secondFactor: .passkey, answering: try JSONResponse.make(RedirectAnswer(redirect: web.area.path)))
        }

        user.get("/self-service/passkeys/new") { request, context in
            try await web.page(context) { signedIn in
                guard stepUp.allows(.addPasskey, session: signedIn.session) else { return try await newPasskeyConfirmPage(signedIn) }
                return passkeyPage(
                    "self-passkey-new", ["csrf": signedIn.csrf], title: "Add a passkey", signedIn: signedIn, current: "/self-service")
            }
        }
        // The form of the confirm page: the step-up first (an approval on a bound device — a passkey
        // answers it on the step-up page — or an SMS code), then back to the page above.
        user.post("/self-service/passkeys/new") { request, context in
            try await web.action(request, context: context) { signedIn, _ in
                if stepUp.allows(.addPasskey, session: signedIn.session) { return web.redirect(to: "/self-service/passkeys/new") }
                _ = try await stepUp.begin(.addPasskey, session: signedIn.session, source: context.remoteAddress)
                return web.redirect(to: "/self-service/step-up")
            }
        }
        user.post("/self-service/passkeys/registration/options") { request, context in
            let body = try await JSONBody.decode(RegistrationOptionsBody.self, from: request, limit: settings.maxBodyBytes)
            try await checkSessionCSRF(request, context)
            guard stepUp.allows(.addPasskey, session: context.signedIn.session) else {
                throw ProblemDetails(
                    .forbidden, "Forbidden", detail: "Confirm it is you first: open “Add a passkey” again to get the confirmation.")
            }
            let started = try await refusing {
                try await passkeys.registrationOptions(
                    userID: context.signedIn.principalID, name: body.name, assurance: .twoFactor, source: context.remoteAddress)
            }
            return try JSONResponse.make(CeremonyAnswer(ceremonyId: started.ceremony.id, publicKey: started.options))
        }
        user.post("/self-service/passkeys/registration") { request, context in
            let body = try await JSONBody.decode(RegistrationBody.self, from: request, limit: settings.maxBodyBytes)
            try await checkSessionCSRF(request, context)
            guard stepUp.allows(.addPasskey, session: context.signedIn.session) else {
                throw ProblemDetails(.forbidden, "Forbidden", detail: "Confirm it is you first.")
            }
            _ = try await refusing {
                try await passkeys.register(
                    userID: context.signedIn.principalID, ceremonyID: body.ceremonyId, otp: nil, response: body.credential,
                    source: context.remoteAddress)
            }
            return try JSONResponse.make(RedirectAnswer(redirect: "/self-service?done=passkey"))
        }

        user.get("/self-service/approvals") { request, context in
            try await web.page(context) { signedIn in
                let now = service.now
                let pending = try await approvals.pending(userID: signedIn.principalID).map { WebFormat.approval($0, at: now) }
                return web.renderer.page(
                    "self-approvals", ["approvals": pending],
                    layout: web.layoutContext(title: "Waiting for your approval", signedIn: signedIn, current: "/self-service/approvals"))
            }
        }
        user.get("/self-service/approvals/{id}") { request, context in
            let id = try context.parameters.require("id")
            return try await web.page(context) { signedIn in try await approvalPage(request, signedIn, id: id) }
        }
        user.post("/self-service/approvals/{id}/reject") { request, context in
            let id = try context.parameters.require("id")
            return try await web.action(request, context: context) { signedIn, _ in
                do {
                    // Rejecting needs no second factor: it only stops something.
                    _ = try await approvals.rejectInBrowser(
                        id: id, userID: signedIn.principalID, reason: "REJECTED_IN_SELF_SERVICE", source: context.remoteAddress)
                } catch ApprovalError.notFound {
                    throw BackOfficeError.notFound
                } catch ApprovalError.state(let status) {
                    throw BackOfficeError.invalidState("it is \(status.rawValue)")
                } catch ApprovalError.validation {
                    // A new device is decided by another device of the user (its key signs the answer).
                    throw BackOfficeError.invalidState("a new device is rejected in the app on one of your devices, or approved here with a passkey")
                }
                return web.redirect(to: "/self-service/approvals/\(id)?done=rejected")
            }
        }
        user.post("/self-service/approvals/{id}/passkey/options") { request, context in
            let id = try context.parameters.require("id")
            _ = try await JSONBody.decode(EmptyBody.self, from: request, limit: settings.maxBodyBytes)
            try await checkSessionCSRF(request, context)
            let (ceremony, options, approval) = try await refusing {
                try await passkeys.approvalOptions(approvalID: id, userID: context.signedIn.principalID)
            }
            return try JSONResponse.make(
                ApprovalCeremonyAnswer(
                    ceremonyId: ceremony.id, data: approval.data, title: approval.title, message: approval.message, publicKey: options))
        }
        user.post("/self-service/approvals/{id}/passkey") { request, context in
            let id = try context.parameters.require("id")
            let body = try await JSONBody.decode(ApprovalBody.self, from: request, limit: settings.maxBodyBytes)
            try await checkSessionCSRF(request, context)
            let approval = try await refusing {
                try await passkeys.approve(
                    approvalID: id, userID: context.signedIn.principalID, ceremonyID: body.ceremonyId, data: body.data, response: body.credential,
                    source: context.remoteAddress)
            }
            // The approval a step-up of this session waits for goes back to the step-up page.
            if context.signedIn.session.stepUp?.id == approval.id { return try JSONResponse.make(RedirectAnswer(redirect: "/self-service/step-up")) }
            return try JSONResponse.make(RedirectAnswer(redirect: "/self-service/approvals/\(approval.id)?done=approved"))
        }
    }

    static func isNewDevice(_ approval: Approval) -> Bool {
        approval.template == ApprovalService.newDeviceTemplate && approval.applicationID == nil
    }

    // MARK: Pages

    /// A page that loads `passkeys.js`: the script in the layout, and the policy that allows it.
    func passkeyPage(
        _ template: String, _ context: [String: Any], title: String, signedIn: WebSignedIn?, current: String?, flash: String? = nil,
        status: HTTPResponse.Status = .ok
    ) -> Response {
        var layout = web.layoutContext(title: title, signedIn: signedIn, current: current, flash: flash)
        layout["script"] = PasskeyScript.versionedPath
        return PasskeyScript.allowingScript(web.renderer.page(template, context, layout: layout, status: status))
    }

    private func newPasskeyConfirmPage(_ signedIn: WebSignedIn) async throws -> Response {
        web.renderer.page(
            "self-passkey-confirm", ["csrf": signedIn.csrf],
            layout: web.layoutContext(title: "Add a passkey", signedIn: signedIn, current: "/self-service"))
    }

    /// One approval of the user: exactly what a passkey signs (`approve:<id>:<data>`), its title
    /// and message; "Approve with a passkey" while it is pending and the user has an ACTIVE
    /// passkey; "Reject" (a plain form) while it is pending.
    private func approvalPage(_ request: Request, _ signedIn: WebSignedIn, id: String) async throws -> Response {
        guard let approval = try await web.store.approval(id: id), approval.userID == signedIn.principalID else {
            throw BackOfficeError.notFound
        }
        let now = service.now
        let status = approval.status(at: now)
        let hasPasskey = try await service.devices(userID: signedIn.principalID, realm: signedIn.realm, includeRemoved: false)
            .contains { $0.device.kind == .passkey && $0.status == .active }
        var context = WebFormat.approval(approval, at: now)
        context["csrf"] = signedIn.csrf
        context["title"] = approval.title ?? ""
        context["message"] = approval.message ?? ""
        context["signed"] = ApprovalService.approvalMessage(id: approval.id, data: approval.data)
        // A new device's approval is rejected by a device (`ApprovalService.reject`), not here.
        context["canReject"] = status == .pending && !Self.isNewDevice(approval)
        context["canUsePasskey"] = status == .pending && hasPasskey
        context["noPasskey"] = status == .pending && !hasPasskey
        let flash: String? =
            switch request.uri.queryParameters.get("done") {
            case "approved": "Approved with your passkey."
            case "rejected": "Rejected."
            default: nil
            }
        return passkeyPage("self-approval", context, title: "Approve", signedIn: signedIn, current: "/self-service/approvals", flash: flash)
    }

    // MARK: Plumbing

    /// The sign-in form's token (`data-csrf` of its passkey button), bound to the pre-session cookie.
    private func checkPreSessionCSRF(_ request: Request) throws {
        guard let preSession = request.cookies[web.area.preSessionCookieName]?.value, !preSession.isEmpty,
            web.webSessions.checkCSRF(request.headers[Self.csrfHeader], for: preSession)
        else { throw Self.csrfRefused }
    }

    /// The session's token, as the forms' `_csrf`; a refusal is audited as theirs is.
    private func checkSessionCSRF(_ request: Request, _ context: SelfServiceContext) async throws {
        guard web.webSessions.checkCSRF(request.headers[Self.csrfHeader], for: context.signedIn.token) else {
            try await web.backOffice.audit(
                actor: web.principalLabel(context.signedIn), action: .webCSRFRefused, subject: nil, source: context.remoteAddress,
                details: ["path": request.uri.path])
            throw Self.csrfRefused
        }
    }

    /// The API's problems for the core's refusals, but a step-up: the page says how to get it.
    static func problem(_ error: PasskeyError) -> ProblemDetails {
        guard error != .stepUpRequired else {
            return ProblemDetails(.forbidden, "Forbidden", detail: "Confirm it is you first, then try again.")
        }
        return PasskeysController.problem(for: error, stepUp: AssuranceRequirement(level: .twoFactor, maxAge: nil))
    }

    static let csrfRefused = ProblemDetails(
        .forbidden, "Forbidden", detail: "This page has expired or the request did not come from this site. Reload the page and try again.")

    /// The core's refusals as problems the script shows (`detail`).
    private func refusing<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PasskeyError {
            throw Self.problem(error)
        } catch let error as ApprovalError {
            throw ProblemDetails.approval(error, what: "approval")
        }
    }
}

// MARK: Bodies and answers

private struct EmptyBody: Decodable {}

private struct SignInOptionsBody: Decodable {
    var realm: String?
}

private struct SignInBody: Decodable {
    var ceremonyId: String
    var credential: AuthenticationResponseJSON
    var realm: String?
}

private struct RegistrationOptionsBody: Decodable {
    var name: String?
}

private struct RegistrationBody: Decodable {
    var ceremonyId: String
    var credential: RegistrationResponseJSON
}

private struct ApprovalBody: Decodable {
    var ceremonyId: String
    var data: String
    var credential: AuthenticationResponseJSON
}

/// The options of a ceremony, for `navigator.credentials.create/get`.
struct CeremonyAnswer<Options: Encodable>: Encodable {
    var ceremonyId: String
    var publicKey: Options
}

private struct ApprovalCeremonyAnswer<Options: Encodable>: Encodable {
    var ceremonyId: String
    var data: String
    var title: String?
    var message: String?
    var publicKey: Options
}

/// Where the script sends the browser next.
struct RedirectAnswer: Encodable {
    var redirect: String
}
