import Foundation
import Hummingbird
import StrongAuthAPI
import StrongAuthCore
import StrongAuthProtocol
import StrongAuthStore

/// Wultra's mobile token API for PowerAuth-activated phones (`/enrollment-server/api/auth/token/
/// app/operation/…`): the user's pending approvals, their detail (MAC token), approval
/// (`/operation/authorize`, a PowerAuth signature over `{"requestObject": {id, data}}`) and
/// rejection (`/operation/cancel`, signed). The device approves exactly what it was shown: other
/// `data` counts a failure of the operation; a failed signature counts on the activation (docs/approvals.md),
/// and a wrong PIN also on the operation (SECURITY.md).
///
/// Errors are the enrollment server's Mobile Token API codes (wultra/enrollment-server
/// `Mobile-Token-API.md`, "Mobile API Error Codes"): `INVALID_REQUEST` 400, `POWERAUTH_AUTH_FAIL`
/// 401, `OPERATION_ALREADY_FINISHED` / `OPERATION_ALREADY_FAILED` / `OPERATION_ALREADY_CANCELED` /
/// `OPERATION_EXPIRED` 400 — the mobile token SDKs branch on them.
struct MobileTokenController {
    let powerAuth: PowerAuthService
    let approvals: ApprovalService
    /// Operation lookups by id.
    let store: SQLStore
    let rateLimiter: RateLimiter
    /// Body and rate limits.
    let settings: ServerSettings
    let time: any TimeSource

    /// List and detail need the MAC token (`PhoneTokenContext`), cancel a valid signature
    /// (`PhoneSignedContext`). Authorize verifies its signature itself: an invalid signature from a
    /// known activation must still be judged against the operation (`signedVerdict`).
    func addRoutes(to router: Router<AppRequestContext>) {
        let prefix = Routes.mobileToken
        let face = PhoneFace(
            router: router, path: RouterPath(prefix), powerAuth: powerAuth,
            maxBodyBytes: settings.maxBodyBytes,
            rateLimit: RateLimitMiddleware(
                bucket: "powerauth", face: .powerAuth, limiter: rateLimiter, settings: settings.rateLimits),
            mobileTokenErrors: true)
        face.token().post(Routes.operationList.path(below: prefix), use: list)
        face.token().post(Routes.operationDetail.path(below: prefix), use: detail)
        face.rateLimited().post(Routes.operationAuthorize.path(below: prefix), use: authorize)
        face.signed("/operation/cancel", twoFactors: false).post(Routes.operationCancel.path(below: prefix), use: cancel)
    }

    /// The routes and their body types (`PowerAuthWireRoutes`).
    typealias Routes = PowerAuthWireRoutes
    /// An operation as the mobile token SDK lists it (generated from `openapi.yaml`).
    typealias MobileOperation = Components.Schemas.MobileOperation

    @Sendable func list(_ request: Request, context: PhoneTokenContext) async throws -> Response {
        let registration = context.registration
        let pending = try await approvals.pending(userID: registration.device.userID)
        return try Routes.operationList.respond(.init(status: .ok, responseObject: pending.map(wire)))
    }

    @Sendable func detail(_ request: Request, context: PhoneTokenContext) async throws -> Response {
        let registration = context.registration
        let body = try Routes.operationDetail.decode(try await PhoneAuthentication.rawBody(request, limit: settings.maxBodyBytes))
        guard let approval = try await store.approval(id: body.requestObject.id), approval.userID == registration.device.userID
        else { throw Self.notFound }
        return try Routes.operationDetail.respond(.init(status: .ok, responseObject: wire(approval)))
    }

    /// Signed with `uriId` `/operation/authorize`; the data signed is the operation data shown.
    @Sendable func authorize(_ request: Request, context: AppRequestContext) async throws -> Response {
        let signed = try await PhoneAuthentication.signedRequest(
            request, context: context, powerAuth: powerAuth, maxBodyBytes: settings.maxBodyBytes,
            uriID: "/operation/authorize", twoFactors: true)
        let body = try Routes.operationAuthorize.decode(signed.body)
        let verification = try signedVerdict(signed)
        guard let approval = try await store.approval(id: body.requestObject.id), approval.userID == verification.userID
        else { throw Self.notFound }
        // A wrong PIN (counted on the activation: the device's possession component was right)
        // also counts on the operation, FAILED at its maximum — as the enrollment server does
        // (PowerAuth Cloud's FAILED). A replay, a signature that merely arrived after a newer one, or one
        // made without the device counts on neither: it is no wrong answer of the user's.
        guard verification.valid else {
            if verification.countedFailure, approval.status(at: time.now()) == .pending {
                do {
                    _ = try await approvals.countFailure(approval, deviceID: verification.registrationID, source: context.remoteAddress)
                } catch is ApprovalError {
                    // Counted (or it ended meanwhile); the answer is the failed authentication.
                }
            }
            throw PhoneAuthentication.authenticationFailed
        }
        try await mapped {
            _ = try await approvals.approve(
                id: approval.id, userID: verification.userID, deviceID: verification.registrationID, data: body.requestObject.data,
                signatureType: signed.header.signatureType, source: context.remoteAddress)
        }
        return try Routes.operationAuthorize.respond(.init(status: .ok))
    }

    /// Signed with `uriId` `/operation/cancel` (possession suffices): the user rejects.
    @Sendable func cancel(_ request: Request, context: PhoneSignedContext) async throws -> Response {
        let registration = context.registration
        let body = try Routes.operationCancel.decode(context.body)
        try await mapped {
            _ = try await approvals.reject(
                id: body.requestObject.id, userID: registration.device.userID, deviceID: registration.id, reason: body.requestObject.reason,
                source: context.remoteAddress)
        }
        return try Routes.operationCancel.respond(.init(status: .ok))
    }

    /// The user behind a signed request, valid or not (unknown activations are a 401).
    private func signedVerdict(_ signed: PhoneAuthentication.SignedRequest) throws -> (
        valid: Bool, countedFailure: Bool, userID: String, registrationID: String
    ) {
        guard let verification = signed.verification else { throw PhoneAuthentication.authenticationFailed }
        guard let registration = verification.registration else { throw PhoneAuthentication.authenticationFailed }
        return (verification.valid, verification.countedFailure, registration.device.userID, registration.id)
    }

    /// `operationCreated`/`operationExpires` are `Date`s the response encodes as RFC 3339 (whole seconds, `Z`).
    func wire(_ approval: Approval) -> MobileOperation {
        let attributes = approval.parameters.sorted { $0.key < $1.key }.map {
            MobileOperation.FormDataPayload.AttributesPayloadPayload(
                _type: "KEY_VALUE", id: "operation.\($0.key)", label: $0.key, value: $0.value)
        }
        return MobileOperation(
            id: approval.id, name: approval.operationType, data: approval.data, status: approval.status(at: time.now()).rawValue,
            operationCreated: approval.createdAt, operationExpires: approval.expiresAt,
            allowedSignatureType: .init(_type: "2FA", variants: approval.signatureTypes),
            formData: .init(
                title: approval.title.flatMap { $0.isEmpty ? nil : $0 } ?? approval.template,
                message: approval.message.flatMap { $0.isEmpty ? nil : $0 } ?? approval.data, attributes: attributes))
    }

    /// The Mobile Token API's code for an operation that is no longer PENDING.
    static func stateCode(_ status: Approval.Status) -> String {
        switch status {
        case .failed: "OPERATION_ALREADY_FAILED"
        case .canceled: "OPERATION_ALREADY_CANCELED"
        case .expired: "OPERATION_EXPIRED"
        case .approved, .rejected, .pending: "OPERATION_ALREADY_FINISHED"
        }
    }

    static let notFound = PowerAuthErrorResponse(.badRequest, code: "OPERATION_NOT_FOUND", message: "No such operation for this user.")

    private func mapped(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as ApprovalError {
            switch error {
            case .notFound: throw Self.notFound
            case .state(let status):
                throw PowerAuthErrorResponse(.badRequest, code: Self.stateCode(status), message: "The operation is \(status.rawValue).")
            case .dataMismatch(let remaining):
                throw PowerAuthErrorResponse(
                    .badRequest, code: "OPERATION_FAILED", message: "The data differs from the operation's; \(remaining) attempts left.")
            case .validation(let field, let message):
                throw PowerAuthErrorResponse.badRequest("\(field): \(message)")
            case .templateNotFound:
                throw Self.notFound
            }
        }
    }
}

/// Puts the Mobile Token API's codes on the errors of its group, including those thrown by the
/// authentication middlewares (`PhoneTokenMiddleware`, `PhoneSignatureMiddleware`): the enrollment
/// server answers `POWERAUTH_AUTH_FAIL` (401) and `INVALID_REQUEST` (400) where the other
/// PowerAuth faces say `ERR_AUTHENTICATION` and `ERROR_REQUEST`.
struct MobileTokenErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as PowerAuthErrorResponse {
            switch error.code {
            case "ERR_AUTHENTICATION":
                // The status stays (401, or 431 for an oversized header); only the code is the API's.
                throw PowerAuthErrorResponse(error.status, code: "POWERAUTH_AUTH_FAIL", message: error.message, headers: error.headers)
            case "ERROR_REQUEST":
                throw PowerAuthErrorResponse(error.status, code: "INVALID_REQUEST", message: error.message, headers: error.headers)
            default:
                throw error
            }
        }
    }
}
