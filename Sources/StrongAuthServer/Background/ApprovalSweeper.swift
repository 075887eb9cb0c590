import Logging
import ServiceLifecycle
import StrongAuthCore

/// Moves expired approvals to EXPIRED and announces them ("expiry enforced on every read
/// and by a sweeper"). Runs on every node; the conditional update makes each expiry happen once.
public struct ApprovalSweeper: Service {
    let approvals: ApprovalService
    let logger: Logger
    var interval: Duration = .seconds(1)

    public func run() async throws {
        try await PeriodicJob(name: "approval sweep", interval: interval, logger: logger, pass: pass).run()
    }

    /// Any expiry means more may be due: the next pass follows at once.
    func pass() async throws -> PassOutcome {
        try await approvals.sweepExpired() > 0 ? .moreDue : .idle
    }
}
