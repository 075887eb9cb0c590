import Synchronization
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

    /// Counts its abandonments.
    final class Recorder: Abandonable {
        let count = Atomic<Int>(0)
        func abandon() { count.add(1, ordering: .relaxed) }
    }

    @Test("a call running on a connection since before an outage is abandoned once it has run over the limit; newer ones are not")
    func runningAcrossOutage() async throws {
        let watch = LeaseWatch()
        let (old, new, finished) = (Recorder(), Recorder(), Recorder())
        let oldCall = watch.begin(old)
        watch.end(oldCall, served: true)
        let finishedCall = watch.begin(finished)
        watch.end(finishedCall, served: true)
        watch.finish(finishedCall)
        try await Task.sleep(for: .milliseconds(120))
        #expect(watch.abandonCallsOlderThanTheOutage(runningLongerThan: Self.limit) == 0, "no outage yet: a long call is only long")
        watch.outage()
        let newCall = watch.begin(new)
        watch.end(newCall, served: true)
        #expect(watch.abandonCallsOlderThanTheOutage(runningLongerThan: .seconds(60)) == 0, "not over the limit yet")
        #expect(watch.abandonCallsOlderThanTheOutage(runningLongerThan: Self.limit) == 1)
        #expect(old.count.load(ordering: .relaxed) == 1)
        #expect(new.count.load(ordering: .relaxed) == 0, "it began after the outage")
        #expect(finished.count.load(ordering: .relaxed) == 0, "it had finished")
        #expect(watch.abandonCallsOlderThanTheOutage(runningLongerThan: Self.limit) == 0, "abandoned once")
        watch.finish(oldCall)  // the stuck task ends after all: nothing happens
        watch.finish(newCall)
    }

    /// A connection that closes when told to.
    final class FakeConnection: ClosableConnection {
        private let closed = Atomic<Bool>(false)
        func close() { closed.store(true, ordering: .relaxed) }
        var isClosed: Bool { closed.load(ordering: .relaxed) }
    }

    @Test("a call still running on a connection that closed is abandoned once the closure has outlasted the grace; calls on open connections are not")
    func runningOnClosedConnection() async throws {
        let watch = LeaseWatch()
        let (deadConnection, openConnection) = (FakeConnection(), FakeConnection())
        let (dead, alive) = (Recorder(), Recorder())
        let deadCall = watch.begin(dead)
        watch.end(deadCall, served: true, on: deadConnection)
        let aliveCall = watch.begin(alive)
        watch.end(aliveCall, served: true, on: openConnection)
        try await Task.sleep(for: .milliseconds(120))
        #expect(watch.abandonCallsOnClosedConnections(closedLongerThan: Self.limit) == 0, "a long call on an open connection is only long")
        deadConnection.close()
        #expect(
            watch.abandonCallsOnClosedConnections(closedLongerThan: Self.limit) == 0,
            "just seen closed: the statement's own failure may still be on its way")
        try await Task.sleep(for: .milliseconds(120))
        #expect(watch.abandonCallsOnClosedConnections(closedLongerThan: Self.limit) == 1)
        #expect(dead.count.load(ordering: .relaxed) == 1)
        #expect(alive.count.load(ordering: .relaxed) == 0)
        #expect(watch.abandonCallsOnClosedConnections(closedLongerThan: Self.limit) == 0, "abandoned once")
        watch.finish(deadCall)
        watch.finish(aliveCall)
    }

    /// Resumes what `stuck` waits for at the end of the test (no continuation is leaked).
    final class Gate: Sendable {
        let waiting = Mutex<[UnsafeContinuation<Void, Never>]>([])
        func wait() async { await withUnsafeContinuation { continuation in waiting.withLock { $0.append(continuation) } } }
        func open() { for continuation in waiting.withLock({ $0 }) { continuation.resume() } }
        var count: Int { waiting.withLock { $0.count } }
    }

    @Test("an abandoned call's caller gets DatabaseUnavailableError at once, although its statement ignores cancellation")
    func abandonedCallReturns() async throws {
        let gate = Gate()
        let call = AbandonableCall<Int>()
        let caller = Task {
            try await call.run {
                await gate.wait(); return 1
            }
        }
        while gate.count == 0 { try await Task.sleep(for: .milliseconds(5)) }
        caller.cancel()  // cancellation reaches the statement, which ignores it (a lost promise)
        try await Task.sleep(for: .milliseconds(50))
        call.abandon()
        await #expect(throws: DatabaseUnavailableError.self) { try await caller.value }
        #expect(call.wasAbandoned)
        gate.open()
    }

    @Test("a call that is not abandoned returns its body's value or error")
    func unabandonedCall() async throws {
        #expect(try await AbandonableCall<Int>().run { 42 } == 42)
        struct Failure: Error {}
        await #expect(throws: Failure.self) { try await AbandonableCall<Int>().run { throw Failure() } }
    }
}
