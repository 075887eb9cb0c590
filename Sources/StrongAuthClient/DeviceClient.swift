import AsyncHTTPClient
import Crypto
import Foundation
import StrongAuthAPI
import StrongAuthProtocol

/// The device side of the StrongAuth SDK for Kontist-style device binding (docs/devices.md): the
/// Kontist SDK's `createDevice`, `verifyDevice`, `createDeviceChallenge` and `verifyDeviceChallenge`,
/// with the signing done here by a key from a `DeviceKeyStore`.
///
/// ```swift
/// let device = DeviceClient(baseURL: url, accessToken: userToken, keyStore: FileDeviceKeyStore(directory: dir))
/// let bound = try await device.createDevice(name: "iPhone XS")      // an SMS OTP is sent
/// try await device.verifyDevice(bound.deviceId, challengeId: bound.challengeId, otp: otpFromSMS)
/// let confirmed = try await device.confirm(deviceId: bound.deviceId) // create + sign + verify a challenge
/// ```
public struct DeviceClient: Sendable {
    private let transport: Transport
    /// The user's access token (password grant), as Kontist's SDK holds it.
    public var accessToken: String
    public let keyStore: any DeviceKeyStore
    /// Set when `accessToken` is DPoP-bound: every call carries a proof by this signer, also with
    /// the confirmed tokens derived from it, which the server binds to the same key (for a token
    /// bound to a device's own key, `DPoPSigner(keyStore:keyName:)` with its id).
    public var dpop: DPoPSigner?

    public init(baseURL: String, accessToken: String, keyStore: any DeviceKeyStore, http: HTTPClient = .shared) {
        transport = Transport(baseURL: baseURL, http: http)
        self.accessToken = accessToken
        self.keyStore = keyStore
    }

    /// Generates a P-256 key, keeps it in the key store under the new device's id and registers
    /// its public key (hex `04‖X‖Y`). The server sends an SMS OTP to the user.
    public func createDevice(name: String) async throws -> Components.Schemas.DeviceCreated {
        let key = P256.Signing.PrivateKey()
        let created = try transport.decode(
            Components.Schemas.DeviceCreated.self,
            try await transport.sendJSON(
                .POST, "/api/user/devices", bearer: accessToken, dpop: dpop,
                Components.Schemas.DeviceCreateRequest(name: name, key: Hex.encode(key.publicKey.x963Representation))))
        try keyStore.saveKey(key, named: created.deviceId)
        return created
    }

    /// Signs the OTP from the SMS with the device key and sends it: the device becomes ACTIVE.
    public func verifyDevice(_ deviceId: String, challengeId: String, otp: String) async throws {
        let signature = try sign(otp, deviceId: deviceId)
        try transport.expectSuccess(
            try await transport.sendJSON(
                .POST, "/api/user/devices/\(deviceId)/verify", bearer: accessToken, dpop: dpop,
                Components.Schemas.DeviceVerifyRequest(challengeId: challengeId, signature: signature)))
    }

    /// PSD2 RTS art. 24: approves the user's new device (PENDING_COMMIT) with the key of an
    /// already bound device, signing `"approve-device:<deviceId>:<new device key hex>"`.
    /// Approving needs a fresh two-factor token (the server's `AssurancePolicy`): without
    /// `confirmedAccessToken`, the approver first signs a challenge for one (`confirm`).
    public func approveDevice(_ deviceId: String, approverDeviceId: String, confirmedAccessToken: String? = nil) async throws {
        guard let pending = try await devices().first(where: { $0.id == deviceId }), let publicKey = pending.publicKey else {
            throw StrongAuthClientError.problem(status: 404, title: "Not Found", detail: "No such device.")
        }
        let signature = try sign("approve-device:\(deviceId):\(publicKey.lowercased())", deviceId: approverDeviceId)
        var bearer = confirmedAccessToken ?? ""
        if confirmedAccessToken == nil { bearer = try await confirm(deviceId: approverDeviceId).token }
        try transport.expectSuccess(
            try await transport.sendJSON(
                .POST, "/api/user/devices/\(deviceId)/approve", bearer: bearer, dpop: dpop,
                Components.Schemas.DeviceApproval(approverDeviceId: approverDeviceId, signature: signature)))
    }

    /// A fresh challenge for the device.
    public func createDeviceChallenge(_ deviceId: String) async throws -> Components.Schemas.DeviceChallenge {
        try transport.decode(
            Components.Schemas.DeviceChallenge.self,
            try await transport.sendJSON(.POST, "/api/user/devices/\(deviceId)/challenges", bearer: accessToken, dpop: dpop, Optional<String>.none))
    }

    /// Signs `stringToSign` and exchanges the signature for confirmed tokens.
    public func verifyDeviceChallenge(
        _ deviceId: String, challenge: Components.Schemas.DeviceChallenge
    ) async throws -> Components.Schemas.ConfirmedTokens {
        let signature = try sign(challenge.stringToSign, deviceId: deviceId)
        return try transport.decode(
            Components.Schemas.ConfirmedTokens.self,
            try await transport.sendJSON(
                .POST, "/api/user/devices/\(deviceId)/challenges/\(challenge.id)/verify", bearer: accessToken, dpop: dpop,
                Components.Schemas.DeviceChallengeVerifyRequest(signature: signature)))
    }

    /// The whole MFA step: create a challenge, sign it, return the confirmed tokens.
    public func confirm(deviceId: String) async throws -> Components.Schemas.ConfirmedTokens {
        try await verifyDeviceChallenge(deviceId, challenge: try await createDeviceChallenge(deviceId))
    }

    /// The user's devices.
    public func devices() async throws -> [Components.Schemas.Device] {
        try transport.decode(
            [Components.Schemas.Device].self,
            try await transport.sendJSON(.GET, "/api/user/devices", bearer: accessToken, dpop: dpop, Optional<String>.none))
    }

    /// Removes a device on the server and forgets its key. Removing needs a fresh two-factor
    /// token (`confirmedAccessToken`, from `confirm`); with the password token alone the server
    /// answers 401 `insufficient_user_authentication` (RFC 9470).
    public func deleteDevice(_ deviceId: String, confirmedAccessToken: String) async throws {
        try transport.expectSuccess(
            try await transport.sendJSON(.DELETE, "/api/user/devices/\(deviceId)", bearer: confirmedAccessToken, dpop: dpop, Optional<String>.none))
        try keyStore.deleteKey(named: deviceId)
    }

    // MARK: Approvals

    /// The user's pending approvals — PowerAuth operations and Shine action requests — with
    /// the exact data to show.
    public func approvals() async throws -> [Components.Schemas.UserApproval] {
        try transport.decode(
            [Components.Schemas.UserApproval].self,
            try await transport.sendJSON(.GET, "/api/user/approvals", bearer: accessToken, dpop: dpop, Optional<String>.none))
    }

    /// Approves what the user was shown: signs `"approve:<id>:<data>"` with the device key — the
    /// approval's id and the shown data, so the signature approves this approval only — and sends
    /// the data with it (the server approves only if that is exactly the approval's data).
    public func approve(_ approval: Components.Schemas.UserApproval, deviceId: String) async throws {
        try transport.expectSuccess(
            try await transport.sendJSON(
                .POST, "/api/user/approvals/\(approval.id)/approve", bearer: accessToken, dpop: dpop,
                Components.Schemas.UserApprovalAnswer(
                    deviceId: deviceId, data: approval.data,
                    signature: try sign("approve:\(approval.id):\(approval.data)", deviceId: deviceId))))
    }

    /// Rejects an approval, signing `"<id>:REJECTED"`.
    public func reject(approvalId: String, deviceId: String, reason: String? = nil) async throws {
        try transport.expectSuccess(
            try await transport.sendJSON(
                .POST, "/api/user/approvals/\(approvalId)/reject", bearer: accessToken, dpop: dpop,
                Components.Schemas.UserApprovalAnswer(
                    deviceId: deviceId, signature: try sign("\(approvalId):REJECTED", deviceId: deviceId), reason: reason)))
    }

    /// Hex DER ECDSA-SHA256, as iOS and Android produce.
    private func sign(_ text: String, deviceId: String) throws -> String {
        guard let key = try keyStore.loadKey(named: deviceId) else { throw DeviceClientError.noKey(deviceId: deviceId) }
        return Hex.encode(try key.signature(for: Array(text.utf8)).derRepresentation)
    }
}

/// Failures on the device's own side.
public enum DeviceClientError: Error, Equatable {
    /// The key store has no key for this device (it was bound elsewhere, or deleted).
    case noKey(deviceId: String)
}
