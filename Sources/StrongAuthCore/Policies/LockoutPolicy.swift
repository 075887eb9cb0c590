import Foundation

/// PSD2 RTS art. 4(3)(b): at most `maxFailures` consecutive failures of one factor, then a
/// temporary block. The counting itself is one atomic database update (see `AttemptRepository`),
/// so the limit holds across nodes; each factor's values are in `AttemptLimits`.
public struct LockoutPolicy: Sendable, Equatable {
    public var maxFailures: Int
    public var lockDuration: TimeInterval

    public init(maxFailures: Int, lockDuration: TimeInterval) {
        self.maxFailures = max(1, maxFailures)
        self.lockDuration = max(1, lockDuration)
    }
}
