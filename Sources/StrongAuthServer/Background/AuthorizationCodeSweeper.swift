import Foundation
import Logging
import ServiceLifecycle
import StrongAuthCore

/// Deletes expired pushed requests and logins, and authorization codes a day past their expiry
/// (kept that long so that a late second presentation still revokes what the first issued).
struct AuthorizationCodeSweeper: Service {
    let authorization: AuthorizationService
    let logger: Logger
    var interval: Duration = .seconds(60)

    func run() async throws {
        try await PeriodicJob(name: "authorization code sweep", interval: interval, logger: logger, pass: pass).run()
    }

    func pass() async throws -> PassOutcome {
        try await authorization.sweep()
        return .idle
    }
}
