import Logging
import Metrics
import ServiceLifecycle

/// What a background pass reports: whether more work is due at once.
public enum PassOutcome: Sendable, Equatable {
    /// The pass stopped at its batch limit (a full page): run the next pass without sleeping.
    case moreDue
    /// Nothing more is due now: sleep the job's interval.
    case idle
}

/// The one loop behind every background job (sweepers, outbox dispatchers, the audit sealer,
/// the signing-key refresher): run `pass`, go on at once while it reports `.moreDue`, else sleep
/// `interval`; a failed pass is logged once (with its error) and retried after the interval, so
/// a database outage never ends the loop. On SIGTERM (graceful shutdown) the running pass and the
/// sleep are cancelled and the job returns: a pass that must not be cut short (one that deletes
/// and audits) shields itself in an unstructured task.
///
/// Every node runs every job: each pass is written so that several nodes running it at once is
/// correct (conditional updates, leases, idempotent deletes), so jobs need no leader.
///
/// Metrics (swift-metrics, `/metrics`): `strongauth_background_passes_total` and
/// `strongauth_background_failures_total`, each with the job's `name` as dimension `task`.
public struct PeriodicJob: Service {
    /// For logs ("<name> failed") and metrics.
    public let name: String
    public let interval: Duration
    /// Sleep one interval before the first pass (for a job whose state was just loaded at start).
    public let waitsBeforeFirstPass: Bool
    let logger: Logger
    let pass: @Sendable () async throws -> PassOutcome

    public init(
        name: String, interval: Duration, waitsBeforeFirstPass: Bool = false, logger: Logger,
        pass: @escaping @Sendable () async throws -> PassOutcome
    ) {
        self.name = name
        self.interval = interval
        self.waitsBeforeFirstPass = waitsBeforeFirstPass
        self.logger = logger
        self.pass = pass
    }

    public func run() async throws {
        let passes = Counter(label: "strongauth_background_passes_total", dimensions: [("task", name)])
        let failures = Counter(label: "strongauth_background_failures_total", dimensions: [("task", name)])
        await cancelWhenGracefulShutdown {
            if waitsBeforeFirstPass { try? await Task.sleep(for: interval) }
            while !Task.isCancelled {
                do {
                    let outcome = try await pass()
                    passes.increment()
                    if outcome == .moreDue { continue }
                } catch is CancellationError {
                    break  // shutting down
                } catch {
                    failures.increment()
                    logger.warning("\(name) failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
