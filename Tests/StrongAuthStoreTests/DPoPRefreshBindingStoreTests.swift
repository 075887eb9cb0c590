import Foundation
import StrongAuthCore
import StrongAuthStore
import Testing

/// The DPoP binding of public clients' refresh tokens (migration 22) on every database: stored,
/// read back, and copied to every successor by rotation.
@Suite("Store conformance: DPoP-bound refresh tokens")
struct DPoPRefreshBindingStoreTests {
    @Test("a refresh token's DPoP key thumbprint is stored, read, and carried by rotation; unbound stays unbound", arguments: TestDatabases.engines)
    func bindingSurvivesRotation(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let alice = Fixtures.user()
            try await store.insertUser(alice)
            var bound = Fixtures.refreshToken(user: alice.id, hash: "bound-1")
            bound.dpopKeyThumbprint = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
            try await store.insertRefreshToken(bound)
            try await store.insertRefreshToken(Fixtures.refreshToken(user: alice.id, hash: "plain-1"))
            #expect(try await store.refreshToken(hash: "bound-1")?.dpopKeyThumbprint == bound.dpopKeyThumbprint)
            #expect(try await store.refreshToken(hash: "plain-1")?.dpopKeyThumbprint == nil)

            let now = Fixtures.epoch.addingTimeInterval(10)
            let rotated = try await store.rotateRefreshToken(
                hash: "bound-1", clientID: "shop", at: now, successorID: "s1", successorHash: "bound-2",
                successorExpiresAt: now.addingTimeInterval(3600))
            guard case .rotated(let successor) = rotated else {
                Issue.record("expected rotation, got \(rotated)")
                return
            }
            #expect(successor.dpopKeyThumbprint == bound.dpopKeyThumbprint)
            #expect(try await store.refreshToken(hash: "bound-2")?.dpopKeyThumbprint == bound.dpopKeyThumbprint)

            let plain = try await store.rotateRefreshToken(
                hash: "plain-1", clientID: "shop", at: now, successorID: "s2", successorHash: "plain-2",
                successorExpiresAt: now.addingTimeInterval(3600))
            guard case .rotated(let plainSuccessor) = plain else {
                Issue.record("expected rotation, got \(plain)")
                return
            }
            #expect(plainSuccessor.dpopKeyThumbprint == nil)
            #expect(try await store.refreshToken(hash: "plain-2")?.dpopKeyThumbprint == nil)
        }
    }
}
