import Foundation
import JWTKit
import StrongAuthProtocol

/// `private_key_jwt` client authentication (RFC 7523 §2.2 and §3, OpenID Connect Core §9): the
/// client signs a short-lived JWT about itself with a key whose public half it registered
/// (`clients create --jwks FILE`). No shared secret leaves the client, which is why the FAPI 2.0
/// security profile asks for it.
public enum ClientAssertion {
    /// The only `client_assertion_type` (RFC 7523 §2.2).
    public static let type = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    /// Asymmetric algorithms only: `HS*` would be `client_secret_jwt`, a shared secret again, and
    /// `none` no signature at all. The FAPI 2.0 set (PS256, ES256, EdDSA) plus the common ones.
    public static let algorithms = ["ES256", "ES384", "PS256", "RS256", "EdDSA"]
    /// An assertion may live at most this long (`exp - now`): its `jti` is remembered until `exp`,
    /// so a far-future `exp` would make the replay table grow without bound. An hour is what
    /// client libraries sign by default (authlib's `expires_in`).
    public static let maximumLifetime: TimeInterval = 3600
    /// Clock skew tolerated on `iat`/`nbf`.
    public static let leeway: TimeInterval = 30

    /// Why an assertion was refused: the reason goes to the audit record, never to the client
    /// (which is told `invalid_client` whatever the reason).
    public enum Refusal: String, Error, Sendable {
        case malformed = "assertion_malformed"
        case unsupportedAlgorithm = "assertion_algorithm"
        case noKeys = "no_registered_keys"
        case badSignature = "assertion_signature"
        case wrongIssuer = "assertion_issuer"
        case wrongAudience = "assertion_audience"
        case expired = "assertion_expired"
        case tooLong = "assertion_lifetime"
        case notYetValid = "assertion_not_yet_valid"
        case missingJTI = "assertion_jti"
        case replayed = "assertion_replayed"
    }

    /// What a verified assertion is remembered by until it expires.
    public struct Verified: Sendable, Equatable {
        public var jti: String
        public var expiresAt: Date
    }

    struct Claims: JWTPayload {
        var iss: String?
        var sub: String?
        var aud: AudienceClaim?
        var exp: Double?
        var iat: Double?
        var nbf: Double?
        var jti: String?

        /// The registered claims are checked by `verify(_:…)` against the server's clock.
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    struct Header: Decodable {
        var alg: String?
    }

    /// The `sub` of an assertion, read without verifying it: it names the client whose keys then
    /// verify it (RFC 7523 §3: `sub` is the client_id). `nil` when it is not a JWT.
    public static func unverifiedClientID(_ assertion: String) -> String? {
        segment(1, of: assertion, as: Subject.self)?.sub
    }

    /// Segment `index` of a compact JWS (0 header, 1 payload) decoded as `T`; `nil` when the
    /// assertion is not three base64url segments of JSON within the size limit.
    private static func segment<T: Decodable>(_ index: Int, of assertion: String, as type: T.Type) -> T? {
        guard assertion.utf8.count <= 8192, let jws = CompactJWS(assertion) else { return nil }
        return try? JSONDecoder().decode(T.self, from: Data(index == 0 ? jws.header : jws.payload))
    }

    struct Subject: Decodable {
        var sub: String?
    }

    /// Verifies `assertion` for `clientID` with the client's registered JWK Set. `audiences`:
    /// the values `aud` may name — the issuer, and the URL of the endpoint it was sent to
    /// (RFC 7523 §3 names the token endpoint; FAPI 2.0 §5.3.2.1 the issuer).
    public static func verify(_ assertion: String, clientID: String, jwks: String?, audiences: Set<String>, now: Date) async throws
        -> Verified
    {
        guard let header = segment(0, of: assertion, as: Header.self) else { throw Refusal.malformed }
        guard let alg = header.alg, algorithms.contains(alg) else { throw Refusal.unsupportedAlgorithm }
        guard let jwks, let keys = try? await keyCollection(jwks) else { throw Refusal.noKeys }
        let claims: Claims
        do {
            claims = try await keys.verify(assertion, as: Claims.self, iteratingKeys: true)
        } catch {
            throw Refusal.badSignature
        }
        guard claims.iss == clientID, claims.sub == clientID else { throw Refusal.wrongIssuer }
        guard let aud = claims.aud?.value, aud.contains(where: audiences.contains) else { throw Refusal.wrongAudience }
        guard let exp = claims.exp else { throw Refusal.expired }
        let expiresAt = Date(timeIntervalSince1970: exp)
        guard expiresAt > now else { throw Refusal.expired }
        guard expiresAt.timeIntervalSince(now) <= maximumLifetime + leeway else { throw Refusal.tooLong }
        if let nbf = claims.nbf, Date(timeIntervalSince1970: nbf) > now.addingTimeInterval(leeway) { throw Refusal.notYetValid }
        if let iat = claims.iat, Date(timeIntervalSince1970: iat) > now.addingTimeInterval(leeway) { throw Refusal.notYetValid }
        guard let jti = claims.jti, !jti.isEmpty, jti.utf8.count <= 256 else { throw Refusal.missingJTI }
        return Verified(jti: jti, expiresAt: expiresAt)
    }

    /// The registered keys; a key without `kid` gets one of its own (jwt-kit files keys by kid),
    /// and assertions are tried against every key when their `kid` names none.
    static func keyCollection(_ jwks: String) async throws -> JWTKeyCollection {
        guard let object = try JSONSerialization.jsonObject(with: Data(jwks.utf8)) as? [String: Any],
            let rawKeys = object["keys"] as? [[String: Any]]
        else { throw Refusal.noKeys }
        let collection = JWTKeyCollection()
        for (index, var key) in rawKeys.enumerated() {
            if key["kid"] == nil { key["kid"] = "registered-\(index)" }
            let jwk = try JSONDecoder().decode(JWK.self, from: try JSONSerialization.data(withJSONObject: key))
            try await collection.add(jwk: jwk)
        }
        return collection
    }
}
