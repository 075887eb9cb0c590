import Crypto
import Foundation
import StrongAuthProtocol

/// How DPoP proofs are judged (settings `oauth.dpop.*`).
public struct DPoPConfiguration: Sendable, Equatable {
    /// How far a proof's `iat` may lie from the server's clock, either way.
    public var proofMaxAge: TimeInterval
    /// Whether every proof must carry a server nonce (RFC 9449 §8); a valid one is always accepted.
    public var requireNonce: Bool

    public init(proofMaxAge: TimeInterval = 60, requireNonce: Bool = false) {
        self.proofMaxAge = proofMaxAge
        self.requireNonce = requireNonce
    }
}

/// Why a proof was refused: `invalid_dpop_proof`, or `use_dpop_nonce` (RFC 9449 §7.1, §8) —
/// the client retries with the nonce the response's `DPoP-Nonce` header offers.
public struct DPoPError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case invalidProof = "invalid_dpop_proof"
        case useNonce = "use_dpop_nonce"
    }

    public var kind: Kind
    public var description: String

    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }

    static func invalid(_ description: String) -> DPoPError { .init(.invalidProof, description) }
}

/// A proof that passed every check: the thumbprint of its key is what tokens are bound to.
public struct VerifiedDPoPProof: Sendable, Equatable {
    /// RFC 7638 thumbprint of the proof's key (`cnf.jkt`).
    public var keyThumbprint: String
    public var jti: String
}

/// Checks DPoP proofs (RFC 9449 §4.3) for the token endpoint and the resource endpoints.
///
/// A proof is a JWS whose header carries its own public key; it names the request (`htm`,
/// `htu`), is fresh (`iat`), unique (`jti`, remembered by the replay guard every node shares
/// until the proof could no longer pass the `iat` check), and on resource requests hashes the
/// access token it accompanies (`ath`).
public struct DPoPVerifier: Sendable {
    public let configuration: DPoPConfiguration
    public let nonces: DPoPNonces
    private let replayGuard: ReplayGuard
    /// Where replayed proofs are counted.
    private let audit: (any AuditLog)?
    private let time: any TimeSource

    /// The largest proof accepted, in bytes (an RSA-4096 key and signature fit several times).
    static let maxProofBytes = 8192

    /// `dpop_signing_alg_values_supported` (RFC 9449 §5.1), in `WWW-Authenticate`'s `algs`.
    public static let supportedAlgorithms = DPoPPublicKey.Algorithm.allCases.map(\.rawValue)

    public init(
        configuration: DPoPConfiguration, nonces: DPoPNonces, replay: any ReplayGuardRepository, audit: (any AuditLog)? = nil,
        time: any TimeSource
    ) {
        self.audit = audit
        self.configuration = configuration
        self.nonces = nonces
        replayGuard = ReplayGuard(store: replay, time: time)
        self.time = time
    }

    /// A nonce to offer in `DPoP-Nonce`.
    public func freshNonce() -> String { nonces.current(at: time.now()) }

    /// Verifies `proof` for a request with `method` to `uri` (the issuer's public URL and the
    /// request's path). With `accessToken` (a resource request) the proof must hash it in `ath`;
    /// with `boundTo` its key must be that thumbprint. The `jti` is spent last, only by a proof
    /// that passed everything else; a replay is counted in the audit log against `source`.
    public func verify(
        _ proof: String, method: String, uri: String, accessToken: String? = nil, boundTo expectedThumbprint: String? = nil,
        source: String? = nil
    ) async throws -> VerifiedDPoPProof {
        let now = time.now()
        let (claims, key) = try Self.decode(proof)
        guard let jti = claims["jti"] as? String, !jti.isEmpty, jti.count <= 256 else {
            throw DPoPError.invalid("The proof needs a jti of at most 256 characters.")
        }
        guard let htm = claims["htm"] as? String, htm == method else { throw DPoPError.invalid("The proof's htm is not this request's method.") }
        guard let htu = claims["htu"] as? String, let presented = DPoPURI.normalized(htu), presented == DPoPURI.normalized(uri) else {
            throw DPoPError.invalid("The proof's htu is not this request's URI.")
        }
        guard let iat = (claims["iat"] as? NSNumber)?.doubleValue, !(claims["iat"] is Bool), iat.isFinite else {
            throw DPoPError.invalid("The proof needs a numeric iat.")
        }
        guard abs(now.timeIntervalSince1970 - iat) <= configuration.proofMaxAge else {
            throw DPoPError.invalid("The proof's iat is outside the accepted window.")
        }
        if let accessToken {
            let expected = Base64URL.encode(SHA256.hash(data: Array(accessToken.utf8)))
            guard let ath = claims["ath"] as? String, ConstantTime.equals(ath, expected) else {
                throw DPoPError.invalid("The proof's ath is not the hash of the access token.")
            }
        }
        let thumbprint = key.thumbprint
        if let expectedThumbprint, !ConstantTime.equals(thumbprint, expectedThumbprint) {
            throw DPoPError.invalid("The proof is signed with another key than the token is bound to.")
        }
        if let nonce = claims["nonce"] {
            guard let nonce = nonce as? String, nonces.isValid(nonce, at: now) else {
                throw DPoPError(.useNonce, "The proof's nonce is unknown or stale: use the one in DPoP-Nonce.")
            }
        } else if configuration.requireNonce {
            throw DPoPError(.useNonce, "This server requires a nonce in DPoP proofs: use the one in DPoP-Nonce.")
        }
        // Remembered until the proof's iat leaves the window (plus a second for rounding).
        let until = Date(timeIntervalSince1970: iat + configuration.proofMaxAge + 1)
        guard try await replayGuard.firstUse(scope: "dpop", value: Array("\(thumbprint) \(jti)".utf8), until: until) else {
            try await audit?.recordFailure(
                AuditRecord(
                    actor: "anonymous", action: .dpopProofReplayed, subject: "jkt:\(thumbprint)", sourceAddress: source, outcome: .failure,
                    details: ["reason": "replayed_jti"]),
                at: now)
            throw DPoPError.invalid("The proof's jti has been used before.")
        }
        return VerifiedDPoPProof(keyThumbprint: thumbprint, jti: jti)
    }

    /// The proof's header and claims and its key, once the JWS syntax, `typ`, `alg`, `jwk` and
    /// the signature are right.
    static func decode(_ proof: String) throws -> (claims: [String: Any], key: DPoPPublicKey) {
        guard proof.utf8.count <= maxProofBytes else { throw DPoPError.invalid("The proof is too large.") }
        guard let jws = CompactJWS(proof),
            let header = try? JSONSerialization.jsonObject(with: Data(jws.header)) as? [String: Any],
            let claims = try? JSONSerialization.jsonObject(with: Data(jws.payload)) as? [String: Any]
        else { throw DPoPError.invalid("The proof is not a compact JWS with JSON header and claims.") }
        guard (header["typ"] as? String)?.lowercased() == "dpop+jwt" else { throw DPoPError.invalid("The proof's typ must be dpop+jwt.") }
        guard let name = header["alg"] as? String, let algorithm = DPoPPublicKey.Algorithm(rawValue: name) else {
            throw DPoPError.invalid("The proof's alg must be one of \(supportedAlgorithms.joined(separator: ", ")).")
        }
        guard header["crit"] == nil else { throw DPoPError.invalid("The proof names critical header parameters this server does not know.") }
        guard let jwk = header["jwk"] as? [String: Any], let key = DPoPPublicKey(jwk: jwk, algorithm: algorithm) else {
            throw DPoPError.invalid("The proof's jwk must be a public key for its alg.")
        }
        guard (try? key.verifies(signature: jws.signature, over: jws.signingInput, algorithm: algorithm)) == true else {
            throw DPoPError.invalid("The proof's signature does not verify under its jwk.")
        }
        return (claims, key)
    }
}
