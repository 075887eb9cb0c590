import Logging
import ServiceLifecycle
import StrongAuthCore

/// Moves expired approvals to EXPIRED and announces them (issue 5: "expiry enforced on every read
/// and by a sweeper"). Runs on every node; the conditional update makes each expiry happen once.
public struct ApprovalSweeper: Service {
    let approvals: ApprovalService
    let logger: Logger
    var interval: Duration = .seconds(1)

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    if try await approvals.sweepExpired() > 0 { continue }
                } catch is CancellationError {
                    break  // shutting down
                } catch {
                    logger.warning("approval sweep failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
