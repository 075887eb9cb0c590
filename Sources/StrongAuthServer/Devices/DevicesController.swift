import Foundation
import HTTPTypes
import Hummingbird
import StrongAuthAPI
import StrongAuthCore
import StrongAuthStore

/// Kontist's device binding face (Kontist's public JS SDK, docs/devices.md), plus list and delete of one's own devices.
/// Every route needs a user access token; errors are RFC 9457 problems. What a route needs is
/// its context type: `UserTokenContext` for any user token (binding the first device with the
/// password token is Kontist's flow — the SMS OTP signed by the new key is the second factor),
/// `TwoFactorContext` for removing or approving a device (`AssurancePolicy`: fresh two factors).
struct DevicesController {
    let devices: DeviceService
    let tokens: TokenService
    /// Client lookups.
    let store: SQLStore
    let settings: ServerSettings
    let rateLimiter: RateLimiter
    let time: any TimeSource

    /// The user-token group of this face (and of the push face beside it); with `rateLimited`, the
    /// `device` bucket per address in front of the token check (OTP and challenge answers).
    /// With `livenessReadByRoute`, the routes read the token's liveness themselves
    /// (`PendingLivenessUserTokenContext`).
    func userTokenGroup(of router: Router<AppRequestContext>, rateLimited: Bool = false, livenessReadByRoute: Bool = false)
        -> RouterGroup<AppRequestContext>
    {
        let group = router.group()
        if rateLimited {
            group.add(
                middleware: RateLimitMiddleware(
                    bucket: "device", face: .problem, limiter: rateLimiter, settings: settings.rateLimits))
        }
        return group.add(
            middleware: UserTokenMiddleware(
                tokens: tokens, policy: settings.assurance, time: time,
                wrongKind: "Devices belong to users: this needs a user token (password grant).", livenessReadByRoute: livenessReadByRoute))
    }

    func addRoutes(to router: Router<AppRequestContext>) {
        let face = userTokenGroup(of: router)
        face.group(context: UserTokenContext.self)
            .post("/api/user/devices", use: create)
            .get("/api/user/devices", use: list)
        userTokenGroup(of: router, rateLimited: true).group(context: UserTokenContext.self)
            .post("/api/user/devices/:deviceId/verify", use: verify)
        // The hottest user routes: the token's liveness is read with the device and the challenge.
        userTokenGroup(of: router, rateLimited: true, livenessReadByRoute: true).group(context: PendingLivenessUserTokenContext.self)
            .post("/api/user/devices/:deviceId/challenges", use: createChallenge)
            .post("/api/user/devices/:deviceId/challenges/:challengeId/verify", use: verifyChallenge)
        face.group(context: TwoFactorContext.self)
            .delete("/api/user/devices/:deviceId", use: remove)
            .post("/api/user/devices/:deviceId/approve", use: approve)
    }

    @Sendable func create(_ request: Request, context: UserTokenContext) async throws -> Response {
        let claims = context.claims
        let body = try await JSONBody.decode(Components.Schemas.DeviceCreateRequest.self, from: request, limit: settings.maxBodyBytes)
        let (device, challenge) = try await mapErrors {
            try await devices.createDevice(userID: claims.sub.value, name: body.name, publicKeyHex: body.key, source: context.remoteAddress)
        }
        return try JSONResponse.make(Components.Schemas.DeviceCreated(deviceId: device.id, challengeId: challenge.id), status: .created)
    }

    @Sendable func verify(_ request: Request, context: UserTokenContext) async throws -> Response {
        let claims = context.claims
        let deviceID = try context.parameters.require("deviceId")
        let body = try await JSONBody.decode(Components.Schemas.DeviceVerifyRequest.self, from: request, limit: settings.maxBodyBytes)
        _ = try await mapErrors {
            try await devices.verifyDevice(
                userID: claims.sub.value, deviceID: deviceID, challengeID: body.challengeId, signatureHex: body.signature,
                source: context.remoteAddress)
        }
        return Response(status: .noContent)
    }

    /// RTS art. 24: an already bound device approves a new one (PENDING_COMMIT → ACTIVE).
    @Sendable func approve(_ request: Request, context: TwoFactorContext) async throws -> Response {
        let claims = context.claims
        let deviceID = try context.parameters.require("deviceId")
        let body = try await JSONBody.decode(Components.Schemas.DeviceApproval.self, from: request, limit: settings.maxBodyBytes)
        try await mapErrors {
            try await devices.approveDevice(
                userID: claims.sub.value, deviceID: deviceID, approverDeviceID: body.approverDeviceId, signatureHex: body.signature,
                source: context.remoteAddress)
        }
        return Response(status: .noContent)
    }

    @Sendable func createChallenge(_ request: Request, context: PendingLivenessUserTokenContext) async throws -> Response {
        let deviceID = try context.parameters.require("deviceId")
        let challenge = try await context.refusingDeadToken {
            try await mapErrors { try await devices.createChallenge(userID: context.userID, deviceID: deviceID, token: context.liveness) }
        }
        return try JSONResponse.make(
            Components.Schemas.DeviceChallenge(id: challenge.id, stringToSign: challenge.payload), status: .created)
    }

    @Sendable func verifyChallenge(_ request: Request, context: PendingLivenessUserTokenContext) async throws -> Response {
        let claims = context.claims
        let deviceID = try context.parameters.require("deviceId")
        let challengeID = try context.parameters.require("challengeId")
        let body = try await JSONBody.decode(
            Components.Schemas.DeviceChallengeVerifyRequest.self, from: request, limit: settings.maxBodyBytes)
        let issued = try await context.refusingDeadToken {
            try await mapErrors {
                try await devices.verifyChallenge(
                    userID: claims.sub.value, clientID: claims.clientID, scopes: Scopes(parsing: claims.scope) ?? Scopes([String]()),
                    deviceID: deviceID, challengeID: challengeID, signatureHex: body.signature, source: context.remoteAddress,
                    dpopKeyThumbprint: claims.cnf?.jkt, token: context.liveness)
            }
        }
        return try JSONResponse.make(
            Components.Schemas.ConfirmedTokens(
                token: issued.accessToken, refreshToken: issued.refreshToken, expiresIn: issued.expiresIn, scope: issued.scope))
    }

    @Sendable func list(_ request: Request, context: UserTokenContext) async throws -> Response {
        let claims = context.claims
        let devices = try await self.devices.devices(userID: claims.sub.value)
        return try JSONResponse.make(devices.map(Self.wire))
    }

    @Sendable func remove(_ request: Request, context: TwoFactorContext) async throws -> Response {
        let claims = context.claims
        let deviceID = try context.parameters.require("deviceId")
        // One self-service list, one remove, of either kind (`DeviceLifecycle`).
        try await mapErrors { try await devices.removeDevice(userID: claims.sub.value, deviceID: deviceID, source: context.remoteAddress) }
        return Response(status: .noContent)
    }

    // MARK: Helpers

    /// The client a user token was issued to: confirmed tokens go to the same client.
    func activeClient(of claims: AccessTokenClaims) async throws -> OAuthClient {
        guard let client = try await store.client(id: claims.clientID), client.status == .active else {
            throw ProblemDetails(.unauthorized, "Unauthorized", detail: "The token's client is no longer active.")
        }
        return client
    }

    static func wire(_ device: Device) -> Components.Schemas.Device {
        Components.Schemas.Device(
            id: device.id, name: device.name, kind: .init(rawValue: device.kind.rawValue) ?? .ecdsaP256,
            publicKey: device.publicKeyHex,
            status: Components.Schemas.Device.StatusPayload(rawValue: device.status.rawValue) ?? .removed,
            createdAt: device.createdAt, activatedAt: device.activatedAt, lastUsedAt: device.lastUsedAt)
    }

    /// Turns the core's `DeviceError` into the problem a client can act on.
    func mapErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as DeviceError {
            throw Self.problem(for: error)
        }
    }

    static func problem(for error: DeviceError) -> ProblemDetails {
        switch error {
        case .invalidName:
            ProblemDetails.badRequest("The device name must be 1–100 printable characters.", errors: [.init(field: "name", message: "invalid")])
        case .invalidPublicKey(let reason):
            ProblemDetails.badRequest("The key is \(reason).", errors: [.init(field: "key", message: reason)])
        case .invalidSignatureEncoding(let reason):
            ProblemDetails.badRequest("The signature is \(reason).", errors: [.init(field: "signature", message: reason)])
        case .noPhoneNumber:
            ProblemDetails(.conflict, "Conflict", detail: "The user has no phone number to receive the SMS code.")
        case .deviceNotFound:
            ProblemDetails(.notFound, "Not Found", detail: "No such device.")
        case .challengeNotFound:
            ProblemDetails(.notFound, "Not Found", detail: "No such challenge for this device.")
        case .deviceState(let status):
            ProblemDetails(.conflict, "Conflict", detail: "The device is \(status.rawValue).")
        case .challengeClosed:
            ProblemDetails(.conflict, "Conflict", detail: "The challenge has expired, failed or was already answered; create a new one.")
        case .wrongSignature:
            ProblemDetails(.forbidden, "Forbidden", detail: "The signature does not verify with the device's key.")
        case .locked:
            ProblemDetails(.tooManyRequests, "Too Many Requests", detail: "Too many wrong answers; try again later.")
        case .tooManySMS(let retryAfter):
            ProblemDetails(
                .tooManyRequests, "Too Many Requests",
                detail: "As many SMS codes as allowed were sent to this user or phone number; try again later.",
                headers: [.retryAfter: String(retryAfter)])
        case .tooManyPendingDevices(let retryAfter):
            ProblemDetails(
                .tooManyRequests, "Too Many Requests",
                detail: "Too many devices are waiting to be bound; finish or remove one, or try again later.",
                headers: [.retryAfter: String(retryAfter)])
        case .invalidAnswer:
            ProblemDetails.badRequest("status must be VERIFIED or DENIED.", errors: [.init(field: "status", message: "invalid")])
        case .powerAuthDevice:
            ProblemDetails(.conflict, "Conflict", detail: "This device is a PowerAuth activation: it signs through the PowerAuth endpoints.")
        case .clientInactive:
            ProblemDetails(.unauthorized, "Unauthorized", detail: "The token's client is no longer active.")
        }
    }
}
