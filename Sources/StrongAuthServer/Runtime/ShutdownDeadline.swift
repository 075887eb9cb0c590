import Foundation
import Hummingbird
import Logging
import Synchronization
import ServiceLifecycle
import UnixSignals

/// How `strongauth serve` stops: SIGTERM or SIGINT drains the server — it stops accepting, lets
/// the requests in flight finish, and stops the background jobs between two passes — but for
/// at most `gracePeriod` (`http.shutdownGraceSeconds`). Whatever still runs then is cancelled
/// (a request waiting for a database connection gives up), and if something ignores that for
/// `cancellationLimit` more, the process exits with status 70 (`EX_SOFTWARE`) rather than stay
/// half alive. Not the service group's own `maximumCancellationDuration`: its `fatalError` hands
/// the process to the Swift backtracer, which once kept a node up for as long as it ran.
///
/// Without a deadline one request stuck on a connection that never answers (postgres-nio 1.33
/// across a database restart; docs/architecture.md) kept a node up after SIGTERM until its
/// supervisor killed it; `conformance/test_faults.py` saw that once.
public enum ShutdownDeadline {
    /// After the grace period and the cancellation, the process gives up waiting.
    public static let cancellationLimit: Duration = .seconds(3)

    /// The service group that runs `app` until one of `signals` (or `triggerGracefulShutdown()`)
    /// and then drains it within `gracePeriod`. `lastResort` replaces the exit that ends the
    /// process `cancellationLimit` after the cancellation if the server has still not returned
    /// (tests record it rather than end the test process).
    public static func serviceGroup<App: ApplicationProtocol>(
        running app: App, gracePeriod: Duration, signals: [UnixSignal] = [.sigterm, .sigint], logger: Logger,
        lastResort: (@Sendable () -> Void)? = nil
    ) -> ServiceGroup {
        var configuration = ServiceGroupConfiguration(
            services: [.init(service: Draining(app: app, gracePeriod: gracePeriod, logger: logger, lastResortAction: lastResort ?? LastResort.exit))],
            gracefulShutdownSignals: signals, logger: logger)
        configuration.maximumGracefulShutdownDuration = gracePeriod
        return ServiceGroup(configuration: configuration)
    }

    /// Ends the process if the cancelled server has not returned within `limit`. It counts on a
    /// thread of its own: whatever keeps the server from returning may be keeping the
    /// concurrency pool's threads busy too.
    final class LastResort: Sendable {
        private let armed = Atomic<Bool>(false)
        private let disarmed = Atomic<Bool>(false)
        private let limit: Duration
        private let logger: Logger
        private let action: @Sendable () -> Void

        /// `action` (tests replace it) is what happens at the end of `limit`: by default the
        /// process exits with 70 (`EX_SOFTWARE`) after flushing its output.
        init(after limit: Duration = ShutdownDeadline.cancellationLimit, logger: Logger, action: @escaping @Sendable () -> Void = LastResort.exit) {
            (self.limit, self.logger, self.action) = (limit, logger, action)
        }

        static let exit: @Sendable () -> Void = {
            fflush(nil)
            _exit(70)
        }

        /// Starts the countdown (once).
        func arm() {
            guard armed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
            let seconds = Double(limit.components.seconds) + Double(limit.components.attoseconds) / 1e18
            Thread.detachNewThread { [self] in
                Thread.sleep(forTimeInterval: seconds)
                guard !disarmed.load(ordering: .acquiring) else { return }
                logger.critical("shutting down: still not stopped \(limit) after the cancellation; exiting (70)")
                action()
            }
        }

        /// The server returned: no exit.
        func disarm() { disarmed.store(true, ordering: .releasing) }
    }

    /// The application, saying when its drain begins and when it ran out of time (the service
    /// group's own messages are debug-level only).
    struct Draining<App: ApplicationProtocol>: Service {
        let app: App
        let gracePeriod: Duration
        let logger: Logger
        let lastResortAction: @Sendable () -> Void

        func run() async throws {
            let (gracePeriod, logger) = (gracePeriod, logger)
            let lastResort = LastResort(logger: logger, action: lastResortAction)
            defer { lastResort.disarm() }
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
                lastResort.arm()
            }
        }
    }
}
