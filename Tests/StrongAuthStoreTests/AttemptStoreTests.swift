import Foundation
import StrongAuthCore
import StrongAuthStore
import Testing

/// `AttemptRepository.reserveAttempt`: every `Factor` counts on its own subject and stops at
/// its limit (`AttemptLimits`), on every database.
@Suite("Store conformance: attempts of every factor")
struct AttemptStoreTests {
    /// Limits that differ per factor, so that a factor counted against another's limit fails.
    static let limits = AttemptLimits(
        password: LockoutPolicy(maxFailures: 3, lockDuration: 60), bindingOTP: LockoutPolicy(maxFailures: 4, lockDuration: 60),
        operatorPassword: LockoutPolicy(maxFailures: 2, lockDuration: 60), operatorTOTP: LockoutPolicy(maxFailures: 6, lockDuration: 60),
        challenge: 5, accessTool: 3, powerAuth: 4, approvalAnswer: 7)

    /// A fresh subject of `factor` whose stored maximum (where the row holds one) is the factor's.
    static func subject(of factor: Factor, in store: SQLStore) async throws -> AttemptSubject {
        let max = limits.maxAttempts(factor)
        switch factor {
        case .password, .bindingOTP:
            let user = Fixtures.user("u-\(UUID().uuidString.prefix(8))")
            try await store.insertUser(user)
            return .user(id: user.id)
        case .operatorPassword, .operatorTOTP:
            return .operator(id: try await BackOfficeStoreTests.insertOperator(store, "op-\(UUID().uuidString.prefix(8))").id)
        case .challenge:
            let (device, challenge, notification) = DeviceStoreConformanceTests.binding(user: "u-\(UUID().uuidString.prefix(8))")
            #expect(challenge.maxAttempts == max)
            try await store.insertDeviceBinding(device: device, challenge: challenge, notification: notification)
            return .challenge(id: challenge.id)
        case .accessTool:
            let user = Fixtures.user("login-\(UUID().uuidString.prefix(8))")
            let identity = LoginIdentity(
                userID: user.id, accountNumber: String(UUID().uuidString.prefix(10)), cardNumber: "23", identificationCodeHash: "h")
            try await store.insertUser(user, loginIdentity: identity, maxAttempts: max)
            return .accessTool(userID: user.id, tool: .softToken)
        case .powerAuthSignature, .powerAuthActivationOTP:
            if try await store.application(id: "my-application") == nil {
                try await store.insertApplication(PowerAuthStoreTests.application())
            }
            let userID = try await store.ensureUser(realm: "default", externalUserID: "u-\(UUID().uuidString.prefix(8))", at: Fixtures.epoch)
            let id = try await PowerAuthStoreTests.insertRegistration(store, userID: userID, maxFailures: max)
            if factor == .powerAuthSignature { try await PowerAuthStoreTests.activate(store, id: id) }
            return .activation(id: id, webhooksAtLimit: [PowerAuthStoreTests.webhook()])
        case .approvalAnswer:
            return .approval(id: try await ApprovalStoreTests.pending(store, maxFailures: max).id, webhooksAtLimit: [])
        }
    }

    @Test(
        "every factor counts 1…max on its subject, reports the limit on the last, then refuses; one user's (or operator's) factors count apart",
        arguments: TestDatabases.engines)
    func everyFactorStopsAtItsLimit(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine, attemptLimits: Self.limits) { store in
            // One user for both user factors and one operator for both operator factors: a factor
            // counted on another's columns finds them locked already (PSD2 RTS art. 4).
            var shared: [AttemptSubject.Kind: AttemptSubject] = [:]
            for factor in Factor.allCases {
                let subject: AttemptSubject
                if let reused = shared[factor.subjectKind] {
                    subject = reused
                } else {
                    subject = try await Self.subject(of: factor, in: store)
                    if [.user, .operator].contains(factor.subjectKind) { shared[factor.subjectKind] = subject }
                }
                let max = Self.limits.maxAttempts(factor)
                for attempt in 1...max {
                    let reservation = try #require(
                        try await store.reserveAttempt(factor, subject: subject, at: Fixtures.epoch), "\(factor) attempt \(attempt)")
                    #expect(reservation.remaining == max - attempt, "\(factor) attempt \(attempt)")
                    #expect(reservation.limitReached == (attempt == max), "\(factor) attempt \(attempt)")
                    if factor != .accessTool { #expect(reservation.attempts == attempt, "\(factor) attempt \(attempt)") }
                    if let lockout = Self.limits.lockout(for: factor) {
                        #expect(
                            reservation.lockedUntil == (attempt == max ? Fixtures.epoch.addingTimeInterval(lockout.lockDuration) : nil),
                            "\(factor) attempt \(attempt)")
                    }
                }
                #expect(try await store.reserveAttempt(factor, subject: subject, at: Fixtures.epoch) == nil, "\(factor) past its limit")
            }
        }
    }

    @Test("a factor asked of another kind of subject is refused, and counts nothing", arguments: TestDatabases.engines)
    func subjectMismatch(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine, attemptLimits: Self.limits) { store in
            let user = try await Self.subject(of: .password, in: store)
            await #expect(throws: AttemptSubjectMismatch(factor: .operatorPassword, subject: .user)) {
                try await store.reserveAttempt(.operatorPassword, subject: user, at: Fixtures.epoch)
            }
            await #expect(throws: AttemptSubjectMismatch(factor: .challenge, subject: .user)) {
                try await store.resetAttempts(.challenge, subject: user)
            }
            #expect(try await store.reserveAttempt(.password, subject: user, at: Fixtures.epoch)?.attempts == 1)
        }
    }
}
