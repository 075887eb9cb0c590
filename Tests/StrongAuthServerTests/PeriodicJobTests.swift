import Foundation
import Logging
import ServiceLifecycle
import StrongAuthServer
import Synchronization
import Testing

/// `PeriodicJob`, the loop behind every background job (docs/architecture.md, "Background
/// jobs"): a pass that reports more work is followed at once, a failing pass is logged once and
/// retried after the interval, and graceful shutdown ends the job promptly, even mid-pass.
@Suite("PeriodicJob: the one loop behind every background job")
struct PeriodicJobTests {
    /// The passes a job has run, with their start times.
    final class Passes: Sendable {
        private let starts = Mutex<[ContinuousClock.Instant]>([])

        /// Records a pass; returns its number (1 for the first).
        func start() -> Int {
            starts.withLock { starts in
                starts.append(.now)
                return starts.count
            }
        }

        var count: Int { starts.withLock { $0.count } }
        var times: [ContinuousClock.Instant] { starts.withLock { $0 } }
    }

    final class Flag: Sendable {
        private let value = Mutex(false)
        func set() { value.withLock { $0 = true } }
        var isSet: Bool { value.withLock { $0 } }
    }

    struct Boom: Error, CustomStringConvertible {
        let pass: Int
        var description: String { "boom in pass \(pass)" }
    }

    /// Polls `condition` every 10 ms for at most `seconds` (a generous bound: the loops under test
    /// meet it in milliseconds).
    static func eventually(within seconds: Int = 20, _ condition: () -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    /// Runs `job` in a service group, waits for `ready`, triggers graceful shutdown (SIGTERM's
    /// path), and returns whether the group ended within 20 s — it must, though the job's interval
    /// is an hour.
    static func shutsDownPromptly(_ job: PeriodicJob, once ready: @escaping () -> Bool) async throws -> Bool {
        let group = ServiceGroup(configuration: .init(services: [job], logger: Logger(label: "test")))
        let finished = Flag()
        let running = Task {
            defer { finished.set() }
            try await group.run()
        }
        #expect(try await eventually(ready))
        await group.triggerGracefulShutdown()
        let ended = try await eventually { finished.isSet }
        if !ended { running.cancel() }
        _ = await running.result
        return ended
    }

    @Test("a pass that reports more work due is followed by the next pass at once, not after the interval")
    func moreDueRunsAgainAtOnce() async throws {
        let passes = Passes()
        let job = PeriodicJob(name: "draining job", interval: .seconds(3600), logger: Logger(label: "test")) {
            passes.start() < 5 ? .moreDue : .idle
        }
        let running = Task { try await job.run() }
        // Five passes without a sleep; the fifth is idle, so the sixth waits an hour.
        #expect(try await Self.eventually { passes.count >= 5 })
        try await Task.sleep(for: .milliseconds(100))
        #expect(passes.count == 5)
        running.cancel()
        _ = await running.result
    }

    @Test("a failing pass is logged once with its error and retried after the interval; the loop goes on")
    func failingPassIsLoggedAndRetried() async throws {
        let passes = Passes()
        let recorder = LogRecorder()
        let logger = Logger(label: "test") { _ in RecordingLogHandler(recorder: recorder) }
        let interval = Duration.milliseconds(50)
        let job = PeriodicJob(name: "flaky job", interval: interval, logger: logger) {
            let pass = passes.start()
            if pass <= 2 { throw Boom(pass: pass) }
            return .idle
        }
        let running = Task { try await job.run() }
        #expect(try await Self.eventually { passes.count >= 4 })
        running.cancel()
        _ = await running.result

        let failures = recorder.lines.filter { $0.contains("flaky job failed") }
        #expect(failures.count == 2)
        #expect(failures.first?.contains("boom in pass 1") == true)
        #expect(failures.last?.contains("boom in pass 2") == true)
        // A failed pass is not retried at once: the next one starts an interval later.
        let times = passes.times
        #expect(times[1] - times[0] >= interval)
        #expect(times[2] - times[1] >= interval)
    }

    @Test("graceful shutdown ends a job that sleeps its interval promptly")
    func gracefulShutdownStopsASleepingJob() async throws {
        let passes = Passes()
        let job = PeriodicJob(name: "sleepy job", interval: .seconds(3600), logger: Logger(label: "test")) {
            _ = passes.start()
            return .idle
        }
        #expect(try await Self.shutsDownPromptly(job) { passes.count == 1 })
        #expect(passes.count == 1)
    }

    @Test("graceful shutdown cancels a running pass; its CancellationError is not logged as a failure")
    func gracefulShutdownCancelsARunningPass() async throws {
        let passes = Passes()
        let recorder = LogRecorder()
        let logger = Logger(label: "test") { _ in RecordingLogHandler(recorder: recorder) }
        let job = PeriodicJob(name: "slow job", interval: .milliseconds(10), logger: logger) {
            _ = passes.start()
            try await Task.sleep(for: .seconds(3600))
            return .idle
        }
        #expect(try await Self.shutsDownPromptly(job) { passes.count == 1 })
        #expect(passes.count == 1)
        #expect(!recorder.lines.contains { $0.contains("slow job failed") })
    }

    @Test("a job that waits before its first pass runs none before the interval, and still shuts down promptly")
    func waitsBeforeFirstPass() async throws {
        let passes = Passes()
        let job = PeriodicJob(name: "patient job", interval: .seconds(3600), waitsBeforeFirstPass: true, logger: Logger(label: "test")) {
            _ = passes.start()
            return .idle
        }
        let started = ContinuousClock.now
        #expect(
            try await Self.shutsDownPromptly(job) {
                // Give the job 100 ms in which it must not run a pass.
                ContinuousClock.now - started >= .milliseconds(100)
            })
        #expect(passes.count == 0)
    }
}
