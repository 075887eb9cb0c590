import Logging
import ServiceLifecycle
import StrongAuthCore

/// Links journaled audit records into the hash chain (see `AuditLog`): requests only journal,
/// so the chain's one lock is taken once per batch instead of once per audited request. Runs on
/// every node; the database serialises sealers, and a record is sealed exactly once (it leaves
/// the journal in the transaction that chains it).
///
/// Every `failureInterval` it also journals the windows of counted failed authentications that
/// are over (`AuditLog.sealFailureWindows`, issue 15): each becomes ONE record with its count,
/// exactly once whichever node claims it, and is chained on the next pass.
public struct AuditSealer: Service {
    let audit: any AuditLog
    let logger: Logger
    var time: any TimeSource = SystemTimeSource()
    var interval: Duration = .milliseconds(200)
    var batch = 500
    var failureInterval: Duration = .seconds(5)

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var nextFailureSeal = ContinuousClock.now
            while !Task.isCancelled {
                do {
                    if ContinuousClock.now >= nextFailureSeal {
                        nextFailureSeal = ContinuousClock.now + failureInterval
                        try await audit.sealFailureWindows(closedBy: time.now())
                    }
                    if try await audit.sealAuditJournal(limit: batch) == batch { continue }
                } catch is CancellationError {
                    break  // shutting down
                } catch {
                    logger.warning("audit sealing failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
