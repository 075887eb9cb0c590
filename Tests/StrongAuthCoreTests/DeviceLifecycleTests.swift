import Foundation
import StrongAuthCore
import Testing

/// The transition table of `DeviceLifecycle`, without a database: every action from every
/// status is either allowed (and leads where the state diagram on `Device.Status` says) or refused.
@Suite("Device lifecycle: the transition table")
struct DeviceLifecycleTests {
    static let allStatuses: [Device.Status] = [.created, .pendingCommit, .active, .blocked, .removed]

    /// The state diagram written out as (action, from) → to; everything not listed is refused.
    static let expected: [String: Device.Status] = [
        "commit PENDING_COMMIT": .active,
        "block ACTIVE": .blocked,
        "unblock BLOCKED": .active,
        "remove CREATED": .removed,
        "remove PENDING_COMMIT": .removed,
        "remove ACTIVE": .removed,
        "remove BLOCKED": .removed,
    ]

    @Test("every action × every status: allowed exactly where the diagram has an arrow", arguments: DeviceAction.allCases)
    func table(action: DeviceAction) {
        for status in Self.allStatuses {
            let key = "\(action.rawValue) \(status.rawValue)"
            #expect(action.allows(from: status) == (Self.expected[key] != nil), "\(key)")
            if let target = Self.expected[key] { #expect(action.to == target, "\(key)") }
        }
    }

    @Test("nothing leaves REMOVED, nothing leads to CREATED, and no action is a no-op")
    func invariants() {
        for action in DeviceAction.allCases {
            #expect(!action.allows(from: .removed))
            #expect(action.to != .created)
            #expect(!action.allows(from: action.to))
            #expect(!action.from.isEmpty)
        }
    }

    @Test("a blocked reason: 1–64 ASCII letters, digits, '_', '-'")
    func blockedReasons() {
        for valid in ["NOT_SPECIFIED", "MAX_FAILED_ATTEMPTS", "LOST-1", "a", String(repeating: "Z", count: 64)] {
            #expect(BlockedReason.isValid(valid), "\(valid)")
        }
        for invalid in ["", String(repeating: "Z", count: 65), "LOST É", "LOST_É", "LOST½", "LOST\u{0663}", "A B", "A\n", "A;B", "Ａ"] {
            #expect(!BlockedReason.isValid(invalid), "\(invalid)")
        }
    }
}
