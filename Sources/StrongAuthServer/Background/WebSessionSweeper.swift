import Logging
import ServiceLifecycle
import StrongAuthCore

/// Deletes expired browser sessions once a minute. Expiry itself needs no sweeper (an expired
/// session is refused by the conditional update that would resume it); this only keeps the table small.
struct WebSessionSweeper: Service {
    let sessions: WebSessionService
    let logger: Logger
    var interval: Duration = .seconds(60)

    func run() async throws {
        try await PeriodicJob(name: "web session sweep", interval: interval, logger: logger, pass: pass).run()
    }

    func pass() async throws -> PassOutcome {
        try await sessions.sweep()
        return .idle
    }
}
