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
    /// `anonymous | authorized → ended` for a live session; returns it, `nil` when there was none.
    func endLoginSession(tokenHash: String, seenAfter idleCutoff: Date, at now: Date) async throws -> LoginSession?

    func insertLoginChallenge(_ challenge: LoginChallenge) async throws
    /// What a login challenge is issued on, in one read: the identity of the account and card
    /// (if any), whether its user is ACTIVE, the attempts left of `tool` and, with `withDevices`,
    /// the user's ECDSA devices ever bound (as `ecdsaDevicesEverBound`); and the account and
    /// card's decoy counter for `tool` (as `decoyLoginAttemptsLeft` reads it) — so that a known
    /// account and an unknown one cost the same database work.
    func loginChallengeContext(
        accountNumber: String, cardNumber: String, tool: AccessTool, withDevices: Bool, decoySubjectHash: String, decoyFreshAfter: Date
    ) async throws -> LoginChallengeContext
    /// Issues a login challenge in one transaction: the live session of `tokenHash` (if any)
    /// slides, and the challenge is bound to it if it is anonymous; otherwise (no live session,
    /// or an authorized one) `fresh` is stored under `freshTokenHash` and the challenge bound to
    /// it. Without a challenge (a decoy's, which is not stored) only the session. Returns the
    /// session the challenge is bound to.
    func issueLoginChallenge(
        _ challenge: LoginChallenge?, continuing tokenHash: String?, seenAfter idleCutoff: Date, orStarting fresh: LoginSession,
        freshTokenHash: String, at now: Date
    ) async throws -> LoginSession
    func loginChallenge(handle: String) async throws -> LoginChallenge?
    /// Everything `PUT /session/loginresponse` decides on, in one read: the live session of
    /// `tokenHash` (as `touchLoginSession` would find it, without sliding it), the challenge with
    /// `handle` (whatever its session and status) and, for the challenge's user, the login
    /// identity, whether the user is ACTIVE and the challenge's device.
    func loginAnswerContext(tokenHash: String, handle: String, seenAfter idleCutoff: Date) async throws -> LoginAnswerContext
    /// Counts an answer before it is checked, in one transaction: the session's unexpired
    /// challenge goes `open → used` and one attempt of the tool is taken (`attempts_left > 0`).
    /// Counting first is what keeps the tool's attempts exact: however many answers arrive at
    /// once, no more are ever checked than it has attempts. Nothing is written for `.closed`.
    func reserveLoginAnswer(handle: String, sessionID: String, userID: String, tool: AccessTool, at now: Date) async throws
        -> LoginAnswerReservation
    /// A counted answer that was correct, in one transaction: the tool gets its full attempts
    /// again and, with `authorization`, the session is authorized — conditionally: only a live
    /// session (anonymous, or already the same user's) under `tokenHash`, which may have gone
    /// idle or ended meanwhile; its token hash rotates and user, tool, device and
    /// `lastLogonDate` are recorded, and the identity's last logon set. Only then is the device
    /// marked used and `audit` journaled. `false` when the session was not authorized.
    func completeLoginAnswer(
        userID: String, tool: AccessTool, maxAttempts: Int, authorization: LoginAuthorization?, deviceID: String?, audit: AuditRecord,
        at now: Date
    ) async throws -> Bool
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

/// What `PUT /session/loginresponse` decides on (see `SessionRepository.loginAnswerContext`).
public struct LoginAnswerContext: Sendable {
    /// The token's live session (anonymous or authorized, seen after the idle cutoff).
    public var session: LoginSession?
    /// The challenge with the answered handle, of any session and status.
    public var challenge: LoginChallenge?
    /// The login identity of the challenge's user.
    public var identity: LoginIdentity?
    /// Whether the challenge's user is ACTIVE.
    public var userIsActive: Bool
    /// The challenge's device (bound-device challenges).
    public var device: Device?

    public init(session: LoginSession?, challenge: LoginChallenge?, identity: LoginIdentity?, userIsActive: Bool, device: Device?) {
        self.session = session
        self.challenge = challenge
        self.identity = identity
        self.userIsActive = userIsActive
        self.device = device
    }
}

/// How a correct login answer authorizes its session (see `SessionRepository.completeLoginAnswer`).
public struct LoginAuthorization: Sendable {
    public var sessionID: String
    public var tokenHash: String
    public var newTokenHash: String
    public var accessToolUsage: AccessToolUsage
    public var lastLogonDate: Date
    public var idleCutoff: Date

    public init(
        sessionID: String, tokenHash: String, newTokenHash: String, accessToolUsage: AccessToolUsage, lastLogonDate: Date, idleCutoff: Date
    ) {
        self.sessionID = sessionID
        self.tokenHash = tokenHash
        self.newTokenHash = newTokenHash
        self.accessToolUsage = accessToolUsage
        self.lastLogonDate = lastLogonDate
        self.idleCutoff = idleCutoff
    }
}

/// What counting an answer did (see `SessionRepository.reserveLoginAnswer`).
public enum LoginAnswerReservation: Sendable, Equatable {
    /// The challenge was used and one attempt counted: `attemptsLeft` remain.
    case counted(attemptsLeft: Int)
    /// The challenge was already used, expired, or is not the session's: nothing was written.
    case closed
    /// The challenge was used up, but the tool had no attempts left to count.
    case blocked
}

/// What `GET /session/loginchallenge` decides on (see `SessionRepository.loginChallengeContext`).
public struct LoginChallengeContext: Sendable {
    /// The account and card's identity; `nil` when no user has them.
    public var identity: LoginIdentity?
    /// Whether the identity's user is ACTIVE.
    public var userIsActive: Bool
    /// The attempts left of the asked tool; `nil` when the user has no such tool.
    public var attemptsLeft: Int?
    /// The user's ECDSA devices ever bound, oldest first (when asked for).
    public var ecdsaDevicesEverBound: [Device]
    /// The attempts left of the account and card's decoy counter for the tool; `nil` when it has
    /// none (or one older than the retention).
    public var decoyAttemptsLeft: Int?

    public init(identity: LoginIdentity?, userIsActive: Bool, attemptsLeft: Int?, ecdsaDevicesEverBound: [Device], decoyAttemptsLeft: Int?) {
        self.identity = identity
        self.userIsActive = userIsActive
        self.attemptsLeft = attemptsLeft
        self.ecdsaDevicesEverBound = ecdsaDevicesEverBound
        self.decoyAttemptsLeft = decoyAttemptsLeft
    }
}
