import Logging
import ServiceLifecycle
import StrongAuthCore
import Synchronization

/// Links journaled audit records into the hash chain (see `AuditLog`): requests only journal,
/// so the chain's one lock is taken once per batch instead of once per audited request. Runs on
/// every node; the database serialises sealers, and a record is sealed exactly once (it leaves
/// the journal in the transaction that chains it).
///
/// Every `failureInterval` it also journals the windows of counted failed authentications that
/// are over (`AuditLog.sealFailureWindows`): each becomes ONE record with its count,
/// exactly once whichever node claims it, and is chained on the next pass.
public struct AuditSealer: Service {
    let audit: any AuditLog
    let logger: Logger
    var time: any TimeSource = SystemTimeSource()
    var interval: Duration = .milliseconds(200)
    var batch = 500
    var failureInterval: Duration = .seconds(5)

    public func run() async throws {
        let failureSeals = FailureSealSchedule(every: failureInterval)
        try await PeriodicJob(name: "audit sealing", interval: interval, logger: logger) {
            try await pass(sealingFailureWindows: failureSeals.isDue())
        }.run()
    }

    /// A full batch means more records wait in the journal: the next pass follows at once.
    func pass(sealingFailureWindows: Bool) async throws -> PassOutcome {
        if sealingFailureWindows {
            try await audit.sealFailureWindows(closedBy: time.now())
        }
        return try await audit.sealAuditJournal(limit: batch) == batch ? .moreDue : .idle
    }
}

/// When the sealer's next pass also journals the closed failure windows: at the first pass,
/// then on the first pass `every` after the last one (a failed pass does not make it due sooner).
private final class FailureSealSchedule: Sendable {
    private let every: Duration
    private let next = Mutex(ContinuousClock.now)

    init(every: Duration) {
        self.every = every
    }

    func isDue() -> Bool {
        next.withLock { next in
            let now = ContinuousClock.now
            guard now >= next else { return false }
            next = now + every
            return true
        }
    }
}
