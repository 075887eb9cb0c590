import Foundation
import StrongAuthCore
import StrongAuthStore
import Testing

/// A web session that starts two-factor (a passkey sign-in: possession and user verification in
/// one gesture) keeps its second factor's time and method from the insert on every database; a
/// password session starts one-factor.
@Suite("Store conformance: web sessions that start two-factor")
struct WebSessionSecondFactorStoreTests {
    @Test("insertWebSession stores second_factor_at and second_factor_method; touch reads them back", arguments: TestDatabases.engines)
    func startsRaised(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let start = Fixtures.epoch
            try await store.insertWebSession(
                WebSession(
                    tokenHash: "passkey", kind: .user, principalID: "u", createdAt: start, expiresAt: start.addingTimeInterval(300),
                    secondFactorAt: start, secondFactorMethod: .passkey))
            try await store.insertWebSession(
                WebSession(tokenHash: "password", kind: .user, principalID: "u", createdAt: start, expiresAt: start.addingTimeInterval(300)))
            let now = start.addingTimeInterval(10)
            let raised = try #require(
                try await store.touchWebSession(
                    tokenHash: "passkey", at: now, newExpiry: now.addingTimeInterval(300), notCreatedBefore: now.addingTimeInterval(-1000)))
            #expect(raised.secondFactorAt == start)
            #expect(raised.secondFactorMethod == .passkey)
            let plain = try #require(
                try await store.touchWebSession(
                    tokenHash: "password", at: now, newExpiry: now.addingTimeInterval(300), notCreatedBefore: now.addingTimeInterval(-1000)))
            #expect(plain.secondFactorAt == nil)
            #expect(plain.secondFactorMethod == nil)
        }
    }
}
