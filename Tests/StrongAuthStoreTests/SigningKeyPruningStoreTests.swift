import Foundation
import SQLKit
import StrongAuthCore
import StrongAuthStore
import Testing

/// Retired signing keys are deleted once no unexpired token can carry them (docs/keys.md), on
/// every database, by one conditional DELETE that several nodes may run at once.
@Suite("Store conformance: signing key pruning")
struct SigningKeyPruningStoreTests {
    static func key(_ kid: String, at date: Date, status: SigningKey.Status = .active) -> SealedSigningKey {
        SealedSigningKey(kid: kid, sealedPrivateKey: "sealed-\(kid)", status: status, createdAt: date)
    }

    @Test("a retired key is deleted once its retention has passed, never before, and the active key never", arguments: TestDatabases.engines)
    func prunesAfterRetention(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let t0 = Fixtures.epoch
            try await store.insertSigningKey(Self.key("k1", at: t0.addingTimeInterval(-1000)))
            #expect(try await store.rotateSigningKey(to: Self.key("k2", at: t0)) == ["k1"])  // k1 retired at t0
            #expect(try await store.rotateSigningKey(to: Self.key("k3", at: t0.addingTimeInterval(100))) == ["k2"])  // k2 at t0+100

            #expect(try await store.pruneSigningKeys(retiredBefore: t0.addingTimeInterval(-1), now: t0.addingTimeInterval(200)) == [])
            #expect(try await store.signingKeys().map(\.kid) == ["k1", "k2", "k3"])
            #expect(try await store.pruneSigningKeys(retiredBefore: t0, now: t0.addingTimeInterval(200)) == ["k1"])
            #expect(try await store.signingKeys().map(\.kid) == ["k2", "k3"])
            // Far in the future: the retired k2 goes, the active k3 stays.
            let future = t0.addingTimeInterval(1_000_000)
            #expect(try await store.pruneSigningKeys(retiredBefore: future, now: future) == ["k2"])
            #expect(try await store.signingKeys().map(\.kid) == ["k3"])
        }
    }

    @Test("eight nodes pruning at once delete each key exactly once", arguments: TestDatabases.engines)
    func concurrentPruning(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let t0 = Fixtures.epoch
            try await store.insertSigningKey(Self.key("k0", at: t0))
            for index in 1...5 {
                _ = try await store.rotateSigningKey(to: Self.key("k\(index)", at: t0.addingTimeInterval(Double(index))))
            }
            let later = t0.addingTimeInterval(10_000)
            let deleted = try await withThrowingTaskGroup(of: [String].self) { group in
                for _ in 0..<8 { group.addTask { try await store.pruneSigningKeys(retiredBefore: later, now: later) } }
                return try await group.reduce(into: [String]()) { $0 += $1 }
            }
            #expect(deleted.sorted() == ["k0", "k1", "k2", "k3", "k4"])
            #expect(try await store.signingKeys().map(\.kid) == ["k5"])
        }
    }

    @Test(
        "a key retired before retirement times were recorded is kept one full retention from the first pruning pass", arguments: TestDatabases.engines
    )
    func legacyRetiredKeyIsStampedFirst(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let t0 = Fixtures.epoch
            // As an upgraded database holds it: retired, with no retirement time.
            try await store.insertSigningKey(Self.key("old", at: t0.addingTimeInterval(-10_000_000), status: .retired))
            try await store.insertSigningKey(Self.key("new", at: t0))
            let retention: TimeInterval = 3600
            #expect(try await store.pruneSigningKeys(retiredBefore: t0.addingTimeInterval(-retention), now: t0) == [])
            let soon = t0.addingTimeInterval(retention - 1)
            #expect(try await store.pruneSigningKeys(retiredBefore: soon.addingTimeInterval(-retention), now: soon) == [])
            let after = t0.addingTimeInterval(retention)
            #expect(try await store.pruneSigningKeys(retiredBefore: after.addingTimeInterval(-retention), now: after) == ["old"])
            #expect(try await store.signingKeys().map(\.kid) == ["new"])
        }
    }
}
