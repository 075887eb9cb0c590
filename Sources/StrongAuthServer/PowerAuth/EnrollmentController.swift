import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import StrongAuthCore
import StrongAuthProtocol
import StrongAuthStore

/// The PowerAuth 3.x Standard RESTful API for the mobile apps (`/enrollment-server/pa/v3/…`,
/// PowerAuth Cloud REST API and wultra/powerauth-crypto `docs/Standard-RESTful-API.md`; see
/// `docs/powerauth-protocol.md`). The ECIES layers and signature headers are unwrapped here; the
/// decisions are the core's. Errors are PowerAuth's shape.
struct EnrollmentController {
    let powerAuth: PowerAuthService
    /// Activation lookups for the status endpoint.
    let store: SQLStore
    let rateLimiter: RateLimiter
    /// Body and rate limits.
    let settings: ServerSettings

    /// The signed routes are declared on `PhoneSignedContext` groups (one per signed `uriId`), so
    /// their handlers run only for a valid signature of a known activation.
    func addRoutes(to router: Router<AppRequestContext>) {
        let prefix = Routes.standard
        let face = PhoneFace(
            router: router, path: RouterPath(prefix), powerAuth: powerAuth, maxBodyBytes: settings.maxBodyBytes,
            rateLimit: RateLimitMiddleware(
                bucket: "powerauth", face: .powerAuth, limiter: rateLimiter, settings: settings.rateLimits))
        face.rateLimited().post(Routes.activationCreate.path(below: prefix), use: createActivation)
        face.group.post(Routes.activationStatus.path(below: prefix), use: activationStatus)
        face.signed("/pa/activation/remove", twoFactors: true).post(Routes.activationRemove.path(below: prefix), use: removeActivation)
        face.signed("/pa/token/create", twoFactors: false).post(Routes.tokenCreate.path(below: prefix), use: createToken)
        face.signed("/pa/token/remove", twoFactors: false).post(Routes.tokenRemove.path(below: prefix), use: removeToken)
        face.signed("/pa/signature/validate", twoFactors: false, rateLimited: true).post(
            Routes.signatureValidate.path(below: prefix), use: validateSignature)
        face.signed(PowerAuthECIES.SharedInfo1.vaultUnlock, twoFactors: true).post(Routes.vaultUnlock.path(below: prefix), use: unlockVault)
        face.group.post(Routes.keystoreCreate.path(below: prefix), use: createTemporaryKey)
    }

    /// The routes and their body types (`PowerAuthWireRoutes`).
    typealias Routes = PowerAuthWireRoutes

    // MARK: Activation

    /// Level 1 (`/pa/generic/application`) wraps `type`, `identityAttributes.code`,
    /// `customAttributes` and level 2 (`/pa/activation`) in `activationData`, which carries the
    /// device's public key; both are application scope, both answers go back the same way.
    @Sendable func createActivation(_ request: Request, context: AppRequestContext) async throws -> Response {
        let header = try PowerAuthHeaders.encryption(request.headers[.powerAuthEncryption], scope: .application)
        let application = try await mapped { try await powerAuth.openApplication(key: header.applicationKey) }
        let outer = try Routes.activationCreate.decode(try await PhoneAuthentication.rawBody(request, limit: settings.maxBodyBytes))
        let (layer1Bytes, layer1Response) = try await decrypt(
            outer, version: header.version, sharedInfo1: PowerAuthECIES.SharedInfo1.applicationScopeGeneric, application: application)
        let layer1 = try PhoneAuthentication.decodeJSON(
            PowerAuthPayloads.ActivationLayer1Request.self, from: layer1Bytes, what: "the activation request")
        guard layer1.type == "CODE" else {
            throw Self.activationError("Only activation by activation code (type CODE) is supported.")
        }
        guard let code = layer1.identityAttributes?["code"] else { throw Self.activationError("identityAttributes.code is missing.") }
        guard let inner = layer1.activationData else { throw Self.activationError("activationData is missing.") }
        let (layer2Bytes, layer2Response) = try await decrypt(
            inner, version: header.version, sharedInfo1: PowerAuthECIES.SharedInfo1.activationLayer2, application: application)
        let layer2 = try PhoneAuthentication.decodeJSON(
            PowerAuthPayloads.ActivationLayer2Request.self, from: layer2Bytes, what: "the activation data")
        guard let keyBytes = PowerAuthBase64.decode(layer2.devicePublicKey),
            let devicePublicKey = try? PowerAuthECIES.publicKey(fromSEC1: keyBytes)
        else { throw Self.activationError("devicePublicKey is not a P-256 point.") }

        let result = try await mapped {
            try await powerAuth.exchangeKeys(
                KeyExchangeRequest(
                    activationCode: code, activationOTP: layer2.activationOtp ?? layer1.activationOtp, devicePublicKey: devicePublicKey,
                    activationName: layer2.activationName ?? "", platform: layer2.platform, deviceInfo: layer2.deviceInfo,
                    extras: layer2.extras, protocolVersion: header.version.rawValue),
                application: application, source: context.remoteAddress)
        }
        let layer2Answer = PowerAuthPayloads.ActivationLayer2Response(
            activationId: result.registration.id, serverPublicKey: PowerAuthBase64.encode(result.serverPublicKey.x963Representation),
            ctrData: PowerAuthBase64.encode(result.counterData), activationRecovery: nil)
        let encryptedLayer2 = try Self.encrypt(layer2Answer, with: layer2Response)
        let layer1Answer = PowerAuthPayloads.ActivationLayer1Response(
            customAttributes: layer1.customAttributes ?? [:], activationData: encryptedLayer2)
        return try Routes.activationCreate.respond(try Self.encrypt(layer1Answer, with: layer1Response))
    }

    /// `{"requestObject": {"activationId", "challenge"}}` → the status blob encrypted under the
    /// transport key with an IV from the phone's challenge and the server's nonce.
    ///
    /// An unknown activation id, or one without keys yet (CREATED), is answered like any other:
    /// 32 random bytes as the "blob" and a random nonce, as the reference server does for CREATED
    /// activations — no existence oracle for activation ids. Only the phone holding the
    /// transport key can tell (it cannot decrypt the blob, which the SDK treats as removed).
    @Sendable func activationStatus(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try Routes.activationStatus.decode(try await PhoneAuthentication.rawBody(request, limit: settings.maxBodyBytes))
        guard let challenge = PowerAuthBase64.decode(body.requestObject.challenge), challenge.count == 16
        else { throw PowerAuthErrorResponse(.badRequest, code: "ERR_ACTIVATION", message: "challenge must be Base64 of 16 bytes.") }
        guard let registration = try await store.registration(id: body.requestObject.activationId),
            registration.activation.sealedDerivedKeys != nil
        else {
            return try Routes.activationStatus.respond(
                .init(
                    status: .ok,
                    responseObject: .init(
                        activationId: body.requestObject.activationId, encryptedStatusBlob: PowerAuthBase64.encode(SecureRandom.bytes(32)),
                        nonce: PowerAuthBase64.encode(SecureRandom.bytes(16)), customObject: .init())))
        }
        let secrets = try powerAuth.openSecrets(of: registration)
        let nonce = SecureRandom.bytes(16)
        let blob = try powerAuth.statusBlob(of: registration, transportKey: secrets.transport)
        let encrypted = try blob.encrypt(transportKey: secrets.transport, challenge: challenge, nonce: nonce)
        return try Routes.activationStatus.respond(
            .init(
                status: .ok,
                responseObject: .init(
                    activationId: registration.id, encryptedStatusBlob: PowerAuthBase64.encode(encrypted), nonce: PowerAuthBase64.encode(nonce),
                    customObject: .init())))
    }

    /// Signed (`/pa/activation/remove`, at least two factors): the phone removes its activation.
    @Sendable func removeActivation(_ request: Request, context: PhoneSignedContext) async throws -> Response {
        let registration = context.registration
        try await mapped { try await powerAuth.removeBySignedRequest(registration, source: context.remoteAddress) }
        return try Routes.activationRemove.respond(.init(status: .ok, responseObject: .init(activationId: registration.id)))
    }

    // MARK: Tokens

    /// Signed (`/pa/token/create`) over the encrypted body (encrypt-then-sign); the ECIES is
    /// activation scope (`/pa/token/create`), the answer `{tokenId, tokenSecret}` encrypted back.
    @Sendable func createToken(_ request: Request, context: PhoneSignedContext) async throws -> Response {
        let (registration, presented, raw) = (context.registration, context.header, context.body)
        let body = try Routes.tokenCreate.decode(raw)
        let application = try await mapped {
            try await powerAuth.openApplication(key: presented.applicationKey)
        }
        let (_, response) = try await decrypt(
            body, version: presented.version, sharedInfo1: PowerAuthECIES.SharedInfo1.createToken, application: application,
            activation: registration)
        let token = try await powerAuth.createToken(for: registration, signatureType: presented.signatureType)
        return try Routes.tokenCreate.respond(
            try Self.encrypt(
                PowerAuthPayloads.TokenCreateResponse(tokenId: token.id, tokenSecret: PowerAuthBase64.encode(token.secret)), with: response))
    }

    /// Signed (`/pa/token/remove`): `{"requestObject": {"tokenId"}}`.
    @Sendable func removeToken(_ request: Request, context: PhoneSignedContext) async throws -> Response {
        let (registration, raw) = (context.registration, context.body)
        let body = try Routes.tokenRemove.decode(raw)
        try await mapped { try await powerAuth.removeToken(id: body.requestObject.tokenId, of: registration) }
        return try Routes.tokenRemove.respond(.init(status: .ok, responseObject: .init(tokenId: body.requestObject.tokenId)))
    }

    /// Signed (`/pa/signature/validate`): answers OK when the signature is valid (the SDK checks a
    /// PIN this way).
    @Sendable func validateSignature(_ request: Request, context: PhoneSignedContext) async throws -> Response {
        return try Routes.signatureValidate.respond(.init(status: .ok))
    }

    // MARK: Vault

    /// Signed (`/pa/vault/unlock`, two factors: the SDKs call it to add biometry or to use the
    /// device private key) over the encrypted body; activation-scope ECIES (`/pa/vault/unlock`)
    /// around `{"reason"}`. The answer, encrypted back, is the reference's
    /// `{"encryptedVaultEncryptionKey", "signatureValid": true}` — `KEY_ENCRYPTION_VAULT` under
    /// `KEY_TRANSPORT`. A wrong signature never gets here: the signature middleware answers 401
    /// and counts it like any signed call (replays refused and not counted).
    @Sendable func unlockVault(_ request: Request, context: PhoneSignedContext) async throws -> Response {
        let (registration, presented, raw) = (context.registration, context.header, context.body)
        let body = try Routes.vaultUnlock.decode(raw)
        let application = try await mapped {
            try await powerAuth.openApplication(key: presented.applicationKey)
        }
        let (plaintext, response) = try await decrypt(
            body, version: presented.version, sharedInfo1: PowerAuthECIES.SharedInfo1.vaultUnlock, application: application,
            activation: registration)
        let unlock = try PhoneAuthentication.decodeJSON(PowerAuthPayloads.VaultUnlockRequest.self, from: plaintext, what: "the vault unlock request")
        let encrypted: [UInt8]
        do {
            encrypted = try await powerAuth.unlockVault(
                registration, signatureType: presented.signatureType, reason: unlock.reason, source: context.remoteAddress)
        } catch PowerAuthServiceError.validation(let field, let message) {
            // The reference integration's code for a refused vault request.
            throw PowerAuthErrorResponse(.badRequest, code: "ERR_SECURE_VAULT", message: "\(field): \(message)")
        } catch PowerAuthServiceError.authenticationFailed {
            throw PhoneAuthentication.authenticationFailed
        }
        return try Routes.vaultUnlock.respond(
            try Self.encrypt(
                PowerAuthPayloads.VaultUnlockResponse(encryptedVaultEncryptionKey: PowerAuthBase64.encode(encrypted), signatureValid: true),
                with: response))
    }

    /// Protocol 3.3: `{"requestObject": {"jwt"}}` → `{"responseObject": {"jwt"}}`.
    @Sendable func createTemporaryKey(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try Routes.keystoreCreate.decode(try await PhoneAuthentication.rawBody(request, limit: settings.maxBodyBytes))
        let jwt = try await mapped { try await powerAuth.createTemporaryKey(requestJWT: body.requestObject.jwt) }
        return try Routes.keystoreCreate.respond(.init(status: .ok, responseObject: .init(jwt: jwt)))
    }

    // MARK: Shared

    /// Decrypts one ECIES request with the master key (application scope) or the activation's
    /// server key (activation scope) — or, in 3.3, the temporary key the cryptogram names.
    private func decrypt(
        _ body: PowerAuthECIES.EncryptedRequestBody, version: PowerAuthProtocolVersion, sharedInfo1: String,
        application: OpenedApplication, activation: Registration? = nil
    ) async throws -> ([UInt8], PowerAuthECIES.ResponseEncryptor) {
        let scope: PowerAuthECIES.Scope
        var privateKey: P256.KeyAgreement.PrivateKey
        if let activation {
            scope = .activation(activationID: activation.id, transportKey: try powerAuth.openSecrets(of: activation).transport)
            privateKey = try powerAuth.openServerPrivateKey(of: activation)
        } else {
            scope = .application
            privateKey = application.masterPrivateKey
        }
        if let keyID = body.temporaryKeyId {
            privateKey = try await mapped {
                try await powerAuth.temporaryPrivateKey(id: keyID, application: application.application, activationID: activation?.id)
            }
        }
        let parameters = PowerAuthECIES.Parameters(
            version: version, sharedInfo1: sharedInfo1, applicationKey: application.application.applicationKey,
            applicationSecret: application.applicationSecret, scope: scope, temporaryKeyID: body.temporaryKeyId)
        let cryptogram: PowerAuthECIES.Cryptogram
        let decrypted: PowerAuthECIES.DecryptedRequest
        do {
            cryptogram = try body.cryptogram()
            decrypted = try PowerAuthECIES.ServerDecryptor(privateKey: privateKey, parameters: parameters).decryptRequest(cryptogram)
        } catch {
            throw PowerAuthErrorResponse(.badRequest, code: "ERR_ENCRYPTION", message: "The encrypted request is refused: \(error.description).")
        }
        // Authentic, now fresh: 3.2+ timestamp window and nonce seen by no node before.
        do {
            try await powerAuth.checkFreshness(
                of: cryptogram, version: version, identifier: activation?.id ?? application.application.applicationKey)
        } catch let error as PowerAuthServiceError {
            throw PowerAuthErrorResponse.integration(error)
        }
        return (decrypted.plaintext, decrypted.response)
    }

    private static func encrypt(_ value: some Encodable, with encryptor: PowerAuthECIES.ResponseEncryptor) throws
        -> PowerAuthECIES.EncryptedResponseBody
    {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return PowerAuthECIES.EncryptedResponseBody(try encryptor.encryptResponse(Array(try encoder.encode(value))))
    }

    /// Core refusals on this face: activation problems are `ERR_ACTIVATION`.
    private func mapped<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PowerAuthServiceError {
            switch error {
            case .applicationNotFound, .activationCodeNotFound, .wrongActivationOTP, .registrationNotFound, .registrationState,
                .validation:
                let message = PowerAuthErrorResponse.integration(error).message
                throw PowerAuthErrorResponse(.badRequest, code: "ERR_ACTIVATION", message: message)
            default:
                throw PowerAuthErrorResponse.integration(error)
            }
        }
    }

    private static func activationError(_ message: String) -> PowerAuthErrorResponse {
        PowerAuthErrorResponse(.badRequest, code: "ERR_ACTIVATION", message: message)
    }
}

extension HTTPField.Name {
    static let powerAuthAuthorization = Self("X-PowerAuth-Authorization")!
    static let powerAuthEncryption = Self("X-PowerAuth-Encryption")!
    static let powerAuthToken = Self("X-PowerAuth-Token")!
}
