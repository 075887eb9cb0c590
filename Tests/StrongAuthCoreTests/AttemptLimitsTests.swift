import Foundation
import Testing

@testable import StrongAuthCore

/// The one table of attempt limits (`AttemptLimits`, `Factor`): every factor, its counter, when
/// it is counted, its default maximum and what the limit does, written out so that a change to
/// any of them is a visible diff here and in docs/architecture.md.
@Suite("Attempt limits")
struct AttemptLimitsTests {
    struct Row: Equatable, CustomStringConvertible {
        var factor: Factor
        var subject: AttemptSubject.Kind
        var beforeCheck: Bool
        var maxAttempts: Int
        var lockSeconds: TimeInterval?
        var atLimit: AttemptLimits.Consequence

        var description: String {
            "\(factor.rawValue) \(subject.rawValue) \(beforeCheck) \(maxAttempts) \(lockSeconds.map { "\($0)" } ?? "-") \(atLimit.rawValue)"
        }
    }

    static let table: [Row] = [
        Row(factor: .password, subject: .user, beforeCheck: true, maxAttempts: 5, lockSeconds: 900, atLimit: .lockedForAWhile),
        Row(factor: .bindingOTP, subject: .user, beforeCheck: true, maxAttempts: 10, lockSeconds: 3600, atLimit: .lockedForAWhile),
        Row(factor: .challenge, subject: .challenge, beforeCheck: true, maxAttempts: 5, lockSeconds: nil, atLimit: .challengeClosed),
        Row(factor: .accessTool, subject: .accessTool, beforeCheck: true, maxAttempts: 3, lockSeconds: nil, atLimit: .blockedUntilReset),
        Row(
            factor: .powerAuthSignature, subject: .activation, beforeCheck: false, maxAttempts: 5, lockSeconds: nil,
            atLimit: .blockedUntilReset),
        Row(factor: .powerAuthActivationOTP, subject: .activation, beforeCheck: false, maxAttempts: 5, lockSeconds: nil, atLimit: .removed),
        Row(factor: .approvalAnswer, subject: .approval, beforeCheck: false, maxAttempts: 5, lockSeconds: nil, atLimit: .failed),
        Row(factor: .operatorPassword, subject: .operator, beforeCheck: true, maxAttempts: 5, lockSeconds: 900, atLimit: .lockedForAWhile),
        Row(factor: .operatorTOTP, subject: .operator, beforeCheck: true, maxAttempts: 5, lockSeconds: 900, atLimit: .lockedForAWhile),
    ]

    @Test("every factor's counter, counting, default limit and consequence, as documented")
    func defaultsTable() {
        let standard = AttemptLimits.standard
        let actual = Factor.allCases.map { factor in
            Row(
                factor: factor, subject: factor.subjectKind, beforeCheck: factor.countsBeforeCheck, maxAttempts: standard.maxAttempts(factor),
                lockSeconds: standard.lockout(for: factor)?.lockDuration, atLimit: factor.atLimit)
        }
        #expect(actual == Self.table)
        #expect(Set(Factor.allCases.map(\.rawValue)).count == Factor.allCases.count)
    }

    @Test("exactly the factors that lock for a while have a lockout; operators follow the password unless configured")
    func lockouts() {
        for factor in Factor.allCases {
            #expect((AttemptLimits.standard.lockout(for: factor) != nil) == (factor.atLimit == .lockedForAWhile))
        }
        let limits = AttemptLimits(password: LockoutPolicy(maxFailures: 3, lockDuration: 60))
        #expect(limits.operatorPassword == limits.password && limits.operatorTOTP == limits.password)
        #expect(Factor.userLockouts.allSatisfy { $0.subjectKind == .user && $0.atLimit == .lockedForAWhile })
    }

    @Test("a reservation reports the limit when nothing remains; the lock details of a wrong secret")
    func reservation() {
        let lockedUntil = Date(timeIntervalSince1970: 1_796_000_000)
        let last = AttemptReservation(attempts: 5, remaining: 0, lockedUntil: lockedUntil)
        #expect(last.limitReached)
        #expect(last.lockDetails == ["consecutive_failures": "5", "locked_until": "2026-11-30T00:53:20Z"])
        #expect(!AttemptReservation(attempts: 1, remaining: 4).limitReached)
        #expect(AttemptReservation(attempts: 1, remaining: 4).lockDetails == ["consecutive_failures": "1"])
    }
}
