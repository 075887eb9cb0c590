import Crypto
import Foundation

/// Loads the token-signing keys from the store, creating the first one when there is none.
/// Private keys are sealed under the master key (purpose `signing-key`, bound to their `kid`).
public struct KeyManagement: Sendable {
    static let sealPurpose = "signing-key"

    private let store: any SigningKeyRepository
    private let masterKey: MasterKey
    private let time: any TimeSource

    public init(store: any SigningKeyRepository, masterKey: MasterKey, time: any TimeSource) {
        self.store = store
        self.masterKey = masterKey
        self.time = time
    }

    /// Every stored key, unsealed; creates the active key if there is none. When several nodes
    /// race to create it, the store keeps one (a unique index) and every node reloads that one.
    public func loadOrCreateSigningKeys() async throws -> [SigningKey] {
        let keys = try await loadSigningKeys()
        if keys.contains(where: { $0.status == .active }) { return keys }
        try await addSigningKey()
        return try await loadSigningKeys()
    }

    /// Stores a fresh active key unless one is already active (then nothing is stored).
    @discardableResult
    public func addSigningKey() async throws -> SigningKey {
        let key = SigningKey.generate(now: time.now())
        try await store.insertSigningKey(try seal(key))
        return key
    }

    /// Key rotation without downtime (`strongauth keys rotate`): a fresh key becomes the active
    /// one and the previous active key is retired — it stays in the JWKS and keeps verifying the
    /// tokens it signed until they expire. Running nodes pick the new key up on their next
    /// refresh (`AccessTokenSigner.refresh`), or at once when they meet a token signed with it.
    public func rotate() async throws -> (active: SigningKey, retired: [String]) {
        let key = SigningKey.generate(now: time.now())
        let retired = try await store.rotateSigningKey(to: try seal(key))
        return (key, retired)
    }

    /// Deletes the retired keys whose tokens have all expired: retired more than `retention` ago
    /// (docs/keys.md). A token is signed with the active key only, and lives at most the access
    /// token lifetime, so `retention` must exceed that lifetime plus the time a node may still
    /// sign with a key after its retirement (`SigningKeyRefresher`'s interval); the settings
    /// refuse less. Returns the deleted kids; the JWKS drops them on the next refresh.
    public func pruneRetiredKeys(retention: TimeInterval) async throws -> [String] {
        let now = time.now()
        return try await store.pruneSigningKeys(retiredBefore: now.addingTimeInterval(-retention), now: now)
    }

    private func seal(_ key: SigningKey) throws -> SealedSigningKey {
        SealedSigningKey(
            kid: key.kid,
            sealedPrivateKey: try masterKey.seal([UInt8](key.privateKey.rawRepresentation), purpose: Self.sealPurpose, associatedData: key.kid),
            status: key.status, createdAt: key.createdAt)
    }

    /// Every stored key, unsealed. Fails loudly when the master key does not open them.
    public func loadSigningKeys() async throws -> [SigningKey] {
        try await store.signingKeys().map { sealed in
            let raw: [UInt8]
            do {
                raw = try masterKey.open(sealed.sealedPrivateKey, purpose: Self.sealPurpose, associatedData: sealed.kid)
            } catch {
                throw KeyManagementError.masterKeyMismatch(kid: sealed.kid)
            }
            return SigningKey(
                kid: sealed.kid, privateKey: try P256.Signing.PrivateKey(rawRepresentation: raw), status: sealed.status,
                createdAt: sealed.createdAt)
        }
    }
}

/// Why keys could not be loaded.
public enum KeyManagementError: Error, CustomStringConvertible {
    case masterKeyMismatch(kid: String)

    public var description: String {
        switch self {
        case .masterKeyMismatch(let kid):
            "signing key \(kid) cannot be opened with this master key (is STRONGAUTH_MASTER_KEY the one this database was created with?)"
        }
    }
}
