import Foundation
import HTTPTypes
import Hummingbird
import StrongAuthAPI
import StrongAuthCore
import StrongAuthProtocol
import StrongAuthStore

/// Passkeys for apps (docs/passkeys.md), beside the Kontist devices face: WebAuthn registration
/// and authentication ceremonies in their JSON forms, and approvals with dynamic linking. User
/// token; RFC 9457 problems. The assurance rules are the core's (`PasskeyService`): adding a
/// passkey while a device is bound needs fresh two factors (the RFC 9470 step-up refusal
/// otherwise); a first passkey with a password token costs an SMS OTP.
struct PasskeysController {
    let passkeys: PasskeyService
    let tokens: TokenService
    /// Client lookups (step-up tokens go to the client the user token came from).
    let store: SQLStore
    let settings: ServerSettings
    let rateLimiter: RateLimiter
    let time: any TimeSource

    func addRoutes(to router: Router<AppRequestContext>) {
        // Every route answers a ceremony or starts one that sends an SMS: the `device` bucket.
        let face = router.group()
            .add(middleware: RateLimitMiddleware(bucket: "device", face: .problem, limiter: rateLimiter, settings: settings.rateLimits))
            .add(
                middleware: UserTokenMiddleware(
                    tokens: tokens, policy: settings.assurance, time: time,
                    wrongKind: "Passkeys belong to users: this needs a user token (password grant).")
            )
            .group(context: UserTokenContext.self)
        face.post("/api/user/passkeys/registration/options", use: registrationOptions)
        face.post("/api/user/passkeys/registration", use: register)
        face.post("/api/user/passkeys/authentication/options", use: authenticationOptions)
        face.post("/api/user/passkeys/authentication", use: authenticate)
        face.post("/api/user/approvals/:approvalId/passkey/options", use: approvalOptions)
        face.post("/api/user/approvals/:approvalId/passkey", use: approve)
    }

    // MARK: Wire types (the WebAuthn members are StrongAuthProtocol's JSON forms)

    struct RegistrationOptionsRequest: Decodable {
        var name: String?
    }

    struct RegistrationOptions: Encodable {
        var ceremonyId: String
        /// The registration needs `otp`: the SMS code sent for a first passkey.
        var otpRequired: Bool
        var publicKey: PublicKeyCredentialCreationOptionsJSON
    }

    struct RegistrationRequest: Decodable {
        var ceremonyId: String
        var otp: String?
        var credential: RegistrationResponseJSON
    }

    struct AuthenticationOptions: Encodable {
        var ceremonyId: String
        var publicKey: PublicKeyCredentialRequestOptionsJSON
    }

    struct AuthenticationRequest: Decodable {
        var ceremonyId: String
        var credential: AuthenticationResponseJSON
    }

    struct ApprovalOptions: Encodable {
        var ceremonyId: String
        /// Exactly what the assertion approves: its challenge is SHA-256(`approve:<id>:<data>` ‖ nonce).
        var data: String
        var title: String?
        var message: String?
        var publicKey: PublicKeyCredentialRequestOptionsJSON
    }

    struct ApprovalRequest: Decodable {
        var ceremonyId: String
        /// The data the page showed (and the assertion signed).
        var data: String
        var credential: AuthenticationResponseJSON
    }

    // MARK: Routes

    @Sendable func registrationOptions(_ request: Request, context: UserTokenContext) async throws -> Response {
        let body = try await JSONBody.decode(RegistrationOptionsRequest.self, from: request, limit: settings.maxBodyBytes)
        let requirement = context.token.policy.freshTwoFactor
        let fresh = requirement.isSatisfied(acr: context.acr, authTime: context.authTime, now: context.token.verifiedAt)
        let started = try await mapped(requirement) {
            try await passkeys.registrationOptions(
                userID: context.userID, name: body.name, assurance: fresh ? .twoFactor : .oneFactor, source: context.remoteAddress)
        }
        return try JSONResponse.make(
            RegistrationOptions(ceremonyId: started.ceremony.id, otpRequired: started.otpRequired, publicKey: started.options))
    }

    @Sendable func register(_ request: Request, context: UserTokenContext) async throws -> Response {
        let body = try await JSONBody.decode(RegistrationRequest.self, from: request, limit: settings.maxBodyBytes)
        let device = try await mapped(context.token.policy.freshTwoFactor) {
            try await passkeys.register(
                userID: context.userID, ceremonyID: body.ceremonyId, otp: body.otp, response: body.credential, source: context.remoteAddress)
        }
        return try JSONResponse.make(DevicesController.wire(device), status: .created)
    }

    @Sendable func authenticationOptions(_ request: Request, context: UserTokenContext) async throws -> Response {
        let started = try await mapped(context.token.policy.freshTwoFactor) {
            try await passkeys.authenticationOptions(for: .stepUp(userID: context.userID))
        }
        return try JSONResponse.make(AuthenticationOptions(ceremonyId: started.ceremony.id, publicKey: started.options))
    }

    /// The API step-up with a passkey: confirmed tokens, as a device challenge's verification gives.
    @Sendable func authenticate(_ request: Request, context: UserTokenContext) async throws -> Response {
        let body = try await JSONBody.decode(AuthenticationRequest.self, from: request, limit: settings.maxBodyBytes)
        guard let client = try await store.client(id: context.claims.clientID), client.status == .active else {
            throw ProblemDetails(.unauthorized, "Unauthorized", detail: "The token's client is no longer active.")
        }
        let issued = try await mapped(context.token.policy.freshTwoFactor) {
            try await passkeys.stepUp(
                userID: context.userID, client: client, scopes: Scopes(parsing: context.claims.scope) ?? Scopes([String]()),
                ceremonyID: body.ceremonyId, response: body.credential, source: context.remoteAddress,
                dpopKeyThumbprint: context.claims.cnf?.jkt)
        }
        return try JSONResponse.make(
            Components.Schemas.ConfirmedTokens(
                token: issued.accessToken, refreshToken: issued.refreshToken, expiresIn: issued.expiresIn, scope: issued.scope))
    }

    @Sendable func approvalOptions(_ request: Request, context: UserTokenContext) async throws -> Response {
        let approvalID = try context.parameters.require("approvalId")
        let started = try await mapped(context.token.policy.freshTwoFactor) {
            try await passkeys.approvalOptions(approvalID: approvalID, userID: context.userID)
        }
        return try JSONResponse.make(
            ApprovalOptions(
                ceremonyId: started.ceremony.id, data: started.approval.data, title: started.approval.title, message: started.approval.message,
                publicKey: started.options))
    }

    @Sendable func approve(_ request: Request, context: UserTokenContext) async throws -> Response {
        let approvalID = try context.parameters.require("approvalId")
        let body = try await JSONBody.decode(ApprovalRequest.self, from: request, limit: settings.maxBodyBytes)
        let approval = try await mapped(context.token.policy.freshTwoFactor) {
            try await passkeys.approve(
                approvalID: approvalID, userID: context.userID, ceremonyID: body.ceremonyId, data: body.data, response: body.credential,
                source: context.remoteAddress)
        }
        return try JSONResponse.make(["id": approval.id, "status": approval.status.rawValue])
    }

    // MARK: Errors

    /// Runs a core call and turns its refusals into problems; `stepUp` is the requirement a
    /// `stepUpRequired` names in its RFC 9470 challenge.
    func mapped<T>(_ stepUp: AssuranceRequirement, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PasskeyError {
            throw Self.problem(for: error, stepUp: stepUp)
        } catch let error as ApprovalError {
            throw ProblemDetails.approval(error, what: "approval")
        }
    }

    static func problem(for error: PasskeyError, stepUp: AssuranceRequirement) -> ProblemDetails {
        switch error {
        case .invalidName:
            .badRequest("The passkey name must be 1–100 printable characters.", errors: [.init(field: "name", message: "invalid")])
        case .stepUpRequired:
            TwoFactorContext.stepUp(stepUp)
        case .noPhoneNumber:
            ProblemDetails(.conflict, "Conflict", detail: "A first passkey needs an SMS code, and the user has no phone number.")
        case .otpRequired:
            .badRequest("This registration needs the SMS code ('otp').", errors: [.init(field: "otp", message: "missing")])
        case .wrongOTP:
            ProblemDetails(.forbidden, "Forbidden", detail: "The SMS code is wrong.")
        case .locked:
            ProblemDetails(.tooManyRequests, "Too Many Requests", detail: "Too many wrong codes; try again later.")
        case .tooManySMS(let retryAfter):
            ProblemDetails(
                .tooManyRequests, "Too Many Requests", detail: "As many SMS codes as allowed were sent; try again later.",
                headers: [.retryAfter: String(retryAfter)])
        case .ceremonyClosed:
            ProblemDetails(.conflict, "Conflict", detail: "The ceremony has expired, was used, or is not yours; ask for new options.")
        case .invalidResponse(let reason):
            .badRequest(
                "The WebAuthn response was refused: \(reason.description).", errors: [.init(field: "credential", message: reason.description)])
        case .unknownCredential:
            ProblemDetails(.forbidden, "Forbidden", detail: "The credential is not a passkey of this account.")
        case .passkeyNotActive(let status):
            ProblemDetails(.forbidden, "Forbidden", detail: "The passkey is \(status.rawValue).")
        case .counterRegression:
            ProblemDetails(
                .forbidden, "Forbidden",
                detail: "The passkey's signature counter went backwards, a sign of a cloned authenticator: the passkey is now BLOCKED.")
        case .duplicateCredential:
            ProblemDetails(.conflict, "Conflict", detail: "This credential is registered already.")
        case .noPasskey:
            ProblemDetails(.conflict, "Conflict", detail: "The user has no ACTIVE passkey.")
        case .attestationNotTrusted:
            ProblemDetails(.forbidden, "Forbidden", detail: "This server accepts only authenticators whose attestation chains to its trusted roots.")
        }
    }
}
