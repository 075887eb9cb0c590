import Foundation
import HTTPTypes
import Hummingbird
import StrongAuthCore

/// The end users' self-service under `/self-service` (PowerAuth Cloud REST API, "Implement Mobile Device
/// Self-Service"): their own devices with last use, block, remove, activating a new one with a
/// QR code, and what waits for their approval; and their account (docs/security-model.md): delete it, change
/// the password or the phone number. Every device is looked up with the signed-in user as
/// owner, so another user's device reads as absent.
struct SelfServiceWebController: Sendable {
    let web: WebPages
    let service: BackOfficeService
    let stepUp: StepUpService
    let account: AccountService
    let rateLimiter: RateLimiter
    /// The self-service login's rate limits.
    let settings: ServerSettings
    /// Sign-in, adding and approving with passkeys (`SelfServicePasskeys`).
    let passkeys: PasskeyService
    let approvals: ApprovalService

    func addRoutes(to router: Router<AppRequestContext>) {
        // `/self-service/login?realm=ID` signs in a user of realm ID; without it, of the default
        // realm. An unknown realm answers as a wrong password does.
        router.get("/self-service/login") { request, _ in
            if try await web.signedIn(request) != nil { return web.redirect(to: "/self-service") }
            return web.loginPage(
                "self-login", realm: request.uri.queryParameters["realm"].map(String.init), flash: WebPages.flash(request))
        }
        // bcrypt per try, unauthenticated: the `self-service-login` bucket per address (not the
        // back office's: a flood of one form does not lock the other's users out).
        router.group().add(
            middleware: RateLimitMiddleware(
                bucket: "self-service-login", face: .problem, limiter: rateLimiter, settings: settings.rateLimits)
        ).post("/self-service/login") { request, context in
            guard let form = try await web.loginForm(request, context: context) else {
                return web.loginPage("self-login", error: "The sign-in form expired. Please try again.", status: .forbidden)
            }
            let username = form["username"] ?? ""
            let realm = form["realm"] ?? Realm.defaultID
            do {
                let user = try await service.signInUser(
                    realm: realm, username: username, password: form["password"] ?? "", source: context.remoteAddress)
                return try await web.startSession(principalID: user.id)
            } catch OperatorSignInError.invalidCredentials {
                return web.loginPage(
                    "self-login", username: username, realm: realm,
                    error: "Username or password is wrong, or the account is locked for a while.", status: .unauthorized)
            }
        }
        // Everything else needs a user session: `SelfServiceContext`.
        let user = router.group().add(middleware: WebSessionMiddleware(web: web)).group(context: SelfServiceContext.self)
        user.post("/self-service/logout") { request, context in
            try await web.action(request, context: context) { signedIn, _ in try await web.endSession(signedIn) }
        }
        user.get("/self-service") { request, context in try await web.page(context) { try await home(request, $0) } }
        user.get("/self-service/devices/{id}") { request, context in
            let id = try context.parameters.require("id")
            return try await web.page(context) { try await device(request, $0, id: id) }
        }
        user.post("/self-service/devices") { request, context in
            try await web.action(request, context: context) { signedIn, form in
                let applications = try await service.applications(realm: signedIn.realm)
                let chosen = form["applicationId"] ?? applications.first?.id ?? ""
                guard applications.contains(where: { $0.id == chosen }) else {
                    throw BackOfficeError.validation(field: "applicationId", message: "no such active application")
                }
                return try await sensitive(.activateDevice(applicationID: chosen), signedIn, source: context.remoteAddress)
            }
        }
        user.get("/self-service/step-up") { request, context in try await web.page(context) { try await stepUpPage($0) } }
        user.post("/self-service/step-up/continue") { request, context in
            try await web.action(request, context: context) { signedIn, _ in
                do {
                    let action = try await stepUp.completeApproval(session: signedIn.session, source: context.remoteAddress)
                    return try await perform(action, signedIn, source: context.remoteAddress)
                } catch StepUpError.pending {
                    return try await stepUpPage(signedIn, error: "The request is not approved yet.", status: .conflict)
                }
            }
        }
        user.post("/self-service/step-up/otp") { request, context in
            try await web.action(request, context: context) { signedIn, form in
                do {
                    let action = try await stepUp.verifyOTP(session: signedIn.session, code: form["otp"] ?? "", source: context.remoteAddress)
                    return try await perform(action, signedIn, source: context.remoteAddress)
                } catch StepUpError.wrongCode(let remaining) {
                    return try await stepUpPage(
                        signedIn, error: "That code is wrong. \(remaining) more \(remaining == 1 ? "try" : "tries") with this code.",
                        status: .unauthorized)
                }
            }
        }
        user.post("/self-service/devices/{id}/block") { request, context in
            let id = try context.parameters.require("id")
            return try await web.action(request, context: context) { signedIn, form in
                try await service.blockDevice(
                    id: id, realm: signedIn.realm, reason: form["reason"] ?? "USER_REQUEST", owner: signedIn.principalID,
                    actor: web.principalLabel(signedIn),
                    source: context.remoteAddress)
                return web.redirect(to: "/self-service?done=blocked")
            }
        }
        user.post("/self-service/devices/{id}/remove") { request, context in
            let id = try context.parameters.require("id")
            return try await web.action(request, context: context) { signedIn, _ in
                // Another user's device reads as absent before any step-up is started for it.
                let overview = try await service.device(id: id, realm: signedIn.realm, owner: signedIn.principalID)
                guard DeviceAction.remove.allows(from: overview.status) else {
                    throw BackOfficeError.invalidState("the device is \(overview.status.rawValue)")
                }
                return try await sensitive(.removeDevice(id: id), signedIn, source: context.remoteAddress)
            }
        }
        addAccountRoutes(to: user)
        SelfServicePasskeys(
            web: web, passkeys: passkeys, service: service, stepUp: stepUp, approvals: approvals, rateLimiter: rateLimiter, settings: settings
        ).addRoutes(to: router, signedIn: user)
    }

    /// The account page and its three sensitive forms. Each needs a recent second factor
    /// (`AssurancePolicy`: delete account, change phone number, change password); on a one-factor
    /// session each starts the step-up first.
    private func addAccountRoutes(to router: RouterGroup<SelfServiceContext>) {
        router.get("/self-service/account") { request, context in try await web.page(context) { try await accountPage(request, $0) } }
        router.post("/self-service/account/delete") { request, context in
            try await web.action(request, context: context) { signedIn, _ in
                try await sensitive(.deleteAccount, signedIn, source: context.remoteAddress)
            }
        }
        router.post("/self-service/account/phone") { request, context in
            try await web.action(request, context: context) { signedIn, form in
                // Validated before any step-up: the approval (or SMS) names the number it confirms.
                let phone = (form["phone"] ?? "").trimmingCharacters(in: .whitespaces)
                do {
                    try Validate.e164Phone(phone)
                } catch let error as ValidationError {
                    return try await accountPage(nil, signedIn, error: "Phone number: \(error.message).", status: .badRequest)
                }
                return try await sensitive(.changePhoneNumber(phone), signedIn, source: context.remoteAddress)
            }
        }
        router.post("/self-service/account/password") { request, context in
            try await web.action(request, context: context) { signedIn, form in
                // The step-up comes first and the passwords after it, on the two-factor session:
                // the new password never waits in the session row for an approval.
                guard stepUp.allows(.changePassword, session: signedIn.session) else {
                    _ = try await stepUp.begin(.changePassword, session: signedIn.session, source: context.remoteAddress)
                    return web.redirect(to: "/self-service/step-up")
                }
                let new = form["new"] ?? ""
                guard new == form["repeat"] else {
                    return try await accountPage(nil, signedIn, error: "The new passwords do not match.", status: .badRequest)
                }
                do {
                    try await account.changePassword(
                        userID: signedIn.principalID, current: form["current"] ?? "", new: new, keepingWebSession: signedIn.session.tokenHash,
                        source: context.remoteAddress)
                } catch AccountError.wrongPassword {
                    return try await accountPage(
                        nil, signedIn, error: "Your current password is wrong, or it is locked for a while.", status: .unauthorized)
                } catch let error as ValidationError {
                    return try await accountPage(nil, signedIn, error: "New password: \(error.message).", status: .badRequest)
                }
                return web.redirect(to: "/self-service/account?done=password")
            }
        }
    }

    /// Does `action` at once on a session with a recent second factor, else starts the step-up
    /// and shows its page (a new device always gets a step-up of its own: see `StepUpService`).
    private func sensitive(_ action: SelfServiceAction, _ signedIn: WebSignedIn, source: String?) async throws -> Response {
        if stepUp.allows(action, session: signedIn.session) { return try await perform(action, signedIn, source: source) }
        _ = try await stepUp.begin(action, session: signedIn.session, source: source)
        return web.redirect(to: "/self-service/step-up")
    }

    /// The action a completed step-up (or a two-factor session) was for.
    private func perform(_ action: SelfServiceAction, _ signedIn: WebSignedIn, source: String?) async throws -> Response {
        switch action {
        case .activateDevice(let applicationID):
            let user = try await service.user(id: signedIn.principalID, realm: signedIn.realm)
            let registration = try await service.createRegistration(
                externalUserID: user.username, applicationID: applicationID, realm: signedIn.realm, actor: web.principalLabel(signedIn),
                source: source)
            return web.redirect(to: "/self-service/devices/\(registration.id)?done=created")
        case .removeDevice(let id):
            try await service.removeDevice(
                id: id, realm: signedIn.realm, owner: signedIn.principalID, actor: web.principalLabel(signedIn), source: source)
            return web.redirect(to: "/self-service?done=removed")
        case .deleteAccount:
            try await account.deleteAccount(userID: signedIn.principalID, source: source)
            // The store ended every session of the user, this one included: the cookie goes too.
            var response = web.redirect(to: "/self-service/login?done=deleted")
            response.setCookie(web.cookie(WebArea.selfService.cookieName, "", maxAge: 0))
            return response
        case .changePassword:
            // The step-up only allowed it: the passwords are asked for now, on the raised session.
            return web.redirect(to: "/self-service/account?done=confirmed")
        case .changePhoneNumber(let number):
            do {
                try await account.changePhone(userID: signedIn.principalID, to: number, source: source)
            } catch let error as ValidationError {
                return try await accountPage(nil, signedIn, error: "Phone number: \(error.message).", status: .badRequest)
            }
            return web.redirect(to: "/self-service/account?done=phone")
        case .addPasskey:
            // Like the password: the step-up only allowed it; the passkey is made on its page now.
            return web.redirect(to: "/self-service/passkeys/new")
        }
    }

    private func accountPage(
        _ request: Request?, _ signedIn: WebSignedIn, error: String? = nil, status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let user = try await service.user(id: signedIn.principalID, realm: signedIn.realm)
        let context: [String: Any] = [
            "csrf": signedIn.csrf, "phone": user.phone.map(AccountService.mask) ?? "", "hasPhone": user.phone != nil,
            "canChangePassword": stepUp.allows(.changePassword, session: signedIn.session),
        ]
        var layout = web.layoutContext(
            title: "Your account", signedIn: signedIn, current: "/self-service/account", flash: request.flatMap(WebPages.flash))
        if let error { layout["error"] = error }
        return web.renderer.page("self-account", context, layout: layout, status: status)
    }

    private func stepUpPage(_ signedIn: WebSignedIn, error: String? = nil, status: HTTPResponse.Status = .ok) async throws -> Response {
        guard let pending = signedIn.session.stepUp, let action = SelfServiceAction(name: pending.action, target: pending.target) else {
            return web.redirect(to: "/self-service")
        }
        let now = service.now
        var context: [String: Any] = ["csrf": signedIn.csrf, "actionText": action.text, "expires": WebFormat.time(pending.expiresAt)]
        var refresh: Int?
        var withPasskey = false
        switch pending.method {
        case .approval:
            guard let approval = try await stepUp.approval(of: signedIn.session) else { return web.redirect(to: "/self-service") }
            let approvalStatus = approval.status(at: now)
            let active = try await service.devices(userID: signedIn.principalID, realm: signedIn.realm, includeRemoved: false)
                .filter { $0.status == .active }
            let names = active.map { WebFormat.label(of: $0) }
            var section: [String: Any] = [
                "status": approvalStatus.rawValue, "pending": approvalStatus == .pending, "approved": approvalStatus == .approved,
                "ended": approvalStatus != .pending && approvalStatus != .approved,
                "devices": names.isEmpty ? "your device" : names.joined(separator: ", "),
            ]
            // A passkey answers the approval here, with the page's script; the page then does not
            // reload itself (a reload would cancel the passkey prompt): "check now" stays.
            withPasskey = approvalStatus == .pending && active.contains { $0.device.kind == .passkey }
            if withPasskey {
                section["passkeyApproval"] = ["approvalID": approval.id, "approvalData": approval.data, "csrf": signedIn.csrf]
            } else if approvalStatus == .pending {
                refresh = 3
            }
            context["approval"] = section
        case .smsOTP:
            let phone = try await service.user(id: signedIn.principalID, realm: signedIn.realm).phone ?? ""
            context["sms"] = ["phone": phone.count > 4 ? String(repeating: "•", count: phone.count - 4) + phone.suffix(4) : phone]
        case .passkey:
            // Never a step-up a session waits for (see `StepUpMethod.passkey`).
            return web.redirect(to: "/self-service")
        }
        var layout = web.layoutContext(title: "Confirm it is you", signedIn: signedIn, current: "/self-service")
        if let error { layout["error"] = error }
        if let refresh, error == nil { layout["refreshSeconds"] = refresh }
        guard withPasskey else { return web.renderer.page("self-step-up", context, layout: layout, status: status) }
        layout["script"] = PasskeyScript.versionedPath
        return PasskeyScript.allowingScript(web.renderer.page("self-step-up", context, layout: layout, status: status))
    }

    private func home(_ request: Request, _ signedIn: WebSignedIn) async throws -> Response {
        let now = service.now
        let devices = try await service.devices(userID: signedIn.principalID, realm: signedIn.realm, includeRemoved: false)
        let applications = try await service.applications(realm: signedIn.realm)
        let context: [String: Any] = [
            "csrf": signedIn.csrf,
            "devices": devices.map { device -> [String: Any] in
                var row = WebFormat.device(device, href: "/self-service/devices/\(device.device.id)")
                row["csrf"] = signedIn.csrf
                return row
            },
            "hasApplications": !applications.isEmpty, "chooseApplication": applications.count > 1,
            "applications": applications.map { ["id": $0.id, "name": $0.name] },
            "approvals": try await service.pendingApprovals(userID: signedIn.principalID).map { WebFormat.approval($0, at: now) },
        ]
        return web.renderer.page(
            "self-home", context,
            layout: web.layoutContext(title: "Your devices", signedIn: signedIn, current: "/self-service", flash: WebPages.flash(request)))
    }

    private func device(_ request: Request, _ signedIn: WebSignedIn, id: String) async throws -> Response {
        let overview = try await service.device(id: id, realm: signedIn.realm, owner: signedIn.principalID)
        var context = WebFormat.device(overview, href: "/self-service/devices/\(id)")
        context["csrf"] = signedIn.csrf
        if let activation = WebFormat.activation(overview.registration, status: overview.status, refresh: "/self-service/devices/\(id)") {
            context["activation"] = activation
        }
        return web.renderer.page(
            "self-device", context,
            layout: web.layoutContext(title: "Device", signedIn: signedIn, current: "/self-service", flash: WebPages.flash(request)))
    }
}
