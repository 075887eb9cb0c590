import Foundation

/// Whether a presented access token is still live beyond its signature and expiry.
public struct AccessTokenLiveness: Sendable, Equatable {
    public var jtiRevoked: Bool
    public var familyRevoked: Bool
    /// For user tokens: whether the user still exists and is active.
    public var subjectActive: Bool
    public var clientActive: Bool
    /// For confirmed tokens: whether the confirming device is still ACTIVE.
    public var deviceActive: Bool

    public init(jtiRevoked: Bool, familyRevoked: Bool, subjectActive: Bool, clientActive: Bool, deviceActive: Bool = true) {
        self.jtiRevoked = jtiRevoked
        self.familyRevoked = familyRevoked
        self.subjectActive = subjectActive
        self.clientActive = clientActive
        self.deviceActive = deviceActive
    }

    public var isLive: Bool { !jtiRevoked && !familyRevoked && subjectActive && clientActive && deviceActive }
}

/// What decides whether a verified access token is still live (`AccessTokenLiveness`): its id,
/// family, user, client and confirming device. A route whose own first read can carry it (the
/// device challenge routes: `PendingLivenessUserTokenContext`) hands it to the core service,
/// which reads the liveness with that read instead of in a read of its own — one read fewer per
/// request, and the same answer at the same moment.
public struct AccessTokenLivenessQuery: Sendable, Equatable {
    public var jti: String
    public var familyID: String?
    /// For user tokens: the user, who must still be active.
    public var userID: String?
    public var clientID: String
    /// For confirmed tokens: the device, which must still be ACTIVE.
    public var deviceID: String?

    public init(jti: String, familyID: String?, userID: String?, clientID: String, deviceID: String?) {
        self.jti = jti
        self.familyID = familyID
        self.userID = userID
        self.clientID = clientID
        self.deviceID = deviceID
    }

    public init(claims: AccessTokenClaims) {
        jti = claims.jti.value
        familyID = claims.sid
        userID = claims.subjectType == .user ? claims.sub.value : nil
        clientID = claims.clientID
        deviceID = claims.cnf?.kid
    }
}

/// A core service's read found the caller's access token no longer live (revoked, its user
/// locked, its client disabled, its confirming device gone): the face's 401 `invalid_token`,
/// before anything was written.
public struct AccessTokenNotLive: Error, Equatable {
    public init() {}
}

/// Refresh tokens, their families, and access-token revocations.
public protocol TokenRepository: Sendable {
    /// Stores the first refresh token of a new family.
    func insertRefreshToken(_ record: RefreshTokenRecord) async throws
    func refreshToken(hash: String) async throws -> RefreshTokenRecord?
    /// Rotates in one transaction: marks the presented token used (only if it is unused, its
    /// family is live, it has not expired and it belongs to `clientID`) and stores its successor
    /// with the given hash, id and expiry. A second presentation of a used token revokes the family.
    func rotateRefreshToken(
        hash: String, clientID: String, at now: Date, successorID: String, successorHash: String,
        successorExpiresAt: Date
    ) async throws -> RefreshRotationOutcome
    /// Revokes a whole refresh-token family (idempotent).
    func revokeFamily(id: String, at now: Date) async throws
    /// Records a revoked access token until it would have expired anyway.
    func revokeAccessToken(jti: String, expiresAt: Date, at now: Date) async throws
    /// Introspection in one statement: the introspecting client's record (for its
    /// authentication) and the token's liveness.
    func introspectionContext(introspectingClientID: String, token: AccessTokenLivenessQuery) async throws
        -> (client: OAuthClient?, liveness: AccessTokenLiveness)
    /// One query answering everything introspection needs beyond the JWT itself.
    func accessTokenLiveness(_ query: AccessTokenLivenessQuery) async throws -> AccessTokenLiveness
}
