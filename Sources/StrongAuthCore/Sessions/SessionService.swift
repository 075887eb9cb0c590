import Crypto
import Foundation
import StrongAuthProtocol
import Synchronization

/// Lifetimes and limits of challenge-response sessions (docs/sessions.md).
public struct SessionConfiguration: Sendable, Equatable {
    /// A session ends after this long without an authorized request (PSD2 RTS art. 4(3)(d): 5 minutes).
    public var idleTimeout: TimeInterval
    /// How long a login, handover or scenario challenge may be answered.
    public var challengeLifetime: TimeInterval
    /// Wrong answers per access tool before it is blocked (ABN AMRO login protocol: `attemptsLeft` starts at 3).
    public var maxAttempts: Int
    /// Whether the session cookie carries `Secure` (on when the server is reached over TLS).
    public var secureCookie: Bool
    /// How long an unknown account/card's decoy counter is kept after its last wrong answer
    /// (SECURITY.md): until then it shows the attempts left and stays blocked as a known account
    /// would; afterwards it starts over (a known account stays blocked until an operator acts).
    public var decoyRetention: TimeInterval
    /// At most this many decoy counters are stored (one per unknown account/card and tool that
    /// had a wrong answer); beyond it, a decoy's wrong answer is answered but not counted.
    public var decoyCapacity: Int

    public init(
        idleTimeout: TimeInterval = 300, challengeLifetime: TimeInterval = 120, maxAttempts: Int = AttemptLimits.standard.accessTool,
        secureCookie: Bool = false,
        decoyRetention: TimeInterval = 30 * 86_400, decoyCapacity: Int = 100_000
    ) {
        self.idleTimeout = idleTimeout
        self.challengeLifetime = challengeLifetime
        self.maxAttempts = maxAttempts
        self.secureCookie = secureCookie
        self.decoyRetention = decoyRetention
        self.decoyCapacity = decoyCapacity
    }
}

/// Why a session request was refused. The face maps each case to a status and a problem.
public enum SessionError: Error, Equatable, Sendable {
    case validation(field: String, message: String)
    /// No active user has this account and card number.
    case unknownUser
    /// The user has no such access tool (no identification code, no bound device at that index).
    case accessToolNotSetUp(String)
    /// Too many wrong answers: the tool is blocked until an operator unblocks it.
    case blocked
    /// The challenge handle is unknown, already used, expired, or of another session.
    case challengeClosed
    /// The answer names another account, card, tool or scheme than the challenge.
    case mismatch(field: String)
    /// The response does not answer the challenge; `attemptsLeft` more may be tried.
    case wrongResponse(attemptsLeft: Int)
    /// The scenario sent with the answer is not the one the challenge was for.
    case scenarioMismatch
    /// No live session for this cookie (or not an authorized one where one is needed).
    case unauthorized
}

extension SessionError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .validation(let field, let message): "\(field) \(message)"
        case .unknownUser: "no active user has this account and card number"
        case .accessToolNotSetUp(let what): "the access tool cannot be used: \(what)"
        case .blocked: "the access tool is blocked"
        case .challengeClosed: "the challenge is unknown, used, expired or of another session"
        case .mismatch(let field): "\(field) does not match the challenge"
        case .wrongResponse(let left): "wrong response, \(left) attempts left"
        case .scenarioMismatch: "the scenario differs from the challenged one"
        case .unauthorized: "no authorized session"
        }
    }
}

/// A challenge as the face shows it: the ABN AMRO API's `loginChallenge` (and the scenario challenge).
public struct IssuedChallenge: Sendable, Equatable {
    /// `ACCOUNT_CARD`.
    public var userID: String
    public var attemptsLeft: Int
    /// Hex of the challenge bytes.
    public var challenge: String
    public var challengeHandle: String
    public var challengeDeviceDetails: String
    public var scenarioName: String?
    public var scenarioHash: String?
    /// A new session's cookie token when the request had no live session; `nil` otherwise.
    public var newSessionToken: String?
}

/// An authorized session as the face shows it (the ABN AMRO API's `session`).
public struct SessionView: Sendable, Equatable {
    /// The user's previous logon (this one for a first logon), rounded down to the minute.
    public var lastLogonDate: Date
    public var accessToolUsage: AccessToolUsage
    /// The StrongAuth user id: the ABN AMRO API's customer references.
    public var customerReference: String
    /// After a login the rotated cookie token (session fixation defence); `nil` otherwise.
    public var newSessionToken: String?
}

/// What the user answers to a login challenge (the body of `PUT /session/loginresponse`).
public struct LoginAnswer: Sendable, Equatable {
    public var accountNumber: String
    public var cardNumber: String
    public var challengeHandle: String
    public var response: String
    public var accessToolUsage: String
    public var challengeDeviceDetails: String?

    public init(
        accountNumber: String, cardNumber: String, challengeHandle: String, response: String, accessToolUsage: String,
        challengeDeviceDetails: String?
    ) {
        self.accountNumber = accountNumber
        self.cardNumber = cardNumber
        self.challengeHandle = challengeHandle
        self.response = response
        self.accessToolUsage = accessToolUsage
        self.challengeDeviceDetails = challengeDeviceDetails
    }
}

/// ABN AMRO's challenge-response sessions (ABN AMRO login protocol, docs/sessions.md): a login challenge for an account
/// and card, answered with the soft token (RSA) or a bound device (ECDSA), authorizes a
/// server-side session that ends when deleted or after 5 minutes idle; inside it, scenarios
/// (adding a payee, …) are signed the same way.
public struct SessionService: Sendable {
    public typealias Repositories = SessionRepository & UserRepository & DeviceRepository & AuditLog

    static let keyID = "softtoken-rsa-2048"
    static let keySealPurpose = "softtoken-key"
    /// Session cookie tokens: `sa_ss_` and 256 random bits.
    static let tokenPrefix = "sa_ss_"

    let store: any Repositories
    let administration: AdministrationService
    let masterKey: MasterKey
    let time: any TimeSource
    public let configuration: SessionConfiguration
    /// Keys the hashes of session tokens.
    let tokenHasher: KeyedHash
    /// Keys the hashes of identification codes.
    let codeHasher: KeyedHash
    /// Keys the hashes that name an unknown account/card's decoy counter.
    let decoyHasher: KeyedHash
    /// Seals and opens decoy challenge handles.
    let handles: ChallengeHandles
    private let keyCache: KeyCache

    public init(
        store: any Repositories, administration: AdministrationService, masterKey: MasterKey, time: any TimeSource,
        configuration: SessionConfiguration
    ) {
        self.store = store
        self.administration = administration
        self.masterKey = masterKey
        self.time = time
        self.configuration = configuration
        tokenHasher = KeyedHash(key: masterKey.derive(purpose: "session-token"))
        codeHasher = KeyedHash(key: masterKey.derive(purpose: "identification-code"))
        decoyHasher = KeyedHash(key: masterKey.derive(purpose: "decoy-login-attempts"))
        handles = ChallengeHandles(key: masterKey.derive(purpose: "decoy-challenge-handle"))
        keyCache = KeyCache()
    }

    // MARK: Login

    /// `GET /session/loginchallenge`: a challenge for the account and card's access tool, bound
    /// to the caller's live anonymous session or to a new one (then `newSessionToken` is set).
    ///
    /// One read (`loginChallengeContext`: the identity, its user, its counter, its devices) and
    /// one transaction (`issueLoginChallenge`: the session slid or started, the challenge stored).
    public func loginChallenge(
        sessionToken: String?, accountNumber: String, cardNumber: String, accessToolUsage: String, boundDeviceIndexNumber: String?
    ) async throws -> IssuedChallenge {
        let usage = try Self.usage(accessToolUsage)
        let deviceIndex = try Self.deviceIndex(for: usage, raw: boundDeviceIndexNumber)
        // An unknown account/card, and a known user without this access tool, get a
        // challenge like a usable one (a decoy that no answer opens, counted and blocked as a real
        // one), so the challenge endpoint does not tell which accounts exist or what tools they have.
        var identity = try Self.decoyIdentity(accountNumber: accountNumber, cardNumber: cardNumber)
        var decoy = true
        var deviceID: String?
        let now = time.now()
        // One read whether the account is known or not: the decoy's counter comes with it.
        let context = try await store.loginChallengeContext(
            accountNumber: identity.accountNumber, cardNumber: identity.cardNumber, tool: usage.tool, withDevices: deviceIndex != nil,
            decoySubjectHash: decoySubject(identity), decoyFreshAfter: now.addingTimeInterval(-configuration.decoyRetention))
        if let known = context.identity, context.userIsActive {
            if let deviceIndex {
                deviceID = Self.activeBoundDevice(in: context.ecdsaDevicesEverBound, index: deviceIndex)
                decoy = deviceID == nil
            } else {
                decoy = known.identificationCodeHash == nil
            }
            if !decoy { identity = known }
        }
        let attemptsLeft =
            decoy
            ? try Self.usableDecoy(attemptsLeft: context.decoyAttemptsLeft ?? configuration.maxAttempts)
            : try Self.usable(usage, identity: identity, attemptsLeft: context.attemptsLeft)
        // No live session, or an authorized one: a login starts from a fresh anonymous session.
        let freshToken = SecureRandom.token(prefix: Self.tokenPrefix)
        let fresh = LoginSession(id: SecureRandom.uuid(), status: .anonymous, createdAt: now, lastSeenAt: now)
        var prepared = try await prepareChallenge(.login, sessionID: fresh.id, identity: identity, usage: usage, deviceID: deviceID)
        let session = try await store.issueLoginChallenge(
            decoy ? nil : prepared.challenge, continuing: sessionToken.map { tokenHasher.hash($0) }, seenAfter: idleCutoff(now),
            orStarting: fresh, freshTokenHash: tokenHasher.hash(freshToken), at: now)
        prepared.challenge.sessionID = session.id
        var issued = try describe(prepared, identity: identity, usage: usage, attemptsLeft: attemptsLeft, decoy: decoy)
        issued.newSessionToken = session.id == fresh.id ? freshToken : nil
        return issued
    }

    /// `GET /session/sessionhandoverchallenge`: inside an authorized session, a challenge for the
    /// same user; answered through `PUT /session/loginresponse`, it re-authorizes the session
    /// (with a new cookie token) before it is handed to another channel.
    public func handoverChallenge(sessionToken: String?, accessToolUsage: String, boundDeviceIndexNumber: String?) async throws
        -> IssuedChallenge
    {
        let session = try await authorizedSession(sessionToken)
        let usage = try Self.usage(accessToolUsage)
        guard let userID = session.userID, let identity = try await store.loginIdentity(userID: userID) else {
            throw SessionError.unauthorized
        }
        let deviceID: String?
        if usage.tool == .boundDevice, boundDeviceIndexNumber == nil, let sessionDevice = session.deviceID {
            deviceID = sessionDevice
        } else {
            deviceID = try await boundDevice(for: usage, userID: userID, index: boundDeviceIndexNumber)
        }
        return try await issue(.handover, session: session, identity: identity, usage: usage, deviceID: deviceID)
    }

    /// `PUT /session/loginresponse`: a correct answer authorizes the cookie's session and rotates
    /// its token; a wrong one counts down the tool's attempts (at 0 it is blocked).
    ///
    /// One read (`loginAnswerContext`), then `answerChallenge`: one transaction that counts the
    /// answer before it is checked, and one that completes a correct one.
    public func loginResponse(sessionToken: String?, answer: LoginAnswer, source: String?) async throws -> SessionView {
        guard let sessionToken else { throw SessionError.unauthorized }
        let usage = try Self.usage(answer.accessToolUsage)
        let (account, card) = try Self.numbers(accountNumber: answer.accountNumber, cardNumber: answer.cardNumber)
        let response = try Self.responseBytes(answer.response)
        let now = time.now()
        let tokenHash = tokenHasher.hash(sessionToken)
        let context = try await store.loginAnswerContext(tokenHash: tokenHash, handle: answer.challengeHandle, seenAfter: idleCutoff(now))
        guard let session = context.session else { throw SessionError.unauthorized }
        do {
            return try await answerLogin(
                context, session: session, tokenHash: tokenHash, answer: answer, usage: usage, account: account, card: card,
                response: response, source: source, at: now)
        } catch let error as SessionError {
            // Every request of a live session slides it, refused ones too (a correct answer's
            // authorization already did).
            _ = try await store.touchLoginSession(tokenHash: tokenHash, authorizedOnly: false, seenAfter: idleCutoff(now), at: now)
            throw error
        }
    }

    /// `loginResponse` once the session is known to be live.
    private func answerLogin(
        _ context: LoginAnswerContext, session: LoginSession, tokenHash: String, answer: LoginAnswer, usage: AccessToolUsage,
        account: String, card: String, response: [UInt8], source: String?, at now: Date
    ) async throws -> SessionView {
        let challenge: LoginChallenge
        do {
            challenge = try Self.sessionChallenge(context.challenge, handle: answer.challengeHandle, session: session, kinds: [.login, .handover])
        } catch SessionError.challengeClosed {
            // No stored challenge: a decoy's handle (stateless) for this session, or closed.
            let second = UInt32(clamping: Int64(now.timeIntervalSince1970))
            guard let decoy = handles.open(answer.challengeHandle, sessionID: session.id, now: second), isLive(decoy, at: now) else {
                throw SessionError.challengeClosed
            }
            try await answerDecoy(
                decoy, handle: answer.challengeHandle, account: account, card: card, usage: usage, details: answer.challengeDeviceDetails,
                response: response, source: source, at: now)
        }
        guard let identity = context.identity else { throw SessionError.challengeClosed }
        guard identity.accountNumber == account else { throw SessionError.mismatch(field: "accountNumber") }
        guard identity.cardNumber == card else { throw SessionError.mismatch(field: "cardNumber") }
        guard context.userIsActive else { throw SessionError.unknownUser }
        guard challenge.accessToolUsage == usage else { throw SessionError.mismatch(field: "accessToolUsage") }
        if let details = answer.challengeDeviceDetails, !details.isEmpty, details != usage.challengeDeviceDetails {
            throw SessionError.mismatch(field: "challengeDeviceDetails")
        }

        let newToken = SecureRandom.token(prefix: Self.tokenPrefix)
        let lastLogon = Self.roundedToMinute(identity.lastLogonAt ?? now)
        try await answerChallenge(
            challenge, identity: identity, device: context.device, response: response, source: source, action: .sessionLogin,
            completion: LoginAnswerCompletion(
                authorization: LoginAuthorization(
                    sessionID: session.id, tokenHash: tokenHash, newTokenHash: tokenHasher.hash(newToken), accessToolUsage: usage,
                    lastLogonDate: lastLogon,
                    idleCutoff: idleCutoff(now)),
                audit: AuditRecord(
                    actor: "user:\(identity.userID)", action: .sessionLogin, subject: "session:\(session.id)", sourceAddress: source,
                    outcome: .success, details: ["accessTool": usage.rawValue, "kind": challenge.kind.rawValue])))
        return SessionView(lastLogonDate: lastLogon, accessToolUsage: usage, customerReference: identity.userID, newSessionToken: newToken)
    }

    // MARK: The session

    /// `GET /session`: the authorized session, slid forward; `unauthorized` when absent, not yet
    /// authorized, ended or idle for the timeout.
    public func currentSession(sessionToken: String?) async throws -> SessionView {
        let session = try await authorizedSession(sessionToken)
        guard let lastLogon = session.lastLogonDate, let usage = session.accessToolUsage, let userID = session.userID else {
            throw SessionError.unauthorized
        }
        return SessionView(lastLogonDate: lastLogon, accessToolUsage: usage, customerReference: userID, newSessionToken: nil)
    }

    /// `DELETE /session`: ends the cookie's live session (anonymous or authorized).
    public func endSession(sessionToken: String?, source: String?) async throws {
        guard let sessionToken else { throw SessionError.unauthorized }
        let now = time.now()
        guard let ended = try await store.endLoginSession(tokenHash: tokenHasher.hash(sessionToken), seenAfter: idleCutoff(now), at: now)
        else { throw SessionError.unauthorized }
        if let userID = ended.userID {
            try await store.append(
                AuditRecord(
                    actor: "user:\(userID)", action: .sessionEnded, subject: "session:\(ended.id)", sourceAddress: source,
                    outcome: .success),
                at: now)
        }
    }

    /// Deletes sessions that are over and challenges that expired (the sweeper calls this).
    @discardableResult
    public func purgeExpired() async throws -> Int {
        let now = time.now()
        let decoys = try await store.purgeDecoyLoginAttempts(updatedBefore: now.addingTimeInterval(-configuration.decoyRetention))
        return try await store.purgeLoginState(idleCutoff: idleCutoff(now), at: now) + decoys
    }

    // MARK: Shared

    /// The authorized session of a cookie token, slid forward.
    func authorizedSession(_ sessionToken: String?) async throws -> LoginSession {
        guard let sessionToken else { throw SessionError.unauthorized }
        let now = time.now()
        guard
            let session = try await store.touchLoginSession(
                tokenHash: tokenHasher.hash(sessionToken), authorizedOnly: true, seenAfter: idleCutoff(now), at: now)
        else { throw SessionError.unauthorized }
        return session
    }

    func idleCutoff(_ now: Date) -> Date { now.addingTimeInterval(-configuration.idleTimeout) }

    /// The active user with this account and card.
    func identity(accountNumber: String, cardNumber: String) async throws -> LoginIdentity {
        let (account, card) = try Self.numbers(accountNumber: accountNumber, cardNumber: cardNumber)
        guard let identity = try await store.loginIdentity(accountNumber: account, cardNumber: card),
            let user = try await store.user(id: identity.userID), user.status == .active
        else { throw SessionError.unknownUser }
        return identity
    }

    /// The `user_id` a decoy identity carries (never a user's ID, which is a UUID); the rest is
    /// the ABN AMRO API's `ACCOUNT_CARD` the challenge was asked for. Nothing is stored under it.
    static let decoyUserIDPrefix = "(unknown):"

    /// The stand-in for an account/card no active user has (or a known user without the tool):
    /// it is issued challenges exactly as a usable user is, and every answer to them is wrong.
    static func decoyIdentity(accountNumber: String, cardNumber: String) throws -> LoginIdentity {
        let (account, card) = try numbers(accountNumber: accountNumber, cardNumber: cardNumber)
        return LoginIdentity(userID: decoyUserIDPrefix + "\(account)_\(card)", accountNumber: account, cardNumber: card, identificationCodeHash: nil)
    }

    /// The keyed hash naming a decoy's counter: the account and card, never stored in clear.
    func decoySubject(_ identity: LoginIdentity) -> String { decoyHasher.hash(identity.loginUserID) }

    /// Whether a decoy's handle is still answerable: as a real challenge, for `challengeLifetime`
    /// from its issue (to the second).
    func isLive(_ decoy: ChallengeHandles.Decoy, at now: Date) -> Bool {
        let issued = Date(timeIntervalSince1970: TimeInterval(decoy.issuedAt))
        return issued <= now.addingTimeInterval(1) && issued.addingTimeInterval(configuration.challengeLifetime) > now
    }

    /// A stand-in key for the decoy's signature check, so that a decoy's answer costs what a
    /// bound device's does.
    static let decoyDeviceKey = P256.Signing.PrivateKey().publicKey

    /// Answers a decoy challenge as a wrong answer of a known user is answered: the same checks of
    /// the numbers, tool and details first, the same cryptographic work (the soft token's RSA
    /// decryption and keyed hash, or a signature check), then the account/card's decoy counter
    /// counts it down and uses the handle once (`answerDecoyLogin`): 403 with the attempts left,
    /// 423 when blocked, 409 for a replay. Audited as a failed login of the unknown account
    /// (named by its keyed hash). Always throws.
    func answerDecoy(
        _ decoy: ChallengeHandles.Decoy, handle: String, account: String, card: String, usage: AccessToolUsage, details: String?,
        response: [UInt8], source: String?, at now: Date
    ) async throws -> Never {
        guard decoy.accountNumber == account else { throw SessionError.mismatch(field: "accountNumber") }
        guard decoy.cardNumber == card else { throw SessionError.mismatch(field: "cardNumber") }
        guard decoy.usage == usage else { throw SessionError.mismatch(field: "accessToolUsage") }
        if let details, !details.isEmpty, details != usage.challengeDeviceDetails { throw SessionError.mismatch(field: "challengeDeviceDetails") }
        let identity = try Self.decoyIdentity(accountNumber: account, cardNumber: card)
        switch usage.tool {
        case .softToken:
            let standIn = LoginChallenge(
                handle: handle, kind: .login, sessionID: "", userID: identity.userID, accessToolUsage: usage, deviceID: nil,
                nonce: [UInt8](repeating: 0, count: 12), createdAt: now, expiresAt: now)
            _ = try await softTokenAnswerIsCorrect(response, challenge: standIn, identity: identity)
        case .boundDevice:
            _ = BoundDeviceScheme.verify(signatureHex: Hex.encode(response), challenge: Array(handle.utf8), publicKey: Self.decoyDeviceKey)
        }
        let subject = decoySubject(identity)
        let audited = LoginIdentity(
            userID: "unknown-login:\(subject.prefix(16))", accountNumber: account, cardNumber: card, identificationCodeHash: nil)
        let auditDetails = ["accessTool": usage.rawValue, "kind": LoginChallenge.Kind.login.rawValue]
        let outcome = try await store.answerDecoyLogin(
            subjectHash: subject, tool: usage.tool, handle: handle, maxAttempts: configuration.maxAttempts,
            capacity: configuration.decoyCapacity, freshAfter: now.addingTimeInterval(-configuration.decoyRetention), at: now)
        switch outcome {
        case .replayed:
            throw SessionError.challengeClosed
        case .blocked:
            try await audit(audited, .sessionLogin, .failure, source: source, details: auditDetails.merging(["reason": "blocked"]) { $1 })
            throw SessionError.blocked
        case .counted(let attemptsLeft):
            try await audit(
                audited, .sessionLogin, .failure, source: source,
                details: auditDetails.merging(["reason": "wrong_response", "attemptsLeft": String(attemptsLeft)]) { $1 })
            if attemptsLeft == 0 {
                try await audit(audited, .sessionAccessToolBlocked, .success, source: source, details: ["accessTool": usage.tool.rawValue])
            }
            throw SessionError.wrongResponse(attemptsLeft: attemptsLeft)
        case .full:
            try await audit(
                audited, .sessionLogin, .failure, source: source,
                details: auditDetails.merging(["reason": "wrong_response", "uncounted": "decoy capacity reached"]) { $1 })
            throw SessionError.wrongResponse(attemptsLeft: max(configuration.maxAttempts - 1, 0))
        }
    }

    /// The normalised account and card numbers, or a validation error naming the bad one.
    static func numbers(accountNumber: String, cardNumber: String) throws -> (account: String, card: String) {
        guard let account = LoginNumbers.account(accountNumber) else {
            throw SessionError.validation(field: "accountNumber", message: "must be 1–10 digits")
        }
        guard let card = LoginNumbers.card(cardNumber) else {
            throw SessionError.validation(field: "cardNumber", message: "must be 1–5 digits")
        }
        return (account, card)
    }

    static func usage(_ raw: String) throws -> AccessToolUsage {
        guard let usage = AccessToolUsage(rawValue: raw) else {
            throw SessionError.validation(
                field: "accessToolUsage", message: "must be one of \(AccessToolUsage.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return usage
    }

    /// The device `boundDeviceIndexNumber` names for a `BOUNDDEVICE_*` usage: the N-th (from 1)
    /// device the user ever bound with an ECDSA key, oldest first, counting removed ones, so a
    /// number never moves to another device; it must be ACTIVE. `nil` for `SOFTTOKEN`.
    func boundDevice(for usage: AccessToolUsage, userID: String, index raw: String?) async throws -> String? {
        guard let index = try Self.deviceIndex(for: usage, raw: raw) else { return nil }
        guard let deviceID = try await activeBoundDevice(userID: userID, index: index) else {
            throw SessionError.accessToolNotSetUp("no active bound device number \(index)")
        }
        return deviceID
    }

    /// The validated `boundDeviceIndexNumber` for a `BOUNDDEVICE_*` usage; `nil` for `SOFTTOKEN`.
    static func deviceIndex(for usage: AccessToolUsage, raw: String?) throws -> Int? {
        guard usage.tool == .boundDevice else { return nil }
        guard let raw, let index = Int(raw), (1...1000).contains(index) else {
            throw SessionError.validation(field: "boundDeviceIndexNumber", message: "a bound device's number (1, 2, …) is required")
        }
        return index
    }

    /// The id of the user's active device with this index; `nil` when there is none.
    func activeBoundDevice(userID: String, index: Int) async throws -> String? {
        Self.activeBoundDevice(in: try await store.ecdsaDevicesEverBound(userID: userID), index: index)
    }

    /// The id of the active device with this index among a user's ECDSA devices ever bound; `nil` when there is none.
    static func activeBoundDevice(in devices: [Device], index: Int) -> String? {
        guard index <= devices.count, devices[index - 1].status == .active else { return nil }
        return devices[index - 1].id
    }

    /// The `boundDeviceIndexNumber` of a device (the inverse of `boundDevice`).
    func boundDeviceIndex(deviceID: String, userID: String) async throws -> Int? {
        try await store.ecdsaDevicesEverBound(userID: userID).firstIndex { $0.id == deviceID }.map { $0 + 1 }
    }

    /// Stores and describes a fresh challenge of `kind` for the identity's `usage`.
    func issue(
        _ kind: LoginChallenge.Kind, session: LoginSession, identity: LoginIdentity, usage: AccessToolUsage, deviceID: String?,
        scenario: (name: String, hash: [UInt8])? = nil
    ) async throws -> IssuedChallenge {
        let attemptsLeft = try await checkUsable(usage, identity: identity)
        let prepared = try await prepareChallenge(
            kind, sessionID: session.id, identity: identity, usage: usage, deviceID: deviceID, scenario: scenario)
        try await store.insertLoginChallenge(prepared.challenge)
        return try describe(prepared, identity: identity, usage: usage, attemptsLeft: attemptsLeft, decoy: false)
    }

    /// A fresh challenge (not stored yet) and the bytes its tool answers.
    struct PreparedChallenge {
        var challenge: LoginChallenge
        var bytes: [UInt8]
    }

    /// A fresh challenge of `kind` for the identity's `usage`, bound to `sessionID`; nothing is stored.
    func prepareChallenge(
        _ kind: LoginChallenge.Kind, sessionID: String, identity: LoginIdentity, usage: AccessToolUsage, deviceID: String?,
        scenario: (name: String, hash: [UInt8])? = nil
    ) async throws -> PreparedChallenge {
        let (nonce8, nonce4) = SoftTokenScheme.freshNonces()
        let bytes: [UInt8]
        switch usage.tool {
        case .softToken:
            let key = try await softTokenKey()
            bytes = try SoftTokenScheme.challenge(
                nonce8: nonce8, nonce4: nonce4, modulus: key.modulus, exponent: key.exponent, scenarioHash: scenario?.hash)
        case .boundDevice:
            bytes = try BoundDeviceScheme.challenge(
                purpose: kind == .scenario ? .scenario : .login, nonce8: nonce8, nonce4: nonce4, userID: identity.loginUserID,
                scenarioHash: scenario?.hash)
        }
        let now = time.now()
        let challenge = LoginChallenge(
            handle: Self.newHandle(), kind: kind, sessionID: sessionID, userID: identity.userID, accessToolUsage: usage,
            deviceID: deviceID, nonce: nonce8 + nonce4, scenarioName: scenario?.name, scenarioHash: scenario.map { Hex.encode($0.hash) },
            createdAt: now, expiresAt: now.addingTimeInterval(configuration.challengeLifetime))
        return PreparedChallenge(challenge: challenge, bytes: bytes)
    }

    /// The face's description of a prepared challenge. A decoy's handle is sealed here: nothing
    /// is stored for it, the handle itself says what it is for (`ChallengeHandles`).
    func describe(_ prepared: PreparedChallenge, identity: LoginIdentity, usage: AccessToolUsage, attemptsLeft: Int, decoy: Bool) throws
        -> IssuedChallenge
    {
        var handle = prepared.challenge.handle
        if decoy {
            let sealed = ChallengeHandles.Decoy(
                issuedAt: UInt32(clamping: Int64(prepared.challenge.createdAt.timeIntervalSince1970)), accountNumber: identity.accountNumber,
                cardNumber: identity.cardNumber, usage: usage)
            guard let decoyHandle = handles.seal(sealed, sessionID: prepared.challenge.sessionID) else { throw SessionError.unknownUser }
            handle = decoyHandle
        }
        return IssuedChallenge(
            userID: identity.loginUserID, attemptsLeft: attemptsLeft, challenge: Hex.encode(prepared.bytes), challengeHandle: handle,
            challengeDeviceDetails: usage.challengeDeviceDetails, scenarioName: prepared.challenge.scenarioName,
            scenarioHash: prepared.challenge.scenarioHash)
    }

    /// Whether the known identity has this tool and it is not blocked; returns its attempts left.
    /// (A decoy's come with `loginChallengeContext`: `usableDecoy`.)
    @discardableResult
    func checkUsable(_ usage: AccessToolUsage, identity: LoginIdentity) async throws -> Int {
        return try Self.usable(usage, identity: identity, attemptsLeft: try await store.loginAttemptsLeft(userID: identity.userID, tool: usage.tool))
    }

    /// `checkUsable` of a decoy whose counter was read already (full when it has none).
    static func usableDecoy(attemptsLeft: Int) throws -> Int {
        guard attemptsLeft > 0 else { throw SessionError.blocked }
        return attemptsLeft
    }

    /// `checkUsable` of a known user whose attempts left of the tool were read already.
    static func usable(_ usage: AccessToolUsage, identity: LoginIdentity, attemptsLeft: Int?) throws -> Int {
        if usage == .softToken, identity.identificationCodeHash == nil {
            throw SessionError.accessToolNotSetUp("the user has no identification code")
        }
        guard let attemptsLeft, attemptsLeft > 0 else { throw SessionError.blocked }
        return attemptsLeft
    }

    /// `challenge` (read by `handle`) if it is the session's and of one of `kinds`; `challengeClosed` otherwise.
    static func sessionChallenge(_ challenge: LoginChallenge?, handle: String, session: LoginSession, kinds: Set<LoginChallenge.Kind>) throws
        -> LoginChallenge
    {
        try validateHandle(handle)
        guard let challenge, challenge.sessionID == session.id, kinds.contains(challenge.kind) else { throw SessionError.challengeClosed }
        return challenge
    }

    static func validateHandle(_ handle: String) throws {
        guard (1...40).contains(handle.utf8.count), handle.utf8.allSatisfy({ (48...57).contains($0) }) else {
            throw SessionError.validation(field: "challengeHandle", message: "must be the challenge's handle")
        }
    }

    /// What a correct answer completes in the transaction that records it.
    struct LoginAnswerCompletion {
        /// The session a login answer authorizes; `nil` for a scenario (the session already is).
        var authorization: LoginAuthorization?
        var audit: AuditRecord
    }

    /// Counts the answer, then checks it, then completes it — one transaction before the check
    /// and one after. Counting first (`reserveLoginAnswer`: the challenge's single use and one
    /// attempt of the tool) keeps the tool's attempts exact: however many answers arrive at once,
    /// on however many nodes, no more are ever checked than it has attempts (a 5-digit
    /// identification code must not be guessable by asking many times at once). A correct answer
    /// then refills the tool and does `completion` (`completeLoginAnswer`). Returns normally only
    /// for a correct answer; audits every failure and the block.
    func answerChallenge(
        _ challenge: LoginChallenge, identity: LoginIdentity, device: Device?, response: [UInt8], source: String?, action: AuditAction,
        completion: LoginAnswerCompletion
    ) async throws {
        let tool = challenge.accessToolUsage.tool
        if challenge.deviceID != nil {
            guard let device, device.userID == identity.userID, device.kind == .ecdsaP256, device.status == .active else {
                throw SessionError.accessToolNotSetUp("the bound device is no longer active")
            }
        }
        let now = time.now()
        // A used or expired challenge is refused without a write (the conditional update below
        // still decides between concurrent answers).
        guard challenge.status == .open, challenge.expiresAt > now else { throw SessionError.challengeClosed }
        let details = ["accessTool": challenge.accessToolUsage.rawValue, "kind": challenge.kind.rawValue]
        let attemptsLeft: Int
        switch try await store.reserveLoginAnswer(
            handle: challenge.handle, sessionID: challenge.sessionID, userID: identity.userID, tool: tool, at: now)
        {
        case .closed: throw SessionError.challengeClosed
        case .blocked:
            try await audit(identity, action, .failure, source: source, details: details.merging(["reason": "blocked"]) { $1 })
            throw SessionError.blocked
        case .counted(let left): attemptsLeft = left
        }
        guard try await answerIsCorrect(response, challenge: challenge, identity: identity, device: device) else {
            try await audit(
                identity, action, .failure, source: source,
                details: details.merging(["reason": "wrong_response", "attemptsLeft": String(attemptsLeft)]) { $1 })
            if attemptsLeft == 0 {
                try await audit(identity, .sessionAccessToolBlocked, .success, source: source, details: ["accessTool": tool.rawValue])
            }
            throw SessionError.wrongResponse(attemptsLeft: attemptsLeft)
        }
        guard
            try await store.completeLoginAnswer(
                userID: identity.userID, tool: tool, maxAttempts: configuration.maxAttempts, authorization: completion.authorization,
                deviceID: challenge.deviceID, audit: completion.audit, at: now)
        else {
            // The answer was right but the session went idle (or ended) meanwhile.
            throw SessionError.unauthorized
        }
    }

    /// Whether `response` answers `challenge` with the tool it was issued for.
    private func answerIsCorrect(_ response: [UInt8], challenge: LoginChallenge, identity: LoginIdentity, device: Device?) async throws -> Bool {
        switch challenge.accessToolUsage.tool {
        case .softToken:
            return try await softTokenAnswerIsCorrect(response, challenge: challenge, identity: identity)
        case .boundDevice:
            guard let device, let key = try? P256Codec.publicKey(hex: device.publicKeyHex) else { throw SessionError.challengeClosed }
            let signed = try BoundDeviceScheme.challenge(
                purpose: challenge.kind == .scenario ? .scenario : .login, nonce8: Array(challenge.nonce.prefix(8)),
                nonce4: Array(challenge.nonce.suffix(4)), userID: identity.loginUserID,
                scenarioHash: challenge.scenarioHash.flatMap { Hex.decode($0) })
            return BoundDeviceScheme.verify(signatureHex: Hex.encode(response), challenge: signed, publicKey: key)
        }
    }

    /// Decrypts a soft-token response and compares every field with what it must be (for a
    /// scenario, its hash too), all in
    /// constant time and all of them every time (no early exit tells which field was wrong).
    func softTokenAnswerIsCorrect(_ response: [UInt8], challenge: LoginChallenge, identity: LoginIdentity) async throws -> Bool {
        let key = try await softTokenKey()
        let fields = (try? LoginTLV.decode(key.openResponse(response))) ?? [:]
        let version = ConstantTime.equals(fields[SoftTokenScheme.Field.version] ?? [], SoftTokenScheme.responseVersion)
        let nonce8 = ConstantTime.equals(fields[SoftTokenScheme.Field.nonce8] ?? [], challenge.nonce.prefix(8))
        let nonce4 = ConstantTime.equals(fields[SoftTokenScheme.Field.nonce4] ?? [], challenge.nonce.suffix(4))
        let user = ConstantTime.equals(fields[SoftTokenScheme.Field.userID] ?? [], Array(identity.loginUserID.utf8))
        let code = String(decoding: fields[SoftTokenScheme.Field.identificationCode] ?? [], as: UTF8.self)
        let codeMatches = codeHasher.matches(
            Self.codeHashInput(userID: identity.userID, code: code), storedHash: identity.identificationCodeHash ?? "")
        // A scenario answer must contain the scenario's hash (field 10), so it covers the data;
        // a login answer must not contain one (empty on both sides).
        let scenario = ConstantTime.equals(
            fields[SoftTokenScheme.Field.scenarioHash] ?? [], challenge.scenarioHash.flatMap { Hex.decode($0) } ?? [])
        return [version, nonce8, nonce4, user, codeMatches, scenario].allSatisfy { $0 }
    }

    /// The response bytes from hex: at most 1 KiB, or a validation error (not counted).
    static func responseBytes(_ hex: String) throws -> [UInt8] {
        guard hex.utf8.count <= 2048, let bytes = Hex.decode(hex), !bytes.isEmpty else {
            throw SessionError.validation(field: "response", message: "must be hex (at most 1024 bytes)")
        }
        return bytes
    }

    /// What the identification code's keyed hash covers: the user, so equal codes of two users
    /// have unrelated hashes.
    static func codeHashInput(userID: String, code: String) -> String { "\(userID):\(code)" }

    /// 40 decimal digits, 128 random bits (the ABN AMRO API's handles are decimal strings; a decoy's has
    /// the same form, `ChallengeHandles`).
    static func newHandle() -> String { ChallengeHandles.random() }

    static func roundedToMinute(_ date: Date) -> Date {
        Date(epochMilliseconds: date.epochMilliseconds / 60_000 * 60_000)
    }

    func audit(_ identity: LoginIdentity, _ action: AuditAction, _ outcome: AuditRecord.Outcome, source: String?, details: [String: String])
        async throws
    {
        try await store.append(
            AuditRecord(
                actor: "user:\(identity.userID)", action: action, subject: "user:\(identity.userID)", sourceAddress: source,
                outcome: outcome, details: details),
            at: time.now())
    }

    // MARK: The soft-token key

    /// The installation's RSA key: loaded from the database (sealed under the master key), or
    /// generated and stored by the first node that needs it; the first stored key wins, so every
    /// node ends up with the same one. Kept in memory once loaded (it never changes).
    func softTokenKey() async throws -> SoftTokenKey {
        if let cached = keyCache.key.withLock({ $0 }) { return cached }
        if try await store.sealedServerKey(id: Self.keyID) == nil {
            let fresh = try SoftTokenKey.generate()
            let sealed = try masterKey.seal(fresh.derRepresentation, purpose: Self.keySealPurpose, associatedData: Self.keyID)
            try await store.insertSealedServerKey(id: Self.keyID, sealed: sealed, at: time.now())
        }
        guard let sealed = try await store.sealedServerKey(id: Self.keyID) else { throw KeyManagementError.masterKeyMismatch(kid: Self.keyID) }
        let der: [UInt8]
        do {
            der = try masterKey.open(sealed, purpose: Self.keySealPurpose, associatedData: Self.keyID)
        } catch {
            throw KeyManagementError.masterKeyMismatch(kid: Self.keyID)
        }
        let key = try SoftTokenKey(derRepresentation: der)
        keyCache.key.withLock { $0 = key }
        return key
    }

    /// The loaded soft-token key, shared by copies of the service.
    final class KeyCache: Sendable {
        let key = Mutex<SoftTokenKey?>(nil)
    }
}
