import Foundation
import SQLKit
import StrongAuthCore
import StrongAuthStore
import Testing

/// The replay guard (values used once until they expire) and the possession-attempt throttle of
/// PowerAuth registrations, on every database: each decision is one statement, so concurrent
/// callers on several nodes get exactly one winner / never more attempts than the limit.
@Suite("Store conformance: replay guard and possession throttle")
struct ReplayGuardStoreTests {
    @Test(
        "rememberOnce: first use true, every later use false until it expires; scopes are separate; an expired entry is taken over",
        arguments: TestDatabases.engines)
    func rememberOnce(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let now = Fixtures.epoch
            let until = now.addingTimeInterval(60)
            let first = try await store.rememberOnce(scope: "ecies", keyHash: "k1", until: until, at: now)
            #expect(first)
            #expect(try await !store.rememberOnce(scope: "ecies", keyHash: "k1", until: until, at: now))
            #expect(
                try await !store.rememberOnce(scope: "ecies", keyHash: "k1", until: until.addingTimeInterval(600), at: now.addingTimeInterval(59)))
            #expect(try await store.rememberOnce(scope: "mac-token", keyHash: "k1", until: until, at: now))
            #expect(try await store.rememberOnce(scope: "ecies", keyHash: "k2", until: until, at: now))
            // Expired (not yet swept): a new use is a first use again, and holds until its own expiry.
            let later = now.addingTimeInterval(60)
            #expect(try await store.rememberOnce(scope: "ecies", keyHash: "k1", until: later.addingTimeInterval(60), at: later))
            #expect(
                try await !store.rememberOnce(scope: "ecies", keyHash: "k1", until: later.addingTimeInterval(60), at: later.addingTimeInterval(30)))
        }
    }

    @Test("50 concurrent first uses of one key: exactly one wins", arguments: TestDatabases.engines)
    func concurrentFirstUse(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let now = Fixtures.epoch
            let winners = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<50 {
                    group.addTask { try await store.rememberOnce(scope: "ecies", keyHash: "same", until: now.addingTimeInterval(60), at: now) }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(winners == 1)
        }
    }

    @Test("the sweep deletes expired entries only", arguments: TestDatabases.engines)
    func sweep(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let now = Fixtures.epoch
            for index in 0..<5 {
                _ = try await store.rememberOnce(scope: "s", keyHash: "old\(index)", until: now.addingTimeInterval(10), at: now)
            }
            _ = try await store.rememberOnce(scope: "s", keyHash: "new", until: now.addingTimeInterval(100), at: now)
            #expect(try await store.sweepReplayGuard(at: now.addingTimeInterval(10)) == 5)
            #expect(try await TestDatabases.count("replay_guard", in: store) == 1)
            #expect(try await !store.rememberOnce(scope: "s", keyHash: "new", until: now.addingTimeInterval(100), at: now.addingTimeInterval(50)))
        }
    }

    @Test(
        "possession attempts: up to the limit per window, none for an unknown registration, given back, and a new window starts over",
        arguments: TestDatabases.engines)
    func possessionAttempts(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let userID = try await store.ensureUser(realm: "default", externalUserID: "end-user", at: Fixtures.epoch)
            try await store.insertApplication(PowerAuthStoreTests.application())
            let id = try await PowerAuthStoreTests.insertRegistration(store, userID: userID)
            try await PowerAuthStoreTests.activate(store, id: id)
            let now = Fixtures.epoch.addingTimeInterval(10)
            for _ in 0..<3 { #expect(try await store.takePossessionAttempt(id: id, limit: 3, window: 900, at: now)) }
            #expect(try await !store.takePossessionAttempt(id: id, limit: 3, window: 900, at: now.addingTimeInterval(899)))
            #expect(try await !store.takePossessionAttempt(id: "no-such-registration", limit: 3, window: 900, at: now))
            try await store.returnPossessionAttempt(id: id)
            #expect(try await store.takePossessionAttempt(id: id, limit: 3, window: 900, at: now.addingTimeInterval(899)))
            #expect(try await !store.takePossessionAttempt(id: id, limit: 3, window: 900, at: now.addingTimeInterval(899)))
            // The window is over: it restarts with this attempt as its first.
            let next = now.addingTimeInterval(900)
            for _ in 0..<3 { #expect(try await store.takePossessionAttempt(id: id, limit: 3, window: 900, at: next)) }
            #expect(try await !store.takePossessionAttempt(id: id, limit: 3, window: 900, at: next))
            // The throttle never touches the registration's failure count or status.
            let registration = try #require(try await store.registration(id: id))
            #expect(registration.device.status == .active && registration.counter.failedAttempts == 0)
        }
    }

    @Test("30 concurrent possession attempts with a limit of 10: exactly 10 are taken", arguments: TestDatabases.engines)
    func concurrentPossessionAttempts(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let userID = try await store.ensureUser(realm: "default", externalUserID: "end-user", at: Fixtures.epoch)
            try await store.insertApplication(PowerAuthStoreTests.application())
            let id = try await PowerAuthStoreTests.insertRegistration(store, userID: userID)
            try await PowerAuthStoreTests.activate(store, id: id)
            let now = Fixtures.epoch.addingTimeInterval(10)
            let taken = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<30 {
                    group.addTask { try await store.takePossessionAttempt(id: id, limit: 10, window: 900, at: now) }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(taken == 10)
        }
    }

    @Test(
        "the integration API's fast path accepts a throttled signature only while the activation's possession window has room, and takes no attempt",
        arguments: TestDatabases.engines)
    func fastPathRespectsPossessionThrottle(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            try await store.insertApplication(PowerAuthStoreTests.application())
            try await store.insertIntegrationUser(
                IntegrationUser(name: "iu", passwordHash: "hash", applicationIDs: ["my-application"], createdAt: Fixtures.epoch))
            let userID = try await store.ensureUser(realm: "default", externalUserID: "end-user", at: Fixtures.epoch)
            let id = try await PowerAuthStoreTests.insertRegistration(store, userID: userID)
            let ctr = [UInt8](repeating: 7, count: 16)
            try await PowerAuthStoreTests.activate(store, id: id, ctr: ctr)
            let now = Fixtures.epoch.addingTimeInterval(10)
            func accept(_ expected: [UInt8], _ next: [UInt8], throttle: (limit: Int, window: TimeInterval)?, at date: Date) async throws -> Bool {
                try await store.acceptSignatureIfCurrent(
                    id: id, expected: expected, next: next, steps: 1, history: [expected], resetFailures: false,
                    applicationID: "my-application", caller: ("iu", "hash"), possessionThrottle: throttle, at: date) != nil
            }
            // Room in the window: accepted, and no attempt was taken (the limit of 1 is still free).
            let second = [UInt8](repeating: 8, count: 16)
            #expect(try await accept(ctr, second, throttle: (1, 900), at: now))
            #expect(try await store.takePossessionAttempt(id: id, limit: 1, window: 900, at: now))
            // The window is spent: refused, the counter unmoved; a signature that is not throttled still passes.
            let third = [UInt8](repeating: 9, count: 16)
            #expect(try await !accept(second, third, throttle: (1, 900), at: now.addingTimeInterval(899)))
            #expect(try await store.registration(id: id)?.counter.counterData == second)
            #expect(try await accept(second, third, throttle: nil, at: now.addingTimeInterval(899)))
            // The window is over: accepted again.
            #expect(try await accept(third, second, throttle: (1, 900), at: now.addingTimeInterval(900)))
        }
    }
}
