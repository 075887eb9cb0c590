import Foundation

/// A stored refresh token. The token itself is never stored: `tokenHash` is its keyed hash.
///
/// ```
/// issued ──(refresh)──▶ used          (its successor is issued in the same family)
///   │                    │
///   │                    └──(presented again)──▶ whole family revoked (reuse detection)
///   └──(revoke / user deleted / expiry)──▶ revoked | expired
/// ```
public struct RefreshTokenRecord: Sendable, Equatable {
    public var id: String
    public var tokenHash: String
    public var familyID: String
    public var clientID: String
    public var userID: String
    public var scopes: Scopes
    public var amr: [String]
    /// The device that confirmed the family's first token (its tokens are confirmed for life).
    public var deviceID: String?
    /// When the user authenticated with the factors the family stands for (the password grant,
    /// or the device signature): the `auth_time` of every access token the family yields. `nil`
    /// for families from before it was recorded — they satisfy no age limit.
    public var authTime: Date?
    /// The DPoP key a public client's refresh token is bound to (RFC 9449 §5): refreshing needs
    /// a proof by that key. Carried to every successor.
    public var dpopKeyThumbprint: String?
    public var issuedAt: Date
    public var expiresAt: Date
    public var usedAt: Date?
    public var revokedAt: Date?

    public init(
        id: String, tokenHash: String, familyID: String, clientID: String, userID: String, scopes: Scopes,
        amr: [String], deviceID: String? = nil, authTime: Date? = nil, dpopKeyThumbprint: String? = nil, issuedAt: Date, expiresAt: Date,
        usedAt: Date? = nil, revokedAt: Date? = nil
    ) {
        self.dpopKeyThumbprint = dpopKeyThumbprint
        self.id = id
        self.tokenHash = tokenHash
        self.familyID = familyID
        self.clientID = clientID
        self.userID = userID
        self.scopes = scopes
        self.amr = amr
        self.deviceID = deviceID
        self.authTime = authTime
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.usedAt = usedAt
        self.revokedAt = revokedAt
    }
}

/// What happened when a refresh token was presented for rotation.
public enum RefreshRotationOutcome: Sendable, Equatable {
    /// The token was live and is now used; its successor has been stored.
    case rotated(RefreshTokenRecord)
    /// No such token (or it belongs to another client).
    case unknown
    /// The token had already been used: the family is now revoked.
    case reused(familyID: String)
    /// The token was revoked or expired.
    case inactive
}
