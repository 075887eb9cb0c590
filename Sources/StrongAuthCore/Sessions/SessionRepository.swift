import Foundation

/// Login identities, access-tool counters, sessions and their challenges (ABN AMRO login protocol, docs/sessions.md). Every
/// security decision is one conditional update, so any number of nodes on one database agree.
public protocol SessionRepository: AttemptRepository {
    /// Stores a new user, its login identity and a full counter for each access tool in one
    /// transaction; `StoreError.conflict` when the username or the account and card are taken.
    func insertUser(_ user: User, loginIdentity: LoginIdentity, maxAttempts: Int) async throws
    func loginIdentity(accountNumber: String, cardNumber: String) async throws -> LoginIdentity?
    func loginIdentity(userID: String) async throws -> LoginIdentity?

    /// The attempts left of one access tool of the user; `nil` when it has none.
    func loginAttemptsLeft(userID: String, tool: AccessTool) async throws -> Int?
    /// Gives the tool its full attempts again (after a correct answer, or an operator's unblock).
    /// `false` when the user has no such tool.
    func resetLoginAttempts(userID: String, tool: AccessTool, maxAttempts: Int, at now: Date) async throws -> Bool

    /// Stores a new session under the keyed hash of its token.
    func insertLoginSession(_ session: LoginSession, tokenHash: String) async throws
    /// Slides a live session: `last_seen_at = now` where the token matches, the session is not
    /// ended and was last seen after `idleCutoff` (and, with `authorizedOnly`, is authorized) —
    /// one conditional update, so an idle session is gone on every node at the same instant.
    func touchLoginSession(tokenHash: String, authorizedOnly: Bool, seenAfter idleCutoff: Date, at now: Date) async throws
        -> LoginSession?
    /// Authorizes a live session (anonymous, or already authorized for the same user) in one
    /// transaction: rotates its token hash, records user, tool, device and `lastLogonDate`, sets
    /// the identity's last logon and gives the tool its full attempts. `false` when the session
    /// went idle, ended, or belongs to another user.
    func authorizeLoginSession(
        id: String, tokenHash: String, newTokenHash: String, userID: String, accessToolUsage: AccessToolUsage,
        deviceID: String?, lastLogonDate: Date, seenAfter idleCutoff: Date, maxAttempts: Int, at now: Date
    ) async throws -> Bool
    /// `anonymous | authorized → ended` for a live session; returns it, `nil` when there was none.
    func endLoginSession(tokenHash: String, seenAfter idleCutoff: Date, at now: Date) async throws -> LoginSession?

    func insertLoginChallenge(_ challenge: LoginChallenge) async throws
    func loginChallenge(handle: String) async throws -> LoginChallenge?
    /// `open → used` for the session's unexpired challenge, in one conditional update: exactly
    /// one of any number of concurrent answers gets `true`.
    func useLoginChallenge(handle: String, sessionID: String, at now: Date) async throws -> Bool
    /// Deletes sessions that ended or went idle before `idleCutoff` and challenges that expired
    /// before `now`; returns how many rows went.
    func purgeLoginState(idleCutoff: Date, at now: Date) async throws -> Int

    /// The attempts left of an unknown account/card's decoy counter (`subjectHash`: the keyed
    /// hash of `ACCOUNT_CARD`) updated after `freshAfter`; `nil` when it has none (full).
    func decoyLoginAttemptsLeft(subjectHash: String, tool: AccessTool, freshAfter: Date) async throws -> Int?
    /// Counts a wrong answer to a decoy challenge as `reserveLoginAttempt` counts a real one, and
    /// uses its handle once: `counted` (attempts left after it), `replayed` (the handle was
    /// answered before), `blocked` (no attempts left), or `full` when the account has no counter
    /// and `capacity` counters exist (nothing stored). A counter last updated at or before
    /// `freshAfter` starts over. Each step is one conditional statement.
    func answerDecoyLogin(
        subjectHash: String, tool: AccessTool, handle: String, maxAttempts: Int, capacity: Int, freshAfter: Date, at now: Date
    ) async throws -> DecoyLoginAnswer
    /// Deletes decoy counters last updated at or before `cutoff`; returns how many went.
    func purgeDecoyLoginAttempts(updatedBefore cutoff: Date) async throws -> Int

    /// The user's devices with an ECDSA key in every status (REMOVED too), oldest first: the
    /// stable order behind `boundDeviceIndexNumber`.
    func ecdsaDevicesEverBound(userID: String) async throws -> [Device]

    /// A server key sealed under the master key, by id.
    func sealedServerKey(id: String) async throws -> String?
    /// Stores a sealed server key unless one with this id exists (the first node's key wins).
    func insertSealedServerKey(id: String, sealed: String, at now: Date) async throws
}

/// What a wrong answer to a decoy challenge did (see `SessionRepository.answerDecoyLogin`).
public enum DecoyLoginAnswer: Sendable, Equatable {
    case counted(attemptsLeft: Int)
    case replayed
    case blocked
    case full
}
