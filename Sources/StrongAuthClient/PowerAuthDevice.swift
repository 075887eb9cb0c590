import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import StrongAuthAPI
import StrongAuthProtocol

/// The phone's side of PowerAuth 3.1–3.3 (the Standard RESTful API under `/enrollment-server/pa/v3`),
/// as the PowerAuth mobile SDK behaves: the key exchange with an activation code, signatures with
/// a hash-based counter, the activation status, MAC tokens, PIN validation and removal.
///
/// All cryptography is `StrongAuthProtocol`'s (the same code the server runs, checked against the
/// reference vectors); this type only arranges it into requests and keeps the state in a
/// ``PowerAuthActivationStore``. It is an actor because every signature moves the counter: two
/// concurrent signatures must not use (and persist) the same counter value.
///
/// ```swift
/// let phone = PowerAuthDevice(configuration: config, store: FilePowerAuthActivationStore(directory: dir))
/// let activation = try await phone.activate(code: "V42UC-HRMDV-VW57V-6LEYA", name: "John's iPhone", pin: "1234")
/// // show activation.fingerprint; the integrator commits …
/// let header = try await phone.sign(method: "POST", uriId: "/login", body: Array("{}".utf8), pin: "1234")
/// ```
public actor PowerAuthDevice {
    public let configuration: PowerAuthDeviceConfiguration
    public let store: any PowerAuthActivationStore
    /// The activation this phone holds; `nil` before ``activate(code:otp:name:platform:deviceInfo:pin:)``
    /// and after ``remove(pin:)``.
    public private(set) var activationID: String?
    /// PBKDF2 rounds for protecting the knowledge key of a new activation (stored with it).
    public let pinIterations: Int

    private let transport: Transport
    /// Protocol 3.3 temporary encryption keys, by scope (`""` for the application, else the activation id).
    private var temporaryKeys: [String: TemporaryKey] = [:]

    private struct TemporaryKey {
        var id: String
        var publicKey: P256.KeyAgreement.PublicKey
        /// Unix milliseconds (server clock).
        var expiresAt: UInt64
    }

    /// - Parameters:
    ///   - activationID: an activation already in `store` (see also ``load(activationID:store:http:)``).
    ///   - pinIterations: at least ``PowerAuthProtectedKnowledgeKey/minimumIterations``.
    public init(
        configuration: PowerAuthDeviceConfiguration, store: any PowerAuthActivationStore, activationID: String? = nil,
        pinIterations: Int = PowerAuthProtectedKnowledgeKey.defaultIterations, http: HTTPClient = .shared
    ) {
        self.configuration = configuration
        self.store = store
        self.activationID = activationID
        self.pinIterations = pinIterations
        transport = Transport(baseURL: configuration.enrollmentBaseURL, http: http)
    }

    /// The phone of a stored activation, with the configuration it was activated with.
    public static func load(activationID: String, store: any PowerAuthActivationStore, http: HTTPClient = .shared) throws -> PowerAuthDevice {
        guard let record = try store.load(activationID: activationID) else { throw PowerAuthDeviceError.noActivation(activationID) }
        return PowerAuthDevice(configuration: record.configuration, store: store, activationID: activationID, http: http)
    }

    /// The 8-digit fingerprint of the key exchange (compare with the registration's `activationFingerprint`).
    public func fingerprint() throws -> String {
        try requireRecord().fingerprint
    }

    // MARK: Activation

    /// `POST /pa/v3/activation/create`: the key exchange with an activation code.
    ///
    /// `code` is the code (`XXXXX-XXXXX-XXXXX-XXXXX`) or the QR data `CODE#SIGNATURE`; a
    /// signature, when present, must be the master key's (a forged QR code is refused before
    /// anything is sent). The device key pair is made here; the request is ECIES twice
    /// (`/pa/activation` inside `/pa/generic/application`), both to the master key — or, in
    /// 3.3, to an application-scope temporary key. The PIN protects the knowledge key and is
    /// not kept.
    public func activate(
        code: String, otp: String? = nil, name: String, platform: String = "ios", deviceInfo: String = "StrongAuth simulator",
        pin: String
    ) async throws -> PowerAuthActivationResult {
        if let activationID { throw PowerAuthDeviceError.alreadyActivated(activationID) }
        guard configuration.protocolVersion >= .v3_1 else {
            throw PowerAuthDeviceError.unsupportedVersion(configuration.protocolVersion.rawValue)
        }
        guard !pin.isEmpty else { throw PowerAuthDeviceError.pinRequired }
        let activationCode = try verifiedActivationCode(code)

        let devicePrivateKey = P256.KeyAgreement.PrivateKey()
        let (encryptionKey, temporaryKeyID) = try await encryptionKey(for: nil)
        let layer2 = PowerAuthECIES.ClientEncryptor(
            publicKey: encryptionKey,
            parameters: parameters(sharedInfo1: PowerAuthECIES.SharedInfo1.activationLayer2, scope: .application, temporaryKeyID: temporaryKeyID))
        let (layer2Request, layer2Response) = try layer2.encryptRequest(
            try Self.json(
                PowerAuthPayloads.ActivationLayer2Request(
                    devicePublicKey: PowerAuthBase64.encode(devicePrivateKey.publicKey.compressedRepresentation), activationName: name,
                    activationOtp: otp, platform: platform, deviceInfo: deviceInfo)))
        let layer1 = PowerAuthECIES.ClientEncryptor(
            publicKey: encryptionKey,
            parameters: parameters(
                sharedInfo1: PowerAuthECIES.SharedInfo1.applicationScopeGeneric, scope: .application, temporaryKeyID: temporaryKeyID))
        let (layer1Request, layer1Response) = try layer1.encryptRequest(
            try Self.json(
                PowerAuthPayloads.ActivationLayer1Request(
                    type: "CODE", identityAttributes: ["code": activationCode], customAttributes: [:],
                    activationData: PowerAuthECIES.EncryptedRequestBody(layer2Request))))

        let header = PowerAuthEncryptionHeader(applicationKey: configuration.applicationKey, version: configuration.protocolVersion)
        let answer = try await post(
            "/pa/v3/activation/create", body: try Self.json(PowerAuthECIES.EncryptedRequestBody(layer1Request)),
            headers: [(PowerAuthEncryptionHeader.headerName, header.headerValue)])
        let outer = try layer1Response.decryptResponse(try Self.decode(PowerAuthECIES.EncryptedResponseBody.self, answer).cryptogram())
        let layer1Answer = try Self.decode(PowerAuthPayloads.ActivationLayer1Response.self, outer)
        let inner = try layer2Response.decryptResponse(try layer1Answer.activationData.cryptogram())
        let layer2Answer = try Self.decode(PowerAuthPayloads.ActivationLayer2Response.self, inner)

        guard let serverKeyBytes = PowerAuthBase64.decode(layer2Answer.serverPublicKey) else {
            throw PowerAuthDeviceError.invalidResponse("serverPublicKey is not Base64")
        }
        let serverPublicKey = try PowerAuthECIES.publicKey(fromSEC1: serverKeyBytes)
        guard let counterData = PowerAuthBase64.decode(layer2Answer.ctrData), counterData.count == 16 else {
            throw PowerAuthDeviceError.invalidResponse("ctrData is not Base64 of 16 bytes")
        }
        let keys = try PowerAuthDerivedKeys(
            masterSecret: try PowerAuthDerivedKeys.masterSecret(privateKey: devicePrivateKey, publicKey: serverPublicKey))
        let fingerprint = PowerAuthFingerprint.compute(
            devicePublicKey: devicePrivateKey.publicKey, activationID: layer2Answer.activationId, serverPublicKey: serverPublicKey)
        let record = PowerAuthActivationRecord(
            configuration: configuration, activationID: layer2Answer.activationId, devicePrivateKey: devicePrivateKey.rawRepresentation,
            serverPublicKey: serverPublicKey.x963Representation, possessionKey: Data(keys.possession),
            knowledgeKey: try PowerAuthProtectedKnowledgeKey.protect(keys.knowledge, pin: pin, iterations: pinIterations),
            biometryKey: Data(keys.biometry), transportKey: Data(keys.transport), vaultKey: Data(keys.vault),
            counterData: Data(counterData), fingerprint: fingerprint)
        try store.save(record)
        activationID = record.activationID
        return PowerAuthActivationResult(activationID: record.activationID, fingerprint: fingerprint)
    }

    /// The code part of `code` or of QR data `CODE#SIGNATURE`, with the checksum checked and the
    /// signature (if any) verified against the master public key.
    private func verifiedActivationCode(_ code: String) throws -> String {
        let parts = code.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let activationCode = parts[0].trimmingCharacters(in: .whitespaces)
        guard PowerAuthActivationCode.isValid(activationCode) else {
            throw PowerAuthDeviceError.invalidActivationCode("not four groups of five Base32 characters with a valid checksum")
        }
        if parts.count == 2, !parts[1].isEmpty {
            let masterKey = try P256.Signing.PublicKey(rawRepresentation: try masterPublicKey().rawRepresentation)
            guard PowerAuthActivationCode.verify(activationCode, signatureBase64: parts[1], masterPublicKey: masterKey) else {
                throw PowerAuthDeviceError.invalidActivationCode("the signature is not the application's master key's")
            }
        }
        return activationCode
    }

    // MARK: Signatures

    /// The `X-PowerAuth-Authorization` value for a request: the signature over
    /// `METHOD&uriId&nonce&body&appSecret` with the chosen factors' keys at the current counter.
    ///
    /// The counter moves on and is persisted *before* the header is returned, so a counter value
    /// is never used twice. A wrong PIN still produces a header — with a wrong knowledge key, which
    /// only the server can tell (and counts).
    public func sign(
        method: String, uriId: String, body: [UInt8], factors: [PowerAuthSignature.Factor] = [.possession, .knowledge],
        pin: String? = nil
    ) throws -> String {
        var record = try requireRecord()
        return try sign(&record, method: method, uriId: uriId, body: body, factors: factors, pin: pin)
    }

    private func sign(
        _ record: inout PowerAuthActivationRecord, method: String, uriId: String, body: [UInt8], factors: [PowerAuthSignature.Factor],
        pin: String?
    ) throws -> String {
        let signatureType = factors.map(\.rawValue).joined(separator: "_")
        guard PowerAuthSignature.factors(of: signatureType) == factors else { throw PowerAuthDeviceError.invalidFactors(signatureType) }
        let keys = try factors.map { factor -> [UInt8] in
            switch factor {
            case .possession: return Array(record.possessionKey)
            case .biometry: return Array(record.biometryKey)
            case .knowledge:
                guard let pin, !pin.isEmpty else { throw PowerAuthDeviceError.pinRequired }
                return try record.knowledgeKey.unlock(pin: pin)
            }
        }
        let nonce = SecureRandom.bytes(16)
        let data = PowerAuthSignature.baseString(
            method: method, uriID: uriId, nonce: nonce, body: body, applicationSecret: record.configuration.applicationSecret)
        let signature = PowerAuthSignature.compute(
            data: Array(data.utf8), counterData: Array(record.counterData), keys: keys, format: .base64)
        record.counterData = Data(PowerAuthStatusBlob.nextCounterData(Array(record.counterData)))
        record.counter += 1
        try store.save(record)
        return PowerAuthAuthorizationHeader(
            activationID: record.activationID, applicationKey: record.configuration.applicationKey, nonce: nonce,
            signatureType: signatureType, signature: signature, version: record.configuration.protocolVersion
        ).headerValue
    }

    /// `POST /pa/v3/signature/validate` signed possession + knowledge: whether `pin` is right.
    /// A wrong PIN counts as a failed attempt on the server, exactly as a wrong signature would.
    public func validatePin(_ pin: String) async throws -> Bool {
        do {
            _ = try await signedPost(
                "/pa/v3/signature/validate", uriId: "/pa/signature/validate", body: Array("{}".utf8), factors: [.possession, .knowledge],
                pin: pin)
            return true
        } catch let error as PowerAuthServerError where error.status == 401 && error.code == "ERR_AUTHENTICATION" {
            return false
        }
    }

    // MARK: Status

    /// `POST /pa/v3/activation/status`: decrypts the status blob (transport key, IV from our
    /// challenge and the server's nonce).
    ///
    /// Like the mobile SDK, when the blob's counter hash shows the server *ahead* of this phone
    /// within the look-ahead window (the phone lost state, e.g. restored from a backup), the local
    /// counter moves forward to the server's, so the next signature is not a replay.
    public func status() async throws -> PowerAuthActivationStatus {
        var record = try requireRecord()
        let challenge = SecureRandom.bytes(16)
        let answer = try await post(
            "/pa/v3/activation/status",
            body: try Self.json(
                Components.Schemas.ActivationStatusRequest(
                    requestObject: .init(activationId: record.activationID, challenge: PowerAuthBase64.encode(challenge)))))
        let response = try Self.decode(Components.Schemas.ActivationStatusResponse.self, answer).responseObject
        guard response.activationId == record.activationID else {
            throw PowerAuthDeviceError.invalidResponse("the status is about another activation")
        }
        guard let nonce = PowerAuthBase64.decode(response.nonce), nonce.count == 16,
            let encrypted = PowerAuthBase64.decode(response.encryptedStatusBlob)
        else { throw PowerAuthDeviceError.invalidResponse("nonce or encryptedStatusBlob is malformed") }
        let transportKey = Array(record.transportKey)
        let blob: PowerAuthStatusBlob
        do {
            blob = try PowerAuthStatusBlob.decrypt(encrypted, transportKey: transportKey, challenge: challenge, nonce: nonce)
        } catch {
            throw PowerAuthDeviceError.invalidResponse("the status blob does not decrypt under this activation's transport key")
        }
        guard let state = PowerAuthActivationStatus.State(byte: blob.status) else {
            throw PowerAuthDeviceError.invalidResponse("unknown activation status \(blob.status)")
        }

        var sync = PowerAuthActivationStatus.CounterSync.deviceAhead
        var candidate = Array(record.counterData)
        for steps in 0..<max(1, Int(blob.counterLookAhead)) {
            let hash = try PowerAuthStatusBlob.counterDataHash(transportKey: transportKey, counterData: candidate)
            if ConstantTime.equals(hash, blob.counterDataHash) {
                sync = steps == 0 ? .inSync : .caughtUp(steps: steps)
                break
            }
            candidate = PowerAuthStatusBlob.nextCounterData(candidate)
        }
        if case .caughtUp(let steps) = sync {
            record.counterData = Data(candidate)
            record.counter += steps
            try store.save(record)
        }
        return PowerAuthActivationStatus(
            state: state, failedAttempts: Int(blob.failedAttempts), maxFailedAttempts: Int(blob.maxFailedAttempts),
            counterLookAhead: Int(blob.counterLookAhead), currentVersion: Int(blob.currentVersion), upgradeVersion: Int(blob.upgradeVersion),
            counterSync: sync)
    }

    // MARK: Tokens

    /// `POST /pa/v3/token/create`: ECIES in activation scope (`/pa/token/create`) over `{}`, then
    /// a signature over the encrypted body (encrypt-then-sign, uriId `/pa/token/create`) —
    /// possession + knowledge with a PIN, possession alone without. Returns the token id; the
    /// secret stays in the store for ``tokenHeader(for:at:)``.
    public func createToken(pin: String?) async throws -> String {
        var record = try requireRecord()
        let (encryptionKey, temporaryKeyID) = try await encryptionKey(for: record)
        let encryptor = PowerAuthECIES.ClientEncryptor(
            publicKey: encryptionKey,
            parameters: parameters(
                sharedInfo1: PowerAuthECIES.SharedInfo1.createToken,
                scope: .activation(activationID: record.activationID, transportKey: Array(record.transportKey)),
                temporaryKeyID: temporaryKeyID))
        let (request, responseDecryptor) = try encryptor.encryptRequest(Array("{}".utf8))
        let body = try Self.json(PowerAuthECIES.EncryptedRequestBody(request))
        let factors: [PowerAuthSignature.Factor] = pin == nil ? [.possession] : [.possession, .knowledge]
        let header = try sign(&record, method: "POST", uriId: "/pa/token/create", body: body, factors: factors, pin: pin)
        let answer = try await post("/pa/v3/token/create", body: body, headers: [(PowerAuthAuthorizationHeader.headerName, header)])
        let plaintext = try responseDecryptor.decryptResponse(try Self.decode(PowerAuthECIES.EncryptedResponseBody.self, answer).cryptogram())
        let token = try Self.decode(PowerAuthPayloads.TokenCreateResponse.self, plaintext)
        guard let secret = PowerAuthBase64.decode(token.tokenSecret), secret.count == 16 else {
            throw PowerAuthDeviceError.invalidResponse("tokenSecret is not Base64 of 16 bytes")
        }
        record.tokens[token.tokenId] = Data(secret)
        try store.save(record)
        return token.tokenId
    }

    /// An `X-PowerAuth-Token` value for a stored token: HMAC of the token secret over a fresh
    /// nonce and the timestamp (and the version from 3.2 on). Good for any number of requests;
    /// the server checks the timestamp against its own clock.
    public func tokenHeader(for tokenID: String, at date: Date = Date()) throws -> String {
        let record = try requireRecord()
        guard let secret = record.tokens[tokenID] else { throw PowerAuthDeviceError.unknownToken(tokenID) }
        let nonce = SecureRandom.bytes(16)
        let timestamp = UInt64(max(0, (date.timeIntervalSince1970 * 1000).rounded(.down)))
        let version = record.configuration.protocolVersion
        let digest = PowerAuthTokenDigest.compute(tokenSecret: Array(secret), nonce: nonce, timestamp: timestamp, version: version)
        return PowerAuthTokenHeader(tokenID: tokenID, tokenDigest: digest, nonce: nonce, timestamp: timestamp, version: version).headerValue
    }

    /// The ids of the tokens this phone holds.
    public func tokenIDs() throws -> [String] {
        try requireRecord().tokens.keys.sorted()
    }

    /// `POST /pa/v3/token/remove` (`{"requestObject": {"tokenId"}}`, signed possession): the
    /// server forgets the token, then so does the phone.
    public func removeToken(_ tokenID: String) async throws {
        var record = try requireRecord()
        let body = try Self.json(Components.Schemas.TokenRemoveRequest(requestObject: .init(tokenId: tokenID)))
        let header = try sign(&record, method: "POST", uriId: "/pa/token/remove", body: body, factors: [.possession], pin: nil)
        _ = try await post("/pa/v3/token/remove", body: body, headers: [(PowerAuthAuthorizationHeader.headerName, header)])
        record.tokens[tokenID] = nil
        try store.save(record)
    }

    // MARK: Vault

    /// `POST /pa/v3/vault/unlock`: ECIES in activation scope (`/pa/vault/unlock`) over
    /// `{"reason"}`, then a two-factor signature over the encrypted body (uriId
    /// `/pa/vault/unlock`) — possession + knowledge with a PIN, possession + biometry without.
    /// Returns `KEY_ENCRYPTION_VAULT`, which the server sends under `KEY_TRANSPORT`; the mobile
    /// SDKs use it to add biometry after activation or to open the device private key.
    ///
    /// This SDK also keeps the key it derived at activation, so the server's answer is checked
    /// against it (constant time): a server that answers another key is an invalid response. A
    /// wrong PIN is a 401 the server counts, as for any signed call. `reason` is logged by the
    /// server: 3–255 of `A-Z a-z 0-9 _ - .` (the SDKs send `ADD_BIOMETRY`,
    /// `FETCH_ENCRYPTION_KEY`, `SIGN_WITH_DEVICE_PRIVATE_KEY`).
    public func unlockVault(pin: String?, reason: String = "NOT_SPECIFIED") async throws -> Data {
        var record = try requireRecord()
        let (encryptionKey, temporaryKeyID) = try await encryptionKey(for: record)
        let encryptor = PowerAuthECIES.ClientEncryptor(
            publicKey: encryptionKey,
            parameters: parameters(
                sharedInfo1: PowerAuthECIES.SharedInfo1.vaultUnlock,
                scope: .activation(activationID: record.activationID, transportKey: Array(record.transportKey)),
                temporaryKeyID: temporaryKeyID))
        let (request, responseDecryptor) = try encryptor.encryptRequest(try Self.json(PowerAuthPayloads.VaultUnlockRequest(reason: reason)))
        let body = try Self.json(PowerAuthECIES.EncryptedRequestBody(request))
        let factors: [PowerAuthSignature.Factor] = pin == nil ? [.possession, .biometry] : [.possession, .knowledge]
        let header = try sign(&record, method: "POST", uriId: "/pa/vault/unlock", body: body, factors: factors, pin: pin)
        let answer = try await post("/pa/v3/vault/unlock", body: body, headers: [(PowerAuthAuthorizationHeader.headerName, header)])
        let plaintext = try responseDecryptor.decryptResponse(try Self.decode(PowerAuthECIES.EncryptedResponseBody.self, answer).cryptogram())
        let unlocked = try Self.decode(PowerAuthPayloads.VaultUnlockResponse.self, plaintext)
        guard unlocked.signatureValid != false, let encrypted = PowerAuthBase64.decode(unlocked.encryptedVaultEncryptionKey),
            let vaultKey = try? PowerAuthVault.decryptVaultKey(encrypted, transportKey: Array(record.transportKey)),
            ConstantTime.equals(vaultKey, Array(record.vaultKey))
        else { throw PowerAuthDeviceError.invalidResponse("encryptedVaultEncryptionKey is not this activation's vault key") }
        return Data(vaultKey)
    }

    // MARK: Removal

    /// `POST /pa/v3/activation/remove`, signed possession + knowledge (`/pa/activation/remove`):
    /// the registration becomes REMOVED and the phone forgets everything.
    public func remove(pin: String) async throws {
        _ = try await signedPost(
            "/pa/v3/activation/remove", uriId: "/pa/activation/remove", body: Array("{}".utf8), factors: [.possession, .knowledge], pin: pin)
        try removeLocal()
    }

    /// Forgets the activation on this phone only (e.g. after the server reports it REMOVED).
    public func removeLocal() throws {
        guard let activationID else { return }
        try store.delete(activationID: activationID)
        temporaryKeys[activationID] = nil
        self.activationID = nil
    }

    // MARK: Plumbing

    private func requireRecord() throws -> PowerAuthActivationRecord {
        guard let activationID else { throw PowerAuthDeviceError.notActivated }
        guard let record = try store.load(activationID: activationID) else { throw PowerAuthDeviceError.noActivation(activationID) }
        return record
    }

    private func signedPost(
        _ path: String, uriId: String, body: [UInt8], factors: [PowerAuthSignature.Factor], pin: String?
    ) async throws -> Transport.RawResponse {
        var record = try requireRecord()
        let header = try sign(&record, method: "POST", uriId: uriId, body: body, factors: factors, pin: pin)
        return try await post(path, body: body, headers: [(PowerAuthAuthorizationHeader.headerName, header)])
    }

    /// POSTs exactly `body` (a signature may cover its bytes) and returns a 2xx answer; anything
    /// else becomes ``PowerAuthServerError``.
    private func post(_ path: String, body: [UInt8], headers: [(String, String)] = []) async throws -> Transport.RawResponse {
        let response = try await transport.send(
            .POST, path, headers: [("Content-Type", "application/json"), ("Accept", "application/json")] + headers,
            body: ByteBuffer(bytes: body))
        try PowerAuthWire.expectSuccess(response)
        return response
    }

    private func parameters(sharedInfo1: String, scope: PowerAuthECIES.Scope, temporaryKeyID: String?) -> PowerAuthECIES.Parameters {
        PowerAuthECIES.Parameters(
            version: configuration.protocolVersion, sharedInfo1: sharedInfo1, applicationKey: configuration.applicationKey,
            applicationSecret: configuration.applicationSecret, scope: scope, temporaryKeyID: temporaryKeyID)
    }

    private func masterPublicKey() throws -> P256.KeyAgreement.PublicKey {
        guard let bytes = PowerAuthBase64.decode(configuration.masterPublicKey) else {
            throw PowerAuthDeviceError.invalidState("the master public key is not Base64")
        }
        return try PowerAuthECIES.publicKey(fromSEC1: bytes)
    }

    /// The key ECIES encrypts to: before 3.3 the master key (application scope) or the server's
    /// activation key; in 3.3 a temporary key of that scope from `/pa/v3/keystore/create`,
    /// reused until ten seconds before it expires.
    private func encryptionKey(for record: PowerAuthActivationRecord?) async throws -> (P256.KeyAgreement.PublicKey, String?) {
        let serverKey = try record.map { try PowerAuthECIES.publicKey(fromSEC1: Array($0.serverPublicKey)) } ?? masterPublicKey()
        guard configuration.protocolVersion >= .v3_3 else { return (serverKey, nil) }
        let scope = record?.activationID ?? ""
        let now = UInt64(max(0, Date().timeIntervalSince1970 * 1000))
        if let cached = temporaryKeys[scope], cached.expiresAt > now + 10_000 { return (cached.publicKey, cached.id) }

        let request = PowerAuthTemporaryKey.Request(
            applicationKey: configuration.applicationKey, activationID: record?.activationID,
            challenge: PowerAuthTemporaryKey.Request.randomChallenge())
        let signingKey =
            if let record {
                try PowerAuthTemporaryKey.activationSigningKey(
                    applicationSecret: configuration.applicationSecret, transportKey: Array(record.transportKey))
            } else {
                try PowerAuthTemporaryKey.applicationSigningKey(applicationSecret: configuration.applicationSecret)
            }
        let jwt = try PowerAuthTemporaryKey.makeRequestJWT(request, signingKey: signingKey, issuedAt: now / 1000)
        let answer = try await post(
            "/pa/v3/keystore/create", body: try Self.json(Components.Schemas.JWTRequest(requestObject: .init(jwt: jwt))))
        let responseJWT = try Self.decode(Components.Schemas.JWTResponse.self, answer).responseObject.jwt
        let grant = try PowerAuthTemporaryKey.verifyResponseJWT(
            responseJWT, publicKey: try P256.Signing.PublicKey(rawRepresentation: serverKey.rawRepresentation), request: request)
        let key = TemporaryKey(id: grant.keyID, publicKey: try PowerAuthECIES.publicKey(fromSEC1: grant.publicKey), expiresAt: grant.expiresAt)
        temporaryKeys[scope] = key
        return (key.publicKey, key.id)
    }

    private static func json(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch {
            throw PowerAuthDeviceError.invalidResponse("the decrypted answer is not the expected \(T.self)")
        }
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ response: Transport.RawResponse) throws -> T {
        try PowerAuthWire.decode(T.self, response)
    }
}

// MARK: - Results and errors

/// What the phone shows after the key exchange.
public struct PowerAuthActivationResult: Sendable, Equatable {
    /// The activation id (the integrator's `registrationId`).
    public var activationID: String
    /// 8 digits; equal to the registration's `activationFingerprint` unless someone swapped keys.
    public var fingerprint: String
}

/// The decrypted activation status.
public struct PowerAuthActivationStatus: Sendable, Equatable {
    public enum State: String, Sendable, Equatable {
        case created = "CREATED"
        case pendingCommit = "PENDING_COMMIT"
        case active = "ACTIVE"
        case blocked = "BLOCKED"
        case removed = "REMOVED"

        init?(byte: UInt8) {
            switch byte {
            case 1: self = .created
            case 2: self = .pendingCommit
            case 3: self = .active
            case 4: self = .blocked
            case 5: self = .removed
            default: return nil
            }
        }
    }

    /// Where the phone's counter stands against the server's.
    public enum CounterSync: Sendable, Equatable {
        /// The same counter value.
        case inSync
        /// The server was ahead by `steps`; the phone moved its counter forward to match.
        case caughtUp(steps: Int)
        /// The server's value is not within the look-ahead from ours: the phone is ahead (signatures
        /// the server never saw or refused) — fine while within the server's look-ahead window.
        case deviceAhead
    }

    public var state: State
    public var failedAttempts: Int
    public var maxFailedAttempts: Int
    public var counterLookAhead: Int
    public var currentVersion: Int
    public var upgradeVersion: Int
    public var counterSync: CounterSync

    /// Knowledge or biometry signatures the server accepts before it blocks the activation.
    public var remainingAttempts: Int { max(0, maxFailedAttempts - failedAttempts) }
}

/// Failures on the phone's own side (the server's refusals are ``PowerAuthServerError``).
public enum PowerAuthDeviceError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The phone holds no activation.
    case notActivated
    /// The phone already holds this activation; remove it first.
    case alreadyActivated(String)
    /// The store has no record for this activation id.
    case noActivation(String)
    /// A knowledge-factor operation without a PIN.
    case pinRequired
    case invalidActivationCode(String)
    /// ECIES and this SDK need protocol 3.1 or later.
    case unsupportedVersion(String)
    /// Not a PowerAuth signature type (e.g. knowledge without possession).
    case invalidFactors(String)
    case unknownToken(String)
    /// The server's answer does not decrypt, verify or parse.
    case invalidResponse(String)
    /// The stored state is unusable.
    case invalidState(String)

    public var description: String {
        switch self {
        case .notActivated: "the phone has no activation"
        case .alreadyActivated(let id): "the phone already holds activation \(id)"
        case .noActivation(let id): "no stored activation \(id)"
        case .pinRequired: "a PIN is required for the knowledge factor"
        case .invalidActivationCode(let reason): "invalid activation code: \(reason)"
        case .unsupportedVersion(let version): "protocol version \(version) is not supported (3.1–3.3)"
        case .invalidFactors(let type): "\(type) is not a PowerAuth signature type"
        case .unknownToken(let id): "no stored token \(id)"
        case .invalidResponse(let reason): "invalid server answer: \(reason)"
        case .invalidState(let reason): "invalid stored state: \(reason)"
        }
    }
}

// MARK: - Approvals (Wultra's mobile token API)

/// A pending approval as the mobile token API lists it (`Components.Schemas.MobileOperation` on
/// the wire): `data` is exactly what the phone must show and, to approve, sign.
public struct PowerAuthPendingOperation: Sendable, Equatable {
    /// What the screen shows: a title, a message and labelled values (from the operation's template).
    public struct FormData: Sendable, Equatable {
        public struct Attribute: Sendable, Equatable {
            public var id: String
            public var label: String
            public var value: String
        }
        public var title: String
        public var message: String
        public var attributes: [Attribute]
    }

    public var id: String
    public var name: String
    public var data: String
    public var status: String
    public var formData: FormData?

    /// The SDK's view of the wire type.
    init(_ wire: Components.Schemas.MobileOperation) {
        id = wire.id
        name = wire.name
        data = wire.data
        status = wire.status
        formData = FormData(
            title: wire.formData.title, message: wire.formData.message,
            attributes: wire.formData.attributes.map { .init(id: $0.id, label: $0.label, value: $0.value) })
    }
}

extension PowerAuthDevice {
    /// The user's pending approvals (`…/operation/list`, authenticated with the MAC token `tokenID`).
    public func pendingOperations(tokenID: String) async throws -> [PowerAuthPendingOperation] {
        let answer = try await post(
            "/api/auth/token/app/operation/list", body: Array("{}".utf8),
            headers: [(PowerAuthTokenHeader.headerName, try tokenHeader(for: tokenID))])
        return try Self.decode(Components.Schemas.MobileOperationList.self, answer).responseObject.map(PowerAuthPendingOperation.init)
    }

    /// Approves what was shown: `…/operation/authorize` with `{id, data}` signed possession +
    /// knowledge (uriId `/operation/authorize`). The server approves only this exact data.
    public func authorize(_ operation: PowerAuthPendingOperation, pin: String) async throws {
        let body = try Self.json(
            Components.Schemas.MobileOperationAuthorizeRequest(requestObject: .init(id: operation.id, data: operation.data)))
        _ = try await signedPost(
            "/api/auth/token/app/operation/authorize", uriId: "/operation/authorize", body: body, factors: [.possession, .knowledge], pin: pin)
    }

    /// Rejects (`…/operation/cancel`, signed possession, uriId `/operation/cancel`).
    public func reject(operationID: String, reason: String? = nil) async throws {
        let body = try Self.json(Components.Schemas.MobileOperationCancelRequest(requestObject: .init(id: operationID, reason: reason)))
        _ = try await signedPost("/api/auth/token/app/operation/cancel", uriId: "/operation/cancel", body: body, factors: [.possession], pin: nil)
    }
}
