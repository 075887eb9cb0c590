import Foundation
import StrongAuthCore
import Testing

/// The retry schedule of the notification and webhook outboxes (docs/webhooks.md: "retried
/// after 1 s, 2 s, 4 s … at most 10 minutes apart").
@Suite("Backoff: exponential, 1 s doubling, capped at 10 minutes")
struct BackoffTests {
    @Test(
        "the delay after n attempts",
        arguments: [
            (Int.min, 1.0), (-1, 1), (0, 1), (1, 1), (2, 2), (3, 4), (4, 8), (5, 16), (10, 512), (11, 600), (12, 600),
            (1025, 600), (Int.max, 600),
        ] as [(Int, TimeInterval)])
    func delivery(attempts: Int, delay: TimeInterval) {
        #expect(Backoff.delivery.delay(afterAttempts: attempts) == delay)
    }

    @Test("base and cap are the backoff's own")
    func custom() {
        let backoff = Backoff(base: 0.5, cap: 3)
        #expect([1, 2, 3, 4, 5].map { backoff.delay(afterAttempts: $0) } == [0.5, 1, 2, 3, 3])
    }
}
