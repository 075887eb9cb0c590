import Foundation

/// How failed authentications of unauthenticated callers are aggregated before they reach the
/// append-only audit chain (every wrong client secret used to append a row that can
/// never be deleted, so anyone could fill the disk).
///
/// A failure is counted in a per-window row keyed by (window, realm, action, actor, subject,
/// source address, reason); when the window is over, the row becomes ONE chained audit record
/// with its count. Within a window at most `maxKeysPerWindow` distinct keys are stored; beyond
/// that, every further new key is counted in one overflow row per action (actor, subject,
/// source and reason `*`), so a flood of random client ids or addresses cannot grow the table.
public struct AuditFailurePolicy: Sendable, Equatable {
    /// The length of a window in seconds.
    public var windowSeconds: Int64
    /// Distinct keys stored per window before new keys go to the overflow row of their action.
    /// Several nodes inserting new keys at the very same moment may each see the count below the
    /// cap: the bound is then this plus the number of concurrent writers — still a bound.
    public var maxKeysPerWindow: Int

    public init(windowSeconds: Int64 = 60, maxKeysPerWindow: Int = 1000) {
        self.windowSeconds = max(1, windowSeconds)
        self.maxKeysPerWindow = max(1, maxKeysPerWindow)
    }

    public static let standard = AuditFailurePolicy()

    /// The actor, subject, source and reason of an overflow row.
    public static let overflow = "*"

    /// The start of the window `now` falls in (epoch milliseconds, aligned, so every node agrees).
    public func windowStart(of now: Date) -> Int64 {
        let milliseconds = now.epochMilliseconds
        let length = windowSeconds * 1000
        return milliseconds - ((milliseconds % length) + length) % length
    }
}

/// An open window's count of one kind of failed authentication (not yet in the chain).
public struct AuditFailureCount: Sendable, Equatable {
    public var windowStart: Date
    public var windowEnd: Date
    /// `nil`: installation-wide (e.g. an unknown client id, which names no realm).
    public var realm: String?
    public var action: AuditAction
    public var actor: String
    public var subject: String?
    public var sourceAddress: String?
    public var reason: String
    public var count: Int
    public var firstSeen: Date
    public var lastSeen: Date

    public init(
        windowStart: Date, windowEnd: Date, realm: String?, action: AuditAction, actor: String, subject: String?, sourceAddress: String?,
        reason: String, count: Int, firstSeen: Date, lastSeen: Date
    ) {
        self.windowStart = windowStart
        self.windowEnd = windowEnd
        self.realm = realm
        self.action = action
        self.actor = actor
        self.subject = subject
        self.sourceAddress = sourceAddress
        self.reason = reason
        self.count = count
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
    }

    /// Whether this is the overflow row of its action (the window's key cap was reached).
    public var isOverflow: Bool { actor == AuditFailurePolicy.overflow }
}
