import Logging
import ServiceLifecycle
import StrongAuthCore

/// The retention job of the process controller: deletes process identities and their data
/// once `processes.retentionDays` have passed. Runs on every node; the deletes are idempotent
/// and only the node that removes a process row audits it, so nodes need no coordination.
public struct ProcessSweeper: Service {
    let processes: ProcessService
    let logger: Logger
    let interval: Duration

    public init(processes: ProcessService, logger: Logger, interval: Duration = .seconds(60)) {
        self.processes = processes
        self.logger = logger
        self.interval = interval
    }

    public func run() async throws {
        try await PeriodicJob(name: "process retention pass", interval: interval, logger: logger, pass: pass).run()
    }

    /// A pass is not cancelled by shutdown (an unstructured task): a deleted process row is
    /// always also audited. A full page means more are due: go on at once.
    func pass() async throws -> PassOutcome {
        let processes = processes
        return try await Task(operation: { try await processes.deleteExpired(limit: 100) }).value == 100 ? .moreDue : .idle
    }
}
