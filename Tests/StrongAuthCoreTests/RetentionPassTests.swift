import Foundation
import StrongAuthCore
import Synchronization
import Testing

/// `Retention.sweep`'s cutoffs and its "more due" signal, against a store that records what it is asked.
@Suite("Retention pass: the cutoffs and when the next pass runs at once")
struct RetentionPassTests {
    final class RecordingStore: RetentionRepository {
        let cutoffs = Mutex<[String: Date]>([:])
        let challengesDeleted: Int
        init(challengesDeleted: Int = 0) { self.challengesDeleted = challengesDeleted }

        func deleteExpiredChallenges(before cutoff: Date, limit: Int) async throws -> Int {
            cutoffs.withLock { $0["challenges"] = cutoff }
            return min(challengesDeleted, limit)
        }
        func deleteExpiredRefreshTokens(before cutoff: Date, limit: Int) async throws -> Int {
            cutoffs.withLock { $0["refreshTokens"] = cutoff }
            return 0
        }
        func deleteExpiredAccessTokenRevocations(before cutoff: Date, limit: Int) async throws -> Int {
            cutoffs.withLock { $0["revocations"] = cutoff }
            return 0
        }
        func deleteExpiredActionTokens(before cutoff: Date, limit: Int) async throws -> Int {
            cutoffs.withLock { $0["actionTokens"] = cutoff }
            return 0
        }
        func deleteFinishedNotifications(before cutoff: Date, limit: Int) async throws -> Int {
            cutoffs.withLock { $0["notifications"] = cutoff }
            return 1
        }
    }

    @Test("records expired `keepExpired` ago go; refresh tokens one access-token lifetime later")
    func cutoffs() async throws {
        let time = ManualTimeSource()
        let store = RecordingStore()
        let retention = Retention(store: store, time: time, policy: RetentionPolicy(keepExpired: 3600), accessTokenLifetime: 900)
        let pass = try await retention.sweep()
        #expect(pass.notifications == 1 && pass.total == 1 && !pass.moreDue)
        let now = time.now()
        #expect(
            store.cutoffs.withLock { $0 } == [
                "challenges": now.addingTimeInterval(-3600), "revocations": now.addingTimeInterval(-3600),
                "actionTokens": now.addingTimeInterval(-3600),
                "notifications": now.addingTimeInterval(-3600), "refreshTokens": now.addingTimeInterval(-4500),
            ])
    }

    @Test("a kind that filled its batch makes the pass report more due")
    func fullBatch() async throws {
        let retention = Retention(
            store: RecordingStore(challengesDeleted: 10_000), time: ManualTimeSource(), policy: RetentionPolicy(), accessTokenLifetime: 900)
        let pass = try await retention.sweep()
        #expect(pass.challenges == Retention.batchSize && pass.moreDue)
    }
}
