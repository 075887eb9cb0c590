import Foundation
import Logging
import ServiceLifecycle
import StrongAuthCore

/// Deletes passkey ceremonies an hour past their expiry (they can no longer be answered; the
/// hour keeps a late replay's refusal explainable in the logs).
struct PasskeyCeremonySweeper: Service {
    let passkeys: PasskeyService
    let logger: Logger
    var interval: Duration = .seconds(60)

    func run() async throws {
        try await PeriodicJob(name: "passkey ceremony sweep", interval: interval, logger: logger, pass: pass).run()
    }

    func pass() async throws -> PassOutcome {
        try await passkeys.sweep()
        return .idle
    }
}
