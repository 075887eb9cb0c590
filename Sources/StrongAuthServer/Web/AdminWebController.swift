import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import StrongAuthCore
import StrongAuthStore

/// The operators' back office under `/admin`: server-rendered pages, every change a CSRF-checked
/// form post, every action audited with the operator as actor.
struct AdminWebController: Sendable {
    let web: WebPages
    let service: BackOfficeService
    let operators: OperatorService
    /// User names for the device pages.
    let store: SQLStore
    /// Seals the audit log's paging cursor.
    let masterKey: MasterKey
    let rateLimiter: RateLimiter
    /// The admin login's rate limits.
    let settings: ServerSettings

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/admin/assets/app.css") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/css; charset=utf-8"
            headers[.cacheControl] = "public, max-age=3600"
            headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: WebStyles.css)))
        }
        router.get("/admin/login") { request, _ in
            if try await web.signedIn(request) != nil { return web.redirect(to: "/admin") }
            return web.loginPage("admin-login")
        }
        // bcrypt per try, unauthenticated: the `admin-login` bucket per address.
        router.group().add(
            middleware: RateLimitMiddleware(
                bucket: "admin-login", face: .problem, limiter: rateLimiter, settings: settings.rateLimits)
        ).post("/admin/login") { request, context in try await signIn(request, context: context) }
        // Everything else needs an operator session: `OperatorContext`.
        let admin = router.group().add(middleware: WebSessionMiddleware(web: web)).group(context: OperatorContext.self)
        admin.post("/admin/logout") { request, context in
            try await web.action(request, context: context) { signedIn, _ in
                try await service.audit(actor: web.principalLabel(signedIn), action: .operatorSignOut, subject: nil, source: context.remoteAddress)
                return try await web.endSession(signedIn)
            }
        }
        admin.get("/admin") { request, context in try await web.page(context) { try await dashboard(request, $0) } }
        admin.get("/admin/users") { request, context in try await web.page(context) { try await users(request, $0) } }
        admin.get("/admin/users/{id}") { request, context in
            try await web.page(context) { try await user(request, $0, id: try context.parameters.require("id")) }
        }
        admin.post("/admin/users/{id}/unlock") { request, context in
            let id = try context.parameters.require("id")
            return try await web.action(request, context: context) { signedIn, _ in
                try await service.unlockUser(id: id, realm: signedIn.realm, actor: web.principalLabel(signedIn), source: context.remoteAddress)
                return web.redirect(to: "/admin/users/\(id)?done=unlocked")
            }
        }
        admin.get("/admin/devices") { request, context in try await web.page(context) { try await devices(request, $0) } }
        admin.get("/admin/devices/{id}") { request, context in
            try await web.page(context) { try await device(request, $0, id: try context.parameters.require("id")) }
        }
        for verb in ["block", "unblock", "remove"] {
            admin.post("/admin/devices/{id}/\(verb)") { request, context in
                let id = try context.parameters.require("id")
                return try await web.action(request, context: context) { signedIn, form in
                    let actor = web.principalLabel(signedIn)
                    switch verb {
                    case "block":
                        try await service.blockDevice(
                            id: id, realm: signedIn.realm, reason: form["reason"] ?? "", actor: actor, source: context.remoteAddress)
                        return web.redirect(to: "/admin/devices/\(id)?done=blocked")
                    case "unblock":
                        try await service.unblockDevice(id: id, realm: signedIn.realm, actor: actor, source: context.remoteAddress)
                        return web.redirect(to: "/admin/devices/\(id)?done=unblocked")
                    default:
                        try await service.removeDevice(id: id, realm: signedIn.realm, actor: actor, source: context.remoteAddress)
                        return web.redirect(to: "/admin/devices/\(id)?done=removed")
                    }
                }
            }
        }
        admin.get("/admin/registrations/new") { request, context in try await web.page(context) { try await newRegistration(request, $0) } }
        admin.post("/admin/registrations") { request, context in
            try await web.action(request, context: context) { signedIn, form in
                let registration = try await service.createRegistration(
                    externalUserID: form["userId"] ?? "", applicationID: form["applicationId"] ?? "", realm: signedIn.realm,
                    actor: web.principalLabel(signedIn),
                    source: context.remoteAddress)
                return web.redirect(to: "/admin/devices/\(registration.id)?done=created")
            }
        }
        admin.get("/admin/approvals") { request, context in try await web.page(context) { try await approvals(request, $0) } }
        admin.get("/admin/approvals/{id}") { request, context in
            try await web.page(context) { try await approval(request, $0, id: try context.parameters.require("id")) }
        }
        admin.get("/admin/webhooks") { request, context in try await web.page(context) { try await webhooks(request, $0) } }
        admin.post("/admin/webhooks/{id}/retry") { request, context in
            let id = try context.parameters.require("id")
            return try await web.action(request, context: context) { signedIn, _ in
                try await service.retryDelivery(id: id, realm: signedIn.realm, actor: web.principalLabel(signedIn), source: context.remoteAddress)
                return web.redirect(to: "/admin/webhooks?done=retried")
            }
        }
        admin.get("/admin/audit") { request, context in try await web.page(context) { try await audit(request, $0) } }
    }

    // MARK: Sign-in

    private func signIn(_ request: Request, context: AppRequestContext) async throws -> Response {
        guard let form = try await web.loginForm(request, context: context) else {
            return web.loginPage("admin-login", error: "The sign-in form expired. Please try again.", status: .forbidden)
        }
        let username = form["username"] ?? ""
        do {
            let signedIn = try await operators.signIn(
                username: username, password: form["password"] ?? "", code: form["totp"] ?? "", source: context.remoteAddress)
            return try await web.startSession(principalID: signedIn.id)
        } catch OperatorSignInError.invalidCredentials {
            return web.loginPage(
                "admin-login", username: username,
                error: "Username, password or code is wrong, or the account is locked for a while after too many attempts.",
                status: .unauthorized)
        }
    }

    // MARK: Pages

    private func layout(_ title: String, _ signedIn: WebSignedIn, _ current: String, _ request: Request) -> [String: Any] {
        web.layoutContext(title: title, signedIn: signedIn, current: current, flash: WebPages.flash(request))
    }

    private func dashboard(_ request: Request, _ signedIn: WebSignedIn) async throws -> Response {
        let counts = try await service.counts(realm: signedIn.realm)
        let failures = try await service.recentFailures(realm: signedIn.realm)
        let context: [String: Any] = [
            "users": counts.users, "active": counts.devicesByStatus["ACTIVE"] ?? 0, "blocked": counts.devicesByStatus["BLOCKED"] ?? 0,
            "waiting": (counts.devicesByStatus["CREATED"] ?? 0) + (counts.devicesByStatus["PENDING_COMMIT"] ?? 0),
            "pendingApprovals": counts.pendingApprovals, "deadWebhooks": counts.webhooksByStatus["dead"] ?? 0,
            "failures": rows(failures, signedIn),
        ]
        return web.renderer.page("admin-dashboard", context, layout: layout("Dashboard", signedIn, "/admin", request))
    }

    private func users(_ request: Request, _ signedIn: WebSignedIn) async throws -> Response {
        let query = request.uri.queryParameters.get("q") ?? ""
        let now = service.now
        let found = try await service.searchUsers(query, realm: signedIn.realm)
        let context: [String: Any] = [
            "query": query,
            "users": found.map {
                [
                    "id": $0.id, "username": $0.username, "status": $0.status.rawValue, "locked": $0.isLocked(at: now),
                    "created": WebFormat.time($0.createdAt),
                ]
                    as [String: Any]
            },
        ]
        return web.renderer.page("admin-users", context, layout: layout("Users", signedIn, "/admin/users", request))
    }

    private func user(_ request: Request, _ signedIn: WebSignedIn, id: String) async throws -> Response {
        let user = try await service.user(id: id, realm: signedIn.realm)
        let now = service.now
        let devices = try await service.devices(userID: id, realm: signedIn.realm, includeRemoved: true)
        let context: [String: Any] = [
            "id": user.id, "username": user.username, "status": user.status.rawValue, "phone": user.phone ?? "—", "email": user.email ?? "—",
            "passwordLocked": user.isLocked(at: now) ? WebFormat.time(user.lockedUntil) : false,
            "bindingLocked": (user.bindingLockedUntil.map { $0 > now } ?? false) ? WebFormat.time(user.bindingLockedUntil) : false,
            "failedAttempts": user.failedLoginAttempts, "created": WebFormat.time(user.createdAt), "csrf": signedIn.csrf,
            "devices": devices.map { WebFormat.device($0, href: "/admin/devices/\($0.device.id)") },
            "approvals": try await service.approvals(realm: signedIn.realm, userID: id, limit: 20).map { WebFormat.approval($0, at: now) },
            "events": rows(try await service.auditEvents(realm: signedIn.realm, subject: "user:\(id)", limit: 20), signedIn),
        ]
        return web.renderer.page("admin-user", context, layout: layout("User \(user.username)", signedIn, "/admin/users", request))
    }

    private func devices(_ request: Request, _ signedIn: WebSignedIn) async throws -> Response {
        let selected = request.uri.queryParameters.get("status").flatMap { Device.Status(rawValue: $0) }
        let devices = try await service.recentDevices(realm: signedIn.realm, status: selected)
        var names: [String: String] = [:]
        for userID in Set(devices.map(\.device.userID)) { names[userID] = try await store.user(id: userID)?.username }
        let statuses: [[String: Any]] =
            [["value": "", "label": "Any status", "selected": selected == nil]]
            + [Device.Status.created, .pendingCommit, .active, .blocked, .removed].map {
                ["value": $0.rawValue, "label": $0.rawValue, "selected": $0 == selected]
            }
        let context: [String: Any] = [
            "statuses": statuses, "showUser": true,
            "devices": devices.map { WebFormat.device($0, href: "/admin/devices/\($0.device.id)", userLabel: names[$0.device.userID] ?? nil) },
        ]
        return web.renderer.page("admin-devices", context, layout: layout("Devices", signedIn, "/admin/devices", request))
    }

    private func device(_ request: Request, _ signedIn: WebSignedIn, id: String) async throws -> Response {
        let overview = try await service.device(id: id, realm: signedIn.realm)
        let owner = try await store.user(id: overview.device.userID)
        var context = WebFormat.device(overview, href: "/admin/devices/\(id)", userLabel: owner?.username)
        context["kindName"] = overview.registration == nil ? "Device" : "Registration"
        context["csrf"] = signedIn.csrf
        context["actionBase"] = "/admin/devices/\(id)"
        context["reasons"] = ["NOT_SPECIFIED", "DEVICE_LOST", "DEVICE_STOLEN", "FRAUD_SUSPECTED", "USER_REQUEST"]
        context["events"] = rows(try await service.auditEvents(realm: signedIn.realm, subject: "device:\(id)", limit: 50).reversed(), signedIn)
        if let registration = overview.registration {
            context["application"] = registration.activation.applicationID
            context["platform"] = registration.activation.platform ?? false
            context["deviceInfo"] = registration.activation.deviceInfo ?? ""
            context["failures"] =
                overview.status == .created ? false : "\(registration.counter.failedAttempts) of \(registration.counter.maxFailedAttempts)"
            if let activation = WebFormat.activation(registration, status: overview.status, refresh: "/admin/devices/\(id)") {
                context["activation"] = activation
            }
        }
        return web.renderer.page("admin-device", context, layout: layout("Device", signedIn, "/admin/devices", request))
    }

    private func newRegistration(_ request: Request, _ signedIn: WebSignedIn) async throws -> Response {
        let applications = try await service.applications(realm: signedIn.realm)
        let context: [String: Any] = [
            "csrf": signedIn.csrf, "userId": request.uri.queryParameters.get("userId") ?? "", "noApplications": applications.isEmpty,
            "applications": applications.map { ["id": $0.id, "name": $0.name] },
        ]
        return web.renderer.page(
            "admin-new-registration", context, layout: layout("New registration", signedIn, "/admin/registrations/new", request))
    }

    private func approvals(_ request: Request, _ signedIn: WebSignedIn) async throws -> Response {
        let now = service.now
        let context: [String: Any] = ["approvals": try await service.approvals(realm: signedIn.realm).map { WebFormat.approval($0, at: now) }]
        return web.renderer.page("admin-approvals", context, layout: layout("Approvals", signedIn, "/admin/approvals", request))
    }

    private func approval(_ request: Request, _ signedIn: WebSignedIn, id: String) async throws -> Response {
        let approval = try await service.approval(id: id, realm: signedIn.realm)
        var context = WebFormat.approval(approval, at: service.now)
        context["kindName"] = approval.kind == .operation ? "Operation" : "Action request"
        context["userID"] = approval.userID
        context["externalUserID"] = approval.externalUserID
        context["ownerKind"] = approval.kind == .operation ? "Application" : "Client"
        context["owner"] = approval.applicationID ?? approval.clientID ?? "—"
        context["template"] = approval.template
        context["failureCount"] = approval.failureCount
        context["maxFailureCount"] = approval.maxFailureCount
        if let reason = approval.statusReason { context["statusReason"] = reason }
        context["events"] = rows(try await service.auditEvents(realm: signedIn.realm, subject: "approval:\(id)", limit: 50).reversed(), signedIn)
        return web.renderer.page("admin-approval", context, layout: layout("Approval", signedIn, "/admin/approvals", request))
    }

    private func webhooks(_ request: Request, _ signedIn: WebSignedIn) async throws -> Response {
        let deliveries = try await service.deliveries(realm: signedIn.realm)
        let context: [String: Any] = [
            "deliveries": deliveries.map { delivery -> [String: Any] in
                var answer = delivery.lastResponseStatus.map { "HTTP \($0)" } ?? "—"
                if let error = delivery.lastError { answer += " · \(error.prefix(120))" }
                return [
                    "id": delivery.id, "created": WebFormat.time(delivery.createdAt), "eventType": delivery.eventType, "url": delivery.url,
                    "subscriber": delivery.subscriber.description, "status": delivery.status.rawValue, "attempts": delivery.attempts,
                    "lastAnswer": answer, "dead": delivery.status == .dead, "csrf": signedIn.csrf,
                ]
            }
        ]
        return web.renderer.page("admin-webhooks", context, layout: layout("Webhooks", signedIn, "/admin/webhooks", request))
    }

    /// Audit events as the pages show them. The chain numbers every event of the installation,
    /// so only the default realm's operators (who are told the chain's length anyway) see those
    /// numbers: another realm's operator shown #120 and #127 would learn that six events of other
    /// realms happened in between.
    private func rows(_ events: some Sequence<AuditEvent>, _ signedIn: WebSignedIn) -> [[String: Any]] {
        events.map { event in
            var row = WebFormat.event(event)
            if signedIn.realm != Realm.defaultID { row["sequence"] = "" }
            return row
        }
    }

    static let auditCursorPurpose = "admin-audit-cursor"

    /// The "Older events" link's cursor: the last shown event's sequence number, sealed under the
    /// master key for the operator's realm (base64url), so that the link does not tell the
    /// chain's numbers either, and works in no other realm.
    private func cursor(before sequence: Int64, _ signedIn: WebSignedIn) throws -> String {
        try masterKey.seal(Array(String(sequence).utf8), purpose: Self.auditCursorPurpose, associatedData: signedIn.realm)
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// The sequence number a cursor of this realm seals; `nil` (the newest page) for anything else.
    private func sequence(ofCursor cursor: String?, _ signedIn: WebSignedIn) -> Int64? {
        guard let cursor, (1...256).contains(cursor.utf8.count) else { return nil }
        var base64 = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.utf8.count % 4) % 4)
        guard let opened = try? masterKey.open(base64, purpose: Self.auditCursorPurpose, associatedData: signedIn.realm)
        else { return nil }
        return Int64(String(decoding: opened, as: UTF8.self))
    }

    private func audit(_ request: Request, _ signedIn: WebSignedIn) async throws -> Response {
        let before = sequence(ofCursor: request.uri.queryParameters.get("before"), signedIn)
        let events = try await service.auditEvents(realm: signedIn.realm, before: before, limit: 50)
        var context: [String: Any] = ["events": rows(events, signedIn)]
        // Failed authentications still being counted: each row becomes one chained record with
        // its count when its window is over.
        context["failureWindows"] = try await service.openFailureWindows(realm: signedIn.realm).map { count in
            [
                "window": "\(WebFormat.time(count.windowStart)) – \(WebFormat.time(count.windowEnd))", "action": count.action.rawValue,
                "actor": count.actor, "subject": count.subject ?? "", "source": count.sourceAddress ?? "", "reason": count.reason,
                "count": String(count.count), "lastSeen": WebFormat.time(count.lastSeen),
            ] as [String: Any]
        }
        if let last = events.last, last.sequence > 1, events.count == 50 { context["older"] = try cursor(before: last.sequence, signedIn) }
        if request.uri.queryParameters.get("verify") == "1" {
            // The chain is one for the installation: only the default realm's operators are told
            // its numbers (how many events it holds, where it breaks); another realm's operators
            // are told their own events' count and position, never other realms' (docs/security-model.md).
            if signedIn.realm == Realm.defaultID {
                switch try await service.verifyAuditChain() {
                case .intact(let count):
                    context["verification"] = ["class": "flash", "text": "Intact: all \(count) events verify, each linked to the one before."]
                case .broken(let sequence, let reason):
                    context["verification"] = ["class": "error", "text": "Broken at event \(sequence): \(reason)."]
                }
            } else {
                switch try await service.verifyAuditChain(realm: signedIn.realm) {
                case .intact(let count):
                    context["verification"] = [
                        "class": "flash", "text": "Intact: every event verifies, each linked to the one before (\(count) of them this realm's).",
                    ]
                case .brokenAtRealmEvent(let position, let occurredAt, let reason):
                    context["verification"] = [
                        "class": "error",
                        "text":
                            "Broken at this realm's event \(position) (counted from its first, recorded \(WebFormat.time(occurredAt))): \(reason).",
                    ]
                case .brokenOutsideRealm:
                    context["verification"] = [
                        "class": "error",
                        "text": "Broken outside this realm's records: the installation's chain does not verify, so this realm's "
                            + "later records are not proven either. The installation's operator locates the break (strongauth audit verify).",
                    ]
                }
            }
            try await service.audit(actor: web.principalLabel(signedIn), action: .auditVerified, subject: nil, source: nil)
        }
        return web.renderer.page("admin-audit", context, layout: layout("Audit log", signedIn, "/admin/audit", request))
    }
}
