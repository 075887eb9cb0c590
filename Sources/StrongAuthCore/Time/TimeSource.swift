import Foundation
import StrongAuthProtocol

/// Where the core learns the time. Injected everywhere so tests can move the clock
/// (lockouts, expiry, idle sessions) without sleeping.
public protocol TimeSource: Sendable {
    /// The current instant.
    func now() -> Date
}

/// The wall clock.
public struct SystemTimeSource: TimeSource {
    public init() {}
    public func now() -> Date { Date() }
}

/// A clock that only moves when told to; for tests. A `ticking` one also follows the wall clock
/// from its start (plus what it was told): for live tests whose client stamps requests with the
/// wall clock (PowerAuth ECIES and token timestamps), which a frozen server clock would refuse
/// once the test has run longer than the timestamp window (a loaded CI machine).
public final class ManualTimeSource: TimeSource, @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date
    /// When `ticking`: the wall-clock instant `current` was read at.
    private let anchor: Date?

    public init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000), ticking: Bool = false) {
        current = start
        anchor = ticking ? Date() : nil
    }

    public func now() -> Date {
        let base = lock.withLock { current }
        guard let anchor else { return base }
        return base.addingTimeInterval(Date().timeIntervalSince(anchor))
    }

    /// Moves the clock forward.
    public func advance(by seconds: TimeInterval) {
        lock.withLock { current = current.addingTimeInterval(seconds) }
    }
}

extension Date {
    /// Milliseconds since 1970, the form every timestamp takes in the database.
    public var epochMilliseconds: Int64 { Int64((timeIntervalSince1970 * 1000).rounded(.down)) }

    /// The date of a stored millisecond timestamp.
    public init(epochMilliseconds: Int64) {
        self.init(timeIntervalSince1970: TimeInterval(epochMilliseconds) / 1000)
    }

    /// This date rounded down to whole seconds (JWT `exp`/`iat` are integers, RFC 7519 §2).
    public var wholeSeconds: Date { Date(timeIntervalSince1970: timeIntervalSince1970.rounded(.down)) }
}

extension SecureRandom {
    /// A time-ordered id (`timeOrderedUUID(milliseconds:)`) stamped with `time` — the time the
    /// row it names is written at, from the core's `TimeSource`.
    public static func timeOrderedUUID(at time: Date) -> String {
        timeOrderedUUID(milliseconds: UInt64(max(0, time.epochMilliseconds)))
    }
}
