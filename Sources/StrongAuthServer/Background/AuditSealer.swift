import Logging
import ServiceLifecycle
import StrongAuthCore

/// Links journaled audit records into the hash chain (see `AuditLog`): requests only journal,
/// so the chain's one lock is taken once per batch instead of once per audited request. Runs on
/// every node; the database serialises sealers, and a record is sealed exactly once (it leaves
/// the journal in the transaction that chains it).
public struct AuditSealer: Service {
    let audit: any AuditLog
    let logger: Logger
    var interval: Duration = .milliseconds(200)
    var batch = 500

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
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
