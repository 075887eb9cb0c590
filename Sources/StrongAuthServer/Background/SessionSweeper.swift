import Logging
import ServiceLifecycle
import StrongAuthCore

/// Deletes sessions that ended or went idle and challenges that expired. Expiry itself never
/// waits for this (every read checks it in its query); the sweeper only keeps the tables small.
/// Runs on every node; deleting what another node already deleted is harmless.
public struct SessionSweeper: Service {
    let sessions: SessionService
    let logger: Logger
    var interval: Duration = .seconds(60)

    public func run() async throws {
        try await PeriodicJob(name: "session sweep", interval: interval, logger: logger, pass: pass).run()
    }

    func pass() async throws -> PassOutcome {
        try await sessions.purgeExpired()
        return .idle
    }
}
