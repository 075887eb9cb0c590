import Foundation
import HTTPTypes
import Hummingbird
import StrongAuthAPI
import StrongAuthCore
import StrongAuthProtocol

/// The PowerAuth Cloud integration API (PowerAuth Cloud REST API): registrations, signature and token
/// verification, for integration users over HTTP Basic. Bodies and answers are bare JSON objects
/// as in the PowerAuth Cloud documentation; errors are PowerAuth's shape.
struct RegistrationsController {
    let powerAuth: PowerAuthService
    let maxBodyBytes: Int
    let time: any TimeSource

    /// Every route but signature verification needs the authenticated integration user
    /// (`IntegrationUserContext`); `/v2/signature/verify` passes the presented credentials to the
    /// core, which checks them together with the registration.
    func addRoutes(to face: IntegrationFace) {
        face.users.post("/v2/registrations", use: create)
        face.users.get("/v2/registrations", use: list)
        face.users.get("/v2/registrations/:registrationId", use: detail)
        face.users.put("/v2/registrations/:registrationId", use: change)
        face.users.delete("/v2/registrations/:registrationId", use: remove)
        face.users.post("/v2/registrations/:registrationId/commit", use: commit)
        face.group.post("/v2/signature/verify", use: verifySignature)
        face.users.post("/v2/token/verify", use: verifyToken)
    }

    @Sendable func create(_ request: Request, context: IntegrationUserContext) async throws -> Response {
        let user = context.user
        let body = try await JSONBody.decode(
            Components.Schemas.RegistrationCreateRequest.self, from: request, limit: maxBodyBytes)
        let registration = try await powerAuth.createRegistration(
            by: user, userID: body.userId, applicationID: body.appId, otp: body.otp,
            otpValidation: body.otpValidation.flatMap { ActivationOTPValidation(rawValue: $0.rawValue) },
            commitPhase: body.commitPhase.flatMap { ActivationCommitPhase(rawValue: $0.rawValue) }, flags: body.flags,
            source: context.remoteAddress)
        let code = registration.activation.activationCode ?? ""
        let signature = registration.activation.activationCodeSignature ?? ""
        return try JSONResponse.make(
            Components.Schemas.RegistrationCreated(
                activationQrCodeData: "\(code)#\(signature)", activationCode: code, activationCodeSignature: signature,
                registrationId: registration.id))
    }

    @Sendable func list(_ request: Request, context: IntegrationUserContext) async throws -> Response {
        let user = context.user
        guard let userID = request.uri.queryParameters.get("userId"), !userID.isEmpty else {
            throw PowerAuthErrorResponse.badRequest("userId: the query parameter is required.")
        }
        let removed = request.uri.queryParameters.get("removed")
        guard removed == nil || removed == "true" || removed == "false" else {
            throw PowerAuthErrorResponse.badRequest("removed: must be true or false.")
        }
        let registrations = try await powerAuth.registrations(
            externalUserID: userID, includeRemoved: removed == "true", for: user)
        return try JSONResponse.make(Components.Schemas.RegistrationList(registrations: registrations.map(wire)))
    }

    @Sendable func detail(_ request: Request, context: IntegrationUserContext) async throws -> Response {
        let user = context.user
        let registration = try await powerAuth.registration(id: try context.parameters.require("registrationId"), for: user)
        return try JSONResponse.make(wire(registration))
    }

    @Sendable func change(_ request: Request, context: IntegrationUserContext) async throws -> Response {
        let user = context.user
        let id = try context.parameters.require("registrationId")
        let body = try await JSONBody.decode(
            Components.Schemas.RegistrationChangeRequest.self, from: request, limit: maxBodyBytes)
        guard let change = RegistrationChange(rawValue: body.change.rawValue) else {
            throw PowerAuthErrorResponse.badRequest("change: must be BLOCK or UNBLOCK.")
        }
        let registration = try await powerAuth.change(
            id: id, change: change, blockedReason: body.blockedReason, by: user, source: context.remoteAddress)
        return try JSONResponse.make(wire(registration))
    }

    @Sendable func remove(_ request: Request, context: IntegrationUserContext) async throws -> Response {
        let user = context.user
        let registration = try await powerAuth.remove(
            id: try context.parameters.require("registrationId"), by: user, source: context.remoteAddress)
        return try JSONResponse.make(wire(registration))
    }

    @Sendable func commit(_ request: Request, context: IntegrationUserContext) async throws -> Response {
        let user = context.user
        let id = try context.parameters.require("registrationId")
        // The PowerAuth Cloud documentation commits with `{}`; an empty body is fine too.
        let body = try await JSONBody.decodeIfPresent(
            Components.Schemas.RegistrationCommitRequest.self, from: request, limit: maxBodyBytes)
        let registration = try await powerAuth.commit(id: id, otp: body?.otp, by: user, source: context.remoteAddress)
        return try JSONResponse.make(wire(registration))
    }

    @Sendable func verifySignature(_ request: Request, context: AppRequestContext) async throws -> Response {
        let credentials = try IntegrationAuthentication.credentials(of: request)
        let body = try await JSONBody.decode(
            Components.Schemas.SignatureVerifyRequest.self, from: request, limit: maxBodyBytes)
        let header = try PowerAuthHeaders.authorization(body.authHeader)
        let signedBytes: [UInt8]
        if let requestBody = body.requestBody, !requestBody.isEmpty {
            // As Java's decoder reads it (padding optional), like every PowerAuth component.
            guard let decoded = PowerAuthBase64.decode(requestBody) else {
                throw PowerAuthErrorResponse.badRequest("requestBody: must be the Base64 of the raw request body.")
            }
            signedBytes = decoded
        } else if let query = body.queryParams?.additionalProperties, !query.isEmpty {
            signedBytes = Array(PowerAuthSignature.canonicalQuery(query).utf8)
        } else {
            signedBytes = []
        }
        guard (1...16).contains(body.method.utf8.count), body.method.allSatisfy({ $0.isLetter }) else {
            throw PowerAuthErrorResponse.badRequest("method: must be an HTTP method such as POST.")
        }
        guard (1...1024).contains(body.uriId.utf8.count) else {
            throw PowerAuthErrorResponse.badRequest("uriId: must be 1–1024 characters.")
        }
        let verification: SignatureVerification
        do {
            verification = try await powerAuth.verifySignature(
                header, method: body.method.uppercased(), uriID: body.uriId, body: signedBytes, caller: credentials,
                source: context.remoteAddress)
        } catch PowerAuthServiceError.unauthorized {
            throw IntegrationAuthentication.unauthorized("The integration user's name or password is wrong.")
        }
        return try JSONResponse.make(
            Components.Schemas.SignatureVerifyResponse(
                signatureValid: verification.valid, userId: verification.userID, registrationId: verification.registrationID,
                registrationStatus: .init(rawValue: verification.status.rawValue) ?? .removed, blockedReason: verification.blockedReason,
                signatureType: verification.signatureType, remainingAttempts: verification.remainingAttempts))
    }

    @Sendable func verifyToken(_ request: Request, context: IntegrationUserContext) async throws -> Response {
        let user = context.user
        let body = try await JSONBody.decode(Components.Schemas.TokenVerifyRequest.self, from: request, limit: maxBodyBytes)
        let token = try PowerAuthHeaders.token(body.tokenHeader)
        let verification = try await powerAuth.verifyToken(
            tokenID: token.tokenID, digest: token.tokenDigest, nonce: token.nonce, timestamp: token.timestamp, version: token.version,
            integrationUser: user)
        let registration = verification.registration
        return try JSONResponse.make(
            Components.Schemas.TokenVerifyResponse(
                tokenValid: verification.valid, userId: registration?.externalUserID, registrationId: registration?.id,
                registrationStatus: registration.flatMap { .init(rawValue: $0.status(at: time.now()).rawValue) },
                signatureType: verification.signatureType))
    }

    /// PowerAuth Cloud's registration object: activation code fields only while CREATED, the
    /// fingerprint from PENDING_COMMIT on, the reason only while BLOCKED.
    func wire(_ registration: Registration) -> Components.Schemas.Registration {
        let status = registration.status(at: time.now())
        let code = status == .created ? registration.activation.activationCode : nil
        let signature = code == nil ? nil : registration.activation.activationCodeSignature
        return Components.Schemas.Registration(
            registrationId: registration.id,
            registrationStatus: .init(rawValue: status.rawValue) ?? .removed,
            blockedReason: status == .blocked ? registration.device.blockedReason : nil,
            applicationId: registration.activation.applicationID, userId: registration.externalUserID,
            name: registration.device.name.isEmpty ? nil : registration.device.name, platform: registration.activation.platform,
            deviceInfo: registration.activation.deviceInfo, flags: registration.activation.flags,
            timestampCreated: registration.device.createdAt.epochMilliseconds,
            timestampLastUsed: (registration.device.lastUsedAt ?? registration.device.createdAt).epochMilliseconds,
            activationQrCodeData: code.map { "\($0)#\(signature ?? "")" }, activationCode: code, activationCodeSignature: signature,
            activationFingerprint: status == .pendingCommit ? powerAuth.fingerprint(of: registration) : nil)
    }
}
