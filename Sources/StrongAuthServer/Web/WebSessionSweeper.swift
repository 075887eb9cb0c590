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
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await sessions.sweep()
                } catch is CancellationError {
                    break
                } catch {
                    logger.warning("web session sweep failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
