import Foundation
import SQLKit
import StrongAuthCore
import StrongAuthStore
import Testing

/// The back office's store on every database: operator factors limited exactly under concurrency,
/// each TOTP step accepted once, sessions that expire when idle and cannot be revived.
@Suite("Store conformance: back office")
struct BackOfficeStoreTests {
    static func insertOperator(_ store: SQLStore, _ username: String = "olga") async throws -> Operator {
        let created = Operator(
            id: UUID().uuidString.lowercased(), username: username, passwordHash: "!", sealedTOTPSecret: "sealed", createdAt: Fixtures.epoch)
        try await store.insertOperator(created)
        return created
    }

    @Test("operators are unique by username and read back", arguments: TestDatabases.engines)
    func operators(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let created = try await Self.insertOperator(store)
            #expect(try await store.operator(username: "olga") == created)
            #expect(try await store.operator(id: created.id) == created)
            await #expect(throws: StoreError.self) { _ = try await Self.insertOperator(store) }
        }
    }

    @Test("40 concurrent TOTP guesses get exactly 5 tries; the factors count apart", arguments: TestDatabases.engines)
    func attemptsAreExact(engine: DatabaseEngine) async throws {
        let limits = AttemptLimits(password: LockoutPolicy(maxFailures: 5, lockDuration: 60))
        try await TestDatabases.withStore(engine, attemptLimits: limits) { store in
            let created = try await Self.insertOperator(store)
            let granted = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<40 {
                    group.addTask {
                        try await store.reserveAttempt(.operatorTOTP, subject: .operator(id: created.id), at: Fixtures.epoch) != nil
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(granted == 5)
            // The password factor is untouched; the TOTP lock ends by itself.
            #expect(try await store.reserveAttempt(.operatorPassword, subject: .operator(id: created.id), at: Fixtures.epoch) != nil)
            #expect(
                try await store.reserveAttempt(.operatorTOTP, subject: .operator(id: created.id), at: Fixtures.epoch.addingTimeInterval(61))?.attempts
                    == 1)
        }
    }

    @Test("a TOTP step is accepted once, also under concurrency, and never an older one", arguments: TestDatabases.engines)
    func totpStepOnce(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let created = try await Self.insertOperator(store)
            let accepted = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<20 { group.addTask { try await store.acceptTOTPStep(operatorID: created.id, step: 1000) } }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(accepted == 1)
            #expect(try await store.acceptTOTPStep(operatorID: created.id, step: 999) == false)
            #expect(try await store.acceptTOTPStep(operatorID: created.id, step: 1001))
        }
    }

    @Test("a session lives while used, ends when idle or too old, and is gone after logout", arguments: TestDatabases.engines)
    func sessions(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let start = Fixtures.epoch
            try await store.insertWebSession(
                WebSession(tokenHash: "h1", kind: .operator, principalID: "op", createdAt: start, expiresAt: start.addingTimeInterval(300)))
            func touch(_ hash: String, after seconds: TimeInterval) async throws -> WebSession? {
                let now = start.addingTimeInterval(seconds)
                return try await store.touchWebSession(
                    tokenHash: hash, at: now, newExpiry: now.addingTimeInterval(300), notCreatedBefore: now.addingTimeInterval(-1000))
            }
            #expect(try await touch("h1", after: 299)?.principalID == "op")
            #expect(try await touch("h1", after: 598)?.kind == .operator)  // moved on by the last touch
            #expect(try await touch("h1", after: 990) == nil)  // idle for more than 300 s
            #expect(try await touch("h1", after: 991) == nil)  // the refused touch moved nothing: never revived
            try await store.insertWebSession(
                WebSession(tokenHash: "h2", kind: .user, principalID: "u", createdAt: start, expiresAt: start.addingTimeInterval(300)))
            #expect(try await touch("h2", after: 250) != nil)
            #expect(try await touch("h2", after: 500) != nil)
            #expect(try await touch("h2", after: 750) != nil)
            #expect(try await touch("h2", after: 1001) == nil)  // older than the absolute lifetime
            try await store.insertWebSession(
                WebSession(tokenHash: "h3", kind: .user, principalID: "u", createdAt: start, expiresAt: start.addingTimeInterval(300)))
            try await store.deleteWebSession(tokenHash: "h3")
            #expect(try await touch("h3", after: 1) == nil)
            #expect(try await store.deleteExpiredWebSessions(at: start.addingTimeInterval(5000)) == 2)
        }
    }
}
