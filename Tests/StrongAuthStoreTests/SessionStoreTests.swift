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
                    second, loginIdentity: LoginIdentity(userID: second.id, accountNumber: "0562813888", cardNumber: "23", identificationCodeHash: nil),
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
                    group.addTask { try await store.reserveLoginAttempt(userID: identity.userID, tool: .softToken, at: Fixtures.epoch) }
                }
                return try await group.reduce(into: [Int?]()) { $0.append($1) }
            }
            #expect(left.compactMap { $0 }.sorted() == [0, 1, 2])
            #expect(left.filter { $0 == nil }.count == 17)
            #expect(try await store.loginAttemptsLeft(userID: identity.userID, tool: .softToken) == 0)
            // Per factor: the bound-device counter is untouched.
            #expect(try await store.loginAttemptsLeft(userID: identity.userID, tool: .boundDevice) == 3)
            #expect(try await store.resetLoginAttempts(userID: identity.userID, tool: .softToken, maxAttempts: 3, at: Fixtures.epoch))
            #expect(try await store.reserveLoginAttempt(userID: identity.userID, tool: .softToken, at: Fixtures.epoch) == 2)
            #expect(try await !store.resetLoginAttempts(userID: "nobody", tool: .softToken, maxAttempts: 3, at: Fixtures.epoch))
        }
    }

    @Test("30 concurrent answers with one challenge handle: exactly one uses it; never after expiry or from another session", arguments: TestDatabases.engines)
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

    @Test("sessions slide while live, are gone once idle, authorize with a rotated token for one user only, and end once", arguments: TestDatabases.engines)
    func sessionLifecycle(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let identity = try await Self.userWithLogin(store)
            let idle: TimeInterval = 300
            let t0 = Fixtures.epoch
            let session = try await Self.session(store, tokenHash: "old", at: t0)
            // Anonymous: live for any touch, not for authorized-only reads.
            #expect(try await store.touchLoginSession(tokenHash: "old", authorizedOnly: true, seenAfter: t0.addingTimeInterval(-idle), at: t0) == nil)
            let t1 = t0.addingTimeInterval(200)
            #expect(try await store.touchLoginSession(tokenHash: "old", authorizedOnly: false, seenAfter: t1.addingTimeInterval(-idle), at: t1)?.id == session.id)

            let t2 = t1.addingTimeInterval(10)
            #expect(try await !store.authorizeLoginSession(
                id: session.id, tokenHash: "wrong", newTokenHash: "new", userID: identity.userID, accessToolUsage: .softToken,
                deviceID: nil, lastLogonDate: t2, seenAfter: t2.addingTimeInterval(-idle), maxAttempts: 3, at: t2))
            _ = try await store.reserveLoginAttempt(userID: identity.userID, tool: .softToken, at: t2)
            #expect(try await store.authorizeLoginSession(
                id: session.id, tokenHash: "old", newTokenHash: "new", userID: identity.userID, accessToolUsage: .softToken,
                deviceID: nil, lastLogonDate: t2, seenAfter: t2.addingTimeInterval(-idle), maxAttempts: 3, at: t2))
            #expect(try await store.loginAttemptsLeft(userID: identity.userID, tool: .softToken) == 3)
            #expect(try await store.loginIdentity(userID: identity.userID)?.lastLogonAt == t2)
            // The old token is dead; the session belongs to this user now.
            #expect(try await store.touchLoginSession(tokenHash: "old", authorizedOnly: false, seenAfter: t2.addingTimeInterval(-idle), at: t2) == nil)
            #expect(try await !store.authorizeLoginSession(
                id: session.id, tokenHash: "new", newTokenHash: "newer", userID: "another-user", accessToolUsage: .softToken,
                deviceID: nil, lastLogonDate: t2, seenAfter: t2.addingTimeInterval(-idle), maxAttempts: 3, at: t2))

            // Sliding: each authorized touch within 5 minutes extends it…
            var now = t2
            for _ in 0..<3 {
                now = now.addingTimeInterval(299)
                let touched = try await store.touchLoginSession(tokenHash: "new", authorizedOnly: true, seenAfter: now.addingTimeInterval(-idle), at: now)
                #expect(touched?.status == .authorized)
                #expect(touched?.userID == identity.userID)
                #expect(touched?.lastLogonDate == t2)
            }
            // …and 5 minutes of silence end it.
            now = now.addingTimeInterval(300)
            #expect(try await store.touchLoginSession(tokenHash: "new", authorizedOnly: true, seenAfter: now.addingTimeInterval(-idle), at: now) == nil)
            #expect(try await store.endLoginSession(tokenHash: "new", seenAfter: now.addingTimeInterval(-idle), at: now) == nil)

            let other = try await Self.session(store, tokenHash: "other", at: now)
            #expect(try await store.endLoginSession(tokenHash: "other", seenAfter: now.addingTimeInterval(-idle), at: now)?.id == other.id)
            #expect(try await store.endLoginSession(tokenHash: "other", seenAfter: now.addingTimeInterval(-idle), at: now) == nil)
            #expect(try await store.touchLoginSession(tokenHash: "other", authorizedOnly: false, seenAfter: now.addingTimeInterval(-idle), at: now) == nil)

            // The sweeper's purge removes both (one idle, one ended) and expired challenges.
            _ = try await Self.challenge(store, session: other, userID: identity.userID, expiresIn: 1)
            #expect(try await store.purgeLoginState(idleCutoff: now.addingTimeInterval(-idle), at: now) == 3)
            #expect(try await store.purgeLoginState(idleCutoff: now.addingTimeInterval(-idle), at: now) == 0)
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
}
