import Testing

@testable import StrongAuthStore

/// The PostgreSQL pool's watchdog replaces its client only for a lost call, never for one that
/// merely waits its turn: a false alarm fails every call queued in the old client (503s under
/// plain load, seen as "database unavailable" in a loaded store test).
@Suite("PostgreSQL pool: lost and queued leases")
struct LeaseWatchTests {
    static let limit: Duration = .milliseconds(50)

    @Test("a call that waits in a pool that keeps serving others is queued, not lost")
    func queuedWhileServing() async throws {
        let watch = LeaseWatch()
        let queued = watch.begin()
        for _ in 0..<4 {
            try await Task.sleep(for: .milliseconds(30))
            watch.end(watch.begin())  // another call got its connection
        }
        #expect(watch.lostWait(longerThan: Self.limit) == nil)
        #expect(watch.end(queued), "it was still waiting: its body never ran")
    }

    @Test("the pool serves its queue only when a waiting call gets a connection, not when one fails")
    func servedSince() {
        let watch = LeaseWatch()
        let start = ContinuousClock.now
        #expect(!watch.served(since: start), "nothing served yet")
        watch.end(watch.begin())  // failed while waiting: an outage fails calls fast
        #expect(!watch.served(since: start))
        watch.end(watch.begin(), served: true)
        #expect(watch.served(since: start))
        #expect(!watch.served(since: .now), "nothing served after now")
    }

    @Test("a call waiting while no call at all is served is lost once it has waited over the limit")
    func stuckPool() async throws {
        let watch = LeaseWatch()
        let stuck = watch.begin()
        #expect(watch.lostWait(longerThan: Self.limit) == nil, "not yet over the limit")
        try await Task.sleep(for: .milliseconds(120))
        #expect((watch.lostWait(longerThan: Self.limit) ?? .zero) > Self.limit)
        #expect(watch.end(stuck))
        #expect(watch.lostWait(longerThan: Self.limit) == nil)
        #expect(!watch.end(stuck), "ended once")
    }

    @Test("a call queued across an outage is lost even while newer calls are served")
    func queuedAcrossOutage() async throws {
        let watch = LeaseWatch()
        let before = watch.begin()
        watch.outage()
        let after = watch.begin()
        for _ in 0..<4 {
            try await Task.sleep(for: .milliseconds(30))
            watch.end(watch.begin())
        }
        let lost = try #require(watch.lostWait(longerThan: Self.limit))
        #expect(lost > Self.limit)
        watch.end(before)
        #expect(watch.lostWait(longerThan: Self.limit) == nil, "the call that began after the outage is only queued")
        #expect(watch.end(after))
    }
}
