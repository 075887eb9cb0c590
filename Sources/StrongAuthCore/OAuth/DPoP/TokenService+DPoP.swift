import Foundation

/// The DPoP side of a resource request (RFC 9449 §7): the proof sent in the `DPoP` header (nil
/// when there was none, or more than one), the request's method and its URI as the issuer's
/// public URL names it (the server sits behind a proxy; the Host header is not trusted).
public struct DPoPResourceRequest: Sendable {
    public var proof: String?
    public var method: String
    public var uri: String

    public init(proof: String?, method: String, uri: String) {
        self.proof = proof
        self.method = method
        self.uri = uri
    }
}

/// Why a live access token was not accepted with the scheme it came with.
public enum SenderConstraintRefusal: Error, Sendable, Equatable {
    /// A DPoP-bound token sent as `Bearer`: whoever holds it without the key must not use it.
    case boundTokenPresentedAsBearer
    /// A bearer token sent with the `DPoP` scheme: it is bound to no key the proof could match.
    case unboundTokenPresentedAsDPoP
    /// The proof is missing or fails a check (or needs a server nonce).
    case proof(DPoPError)
}

extension TokenService {
    /// The claims of a live access token presented on a resource request, with its sender
    /// constraint enforced: a token bound to a DPoP key (`cnf.jkt`) only with `dpop` — a proof by
    /// that key for this request, hashing this token (`ath`), its `jti` never seen before — and an
    /// unbound token only without. `nil` when the token itself is not live (the face's
    /// `invalid_token`); a `SenderConstraintRefusal` for the rest. With `livenessReadByRoute`,
    /// the token's liveness is left to the route (`signedAccessTokenClaims`).
    public func validateAccessToken(_ token: String, dpop: DPoPResourceRequest?, livenessReadByRoute: Bool = false) async throws
        -> AccessTokenClaims?
    {
        guard let claims = try await (livenessReadByRoute ? signedAccessTokenClaims(token) : validateAccessToken(token)) else { return nil }
        let boundKey = claims.cnf?.jkt
        guard let dpop else {
            if boundKey != nil { throw SenderConstraintRefusal.boundTokenPresentedAsBearer }
            return claims
        }
        guard let boundKey else { throw SenderConstraintRefusal.unboundTokenPresentedAsDPoP }
        guard let proof = dpop.proof else {
            throw SenderConstraintRefusal.proof(DPoPError(.invalidProof, "A DPoP-bound token needs exactly one DPoP proof header."))
        }
        do {
            _ = try await self.dpop.verify(proof, method: dpop.method, uri: dpop.uri, accessToken: token, boundTo: boundKey)
        } catch let error as DPoPError {
            throw SenderConstraintRefusal.proof(error)
        }
        return claims
    }
}
