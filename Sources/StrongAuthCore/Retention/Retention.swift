import Foundation

/// The records the hot paths insert by the thousand per second and that decide nothing once
/// they have expired: device challenges, refresh tokens (with their families), access-token
/// revocations, Shine action tokens, and SMS/push notifications once delivered or given up.
/// Without deletion these tables — and every index a request writes into — grow for as long as
/// the server runs.
///
/// Each call deletes at most `limit` rows (one short write, so the sweep never holds SQLite's
/// write lock for long) and returns how many it deleted. Deleting is idempotent and safe on
/// several nodes at once.
public protocol RetentionRepository: Sendable {
    /// Deletes device challenges (of every kind) that expired before `cutoff`.
    func deleteExpiredChallenges(before cutoff: Date, limit: Int) async throws -> Int

    /// Deletes refresh tokens that expired before `cutoff` and, in the same transaction, each of
    /// their families that has no refresh token left; returns the tokens deleted. On several
    /// nodes at once no family is left behind without tokens: the families are locked before
    /// they are checked.
    func deleteExpiredRefreshTokens(before cutoff: Date, limit: Int) async throws -> Int

    /// Deletes the revocations of access tokens that expired before `cutoff` (an expired token
    /// is refused by its own `exp`; its revocation decides nothing any more).
    func deleteExpiredAccessTokenRevocations(before cutoff: Date, limit: Int) async throws -> Int

    /// Deletes Shine action tokens (used or not) that expired before `cutoff`.
    func deleteExpiredActionTokens(before cutoff: Date, limit: Int) async throws -> Int

    /// Deletes SMS and push notifications that were delivered (`sent`) or given up (`dead`) and
    /// whose last attempt was due before `cutoff`; pending ones are never deleted. (Their bodies
    /// are sealed, but an OTP SMS need not be kept at all once delivered.)
    func deleteFinishedNotifications(before cutoff: Date, limit: Int) async throws -> Int
}

/// How long expired records stay before the retention job deletes them
/// (`retention.expiredRecordsHours`): long enough that a client polling a challenge it let
/// expire still reads EXPIRED, and that an operator looking into a problem finds the rows.
public struct RetentionPolicy: Sendable, Equatable {
    public var keepExpired: TimeInterval

    public init(keepExpired: TimeInterval = 86_400) {
        self.keepExpired = keepExpired
    }
}

/// One pass of the retention job over every kind of record it deletes.
public struct Retention: Sendable {
    let store: any RetentionRepository
    let time: any TimeSource
    let policy: RetentionPolicy
    /// The access-token lifetime: an access token of a family lives at most this long after the
    /// newest refresh token issued with it, so a refresh token is deleted only this much later
    /// than other records — its family, deleted with its last token, then has no live access
    /// token whose liveness check would find it missing.
    let accessTokenLifetime: TimeInterval

    /// Rows per kind and pass.
    public static let batchSize = 500

    public init(store: any RetentionRepository, time: any TimeSource, policy: RetentionPolicy, accessTokenLifetime: TimeInterval) {
        self.store = store
        self.time = time
        self.policy = policy
        self.accessTokenLifetime = accessTokenLifetime
    }

    /// What one pass deleted.
    public struct Pass: Sendable, Equatable {
        public var challenges = 0
        public var refreshTokens = 0
        public var accessTokenRevocations = 0
        public var actionTokens = 0
        public var notifications = 0

        public init() {}

        /// Whether any kind filled its batch: more may be due at once.
        public var moreDue: Bool {
            [challenges, refreshTokens, accessTokenRevocations, actionTokens, notifications].contains { $0 >= Retention.batchSize }
        }

        public var total: Int { challenges + refreshTokens + accessTokenRevocations + actionTokens + notifications }
    }

    /// Deletes up to `batchSize` records of each kind whose expiry lies `policy.keepExpired` in the past.
    public func sweep() async throws -> Pass {
        let cutoff = time.now().addingTimeInterval(-policy.keepExpired)
        var pass = Pass()
        pass.challenges = try await store.deleteExpiredChallenges(before: cutoff, limit: Self.batchSize)
        pass.refreshTokens = try await store.deleteExpiredRefreshTokens(
            before: cutoff.addingTimeInterval(-accessTokenLifetime), limit: Self.batchSize)
        pass.accessTokenRevocations = try await store.deleteExpiredAccessTokenRevocations(before: cutoff, limit: Self.batchSize)
        pass.actionTokens = try await store.deleteExpiredActionTokens(before: cutoff, limit: Self.batchSize)
        pass.notifications = try await store.deleteFinishedNotifications(before: cutoff, limit: Self.batchSize)
        return pass
    }
}
