import Logging
import ServiceLifecycle
import StrongAuthCore

/// Deletes expired replay-guard entries once a minute. Refusing replays needs no sweeper (an
/// entry is honoured until it expires, and an expired one is overwritten in the same INSERT);
/// this only keeps the table small. Safe on several nodes at once.
struct ReplayGuardSweeper: Service {
    let replayGuard: ReplayGuard
    let logger: Logger
    var interval: Duration = .seconds(60)

    func run() async throws {
        try await PeriodicJob(name: "replay guard sweep", interval: interval, logger: logger, pass: pass).run()
    }

    func pass() async throws -> PassOutcome {
        try await replayGuard.sweep()
        return .idle
    }
}
