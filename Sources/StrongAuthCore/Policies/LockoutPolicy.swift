import Foundation

/// PSD2 RTS art. 4(3)(b): at most `maxFailures` consecutive failures of one factor, then a
/// temporary block. The counting itself is one atomic database update (see `UserRepository`),
/// so the limit holds across nodes.
public struct LockoutPolicy: Sendable, Equatable {
    public var maxFailures: Int
    public var lockDuration: TimeInterval

    public init(maxFailures: Int = 5, lockDuration: TimeInterval = 300) {
        self.maxFailures = max(1, maxFailures)
        self.lockDuration = max(1, lockDuration)
    }
}
