import Crypto
import Foundation
import JWTKit
import StrongAuthProtocol
import Synchronization

/// Signs and verifies access tokens with the installation's ES256 keys (jwt-kit).
///
/// Holds every stored key so tokens signed before a rotation keep verifying; new tokens are
/// signed with the newest active key. After `strongauth keys rotate` (on any node), `refresh()`
/// swaps in the stored keys — the server calls it periodically (`SigningKeyRefresher`), and at
/// once when a token names a key this node does not know yet, so a token signed by a node that
/// already rotated verifies everywhere.
public final class AccessTokenSigner: Sendable {
    /// One consistent set of keys; replaced whole on refresh.
    struct KeySet: Sendable {
        var collection: JWTKeyCollection
        var activeKID: String
        var publicJWKs: [[String: String]]
        var kids: Set<String>
        /// The active key, and its JOSE header as the first segment of a compact JWS.
        var activeKey: P256.Signing.PrivateKey
        var activeHeaderSegment: [UInt8]
    }

    private let current: Mutex<KeySet>
    private let verified = VerifiedTokenCache(capacity: 10_000)
    /// Reads the stored keys again (nil: keys never change, e.g. in unit tests).
    private let loadKeys: (@Sendable () async throws -> [SigningKey])?
    /// When the last on-demand refresh for an unknown kid ran (at most one per second).
    private let lastUnknownKIDRefresh = Mutex<ContinuousClock.Instant?>(nil)

    /// Builds a signer from the loaded keys; the newest `active` key signs.
    public init(keys signingKeys: [SigningKey], reload: (@Sendable () async throws -> [SigningKey])? = nil) async throws {
        current = Mutex(try await Self.keySet(signingKeys))
        loadKeys = reload
    }

    /// The `kid` new tokens are signed with.
    public var activeKID: String { current.withLock { $0.activeKID } }
    /// The public keys as JWKs, for `/.well-known/jwks.json`.
    public var publicJWKs: [[String: String]] { current.withLock { $0.publicJWKs } }

    static func keySet(_ signingKeys: [SigningKey]) async throws -> KeySet {
        guard let active = signingKeys.filter({ $0.status == .active }).max(by: { $0.createdAt < $1.createdAt }) else {
            throw SigningKeyError.noActiveKey
        }
        // jwt-kit verifies, with the public keys only; `sign` below writes the tokens itself.
        let collection = JWTKeyCollection()
        for key in signingKeys {
            await collection.add(ecdsa: try ES256PublicKey(backing: key.privateKey.publicKey), kid: JWKIdentifier(string: key.kid))
        }
        return KeySet(
            collection: collection, activeKID: active.kid, publicJWKs: signingKeys.map(\.publicJWK), kids: Set(signingKeys.map(\.kid)),
            activeKey: active.privateKey, activeHeaderSegment: Array(Base64URL.encode(headerJSON(kid: active.kid)).utf8))
    }

    /// The JOSE header of our access tokens (members sorted by name).
    static func headerJSON(kid: String) -> [UInt8] {
        var writer = JSONObjectWriter()
        writer.member("alg", string: "ES256")
        writer.member("kid", string: kid)
        writer.member("typ", string: "at+jwt")
        return writer.finish()
    }

    /// Loads the stored keys and uses them from now on, if they differ from the current ones.
    /// Returns whether anything changed.
    @discardableResult
    public func refresh() async throws -> Bool {
        guard let loadKeys else { return false }
        let keys = try await loadKeys()
        let (kids, active) = current.withLock { ($0.kids, $0.activeKID) }
        let newActive = keys.filter { $0.status == .active }.max(by: { $0.createdAt < $1.createdAt })?.kid
        guard Set(keys.map(\.kid)) != kids || newActive != active else { return false }
        let next = try await Self.keySet(keys)
        current.withLock { $0 = next }
        return true
    }

    /// A compact JWS with `typ: at+jwt` (RFC 9068) and the active `kid`.
    ///
    /// Written here rather than by jwt-kit's key collection: the header segment is the same for
    /// every token of a key, so it is encoded once per key set, and the signature is one
    /// swift-crypto call — no actor hop, no header dictionary, no generic serializer per token
    /// (docs/benchmarks.md, seventeenth pass). jwt-kit still verifies every token, these included
    /// (`AccessTokenJSONTests.signerMatchesJWTKit`).
    public func sign(_ claims: AccessTokenClaims) async throws -> String {
        let (key, header) = current.withLock { ($0.activeKey, $0.activeHeaderSegment) }
        var token = header
        token.append(UInt8(ascii: "."))
        token.append(contentsOf: Base64URL.encode(claims.jsonBytes()).utf8)
        let signature = try key.signature(for: token)
        token.append(UInt8(ascii: "."))
        token.append(contentsOf: Base64URL.encode(signature.rawRepresentation).utf8)
        return String(decoding: token, as: UTF8.self)
    }

    /// The claims of a token whose signature verifies under one of our keys; expiry is the caller's.
    ///
    /// Resource servers introspect the same token many times; whether a given token string carries
    /// a valid signature of ours never changes (keys are retired, never deleted, while their tokens
    /// live), so the answer is remembered. Revocation and expiry are checked on every call by the
    /// caller, never cached.
    public func verify(_ token: String) async throws -> AccessTokenClaims {
        if let claims = verified[token] { return claims }
        if let kid = Self.kid(of: token), !current.withLock({ $0.kids.contains(kid) }), mayRefreshForUnknownKID() {
            _ = try? await refresh()
        }
        let collection = current.withLock { $0.collection }
        let claims = try await collection.verify(token, as: AccessTokenClaims.self)
        verified[token] = claims
        return claims
    }

    /// At most one on-demand refresh a second, so tokens with made-up kids cannot make every
    /// request read the key table.
    private func mayRefreshForUnknownKID() -> Bool {
        guard loadKeys != nil else { return false }
        let now = ContinuousClock.now
        return lastUnknownKIDRefresh.withLock { last in
            if let last, now - last < .seconds(1) { return false }
            last = now
            return true
        }
    }

    /// The `kid` of a compact JWS's header, if it has one.
    static func kid(of token: String) -> String? {
        guard let headerPart = token.split(separator: ".", maxSplits: 1).first, headerPart.utf8.count < 1024,
            let data = Base64URL.decode(String(headerPart)),
            let header = try? JSONSerialization.jsonObject(with: Data(data)) as? [String: Any]
        else { return nil }
        return header["kid"] as? String
    }
}

/// A bounded memo of signature checks that succeeded. Only successes are stored, so a forged
/// token can never be answered from it; when full it starts over (no eviction bookkeeping on
/// the hot path). Keyed by the SHA-256 of the whole token (any changed byte misses), not by the
/// token itself: 32 bytes instead of ~700 per entry kept the server's peak memory under load
/// about 10 MB lower.
final class VerifiedTokenCache: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [SHA256Digest: AccessTokenClaims] = [:]
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    subscript(token: String) -> AccessTokenClaims? {
        get {
            let key = SHA256.hash(data: Array(token.utf8))
            return lock.withLock { entries[key] }
        }
        set {
            let key = SHA256.hash(data: Array(token.utf8))
            lock.withLock {
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
                entries[key] = newValue
            }
        }
    }
}

/// Why no signer could be built.
public enum SigningKeyError: Error {
    case noActiveKey
}
