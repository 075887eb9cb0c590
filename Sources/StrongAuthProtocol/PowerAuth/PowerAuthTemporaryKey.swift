import Crypto
import Foundation

/// Protocol 3.3 temporary encryption keys (`/pa/v3/keystore/create`).
///
/// The client asks for a key with an HS256 JWT; the server stores a fresh P-256 key pair and
/// answers with an ES256 JWT carrying the public key. Later ECIES requests name the key in
/// `temporaryKeyId` and are encrypted to that public key. Sources: wultra/powerauth-server
/// `TemporaryKeyBehavior.java` (what the server verifies and signs), wultra/powerauth-backend-tests
/// `TemporaryKeyFetchUtil.java` (what a client sends), wultra/powerauth-crypto
/// `docs/Temporary-Encryption-Keys.md` and `docs/Standard-RESTful-API.md` (3.3 revision).
///
/// - Request claims: `applicationKey`, `challenge` (the reference client sends Base64 of 18 random
///   bytes), `activationId` in activation scope; the reference client adds `iat`/`exp`, which
///   the reference server ignores.
/// - Request key (HS256): application scope the *decoded* application secret (16 bytes);
///   activation scope KDF_INTERNAL(KEY_TRANSPORT, decoded application secret), i.e.
///   HMAC-SHA256 keyed by the transport key, folded to 16 bytes.
/// - Response claims: `sub` (key ID), `applicationKey`, `activationId` (absent in application
///   scope), `challenge`, `publicKey` (Base64 SEC1 point), `iat`/`exp` (seconds), `iat_ms`/`exp_ms`.
/// - Response key (ES256, JWS raw r‖s): the master server private key in application scope, the
///   activation's server private key in activation scope.
public enum PowerAuthTemporaryKey {
    /// What the client asks for (the request JWT's claims).
    public struct Request: Sendable, Equatable {
        public var applicationKey: String
        /// Set for an activation-scoped key; `nil` for an application-scoped one.
        public var activationID: String?
        public var challenge: String

        public init(applicationKey: String, activationID: String? = nil, challenge: String) {
            self.applicationKey = applicationKey
            self.activationID = activationID
            self.challenge = challenge
        }

        /// A challenge like the reference client's: Base64 of 18 random bytes.
        public static func randomChallenge() -> String {
            PowerAuthBase64.encode(SecureRandom.bytes(18))
        }
    }

    /// What the server grants (the response JWT's claims).
    public struct Grant: Sendable, Equatable {
        /// The temporary key ID (`sub`), later sent as `temporaryKeyId`.
        public var keyID: String
        public var applicationKey: String
        public var activationID: String?
        public var challenge: String
        /// The temporary public key, SEC1 (the reference sends the uncompressed 65-byte form).
        public var publicKey: [UInt8]
        /// Unix milliseconds (`iat_ms`).
        public var issuedAt: UInt64
        /// Unix milliseconds (`exp_ms`).
        public var expiresAt: UInt64

        public init(
            keyID: String, applicationKey: String, activationID: String?, challenge: String, publicKey: [UInt8], issuedAt: UInt64,
            expiresAt: UInt64
        ) {
            self.keyID = keyID
            self.applicationKey = applicationKey
            self.activationID = activationID
            self.challenge = challenge
            self.publicKey = publicKey
            self.issuedAt = issuedAt
            self.expiresAt = expiresAt
        }
    }

    // MARK: Request signing key

    /// The HS256 key of an application-scoped request: the Base64-decoded application secret.
    public static func applicationSigningKey(applicationSecret: String) throws(PowerAuthJWTError) -> [UInt8] {
        guard let secret = PowerAuthBase64.decode(applicationSecret) else { throw .invalidKey }
        return secret
    }

    /// The HS256 key of an activation-scoped request: KDF_INTERNAL(transportKey, decoded secret).
    public static func activationSigningKey(applicationSecret: String, transportKey: [UInt8]) throws(PowerAuthJWTError) -> [UInt8] {
        guard transportKey.count == 16 else { throw .invalidKey }
        return PowerAuthKDF.internalKDF(transportKey, data: try applicationSigningKey(applicationSecret: applicationSecret))
    }

    // MARK: Client

    /// The request JWT (client side). `issuedAt` in Unix seconds; `exp` is five minutes later, as
    /// the reference client sets it.
    public static func makeRequestJWT(_ request: Request, signingKey: [UInt8], issuedAt: UInt64) throws(PowerAuthJWTError) -> String {
        let claims = RequestClaims(
            applicationKey: request.applicationKey, activationId: request.activationID, challenge: request.challenge, iat: issuedAt,
            exp: issuedAt + 300)
        return PowerAuthJWT.signHS256(payload: try PowerAuthJWT.json(claims), key: signingKey)
    }

    /// Verifies the server's answer (client side): ES256 by the expected key, and the echoed
    /// application key, activation ID and challenge equal to the request's.
    public static func verifyResponseJWT(_ jwt: String, publicKey: P256.Signing.PublicKey, request: Request) throws(PowerAuthJWTError) -> Grant {
        let payload = try PowerAuthJWT.verifyES256(jwt, publicKey: publicKey)
        let claims: ResponseClaims = try PowerAuthJWT.decode(payload)
        guard claims.applicationKey == request.applicationKey, claims.activationId == request.activationID,
            claims.challenge == request.challenge
        else { throw .claimMismatch }
        guard let publicKey = PowerAuthBase64.decode(claims.publicKey) else { throw .malformed }
        return Grant(
            keyID: claims.sub, applicationKey: claims.applicationKey, activationID: claims.activationId, challenge: claims.challenge,
            publicKey: publicKey, issuedAt: claims.iatMilliseconds, expiresAt: claims.expMilliseconds)
    }

    // MARK: Server

    /// Reads the request claims without trusting them yet (server side): the server needs the
    /// application key and activation ID to find the key that verifies the JWT.
    public static func parseRequestJWT(_ jwt: String) throws(PowerAuthJWTError) -> UnverifiedRequest {
        let token = try PowerAuthJWT.Compact(jwt)
        let claims: RequestClaims = try PowerAuthJWT.decode(token.payload)
        guard let applicationKey = claims.applicationKey, let challenge = claims.challenge else { throw .malformed }
        return UnverifiedRequest(
            request: Request(applicationKey: applicationKey, activationID: claims.activationId, challenge: challenge), token: token)
    }

    /// A parsed request JWT whose signature is not checked yet.
    public struct UnverifiedRequest: Sendable {
        /// Claims to look the keys up with; do not act on them before ``verify(signingKey:)``.
        public let request: Request
        let token: PowerAuthJWT.Compact

        /// Checks the HS256 signature (only HS256 is accepted) in constant time.
        public func verify(signingKey: [UInt8]) throws(PowerAuthJWTError) -> Request {
            try PowerAuthJWT.verifyHS256(token, key: signingKey)
            return request
        }
    }

    /// The response JWT (server side), ES256 with the master or activation server private key.
    public static func makeResponseJWT(_ grant: Grant, signingKey: P256.Signing.PrivateKey) throws(PowerAuthJWTError) -> String {
        let claims = ResponseClaims(
            sub: grant.keyID, applicationKey: grant.applicationKey, activationId: grant.activationID, challenge: grant.challenge,
            publicKey: PowerAuthBase64.encode(grant.publicKey), iat: grant.issuedAt / 1000, exp: grant.expiresAt / 1000,
            iatMilliseconds: grant.issuedAt, expMilliseconds: grant.expiresAt)
        return try PowerAuthJWT.signES256(payload: try PowerAuthJWT.json(claims), key: signingKey)
    }

    struct RequestClaims: Codable {
        var applicationKey: String?
        var activationId: String?
        var challenge: String?
        var iat: UInt64?
        var exp: UInt64?
    }

    struct ResponseClaims: Codable {
        var sub: String
        var applicationKey: String
        var activationId: String?
        var challenge: String
        var publicKey: String
        var iat: UInt64
        var exp: UInt64
        var iatMilliseconds: UInt64
        var expMilliseconds: UInt64

        enum CodingKeys: String, CodingKey {
            case sub, applicationKey, activationId, challenge, publicKey, iat, exp
            case iatMilliseconds = "iat_ms"
            case expMilliseconds = "exp_ms"
        }
    }
}

/// Compact JWS (RFC 7515) with exactly the two algorithms the 3.3 keystore uses. Hand-written
/// over swift-crypto because the algorithm must be pinned per direction (HS256 in, ES256 out):
/// a general JWT library would let the token's own `alg` choose.
public enum PowerAuthJWT {
    struct Compact: Sendable {
        let signingInput: [UInt8]
        let header: [UInt8]
        let payload: [UInt8]
        let signature: [UInt8]

        init(_ jwt: String) throws(PowerAuthJWTError) {
            guard let jws = CompactJWS(jwt) else { throw .malformed }
            self.signingInput = jws.signingInput
            self.header = jws.header
            self.payload = jws.payload
            self.signature = jws.signature
        }

        func algorithm() throws(PowerAuthJWTError) -> String {
            struct Header: Decodable { var alg: String }
            let header: Header = try PowerAuthJWT.decode(header)
            return header.alg
        }
    }

    static func signHS256(payload: [UInt8], key: [UInt8]) -> String {
        let input = Base64URL.encode(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8)) + "." + Base64URL.encode(payload)
        let mac = HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: SymmetricKey(data: key))
        return input + "." + Base64URL.encode(mac)
    }

    static func verifyHS256(_ token: Compact, key: [UInt8]) throws(PowerAuthJWTError) {
        guard try token.algorithm() == "HS256" else { throw .unexpectedAlgorithm }
        let expected = HMAC<SHA256>.authenticationCode(for: token.signingInput, using: SymmetricKey(data: key))
        guard ConstantTime.equals(Array(expected), token.signature) else { throw .invalidSignature }
    }

    static func signES256(payload: [UInt8], key: P256.Signing.PrivateKey) throws(PowerAuthJWTError) -> String {
        let input = Base64URL.encode(Array(#"{"alg":"ES256","typ":"JWT"}"#.utf8)) + "." + Base64URL.encode(payload)
        do {
            let signature = try key.signature(for: Array(input.utf8))
            return input + "." + Base64URL.encode(signature.rawRepresentation)
        } catch {
            throw .invalidKey
        }
    }

    /// Verifies an ES256 compact JWS (raw 64-byte r‖s) and returns its payload bytes.
    static func verifyES256(_ jwt: String, publicKey: P256.Signing.PublicKey) throws(PowerAuthJWTError) -> [UInt8] {
        let token = try Compact(jwt)
        guard try token.algorithm() == "ES256" else { throw .unexpectedAlgorithm }
        guard token.signature.count == 64, let signature = try? P256.Signing.ECDSASignature(rawRepresentation: token.signature),
            publicKey.isValidSignature(signature, for: token.signingInput)
        else { throw .invalidSignature }
        return token.payload
    }

    static func json(_ value: some Encodable) throws(PowerAuthJWTError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(value))
        } catch {
            throw .malformed
        }
    }

    static func decode<T: Decodable>(_ bytes: [UInt8]) throws(PowerAuthJWTError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch {
            throw .malformed
        }
    }
}

/// Why a keystore JWT was refused.
public enum PowerAuthJWTError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not three Base64url parts, or a part is not the expected JSON.
    case malformed
    /// The header names another algorithm than the one this direction uses.
    case unexpectedAlgorithm
    /// The signature does not verify.
    case invalidSignature
    /// The response echoes another application key, activation ID or challenge.
    case claimMismatch
    /// The key material is unusable (bad Base64 secret, wrong transport key length).
    case invalidKey

    public var description: String {
        switch self {
        case .malformed: "malformed JWT"
        case .unexpectedAlgorithm: "unexpected JWT algorithm"
        case .invalidSignature: "JWT signature does not verify"
        case .claimMismatch: "JWT claims do not match the request"
        case .invalidKey: "unusable JWT key"
        }
    }
}
