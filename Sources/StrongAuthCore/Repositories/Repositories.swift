import Foundation

/// Storage errors the core reacts to. Everything else is an infrastructure failure (a 503).
public enum StoreError: Error, Equatable, CustomStringConvertible {
    /// A unique key (client id, username, …) is already taken.
    case conflict(String)

    public var description: String {
        switch self {
        case .conflict(let what): "\(what) already exists"
        }
    }
}

/// OAuth clients.
public protocol ClientRepository: Sendable {
    /// Stores a new client; `StoreError.conflict` when the id is taken.
    func insertClient(_ client: OAuthClient) async throws
    func client(id: String) async throws -> OAuthClient?
}

/// End users and their password-factor counters.
public protocol UserRepository: Sendable {
    /// Stores a new user; `StoreError.conflict` when the username is taken in the user's realm.
    func insertUser(_ user: User) async throws
    func user(id: String) async throws -> User?
    /// The user of that username in that realm only: another realm's user of the same name is
    /// not found (usernames are unique per realm, not per installation).
    func user(realm: String, username: String) async throws -> User?
    /// Counts an attempt of one of the user's factors *before* it is checked, in one atomic
    /// conditional update: `nil` while that factor is locked. The attempt that reaches the
    /// policy's maximum sets the lock; a successful check then calls `resetAttempts`. Counting up
    /// front means concurrent guesses on several nodes can never exceed the limit, and counters
    /// are per factor, so guessing passwords cannot lock out device binding (PSD2 RTS art. 4).
    func reserveAttempt(userID: String, factor: UserFactor, at now: Date, policy: LockoutPolicy) async throws
        -> PasswordAttemptReservation?
    /// Resets the factor's consecutive-failure count after a success.
    func resetAttempts(userID: String, factor: UserFactor) async throws
    /// Deletes the user and everything bound to it (refresh tokens and their families) in one
    /// transaction. `false` when there was no such user.
    func deleteUser(id: String) async throws -> Bool
}

/// A factor of a user whose failures are counted and limited on their own.
public enum UserFactor: String, Sendable, CaseIterable {
    /// The password of the password grant.
    case password
    /// Answers to device-binding OTP challenges, across all of the user's bindings.
    case deviceBinding = "device_binding"
}

/// A counted attempt of one factor.
public struct PasswordAttemptReservation: Sendable, Equatable {
    /// Consecutive attempts including this one (reset to 0 by a success).
    public var consecutiveAttempts: Int
    /// Set when this attempt reached the limit: the lock that applies if the password is wrong.
    public var lockedUntil: Date?

    public init(consecutiveAttempts: Int, lockedUntil: Date?) {
        self.consecutiveAttempts = consecutiveAttempts
        self.lockedUntil = lockedUntil
    }
}

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
    func introspectionContext(
        introspectingClientID: String, jti: String, familyID: String?, userID: String?, clientID: String, deviceID: String?
    ) async throws -> (client: OAuthClient?, liveness: AccessTokenLiveness)
    /// One query answering everything introspection needs beyond the JWT itself.
    func accessTokenLiveness(jti: String, familyID: String?, userID: String?, clientID: String, deviceID: String?) async throws
        -> AccessTokenLiveness
}

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

/// The append-only, hash-chained audit log.
///
/// Appending is two steps, so that the one chain does not serialise every request of every node:
/// `append` writes the record to a journal (durable when it returns, no lock), and
/// `sealAuditJournal` moves journaled records into the chain in batches (a background service on
/// every node, and every read first). The chain's order is the journal's (time, id) order within
/// a batch.
public protocol AuditLog: Sendable {
    /// Journals one record; it is in the chain after the next seal.
    func append(_ record: AuditRecord, at now: Date) async throws
    /// Links up to `limit` journaled records into the chain, in one transaction; returns how
    /// many. Several nodes may call it at once: the database serialises them.
    @discardableResult
    func sealAuditJournal(limit: Int) async throws -> Int
    /// Events in ascending order, starting after `sequence` (the journal is sealed first, so
    /// everything appended before the call is there).
    func auditEvents(after sequence: Int64, limit: Int) async throws -> [AuditEvent]
    /// Counts one failed authentication of an unauthenticated caller in its window (one atomic
    /// upsert, correct on several nodes), instead of journaling a record per failure; `record`'s
    /// `details["reason"]` is part of the key, its other details are dropped (see
    /// `AuditFailurePolicy`).
    func recordFailure(_ record: AuditRecord, at now: Date, policy: AuditFailurePolicy) async throws
    /// Journals every window that is over by `now` as ONE audit record with its count, and removes
    /// it, in one transaction: a window is written exactly once, whichever node gets there first.
    @discardableResult
    func sealFailureWindows(closedBy now: Date) async throws -> Int
    /// The counts of windows not yet sealed, newest first; `realm` `nil`: all of them.
    func openFailureWindows(realm: String?, limit: Int) async throws -> [AuditFailureCount]
    /// The window and key cap of this installation (`audit.failureWindowSeconds`,
    /// `audit.failureKeysPerWindow`).
    var failurePolicy: AuditFailurePolicy { get }
}

extension AuditLog {
    /// `recordFailure` with the installation's window and key cap.
    public func recordFailure(_ record: AuditRecord, at now: Date) async throws {
        try await recordFailure(record, at: now, policy: failurePolicy)
    }
}

/// Everything the core needs from storage.
public typealias StrongAuthRepositories = ClientRepository & UserRepository & TokenRepository
    & SigningKeyRepository & AuditLog & DeviceRepository & NotificationOutbox & PowerAuthRepository & WebhookOutbox
    & ApprovalRepository & SessionRepository & RealmRepository
