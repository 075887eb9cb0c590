import Foundation
import Hummingbird
import StrongAuthAPI
import StrongAuthCore

/// The push alternative of Kontist's device binding (docs/devices.md) under `/api/user/mfa/challenges`: the app asks, a bound
/// device answers with a signature, the app polls and fetches confirmed tokens once.
struct MFAPushController {
    let devices: DevicesController
    /// The device service of the devices face it sits beside (whose settings and clock it uses too).
    var service: DeviceService { devices.devices }

    /// Any user token: the push *is* the step-up that yields a two-factor token.
    func addRoutes(to router: Router<AppRequestContext>) {
        devices.userTokenGroup(of: router, rateLimited: true).group(context: UserTokenContext.self)
            .post("/api/user/mfa/challenges", use: create)
            .post("/api/user/mfa/challenges/:challengeId/token", use: token)
        devices.userTokenGroup(of: router).group(context: UserTokenContext.self)
            .get("/api/user/mfa/challenges/:challengeId", use: show)
            .patch("/api/user/mfa/challenges/:challengeId", use: answer)
    }

    @Sendable func create(_ request: Request, context: UserTokenContext) async throws -> Response {
        let claims = context.claims
        let challenge = try await devices.mapErrors { try await service.createPushChallenge(userID: claims.sub.value) }
        return try JSONResponse.make(wire(challenge), status: .created)
    }

    @Sendable func show(_ request: Request, context: UserTokenContext) async throws -> Response {
        let claims = context.claims
        let id = try context.parameters.require("challengeId")
        let challenge = try await devices.mapErrors { try await service.pushChallenge(userID: claims.sub.value, id: id) }
        return try JSONResponse.make(wire(challenge))
    }

    @Sendable func answer(_ request: Request, context: UserTokenContext) async throws -> Response {
        let claims = context.claims
        let id = try context.parameters.require("challengeId")
        let body = try await JSONBody.decode(Components.Schemas.MFAChallengeAnswer.self, from: request, limit: devices.settings.maxBodyBytes)
        let status: DeviceService.PushStatus = body.status == .verified ? .verified : .denied
        let challenge = try await devices.mapErrors {
            try await service.answerPushChallenge(
                userID: claims.sub.value, id: id, deviceID: body.deviceId, status: status, signatureHex: body.signature,
                source: context.remoteAddress)
        }
        return try JSONResponse.make(wire(challenge))
    }

    @Sendable func token(_ request: Request, context: UserTokenContext) async throws -> Response {
        let claims = context.claims
        let id = try context.parameters.require("challengeId")
        let client = try await devices.activeClient(of: claims)
        let issued = try await devices.mapErrors {
            try await service.redeemPushChallenge(
                userID: claims.sub.value, client: client, scopes: Scopes(parsing: claims.scope) ?? Scopes([String]()), id: id,
                dpopKeyThumbprint: claims.cnf?.jkt)
        }
        return try JSONResponse.make(
            Components.Schemas.ConfirmedTokens(
                token: issued.accessToken, refreshToken: issued.refreshToken, expiresIn: issued.expiresIn, scope: issued.scope))
    }

    private func wire(_ challenge: Challenge) -> Components.Schemas.MFAChallenge {
        let status = service.pushStatus(of: challenge, at: devices.time.now())
        return Components.Schemas.MFAChallenge(
            id: challenge.id, status: .init(rawValue: status.rawValue) ?? .expired, expiresAt: challenge.expiresAt)
    }
}
