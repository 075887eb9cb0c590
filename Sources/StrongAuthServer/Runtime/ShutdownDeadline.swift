import Hummingbird
import Logging
import ServiceLifecycle
import UnixSignals

/// How `strongauth serve` stops: SIGTERM or SIGINT drains the server — it stops accepting, lets
/// the requests in flight finish, and stops the background jobs between two passes — but for
/// at most `gracePeriod` (`http.shutdownGraceSeconds`). Whatever still runs then is cancelled
/// (a request waiting for a database connection gives up), and whatever ignores that for
/// `cancellationLimit` more ends the process with a fatal error rather than keep it half alive.
///
/// Without a deadline one request stuck on a connection that never answers (postgres-nio 1.33
/// across a database restart; docs/operations.md) kept a node up after SIGTERM until its
/// supervisor killed it; `conformance/test_faults.py` saw that once.
public enum ShutdownDeadline {
    /// After the grace period and the cancellation, the process gives up waiting.
    public static let cancellationLimit: Duration = .seconds(3)

    /// The service group that runs `app` until one of `signals` (or `triggerGracefulShutdown()`)
    /// and then drains it within `gracePeriod`.
    public static func serviceGroup<App: ApplicationProtocol>(
        running app: App, gracePeriod: Duration, signals: [UnixSignal] = [.sigterm, .sigint], logger: Logger
    ) -> ServiceGroup {
        var configuration = ServiceGroupConfiguration(
            services: [.init(service: Draining(app: app, gracePeriod: gracePeriod, logger: logger))],
            gracefulShutdownSignals: signals, logger: logger)
        configuration.maximumGracefulShutdownDuration = gracePeriod
        configuration.maximumCancellationDuration = cancellationLimit
        return ServiceGroup(configuration: configuration)
    }

    /// The application, saying when its drain begins and when it ran out of time (the service
    /// group's own messages are debug-level only).
    struct Draining<App: ApplicationProtocol>: Service {
        let app: App
        let gracePeriod: Duration
        let logger: Logger

        func run() async throws {
            let (gracePeriod, logger) = (gracePeriod, logger)
            try await withTaskCancellationHandler {
                try await withGracefulShutdownHandler {
                    try await app.run()
                } onGracefulShutdown: {
                    logger.notice("shutting down: finishing the requests in flight and the background jobs (at most \(gracePeriod))")
                }
            } onCancel: {
                logger.warning(
                    "shutting down: cancelling what still runs (the grace period of \(gracePeriod) is over, or a service failed); the process ends within \(ShutdownDeadline.cancellationLimit)"
                )
            }
        }
    }
}
