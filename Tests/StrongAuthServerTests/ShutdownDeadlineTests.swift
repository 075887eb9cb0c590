import AsyncHTTPClient
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization
import Testing

@testable import StrongAuthServer

/// `strongauth serve`'s SIGTERM: the requests in flight finish, but one that never does cannot
/// keep the node up past the grace period (`ShutdownDeadline`).
@Suite("Shutdown: SIGTERM drains the requests in flight within the grace period, and no longer")
struct ShutdownDeadlineTests {
    @Test("a request that never finishes is cancelled after the grace period; one that finishes in it is answered")
    func stuckRequestDoesNotHoldTheShutdown() async throws {
        let (ports, port) = AsyncStream<Int>.makeStream()
        let (arrivals, arrived) = AsyncStream<String>.makeStream()
        let router = Router()
        router.get("stuck") { _, _ -> String in
            arrived.yield("stuck")
            // Cancellation ends it (as it ends a lease waiting for a connection); a drain does not.
            try await Task.sleep(for: .seconds(3600))
            return "never"
        }
        router.get("slow") { _, _ -> String in
            arrived.yield("slow")
            try await Task.sleep(for: .milliseconds(300))
            return "done"
        }
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { port.yield($0.localAddress?.port ?? 0) }, logger: Logger(label: "shutdown-test"))
        let gracePeriod = Duration.milliseconds(800)
        // The last resort would end the test process (`lastResort()` tests it): here it does nothing.
        let group = ShutdownDeadline.serviceGroup(
            running: app, gracePeriod: gracePeriod, signals: [], logger: Logger(label: "shutdown-test"), lastResort: {})
        let server = Task { try await group.run() }
        var portIterator = ports.makeAsyncIterator()
        let listening = try #require(await portIterator.next())

        let stuck = Task { try await HTTPClient.shared.get(url: "http://127.0.0.1:\(listening)/stuck").get() }
        let slow = Task { try await HTTPClient.shared.get(url: "http://127.0.0.1:\(listening)/slow").get() }
        var arrivalIterator = arrivals.makeAsyncIterator()
        for _ in 0..<2 { _ = await arrivalIterator.next() }

        let began = ContinuousClock.now
        await group.triggerGracefulShutdown()
        // Without a deadline the drain waits for /stuck for ever: give up on it after 10 s (and
        // cancel the server then, so that this test ends either way).
        let stopped = await withTaskGroup(of: Bool.self) { racers in
            racers.addTask {
                _ = try? await server.value
                return true
            }
            racers.addTask {
                try? await Task.sleep(for: .seconds(10))
                server.cancel()
                return false
            }
            let first = await racers.next() ?? false
            racers.cancelAll()
            return first
        }
        let took = ContinuousClock.now - began
        #expect(stopped, "the server did not stop within 10 s of the shutdown")
        #expect(took >= gracePeriod, "the drain ended before the grace period while a request was in flight: \(took)")
        // On a quiet machine the drain ends within gracePeriod + cancellationLimit (3.8 s; the
        // server returned before the last resort's countdown ran out). Beside the hundreds of tests
        // of a full run its timers can run seconds late, so the bound asserted is the one that tells
        // a deadline from none (the stuck request lasts an hour, the racer gives up at 10 s).
        #expect(took < .seconds(9), "took \(took)")
        let slowAnswer = try await slow.value
        #expect(slowAnswer.status == .ok, "a request that finished within the grace period was not answered")
        stuck.cancel()
    }

    @Test("the last resort ends the process once the cancellation has had its time, and not when the server returned")
    func lastResort() async throws {
        let fired = Atomic<Int>(0)
        let armed = ShutdownDeadline.LastResort(after: .milliseconds(100), logger: Logger(label: "shutdown-test")) {
            fired.add(1, ordering: .relaxed)
        }
        armed.arm()
        armed.arm()  // once
        let disarmed = ShutdownDeadline.LastResort(after: .milliseconds(100), logger: Logger(label: "shutdown-test")) {
            fired.add(100, ordering: .relaxed)
        }
        disarmed.arm()
        disarmed.disarm()
        // Poll (a loaded machine runs timers late), then give the disarmed one as long again.
        let deadline = ContinuousClock.now + .seconds(20)
        while fired.load(ordering: .relaxed) == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        try await Task.sleep(for: .milliseconds(500))
        #expect(fired.load(ordering: .relaxed) == 1, "the armed one fires once; the disarmed one never")
    }
}
