import Logging
import ServiceLifecycle
import StrongAuthCore

/// Deletes expired device challenges, refresh tokens and their families, access-token
/// revocations, Shine action tokens and finished notifications once a minute,
/// `retention.expiredRecordsHours` after they expired (`Retention`). Nothing decides on its deletes (every read checks expiry
/// itself); they keep the tables every request writes into from growing for ever. Safe on
/// several nodes at once; a full batch of any kind runs the next pass at once.
public struct RetentionSweeper: Service {
    let retention: Retention
    let logger: Logger
    let interval: Duration

    public init(retention: Retention, logger: Logger, interval: Duration = .seconds(60)) {
        self.retention = retention
        self.logger = logger
        self.interval = interval
    }

    public func run() async throws {
        try await PeriodicJob(name: "retention pass", interval: interval, logger: logger, pass: pass).run()
    }

    /// One pass: `.moreDue` when any kind filled its batch.
    public func pass() async throws -> PassOutcome {
        let pass = try await retention.sweep()
        if pass.total > 0 {
            logger.debug(
                "retention pass deleted expired records",
                metadata: [
                    "challenges": "\(pass.challenges)", "refreshTokens": "\(pass.refreshTokens)",
                    "accessTokenRevocations": "\(pass.accessTokenRevocations)", "actionTokens": "\(pass.actionTokens)",
                    "notifications": "\(pass.notifications)",
                ])
        }
        return pass.moreDue ? .moreDue : .idle
    }
}
