import Foundation
import Synchronization

/// Token-bucket rate limits (docs/architecture.md): on top of the per-factor lockouts, the endpoints
/// where credentials, OTPs and challenge answers are presented admit at most a configured rate
/// per source address and per OAuth client, and answer RFC 6585 `429 Too Many Requests` with
/// `Retry-After` beyond it.
///
/// The buckets live in each node's memory: a cluster of N nodes admits up to N times the
/// configured rate. That is deliberate — this is load shedding against floods and guessing
/// volume, not a security decision; the decisions that stop brute force (attempts per factor,
/// blocks) are conditional updates in the database and exact across nodes.
public final class RateLimiter: Sendable {
    /// A sustained rate with a burst: `perMinute` tokens refill evenly, at most `burst` saved up.
    public struct Limit: Sendable, Equatable {
        public var perMinute: Double
        public var burst: Double

        public init(perMinute: Double, burst: Double) {
            self.perMinute = perMinute
            self.burst = burst
        }
    }

    struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    private let buckets = Mutex<[String: Bucket]>([:])
    /// Beyond this many keys, full (idle) buckets are dropped: memory stays bounded under a
    /// flood of distinct addresses, and a dropped bucket was full anyway.
    private let maximumKeys: Int
    private let clock = ContinuousClock()

    public init(maximumKeys: Int = 100_000) {
        self.maximumKeys = maximumKeys
    }

    /// Takes one token from `key`'s bucket. `nil` when admitted; otherwise the seconds until a
    /// token is available (for `Retry-After`).
    public func take(_ key: String, limit: Limit) -> Int? {
        let now = clock.now
        let refillPerSecond = limit.perMinute / 60
        return buckets.withLock { buckets in
            var bucket = buckets[key] ?? Bucket(tokens: limit.burst, updated: now)
            let elapsed =
                Double((now - bucket.updated).components.seconds)
                + Double((now - bucket.updated).components.attoseconds) / 1e18
            bucket.tokens = min(limit.burst, bucket.tokens + elapsed * refillPerSecond)
            bucket.updated = now
            guard bucket.tokens >= 1 else {
                buckets[key] = bucket
                return max(1, Int(((1 - bucket.tokens) / refillPerSecond).rounded(.up)))
            }
            bucket.tokens -= 1
            if buckets[key] == nil, buckets.count >= maximumKeys { Self.prune(&buckets, now: now, limit: limit) }
            buckets[key] = bucket
            return nil
        }
    }

    /// The seconds until `key`'s bucket has a token, without taking one; `nil` if it has one now.
    /// For limits charged only after the fact (failed client authentication): check first, then
    /// `take` when the attempt turns out to count.
    public func wait(_ key: String, limit: Limit) -> Int? {
        let now = clock.now
        let refillPerSecond = limit.perMinute / 60
        return buckets.withLock { buckets in
            guard let bucket = buckets[key] else { return nil }
            let elapsed =
                Double((now - bucket.updated).components.seconds)
                + Double((now - bucket.updated).components.attoseconds) / 1e18
            let tokens = min(limit.burst, bucket.tokens + elapsed * refillPerSecond)
            return tokens >= 1 ? nil : max(1, Int(((1 - tokens) / refillPerSecond).rounded(.up)))
        }
    }

    /// Drops the buckets that would be full by now.
    private static func prune(_ buckets: inout [String: Bucket], now: ContinuousClock.Instant, limit: Limit) {
        let refillPerSecond = limit.perMinute / 60
        buckets = buckets.filter { _, bucket in
            let elapsed = Double((now - bucket.updated).components.seconds)
            return bucket.tokens + elapsed * refillPerSecond < limit.burst
        }
    }
}
