import Foundation

/// A signing key as stored: the private key sealed under the master key.
public struct SealedSigningKey: Sendable, Equatable {
    public var kid: String
    public var sealedPrivateKey: String
    public var status: SigningKey.Status
    public var createdAt: Date

    public init(kid: String, sealedPrivateKey: String, status: SigningKey.Status, createdAt: Date) {
        self.kid = kid
        self.sealedPrivateKey = sealedPrivateKey
        self.status = status
        self.createdAt = createdAt
    }
}

/// Token-signing keys.
public protocol SigningKeyRepository: Sendable {
    func signingKeys() async throws -> [SealedSigningKey]
    /// Stores `key`; a second `active` key is silently not stored (at most one is active).
    func insertSigningKey(_ key: SealedSigningKey) async throws
    /// In one transaction: the active key becomes `retired` (it keeps verifying) and `key`
    /// becomes the active one. Returns the retired kids.
    func rotateSigningKey(to key: SealedSigningKey) async throws -> [String]
    /// Deletes the retired keys retired at or before `cutoff` and returns their kids; keys retired
    /// before the retirement time was recorded are stamped `now` first (they are kept one more
    /// full retention). The active key is never deleted.
    func pruneSigningKeys(retiredBefore cutoff: Date, now: Date) async throws -> [String]
}
