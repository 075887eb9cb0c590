import Foundation
import StrongAuthCore
import StrongAuthStore
import Testing

/// The self-service step-up's session state on every database (docs/security-model.md): a step-up raises its
/// session exactly once, also when many requests (on several nodes) complete it together, and
/// never after it, or the session, expired.
@Suite("Store conformance: web step-up")
struct WebStepUpStoreTests {
    static func session(_ store: SQLStore, _ hash: String) async throws {
        try await store.insertWebSession(
            WebSession(tokenHash: hash, kind: .user, principalID: "u", createdAt: Fixtures.epoch, expiresAt: Fixtures.epoch.addingTimeInterval(300)))
    }

    static func touch(_ store: SQLStore, _ hash: String, after seconds: TimeInterval = 1) async throws -> WebSession? {
        let now = Fixtures.epoch.addingTimeInterval(seconds)
        return try await store.touchWebSession(
            tokenHash: hash, at: now, newExpiry: now.addingTimeInterval(300), notCreatedBefore: now.addingTimeInterval(-3600))
    }

    @Test("a step-up is recorded on the session and raises it once under 30 concurrent completions", arguments: TestDatabases.engines)
    func raisesOnce(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            try await Self.session(store, "h1")
            #expect(try await Self.touch(store, "h1")?.stepUp == nil)
            let stepUp = WebStepUp(
                id: "s1", method: .smsOTP, action: "activate_device", target: "app", expiresAt: Fixtures.epoch.addingTimeInterval(200))
            #expect(try await store.beginWebStepUp(tokenHash: "h1", stepUp: stepUp, at: Fixtures.epoch))
            #expect(try await store.beginWebStepUp(tokenHash: "nobody", stepUp: stepUp, at: Fixtures.epoch) == false)
            let waiting = try #require(try await Self.touch(store, "h1"))
            #expect(waiting.stepUp == stepUp)
            #expect(waiting.secondFactorAt == nil)
            // Another id (a replaced step-up) raises nothing.
            #expect(try await store.completeWebStepUp(tokenHash: "h1", stepUpID: "other", at: Fixtures.epoch.addingTimeInterval(10)) == false)
            let at = Fixtures.epoch.addingTimeInterval(10)
            let raised = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<30 { group.addTask { try await store.completeWebStepUp(tokenHash: "h1", stepUpID: "s1", at: at) } }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(raised == 1)
            let strong = try #require(try await Self.touch(store, "h1", after: 11))
            #expect(strong.stepUp == nil)
            #expect(strong.secondFactorAt == at)
            #expect(strong.secondFactorMethod == .smsOTP)
        }
    }

    @Test("an expired step-up or an expired session is never raised", arguments: TestDatabases.engines)
    func expired(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            try await Self.session(store, "h1")
            try await Self.session(store, "h2")
            let stepUp = WebStepUp(
                id: "s1", method: .approval, action: "remove_device", target: "d", expiresAt: Fixtures.epoch.addingTimeInterval(100))
            #expect(try await store.beginWebStepUp(tokenHash: "h1", stepUp: stepUp, at: Fixtures.epoch))
            #expect(try await store.completeWebStepUp(tokenHash: "h1", stepUpID: "s1", at: Fixtures.epoch.addingTimeInterval(100)) == false)
            let later = WebStepUp(
                id: "s2", method: .approval, action: "remove_device", target: "d", expiresAt: Fixtures.epoch.addingTimeInterval(900))
            #expect(try await store.beginWebStepUp(tokenHash: "h2", stepUp: later, at: Fixtures.epoch))
            // The session idled out (300 s) before the step-up's own expiry.
            #expect(try await store.completeWebStepUp(tokenHash: "h2", stepUpID: "s2", at: Fixtures.epoch.addingTimeInterval(301)) == false)
            #expect(try await store.beginWebStepUp(tokenHash: "h2", stepUp: later, at: Fixtures.epoch.addingTimeInterval(301)) == false)
            #expect(try await Self.touch(store, "h1", after: 101)?.secondFactorAt == nil)
        }
    }
}
