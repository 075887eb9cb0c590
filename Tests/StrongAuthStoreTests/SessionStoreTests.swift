import Foundation
import StrongAuthCore
import StrongAuthStore
import Testing

/// The login face's store on every database: attempts count down exactly under concurrency,
/// a challenge handle answers once, sessions slide and end in one conditional update each.
@Suite("Store conformance: sessions")
struct SessionStoreTests {
    static func userWithLogin(_ store: SQLStore, account: String = "0562813888", card: String = "23") async throws -> LoginIdentity {
        let user = Fixtures.user("login-\(UUID().uuidString.prefix(8))")
        let identity = LoginIdentity(userID: user.id, accountNumber: account, cardNumber: card, identificationCodeHash: "code-hash")
        try await store.insertUser(user, loginIdentity: identity, maxAttempts: 3)
        return identity
    }

    static func session(_ store: SQLStore, tokenHash: String = UUID().uuidString, at now: Date = Fixtures.epoch) async throws -> LoginSession {
        let session = LoginSession(id: UUID().uuidString, status: .anonymous, createdAt: now, lastSeenAt: now)
        try await store.insertLoginSession(session, tokenHash: tokenHash)
        return session
    }

    static func challenge(_ store: SQLStore, session: LoginSession, userID: String, expiresIn: TimeInterval = 120) async throws -> LoginChallenge {
        let challenge = LoginChallenge(
            handle: String(UInt64.random(in: 100_000_000_000...999_999_999_999)), kind: .login, sessionID: session.id, userID: userID,
            accessToolUsage: .softToken, deviceID: nil, nonce: Array(1...12), createdAt: Fixtures.epoch,
            expiresAt: Fixtures.epoch.addingTimeInterval(expiresIn))
        try await store.insertLoginChallenge(challenge)
        return challenge
    }

    @Test("a user and its login identity are stored together; a taken account and card store neither", arguments: TestDatabases.engines)
    func identities(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let identity = try await Self.userWithLogin(store)
            #expect(try await store.loginIdentity(accountNumber: "0562813888", cardNumber: "23") == identity)
            #expect(try await store.loginIdentity(userID: identity.userID) == identity)
            #expect(try await store.loginAttemptsLeft(userID: identity.userID, tool: .softToken) == 3)
            #expect(try await store.loginAttemptsLeft(userID: identity.userID, tool: .boundDevice) == 3)

            let second = Fixtures.user("second")
            await #expect(throws: StoreError.self) {
                try await store.insertUser(
                    second,
                    loginIdentity: LoginIdentity(userID: second.id, accountNumber: "0562813888", cardNumber: "23", identificationCodeHash: nil),
                    maxAttempts: 3)
            }
            #expect(try await store.user(id: second.id) == nil)
            #expect(try await store.loginAttemptsLeft(userID: second.id, tool: .softToken) == nil)
            // Another card of the same account is another login.
            _ = try await Self.userWithLogin(store, card: "24")

            #expect(try await store.deleteUser(id: identity.userID))
            #expect(try await store.loginIdentity(userID: identity.userID) == nil)
            #expect(try await store.loginAttemptsLeft(userID: identity.userID, tool: .softToken) == nil)
        }
    }

    @Test("20 concurrent wrong answers: exactly 3 are counted (2, 1, 0), the rest find the tool blocked", arguments: TestDatabases.engines)
    func attemptsExact(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let identity = try await Self.userWithLogin(store)
            let left = try await withThrowingTaskGroup(of: Int?.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        try await store.reserveAttempt(
                            .accessTool, subject: .accessTool(userID: identity.userID, tool: .softToken), at: Fixtures.epoch)?
                            .remaining
                    }
                }
                return try await group.reduce(into: [Int?]()) { $0.append($1) }
            }
            #expect(left.compactMap { $0 }.sorted() == [0, 1, 2])
            #expect(left.filter { $0 == nil }.count == 17)
            #expect(try await store.loginAttemptsLeft(userID: identity.userID, tool: .softToken) == 0)
            // Per factor: the bound-device counter is untouched.
            #expect(try await store.loginAttemptsLeft(userID: identity.userID, tool: .boundDevice) == 3)
            #expect(try await store.resetLoginAttempts(userID: identity.userID, tool: .softToken, maxAttempts: 3, at: Fixtures.epoch))
            #expect(
                try await store.reserveAttempt(.accessTool, subject: .accessTool(userID: identity.userID, tool: .softToken), at: Fixtures.epoch)?
                    .remaining == 2)
            #expect(try await !store.resetLoginAttempts(userID: "nobody", tool: .softToken, maxAttempts: 3, at: Fixtures.epoch))
        }
    }

    @Test(
        "30 concurrent answers with one challenge handle: exactly one uses it; never after expiry or from another session",
        arguments: TestDatabases.engines)
    func handleOnce(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let identity = try await Self.userWithLogin(store)
            let session = try await Self.session(store)
            let challenge = try await Self.challenge(store, session: session, userID: identity.userID)
            #expect(try await store.loginChallenge(handle: challenge.handle) == challenge)
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<30 {
                    group.addTask { try await store.useLoginChallenge(handle: challenge.handle, sessionID: session.id, at: Fixtures.epoch) }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1)
            #expect(try await store.loginChallenge(handle: challenge.handle)?.status == .used)

            let expiring = try await Self.challenge(store, session: session, userID: identity.userID, expiresIn: 120)
            #expect(try await !store.useLoginChallenge(handle: expiring.handle, sessionID: session.id, at: Fixtures.epoch.addingTimeInterval(120)))
            let other = try await Self.session(store)
            #expect(try await !store.useLoginChallenge(handle: expiring.handle, sessionID: other.id, at: Fixtures.epoch))
            #expect(try await store.useLoginChallenge(handle: expiring.handle, sessionID: session.id, at: Fixtures.epoch.addingTimeInterval(119)))
        }
    }

    @Test(
        "sessions slide while live, are gone once idle, authorize with a rotated token for one user only, and end once",
        arguments: TestDatabases.engines)
    func sessionLifecycle(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let identity = try await Self.userWithLogin(store)
            let idle: TimeInterval = 300
            let t0 = Fixtures.epoch
            let session = try await Self.session(store, tokenHash: "old", at: t0)
            // Anonymous: live for any touch, not for authorized-only reads.
            #expect(try await store.touchLoginSession(tokenHash: "old", authorizedOnly: true, seenAfter: t0.addingTimeInterval(-idle), at: t0) == nil)
            let t1 = t0.addingTimeInterval(200)
            #expect(
                try await store.touchLoginSession(tokenHash: "old", authorizedOnly: false, seenAfter: t1.addingTimeInterval(-idle), at: t1)?.id
                    == session.id)

            let t2 = t1.addingTimeInterval(10)
            /// A correct answer's completion, authorizing the session under `tokenHash` for `userID`.
            func authorize(tokenHash: String, newTokenHash: String, userID: String) async throws -> Bool {
                try await store.completeLoginAnswer(
                    userID: userID, tool: .softToken, maxAttempts: 3,
                    authorization: LoginAuthorization(
                        sessionID: session.id, tokenHash: tokenHash, newTokenHash: newTokenHash, accessToolUsage: .softToken,
                        lastLogonDate: t2, idleCutoff: t2.addingTimeInterval(-idle)),
                    deviceID: nil,
                    audit: AuditRecord(actor: "user:\(userID)", action: .sessionLogin, subject: "user:\(userID)", outcome: .success), at: t2)
            }
            #expect(try await !authorize(tokenHash: "wrong", newTokenHash: "new", userID: identity.userID))
            _ = try await store.reserveAttempt(.accessTool, subject: .accessTool(userID: identity.userID, tool: .softToken), at: t2)
            #expect(try await store.loginAttemptsLeft(userID: identity.userID, tool: .softToken) == 2)
            #expect(try await authorize(tokenHash: "old", newTokenHash: "new", userID: identity.userID))
            #expect(try await store.loginAttemptsLeft(userID: identity.userID, tool: .softToken) == 3)
            #expect(try await store.loginIdentity(userID: identity.userID)?.lastLogonAt == t2)
            // The old token is dead; the session belongs to this user now.
            #expect(
                try await store.touchLoginSession(tokenHash: "old", authorizedOnly: false, seenAfter: t2.addingTimeInterval(-idle), at: t2) == nil)
            #expect(try await !authorize(tokenHash: "new", newTokenHash: "newer", userID: "another-user"))

            // Sliding: each authorized touch within 5 minutes extends it…
            var now = t2
            for _ in 0..<3 {
                now = now.addingTimeInterval(299)
                let touched = try await store.touchLoginSession(
                    tokenHash: "new", authorizedOnly: true, seenAfter: now.addingTimeInterval(-idle), at: now)
                #expect(touched?.status == .authorized)
                #expect(touched?.userID == identity.userID)
                #expect(touched?.lastLogonDate == t2)
            }
            // …and 5 minutes of silence end it.
            now = now.addingTimeInterval(300)
            #expect(
                try await store.touchLoginSession(tokenHash: "new", authorizedOnly: true, seenAfter: now.addingTimeInterval(-idle), at: now) == nil)
            #expect(try await store.endLoginSession(tokenHash: "new", seenAfter: now.addingTimeInterval(-idle), at: now) == nil)

            let other = try await Self.session(store, tokenHash: "other", at: now)
            #expect(try await store.endLoginSession(tokenHash: "other", seenAfter: now.addingTimeInterval(-idle), at: now)?.id == other.id)
            #expect(try await store.endLoginSession(tokenHash: "other", seenAfter: now.addingTimeInterval(-idle), at: now) == nil)
            #expect(
                try await store.touchLoginSession(tokenHash: "other", authorizedOnly: false, seenAfter: now.addingTimeInterval(-idle), at: now) == nil
            )

            // The sweeper's purge removes both (one idle, one ended) and expired challenges.
            _ = try await Self.challenge(store, session: other, userID: identity.userID, expiresIn: 1)
            #expect(try await store.purgeLoginState(idleCutoff: now.addingTimeInterval(-idle), at: now) == 3)
            #expect(try await store.purgeLoginState(idleCutoff: now.addingTimeInterval(-idle), at: now) == 0)
        }
    }

    @Test(
        "a login answer's context: the live session, the challenge and its user's identity and status in one read; each absent alone",
        arguments: TestDatabases.engines)
    func loginAnswerContext(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let identity = try await Self.userWithLogin(store)
            let session = try await Self.session(store, tokenHash: "cookie")
            let challenge = try await Self.challenge(store, session: session, userID: identity.userID)
            let live = Fixtures.epoch.addingTimeInterval(-1)
            let context = try await store.loginAnswerContext(tokenHash: "cookie", handle: challenge.handle, seenAfter: live)
            #expect(context.session == session)
            #expect(context.challenge == challenge)
            #expect(context.identity == identity)
            #expect(context.userIsActive)
            #expect(context.device == nil)

            let idle = try await store.loginAnswerContext(tokenHash: "cookie", handle: challenge.handle, seenAfter: Fixtures.epoch)
            #expect(idle.session == nil && idle.challenge == challenge)
            let unknown = try await store.loginAnswerContext(tokenHash: "cookie", handle: "999", seenAfter: live)
            #expect(unknown.session == session && unknown.challenge == nil && unknown.identity == nil)
            let nothing = try await store.loginAnswerContext(tokenHash: "none", handle: "999", seenAfter: live)
            #expect(nothing.session == nil && nothing.challenge == nil && !nothing.userIsActive)
        }
    }

    @Test(
        "counted answers: one of 20 to one challenge counts; of 20 to 20 challenges exactly 3 (then blocked); a completion refills and authorizes",
        arguments: TestDatabases.engines)
    func countedAnswers(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let identity = try await Self.userWithLogin(store)
            let userID = identity.userID
            let now = Fixtures.epoch
            let idleCutoff = now.addingTimeInterval(-300)
            func reserve(_ challenge: LoginChallenge) async throws -> LoginAnswerReservation {
                try await store.reserveLoginAnswer(
                    handle: challenge.handle, sessionID: challenge.sessionID, userID: userID, tool: .softToken, at: now)
            }
            func complete(_ session: LoginSession?, token: String = "") async throws -> Bool {
                try await store.completeLoginAnswer(
                    userID: userID, tool: .softToken, maxAttempts: 3,
                    authorization: session.map {
                        LoginAuthorization(
                            sessionID: $0.id, tokenHash: token, newTokenHash: "\(token)-rotated", accessToolUsage: .softToken, lastLogonDate: now,
                            idleCutoff: idleCutoff)
                    },
                    deviceID: nil, audit: AuditRecord(actor: "user:\(userID)", action: .sessionLogin, subject: "user:\(userID)", outcome: .success),
                    at: now)
            }
            func loginAudits() async throws -> Int {
                let events = try await store.auditEvents(after: 0, limit: 1000)
                return events.filter { $0.record.action == .sessionLogin }.count
            }

            // One challenge answered 20 times at once: one answer is counted, the rest find it used.
            let session = try await Self.session(store, tokenHash: "cookie")
            let challenge = try await Self.challenge(store, session: session, userID: userID)
            let once = try await withThrowingTaskGroup(of: LoginAnswerReservation.self) { group in
                for _ in 0..<20 { group.addTask { try await reserve(challenge) } }
                return try await group.reduce(into: [LoginAnswerReservation]()) { $0.append($1) }
            }
            #expect(once.filter { $0 == .closed }.count == 19 && once.contains(.counted(attemptsLeft: 2)))
            #expect(try await store.loginChallenge(handle: challenge.handle)?.status == .used)

            // A correct answer completes: the tool refilled, the session authorized under a rotated token, the answer audited.
            #expect(try await complete(session, token: "cookie"))
            #expect(try await store.loginAttemptsLeft(userID: userID, tool: .softToken) == 3)
            #expect(try await store.loginIdentity(userID: userID)?.lastLogonAt == now)
            #expect(try await store.touchLoginSession(tokenHash: "cookie", authorizedOnly: false, seenAfter: idleCutoff, at: now) == nil)
            #expect(
                try await store.touchLoginSession(tokenHash: "cookie-rotated", authorizedOnly: true, seenAfter: idleCutoff, at: now)?.userID == userID
            )
            #expect(try await loginAudits() == 1)
            // A session gone meanwhile (here: a token that is not its own): refilled, not authorized, not audited.
            #expect(try await !complete(session, token: "stale"))
            #expect(try await loginAudits() == 1)
            // A scenario's completion authorizes nothing and is audited.
            #expect(try await complete(nil))
            #expect(try await loginAudits() == 2)

            // 20 answers to 20 challenges at once: exactly 3 are counted (2, 1, 0), so no more than 3
            // can ever be checked; the others use their challenge up and find the tool blocked.
            var challenges: [LoginChallenge] = []
            for _ in 0..<20 { challenges.append(try await Self.challenge(store, session: session, userID: userID)) }
            let guesses = try await withThrowingTaskGroup(of: LoginAnswerReservation.self) { group in
                for challenge in challenges { group.addTask { try await reserve(challenge) } }
                return try await group.reduce(into: [LoginAnswerReservation]()) { $0.append($1) }
            }
            #expect(guesses.filter { $0 == .blocked }.count == 17)
            #expect(Set(guesses.filter { $0 != .blocked }.map { "\($0)" }).count == 3)
            #expect(try await store.loginAttemptsLeft(userID: userID, tool: .softToken) == 0)
            for challenge in challenges { #expect(try await store.loginChallenge(handle: challenge.handle)?.status == .used) }
            // An expired challenge, or another session's, is not counted.
            #expect(try await store.resetLoginAttempts(userID: userID, tool: .softToken, maxAttempts: 3, at: now))
            let expired = try await Self.challenge(store, session: session, userID: userID, expiresIn: 0)
            #expect(try await reserve(expired) == .closed)
            var foreign = try await Self.challenge(store, session: session, userID: userID)
            foreign.sessionID = "another-session"
            #expect(try await reserve(foreign) == .closed)
            #expect(try await store.loginAttemptsLeft(userID: userID, tool: .softToken) == 3)
        }
    }

    @Test(
        "a login challenge's context in one read (identity, user, counter, devices oldest first, the decoy's counter); issuing slides or starts the session with it",
        arguments: TestDatabases.engines)
    func issueLoginChallenge(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let identity = try await Self.userWithLogin(store)
            let decoyFresh = Fixtures.epoch.addingTimeInterval(-3600)
            func context(card: String, tool: AccessTool, withDevices: Bool, decoy: String = "decoy") async throws -> LoginChallengeContext {
                try await store.loginChallengeContext(
                    accountNumber: "0562813888", cardNumber: card, tool: tool, withDevices: withDevices, decoySubjectHash: decoy,
                    decoyFreshAfter: decoyFresh)
            }
            // An unknown account and card: no identity, and its decoy counter (full: none yet; then as counted).
            let unknown = try await context(card: "99", tool: .softToken, withDevices: true)
            #expect(unknown.identity == nil && !unknown.userIsActive && unknown.attemptsLeft == nil && unknown.ecdsaDevicesEverBound.isEmpty)
            #expect(unknown.decoyAttemptsLeft == nil)
            _ = try await store.answerDecoyLogin(
                subjectHash: "decoy", tool: .softToken, handle: "1", maxAttempts: 3, capacity: 10, freshAfter: decoyFresh, at: Fixtures.epoch)
            #expect(try await context(card: "99", tool: .softToken, withDevices: true).decoyAttemptsLeft == 2)
            #expect(try await context(card: "99", tool: .boundDevice, withDevices: true).decoyAttemptsLeft == nil)
            var devices: [Device] = []
            for offset in [20.0, 10.0] {
                let (device, binding, notification) = DeviceStoreConformanceTests.binding(
                    user: identity.userID, now: Fixtures.epoch.addingTimeInterval(offset))
                try await store.insertDeviceBinding(device: device, challenge: binding, notification: notification)
                devices.append(device)
            }
            _ = try await store.reserveAttempt(.accessTool, subject: .accessTool(userID: identity.userID, tool: .boundDevice), at: Fixtures.epoch)
            let known = try await context(card: "23", tool: .boundDevice, withDevices: true)
            #expect(known.identity == identity)
            #expect(known.userIsActive)
            #expect(known.attemptsLeft == 2)
            #expect(known.ecdsaDevicesEverBound.map(\.id) == [devices[1].id, devices[0].id])  // oldest first
            #expect(known.ecdsaDevicesEverBound.map(\.id) == (try await store.ecdsaDevicesEverBound(userID: identity.userID)).map(\.id))
            let soft = try await context(card: "23", tool: .softToken, withDevices: false, decoy: "decoy")
            #expect(soft.identity == identity && soft.attemptsLeft == 3 && soft.ecdsaDevicesEverBound.isEmpty && soft.decoyAttemptsLeft == 2)

            let now = Fixtures.epoch
            let idleCutoff = now.addingTimeInterval(-300)
            func fresh() -> LoginSession { LoginSession(id: UUID().uuidString, status: .anonymous, createdAt: now, lastSeenAt: now) }
            func challenge(for session: LoginSession) -> LoginChallenge {
                LoginChallenge(
                    handle: String(UInt64.random(in: 100_000_000_000...999_999_999_999)), kind: .login, sessionID: session.id,
                    userID: identity.userID, accessToolUsage: .softToken, deviceID: nil, nonce: Array(1...12), createdAt: now,
                    expiresAt: now.addingTimeInterval(120))
            }
            // No cookie: a new session, and the challenge bound to it.
            let first = fresh()
            let issued = challenge(for: first)
            #expect(
                try await store.issueLoginChallenge(issued, continuing: nil, seenAfter: idleCutoff, orStarting: first, freshTokenHash: "t1", at: now)
                    == first)
            #expect(try await store.loginChallenge(handle: issued.handle) == issued)
            // The live anonymous session's cookie: it slides and takes the challenge; nothing new is stored.
            let later = now.addingTimeInterval(60)
            let unused = fresh()
            let again = challenge(for: unused)
            let continued = try await store.issueLoginChallenge(
                again, continuing: "t1", seenAfter: idleCutoff, orStarting: unused, freshTokenHash: "t2", at: later)
            #expect(continued.id == first.id && continued.lastSeenAt == later)
            #expect(try await store.loginChallenge(handle: again.handle)?.sessionID == first.id)
            #expect(try await store.touchLoginSession(tokenHash: "t2", authorizedOnly: false, seenAfter: idleCutoff, at: later) == nil)
            // An unknown (or idle, or authorized) cookie: a new session; a decoy stores only that.
            let third = fresh()
            #expect(
                try await store.issueLoginChallenge(
                    nil, continuing: "unknown", seenAfter: idleCutoff, orStarting: third, freshTokenHash: "t3", at: later)
                    == third)
            #expect(try await store.touchLoginSession(tokenHash: "t3", authorizedOnly: false, seenAfter: idleCutoff, at: later)?.id == third.id)
        }
    }

    @Test("server keys: the first stored key wins", arguments: TestDatabases.engines)
    func serverKeys(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            #expect(try await store.sealedServerKey(id: "k") == nil)
            try await store.insertSealedServerKey(id: "k", sealed: "first", at: Fixtures.epoch)
            try await store.insertSealedServerKey(id: "k", sealed: "second", at: Fixtures.epoch)
            #expect(try await store.sealedServerKey(id: "k") == "first")
        }
    }

    @Test(
        "decoy counters: wrong answers count 2, 1, 0 then blocked; a handle answers once; 20 concurrent answers count exactly 3",
        arguments: TestDatabases.engines)
    func decoyCounters(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let now = Fixtures.epoch
            let fresh = now.addingTimeInterval(-3600)
            func answer(_ subject: String, _ handle: String, capacity: Int = 100, at time: Date = now) async throws -> DecoyLoginAnswer {
                try await store.answerDecoyLogin(
                    subjectHash: subject, tool: .softToken, handle: handle, maxAttempts: 3, capacity: capacity,
                    freshAfter: time.addingTimeInterval(-3600),
                    at: time)
            }
            #expect(try await store.decoyLoginAttemptsLeft(subjectHash: "a", tool: .softToken, freshAfter: fresh) == nil)
            #expect(try await answer("a", "11") == .counted(attemptsLeft: 2))
            #expect(try await answer("a", "11") == .replayed)
            #expect(try await store.decoyLoginAttemptsLeft(subjectHash: "a", tool: .softToken, freshAfter: fresh) == 2)
            #expect(try await store.decoyLoginAttemptsLeft(subjectHash: "a", tool: .boundDevice, freshAfter: fresh) == nil)
            #expect(try await answer("a", "1") == .counted(attemptsLeft: 1))  // a prefix of a used handle is another handle
            #expect(try await answer("a", "111") == .counted(attemptsLeft: 0))
            #expect(try await answer("a", "12") == .blocked)
            #expect(try await answer("a", "111") == .replayed)
            #expect(try await store.decoyLoginAttemptsLeft(subjectHash: "a", tool: .softToken, freshAfter: fresh) == 0)

            // Concurrent answers with distinct handles, as from several nodes: exactly 3 count.
            let outcomes = try await withThrowingTaskGroup(of: DecoyLoginAnswer.self) { group in
                for index in 0..<20 { group.addTask { try await answer("b", "2\(index)") } }
                return try await group.reduce(into: [DecoyLoginAnswer]()) { $0.append($1) }
            }
            #expect(
                outcomes.filter { $0 != .blocked }.sorted { "\($0)" < "\($1)" } == [
                    .counted(attemptsLeft: 0), .counted(attemptsLeft: 1), .counted(attemptsLeft: 2),
                ])
            // The same handle answered concurrently counts once.
            let same = try await withThrowingTaskGroup(of: DecoyLoginAnswer.self) { group in
                for _ in 0..<10 { group.addTask { try await answer("c", "3") } }
                return try await group.reduce(into: [DecoyLoginAnswer]()) { $0.append($1) }
            }
            #expect(same.filter { $0 == .counted(attemptsLeft: 2) }.count == 1 && same.filter { $0 == .replayed }.count == 9)

            // Capacity: three counters exist; a fourth account is answered but not stored.
            #expect(try await answer("d", "4", capacity: 3) == .full)
            #expect(try await store.decoyLoginAttemptsLeft(subjectHash: "d", tool: .softToken, freshAfter: fresh) == nil)
            #expect(try await answer("a", "13", capacity: 3) == .blocked)

            // After the retention a counter starts over, and the sweep removes it.
            let later = now.addingTimeInterval(7200)
            #expect(try await store.decoyLoginAttemptsLeft(subjectHash: "a", tool: .softToken, freshAfter: later.addingTimeInterval(-3600)) == nil)
            #expect(try await answer("a", "14", at: later) == .counted(attemptsLeft: 2))
            #expect(try await store.purgeDecoyLoginAttempts(updatedBefore: later.addingTimeInterval(-3600)) == 2)  // b and c
            #expect(try await store.decoyLoginAttemptsLeft(subjectHash: "a", tool: .softToken, freshAfter: later.addingTimeInterval(-3600)) == 2)
        }
    }
}
