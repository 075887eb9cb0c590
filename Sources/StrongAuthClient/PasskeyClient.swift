import AsyncHTTPClient
import Foundation
import StrongAuthAPI
import StrongAuthProtocol

/// The app side of passkeys (docs/passkeys.md): the server's ceremonies in WebAuthn Level 3's JSON
/// forms. The credential itself is made by the platform — `ASAuthorizationPlatformPublicKeyCredentialProvider`
/// on Apple platforms, `navigator.credentials` in a browser, Android's Credential Manager — from
/// the options this returns; its JSON answer goes back unchanged.
///
/// ```swift
/// let passkeys = PasskeyClient(baseURL: url, accessToken: userToken)
/// let options = try await passkeys.registrationOptions(name: "iPhone")   // otpRequired: an SMS code was sent
/// let credential = try await platform.create(options.publicKey)           // RegistrationResponseJSON
/// try await passkeys.register(options, credential: credential, otp: smsCode)
/// let request = try await passkeys.approvalOptions(approvalId: id)         // shows request.data
/// try await passkeys.approve(approvalId: id, request, credential: try await platform.get(request.publicKey))
/// ```
public struct PasskeyClient: Sendable {
    private let transport: Transport
    /// The user's access token; adding a passkey while a device is bound needs a fresh two-factor one.
    public var accessToken: String

    public init(baseURL: String, accessToken: String, http: HTTPClient = .shared) {
        transport = Transport(baseURL: baseURL, http: http)
        self.accessToken = accessToken
    }

    /// Starts adding a passkey: the options for the platform's create call.
    public func registrationOptions(name: String? = nil) async throws -> PasskeyRegistrationOptions {
        try await post("/api/user/passkeys/registration/options", PasskeyRegistrationOptionsRequest(name: name))
    }

    /// Finishes adding a passkey; `otp` is the SMS code when the options said `otpRequired`.
    @discardableResult
    public func register(_ options: PasskeyRegistrationOptions, credential: RegistrationResponseJSON, otp: String? = nil) async throws
        -> Components.Schemas.Device
    {
        try await post(
            "/api/user/passkeys/registration", PasskeyRegistrationRequest(ceremonyId: options.ceremonyId, otp: otp, credential: credential))
    }

    /// Starts a step-up with one of the user's passkeys.
    public func authenticationOptions() async throws -> PasskeyRequestOptions {
        try await post("/api/user/passkeys/authentication/options", [String: String]())
    }

    /// Confirmed (two-factor) tokens for the platform's assertion.
    public func authenticate(_ options: PasskeyRequestOptions, credential: AuthenticationResponseJSON) async throws
        -> Components.Schemas.ConfirmedTokens
    {
        try await post("/api/user/passkeys/authentication", PasskeyAssertionRequest(ceremonyId: options.ceremonyId, credential: credential))
    }

    /// Starts approving: `data` is exactly what the assertion will approve — show it.
    public func approvalOptions(approvalId: String) async throws -> PasskeyRequestOptions {
        try await post("/api/user/approvals/\(approvalId)/passkey/options", [String: String]())
    }

    /// Approves with the platform's assertion over the approval options' challenge.
    public func approve(approvalId: String, _ options: PasskeyRequestOptions, credential: AuthenticationResponseJSON) async throws {
        try transport.expectSuccess(
            try await transport.sendJSON(
                .POST, "/api/user/approvals/\(approvalId)/passkey", bearer: accessToken,
                PasskeyAssertionRequest(ceremonyId: options.ceremonyId, data: options.data, credential: credential)))
    }

    private func post<T: Decodable>(_ path: String, _ body: some Encodable) async throws -> T {
        try transport.decode(T.self, try await transport.sendJSON(.POST, path, bearer: accessToken, body))
    }
}
