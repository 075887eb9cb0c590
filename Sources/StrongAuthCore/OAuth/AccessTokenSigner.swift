import Crypto
import Foundation
import JWTKit

/// Signs and verifies access tokens with the installation's ES256 keys (jwt-kit).
///
/// Holds every non-expired key so tokens signed before a rotation keep verifying;
/// new tokens are signed with the newest active key.
public struct AccessTokenSigner: Sendable {
    private let keys: JWTKeyCollection
    private let verified = VerifiedTokenCache(capacity: 20_000)
    /// The `kid` new tokens are signed with.
    public let activeKID: String
    /// The public keys as JWKs, for `/.well-known/jwks.json`.
    public let publicJWKs: [[String: String]]

    /// Builds a signer from the loaded keys; the newest `active` key signs.
    public init(keys signingKeys: [SigningKey]) async throws {
        guard let active = signingKeys.filter({ $0.status == .active }).max(by: { $0.createdAt < $1.createdAt }) else {
            throw SigningKeyError.noActiveKey
        }
        let collection = JWTKeyCollection()
        for key in signingKeys {
            await collection.add(ecdsa: try ES256PrivateKey(backing: key.privateKey), kid: JWKIdentifier(string: key.kid))
        }
        keys = collection
        activeKID = active.kid
        publicJWKs = signingKeys.map(\.publicJWK)
    }

    /// A compact JWS with `typ: at+jwt` (RFC 9068) and the active `kid`.
    public func sign(_ claims: AccessTokenClaims) async throws -> String {
        var header = JWTHeader()
        header.typ = "at+jwt"
        return try await keys.sign(claims, kid: JWKIdentifier(string: activeKID), header: header)
    }

    /// The claims of a token whose signature verifies under one of our keys; expiry is the caller's.
    ///
    /// Resource servers introspect the same token many times; whether a given token string carries
    /// a valid signature of ours never changes (keys are retired, never deleted, while their tokens
    /// live), so the answer is remembered. Revocation and expiry are checked on every call by the
    /// caller, never cached.
    public func verify(_ token: String) async throws -> AccessTokenClaims {
        if let claims = verified[token] { return claims }
        let claims = try await keys.verify(token, as: AccessTokenClaims.self)
        verified[token] = claims
        return claims
    }
}

/// A bounded memo of signature checks that succeeded. Only successes are stored, so a forged
/// token can never be answered from it; when full it starts over (no eviction bookkeeping on
/// the hot path).
final class VerifiedTokenCache: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [String: AccessTokenClaims] = [:]
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    subscript(token: String) -> AccessTokenClaims? {
        get { lock.withLock { entries[token] } }
        set {
            lock.withLock {
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
                entries[token] = newValue
            }
        }
    }
}

/// Why no signer could be built.
public enum SigningKeyError: Error {
    case noActiveKey
}
