import Foundation

/// When an outbox retries a failed delivery: exponential backoff, `base` doubled per attempt
/// already made (1 s, 2 s, 4 s …) and capped at `cap` (10 minutes), so a receiver that is down
/// for hours is tried every 10 minutes rather than hammered or forgotten. The notification and
/// webhook outboxes both use `Backoff.delivery` (see `docs/webhooks.md`).
public struct Backoff: Sendable, Equatable {
    public let base: TimeInterval
    public let cap: TimeInterval

    public init(base: TimeInterval, cap: TimeInterval) {
        self.base = base
        self.cap = cap
    }

    /// 1 s, 2 s, 4 s … capped at 10 minutes.
    public static let delivery = Backoff(base: 1, cap: 600)

    /// The wait before the next try after `attempts` tries (the count that includes the one that
    /// just failed): `base` after the first (and for a count below one), doubling after each
    /// further try, never more than `cap` — a huge count is `cap`, not infinity or a trap.
    public func delay(afterAttempts attempts: Int) -> TimeInterval {
        min(cap, base * pow(2, Double(max(1, attempts) - 1)))
    }
}
