import Crypto
import CryptoExtras
import Foundation

/// PowerAuth 3.x end-to-end encryption ("ECIES"), byte-compatible with the Wultra reference
/// (wultra/powerauth-crypto `powerauth-java-crypto/.../lib/encryptor/ecies/*`, `lib/util/EciesUtils.java`,
/// `lib/encryptor/model/EncryptorId.java`) and checked against its E2EE test vectors.
///
/// One request–response cycle:
/// 1. The client makes an ephemeral P-256 key pair and computes ECDH with the server's key
///    (master key in application scope, activation server key in activation scope, or the
///    temporary key in 3.3). The full 32-byte shared x-coordinate is kept (not folded).
/// 2. Envelope key = X9.63-KDF-SHA256(shared, info, 48) with info = sharedInfo1′ ‖ ephemeralPublicKey
///    (the key bytes exactly as sent), where sharedInfo1′ is the endpoint constant, prefixed
///    with the version string from 3.2 on. It splits into K_ENC ‖ K_MAC ‖ K_IV (16 bytes each).
/// 3. IV = KDF_INTERNAL(K_IV, nonce); data = AES-128-CBC-PKCS7(K_ENC, IV, plaintext);
///    mac = HMAC-SHA256(K_MAC, data ‖ sharedInfo2).
/// 4. The server answers under the same envelope key: in 3.1 with the request's nonce (and no
///    nonce or timestamp in the response body), in 3.2+ with a fresh nonce and timestamp that
///    travel in the response and enter its `sharedInfo2` (without the ephemeral key).
public enum PowerAuthECIES {
    /// The endpoint constants (`SHARED_INFO_1`) of the reference `EncryptorId`.
    public enum SharedInfo1 {
        /// Generic application-scope encryptor; also level 1 of `/pa/v3/activation/create`.
        public static let applicationScopeGeneric = "/pa/generic/application"
        /// Generic activation-scope encryptor (e.g. `/pa/v3/user/info`).
        public static let activationScopeGeneric = "/pa/generic/activation"
        /// Level 2 of `/pa/v3/activation/create` (application scope).
        public static let activationLayer2 = "/pa/activation"
        /// `/pa/v3/upgrade/start` (activation scope).
        public static let upgrade = "/pa/upgrade"
        /// `/pa/v3/vault/unlock` (activation scope).
        public static let vaultUnlock = "/pa/vault/unlock"
        /// `/pa/v3/token/create` (activation scope).
        public static let createToken = "/pa/token/create"
        /// `/pa/v3/recovery/confirm` (activation scope).
        public static let confirmRecoveryCode = "/pa/recovery/confirm"
    }

    /// Whose keys the encryption is bound to.
    public enum Scope: Sendable, Equatable {
        /// Bound to the application: `sharedInfo2Base = SHA-256(UTF8(appSecret))`.
        case application
        /// Bound to one activation: `sharedInfo2Base = HMAC-SHA256(transportKey, UTF8(appSecret))`;
        /// the activation ID enters the associated data from 3.2 on.
        case activation(activationID: String, transportKey: [UInt8])
    }

    /// Everything both sides must agree on besides the key pair.
    ///
    /// `applicationSecret` is the Base64 *string* as configured; the reference hashes its UTF-8
    /// bytes, not the decoded bytes.
    public struct Parameters: Sendable, Equatable {
        public var version: PowerAuthProtocolVersion
        public var sharedInfo1: String
        public var applicationKey: String
        public var applicationSecret: String
        public var scope: Scope
        /// The temporary key's ID (`sub` of the keystore JWT); required in 3.3, forbidden before.
        public var temporaryKeyID: String?

        public init(
            version: PowerAuthProtocolVersion, sharedInfo1: String, applicationKey: String, applicationSecret: String,
            scope: Scope, temporaryKeyID: String? = nil
        ) {
            self.version = version
            self.sharedInfo1 = sharedInfo1
            self.applicationKey = applicationKey
            self.applicationSecret = applicationSecret
            self.scope = scope
            self.temporaryKeyID = temporaryKeyID
        }

        /// Refuses combinations the reference refuses (`EciesUtils`, `EciesRequestResponseValidator`).
        func validate() throws(PowerAuthECIESError) {
            guard version >= .v3_1 else { throw .unsupportedVersion(version.rawValue) }
            if version == .v3_3 {
                guard temporaryKeyID != nil else { throw .invalidParameters("temporary key ID is required in 3.3") }
            } else if temporaryKeyID != nil {
                throw .invalidParameters("temporary key ID is only used from 3.3 on")
            }
            if case .activation(_, let transportKey) = scope, transportKey.count != 16 {
                throw .invalidParameters("transport key must be 16 bytes")
            }
        }

        /// `EciesUtils.deriveSharedInfo2Base`.
        var sharedInfo2Base: [UInt8] {
            let secret = Array(applicationSecret.utf8)
            switch scope {
            case .application:
                return Array(SHA256.hash(data: secret))
            case .activation(_, let transportKey):
                return Array(HMAC<SHA256>.authenticationCode(for: secret, using: SymmetricKey(data: transportKey)))
            }
        }

        /// `EciesUtils.deriveAssociatedData`: none before 3.2; length-prefixed strings after.
        var associatedData: [UInt8]? {
            var strings = [version.rawValue, applicationKey]
            if case .activation(let activationID, _) = scope { strings.append(activationID) }
            switch version {
            case .v3_0, .v3_1:
                return nil
            case .v3_2:
                return PowerAuthBytes.concatStrings(strings)
            case .v3_3:
                return PowerAuthBytes.concatStrings(strings + [temporaryKeyID ?? ""])
            }
        }

        /// `EncryptorId.getEciesSharedInfo1`: the constant, prefixed with the version from 3.2 on.
        var kdfSharedInfo1: [UInt8] {
            version >= .v3_2 ? Array(version.rawValue.utf8) + Array(sharedInfo1.utf8) : Array(sharedInfo1.utf8)
        }

        /// `EciesUtils.deriveSharedInfo2`: the base alone before 3.2; from 3.2 the length-prefixed
        /// base ‖ nonce ‖ BE64(timestamp) ‖ ephemeral key (empty for responses) ‖ associated data.
        func sharedInfo2(nonce: [UInt8]?, timestamp: UInt64?, ephemeralPublicKey: [UInt8]?) -> [UInt8] {
            guard version >= .v3_2 else { return sharedInfo2Base }
            return PowerAuthBytes.concatWithSizes([
                sharedInfo2Base, nonce, timestamp.map(PowerAuthBytes.bigEndian), ephemeralPublicKey, associatedData,
            ])
        }

        /// Whether request and response carry their own timestamp and nonce (3.2+).
        var usesTimestamp: Bool { version >= .v3_2 }
    }

    /// One encrypted payload as it travels (decoded from the JSON Base64 fields).
    ///
    /// Requests carry `ephemeralPublicKey`, `nonce`, from 3.2 `timestamp` and in 3.3
    /// `temporaryKeyID`; responses carry `nonce` and `timestamp` from 3.2 on and never a key.
    public struct Cryptogram: Sendable, Equatable {
        public var temporaryKeyID: String?
        public var ephemeralPublicKey: [UInt8]?
        public var encryptedData: [UInt8]
        public var mac: [UInt8]
        public var nonce: [UInt8]?
        public var timestamp: UInt64?

        public init(
            temporaryKeyID: String? = nil, ephemeralPublicKey: [UInt8]? = nil, encryptedData: [UInt8], mac: [UInt8],
            nonce: [UInt8]? = nil, timestamp: UInt64? = nil
        ) {
            self.temporaryKeyID = temporaryKeyID
            self.ephemeralPublicKey = ephemeralPublicKey
            self.encryptedData = encryptedData
            self.mac = mac
            self.nonce = nonce
            self.timestamp = timestamp
        }
    }

    /// The 48-byte X9.63 output split into the encryption, MAC and IV keys (`EciesEnvelopeKey`).
    public struct EnvelopeKey: Sendable, Equatable {
        public let bytes: [UInt8]

        public init(bytes: [UInt8]) throws(PowerAuthECIESError) {
            guard bytes.count == 48 else { throw .invalidParameters("envelope key must be 48 bytes") }
            self.bytes = bytes
        }

        var encryptionKey: [UInt8] { Array(bytes[0..<16]) }
        var macKey: [UInt8] { Array(bytes[16..<32]) }
        var ivKey: [UInt8] { Array(bytes[32..<48]) }

        /// `deriveIvForNonce`: KDF_INTERNAL(K_IV, nonce), the nonce exactly 16 bytes.
        func iv(nonce: [UInt8]) throws(PowerAuthECIESError) -> [UInt8] {
            guard nonce.count == 16 else { throw .invalidNonce }
            return PowerAuthKDF.internalKDF(ivKey, data: nonce)
        }

        /// The envelope key from an ECDH shared secret (32 bytes) and the KDF info.
        static func derive(sharedSecret: [UInt8], sharedInfo1: [UInt8], ephemeralPublicKey: [UInt8]) throws(PowerAuthECIESError) -> EnvelopeKey {
            try EnvelopeKey(bytes: PowerAuthECIES.x963KDF(secret: sharedSecret, sharedInfo: sharedInfo1 + ephemeralPublicKey, outputByteCount: 48))
        }
    }

    /// ANSI X9.63 KDF with SHA-256 (`KdfX9_63.derive`): SHA-256(secret ‖ BE32(counter) ‖ info)
    /// for counter = 1, 2, …, truncated to `outputByteCount`.
    public static func x963KDF(secret: [UInt8], sharedInfo: [UInt8], outputByteCount: Int) -> [UInt8] {
        var output: [UInt8] = []
        var counter: UInt32 = 1
        while output.count < outputByteCount {
            var hash = SHA256()
            hash.update(data: secret)
            hash.update(data: PowerAuthBytes.bigEndian(counter))
            hash.update(data: sharedInfo)
            output += Array(hash.finalize())
            counter &+= 1
        }
        return Array(output.prefix(max(0, outputByteCount)))
    }

    /// Parses a P-256 point as the reference accepts it: SEC1 compressed (33 bytes, the form the
    /// mobile SDKs send) or uncompressed (65 bytes, the form the Java library sends).
    public static func publicKey(fromSEC1 bytes: [UInt8]) throws(PowerAuthECIESError) -> P256.KeyAgreement.PublicKey {
        do {
            switch (bytes.count, bytes.first) {
            case (33, 0x02), (33, 0x03):
                return try P256.KeyAgreement.PublicKey(compressedRepresentation: bytes)
            case (65, 0x04):
                return try P256.KeyAgreement.PublicKey(x963Representation: bytes)
            default:
                throw PowerAuthECIESError.invalidPublicKey
            }
        } catch {
            throw .invalidPublicKey
        }
    }

    // MARK: - Server side

    /// Decrypts requests with the server's private key and hands back the context that encrypts
    /// the one response to that request.
    public struct ServerDecryptor: Sendable {
        public let privateKey: P256.KeyAgreement.PrivateKey
        public let parameters: Parameters

        public init(privateKey: P256.KeyAgreement.PrivateKey, parameters: Parameters) {
            self.privateKey = privateKey
            self.parameters = parameters
        }

        /// Checks the request's shape for the version, derives the envelope key, verifies the MAC
        /// in constant time, then decrypts. Throws ``PowerAuthECIESError`` for anything wrong.
        public func decryptRequest(_ request: Cryptogram) throws(PowerAuthECIESError) -> DecryptedRequest {
            try parameters.validate()
            try PowerAuthECIES.validateRequestShape(request, parameters: parameters)
            guard let ephemeralPublicKey = request.ephemeralPublicKey else { throw .invalidRequest("ephemeralPublicKey is missing") }
            let clientKey = try PowerAuthECIES.publicKey(fromSEC1: ephemeralPublicKey)
            let shared: [UInt8]
            do {
                shared = try privateKey.sharedSecretFromKeyAgreement(with: clientKey).withUnsafeBytes { Array($0) }
            } catch {
                throw .invalidPublicKey
            }
            let envelopeKey = try EnvelopeKey.derive(
                sharedSecret: shared, sharedInfo1: parameters.kdfSharedInfo1, ephemeralPublicKey: ephemeralPublicKey)
            return try PowerAuthECIES.decryptRequest(request, envelopeKey: envelopeKey, parameters: parameters)
        }
    }

    /// A decrypted request and the context for its response.
    public struct DecryptedRequest: Sendable {
        public let plaintext: [UInt8]
        public let response: ResponseEncryptor
    }

    /// Encrypts the response to one decrypted request. Use it once: in 3.1 the response reuses
    /// the request's nonce (so its IV), which is safe only for a single response.
    public struct ResponseEncryptor: Sendable {
        let envelopeKey: EnvelopeKey
        let parameters: Parameters
        let requestNonce: [UInt8]

        /// Encrypts `plaintext`; in 3.2+ with a fresh nonce (never the request's) and the current time.
        public func encryptResponse(_ plaintext: [UInt8]) throws(PowerAuthECIESError) -> Cryptogram {
            guard parameters.usesTimestamp else {
                return try encryptResponse(plaintext, nonce: requestNonce, timestamp: nil)
            }
            var nonce = SecureRandom.bytes(16)
            while nonce == requestNonce { nonce = SecureRandom.bytes(16) }
            return try encryptResponse(plaintext, nonce: nonce, timestamp: PowerAuthECIES.currentTimestamp())
        }

        /// Deterministic core, used by the known-answer tests.
        func encryptResponse(_ plaintext: [UInt8], nonce: [UInt8], timestamp: UInt64?) throws(PowerAuthECIESError) -> Cryptogram {
            let sharedInfo2 = parameters.sharedInfo2(nonce: nonce, timestamp: timestamp, ephemeralPublicKey: nil)
            let (data, mac) = try PowerAuthECIES.seal(plaintext, envelopeKey: envelopeKey, nonce: nonce, sharedInfo2: sharedInfo2)
            return parameters.usesTimestamp
                ? Cryptogram(encryptedData: data, mac: mac, nonce: nonce, timestamp: timestamp)
                : Cryptogram(encryptedData: data, mac: mac)
        }
    }

    // MARK: - Client side

    /// Encrypts requests to a server public key and keeps what decrypts the response.
    public struct ClientEncryptor: Sendable {
        public let publicKey: P256.KeyAgreement.PublicKey
        public let parameters: Parameters

        public init(publicKey: P256.KeyAgreement.PublicKey, parameters: Parameters) {
            self.publicKey = publicKey
            self.parameters = parameters
        }

        /// Encrypts `plaintext` under a fresh ephemeral key (sent compressed, as the mobile SDKs do).
        public func encryptRequest(_ plaintext: [UInt8]) throws(PowerAuthECIESError) -> (request: Cryptogram, response: ResponseDecryptor) {
            try parameters.validate()
            let ephemeral = P256.KeyAgreement.PrivateKey()
            let ephemeralPublicKey = Array(ephemeral.publicKey.compressedRepresentation)
            let shared: [UInt8]
            do {
                shared = try ephemeral.sharedSecretFromKeyAgreement(with: publicKey).withUnsafeBytes { Array($0) }
            } catch {
                throw .invalidPublicKey
            }
            let envelopeKey = try EnvelopeKey.derive(
                sharedSecret: shared, sharedInfo1: parameters.kdfSharedInfo1, ephemeralPublicKey: ephemeralPublicKey)
            let timestamp = parameters.usesTimestamp ? PowerAuthECIES.currentTimestamp() : nil
            return try PowerAuthECIES.encryptRequest(
                plaintext, envelopeKey: envelopeKey, ephemeralPublicKey: ephemeralPublicKey, nonce: SecureRandom.bytes(16),
                timestamp: timestamp, parameters: parameters)
        }
    }

    /// Decrypts the one response to a request this client encrypted.
    public struct ResponseDecryptor: Sendable {
        let envelopeKey: EnvelopeKey
        let parameters: Parameters
        let requestNonce: [UInt8]

        /// Checks the response's shape for the version (3.1: no nonce or timestamp; 3.2+: both),
        /// verifies the MAC in constant time, then decrypts.
        public func decryptResponse(_ response: Cryptogram) throws(PowerAuthECIESError) -> [UInt8] {
            guard response.ephemeralPublicKey == nil, response.temporaryKeyID == nil else {
                throw .invalidResponse("a response carries no key")
            }
            let nonce: [UInt8]
            if parameters.usesTimestamp {
                guard let responseNonce = response.nonce, response.timestamp != nil else {
                    throw .invalidResponse("nonce and timestamp are required from 3.2 on")
                }
                nonce = responseNonce
            } else {
                guard response.nonce == nil, response.timestamp == nil else {
                    throw .invalidResponse("nonce and timestamp are not used before 3.2")
                }
                nonce = requestNonce
            }
            let sharedInfo2 = parameters.sharedInfo2(nonce: nonce, timestamp: response.timestamp, ephemeralPublicKey: nil)
            return try PowerAuthECIES.open(response, envelopeKey: envelopeKey, nonce: nonce, sharedInfo2: sharedInfo2)
        }
    }

    // MARK: - Deterministic cores

    /// `EciesRequestResponseValidator.validateEncryptedRequest`: each field present exactly when
    /// the version uses it (a 3.1 request with a timestamp is refused, as the reference does).
    static func validateRequestShape(_ request: Cryptogram, parameters: Parameters) throws(PowerAuthECIESError) {
        guard request.ephemeralPublicKey != nil else { throw .invalidRequest("ephemeralPublicKey is missing") }
        guard request.nonce != nil else { throw .invalidRequest("nonce is missing") }
        guard (request.timestamp != nil) == parameters.usesTimestamp else {
            throw .invalidRequest(parameters.usesTimestamp ? "timestamp is missing" : "timestamp is not used before 3.2")
        }
        if parameters.version == .v3_3 {
            guard let presented = request.temporaryKeyID else { throw .invalidRequest("temporaryKeyId is missing") }
            guard ConstantTime.equals(presented, parameters.temporaryKeyID ?? "") else { throw .temporaryKeyMismatch }
        } else if request.temporaryKeyID != nil {
            throw .invalidRequest("temporaryKeyId is only used from 3.3 on")
        }
    }

    static func decryptRequest(_ request: Cryptogram, envelopeKey: EnvelopeKey, parameters: Parameters) throws(PowerAuthECIESError)
        -> DecryptedRequest
    {
        try validateRequestShape(request, parameters: parameters)
        guard let nonce = request.nonce else { throw .invalidRequest("nonce is missing") }
        let sharedInfo2 = parameters.sharedInfo2(nonce: nonce, timestamp: request.timestamp, ephemeralPublicKey: request.ephemeralPublicKey)
        let plaintext = try open(request, envelopeKey: envelopeKey, nonce: nonce, sharedInfo2: sharedInfo2)
        return DecryptedRequest(
            plaintext: plaintext, response: ResponseEncryptor(envelopeKey: envelopeKey, parameters: parameters, requestNonce: nonce))
    }

    static func encryptRequest(
        _ plaintext: [UInt8], envelopeKey: EnvelopeKey, ephemeralPublicKey: [UInt8], nonce: [UInt8], timestamp: UInt64?,
        parameters: Parameters
    ) throws(PowerAuthECIESError) -> (request: Cryptogram, response: ResponseDecryptor) {
        let sharedInfo2 = parameters.sharedInfo2(nonce: nonce, timestamp: timestamp, ephemeralPublicKey: ephemeralPublicKey)
        let (data, mac) = try seal(plaintext, envelopeKey: envelopeKey, nonce: nonce, sharedInfo2: sharedInfo2)
        let request = Cryptogram(
            temporaryKeyID: parameters.version == .v3_3 ? parameters.temporaryKeyID : nil, ephemeralPublicKey: ephemeralPublicKey,
            encryptedData: data, mac: mac, nonce: nonce, timestamp: timestamp)
        return (request, ResponseDecryptor(envelopeKey: envelopeKey, parameters: parameters, requestNonce: nonce))
    }

    /// AES-128-CBC-PKCS7 then HMAC over data ‖ sharedInfo2 (`EciesEncryptor.encryptInternal`).
    static func seal(_ plaintext: [UInt8], envelopeKey: EnvelopeKey, nonce: [UInt8], sharedInfo2: [UInt8]) throws(PowerAuthECIESError) -> (
        data: [UInt8], mac: [UInt8]
    ) {
        let iv = try envelopeKey.iv(nonce: nonce)
        let data: [UInt8]
        do {
            data = Array(try AES._CBC.encrypt(plaintext, using: SymmetricKey(data: envelopeKey.encryptionKey), iv: AES._CBC.IV(ivBytes: iv)))
        } catch {
            throw .encryptionFailed
        }
        let mac = Array(HMAC<SHA256>.authenticationCode(for: data + sharedInfo2, using: SymmetricKey(data: envelopeKey.macKey)))
        return (data, mac)
    }

    /// MAC first (constant time), decryption only after (`EciesDecryptor.decryptInternal`), so a
    /// forged payload never reaches the padding check.
    static func open(_ cryptogram: Cryptogram, envelopeKey: EnvelopeKey, nonce: [UInt8], sharedInfo2: [UInt8]) throws(PowerAuthECIESError) -> [UInt8]
    {
        let iv = try envelopeKey.iv(nonce: nonce)
        let expected = Array(
            HMAC<SHA256>.authenticationCode(for: cryptogram.encryptedData + sharedInfo2, using: SymmetricKey(data: envelopeKey.macKey)))
        guard ConstantTime.equals(expected, cryptogram.mac) else { throw .invalidMAC }
        guard !cryptogram.encryptedData.isEmpty, cryptogram.encryptedData.count % 16 == 0 else { throw .decryptionFailed }
        do {
            return Array(
                try AES._CBC.decrypt(cryptogram.encryptedData, using: SymmetricKey(data: envelopeKey.encryptionKey), iv: AES._CBC.IV(ivBytes: iv)))
        } catch {
            throw .decryptionFailed
        }
    }

    /// Unix time in milliseconds, as `System.currentTimeMillis()`.
    static func currentTimestamp() -> UInt64 {
        UInt64(max(0, (Date().timeIntervalSince1970 * 1000).rounded(.down)))
    }
}

/// Why an ECIES operation was refused. Descriptions never contain key material or plaintext.
public enum PowerAuthECIESError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The version has no ECIES here (3.0 and anything unknown).
    case unsupportedVersion(String)
    /// The caller's parameters do not fit the version or scope (a configuration error).
    case invalidParameters(String)
    /// The request's fields do not fit the version.
    case invalidRequest(String)
    /// The response's fields do not fit the version.
    case invalidResponse(String)
    /// The 3.3 request names another temporary key than the one it is decrypted with.
    case temporaryKeyMismatch
    /// Not a P-256 point in SEC1 form, or not on the curve.
    case invalidPublicKey
    /// The nonce is not 16 bytes.
    case invalidNonce
    /// The MAC does not match: tampered data, parameters, or wrong keys.
    case invalidMAC
    /// Ciphertext length or padding is wrong (only after a valid MAC, so never an oracle).
    case decryptionFailed
    /// AES refused to encrypt (should not happen with well-formed keys).
    case encryptionFailed

    public var description: String {
        switch self {
        case .unsupportedVersion(let version): "ECIES is not supported in protocol version \(version)"
        case .invalidParameters(let reason): "invalid ECIES parameters: \(reason)"
        case .invalidRequest(let reason): "invalid encrypted request: \(reason)"
        case .invalidResponse(let reason): "invalid encrypted response: \(reason)"
        case .temporaryKeyMismatch: "the request names another temporary key"
        case .invalidPublicKey: "invalid ephemeral or server public key"
        case .invalidNonce: "nonce must be 16 bytes"
        case .invalidMAC: "MAC verification failed"
        case .decryptionFailed: "decryption failed"
        case .encryptionFailed: "encryption failed"
        }
    }
}
