import Foundation
import SQLKit
import StrongAuthCore
import StrongAuthStore
import Testing

/// The OTP SMS budgets and the pending-device cap on every database (SMS pumping):
/// each a count in one atomic step, correct when several nodes send at once.
@Suite("Store conformance: OTP SMS budgets and pending devices")
struct SMSBudgetStoreTests {
    static func budgetRows(_ store: SQLStore) async throws -> [String] {
        try await store.pool.withConnection { db in
            try await db.raw("SELECT budget_key FROM sms_budgets ORDER BY budget_key").all().map {
                try $0.decode(column: "budget_key", as: String.self)
            }
        }
    }

    @Test(
        "30 concurrent reservations on one budget count exactly the limit; the window's end is the retry time; a new window starts afresh",
        arguments: TestDatabases.engines)
    func concurrentReservations(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let now = Fixtures.epoch
            let budgets = [SMSBudget(key: "user:alice", limit: 5), SMSBudget(key: "phone:abc", limit: 5)]
            let reserved = try await withThrowingTaskGroup(of: SMSReservation.self) { group in
                for _ in 0..<30 { group.addTask { try await store.reserveSMS(budgets, at: now, window: 3600) } }
                return try await group.reduce(0) { $0 + ($1 == .reserved ? 1 : 0) }
            }
            #expect(reserved == 5)
            #expect(
                try await store.reserveSMS(budgets, at: now.addingTimeInterval(3599), window: 3600)
                    == .exhausted(retryAt: now.addingTimeInterval(3600)))
            // Another user on the same number is refused by the number's budget.
            #expect(
                try await store.reserveSMS([SMSBudget(key: "user:bob", limit: 5), SMSBudget(key: "phone:abc", limit: 5)], at: now, window: 3600)
                    == .exhausted(retryAt: now.addingTimeInterval(3600)))
            // All or nothing: bob's refused reservation counted nothing on bob's budget.
            for _ in 0..<5 { #expect(try await store.reserveSMS([SMSBudget(key: "user:bob", limit: 5)], at: now, window: 3600) == .reserved) }
            #expect(try await store.reserveSMS([SMSBudget(key: "user:bob", limit: 5)], at: now, window: 3600) != .reserved)
            // An hour later the windows restart; the expired counters of others are swept.
            let later = now.addingTimeInterval(3600)
            for _ in 0..<5 { #expect(try await store.reserveSMS(budgets, at: later, window: 3600) == .reserved) }
            #expect(try await store.reserveSMS(budgets, at: later, window: 3600) == .exhausted(retryAt: later.addingTimeInterval(3600)))
            #expect(try await Self.budgetRows(store) == ["phone:abc", "user:alice"])
        }
    }

    static func limits(maxPending: Int = 3, smsLimit: Int = 5, now: Date) -> DeviceBindingLimits {
        DeviceBindingLimits(
            maxPending: maxPending, pendingSince: now.addingTimeInterval(-600), pendingLifetime: 600,
            sms: [SMSBudget(key: "user:alice", limit: smsLimit), SMSBudget(key: "phone:abc", limit: smsLimit)], smsWindow: 3600)
    }

    @Test("30 concurrent bindings of one user store exactly the pending cap, and count an SMS only for those", arguments: TestDatabases.engines)
    func concurrentBindings(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let alice = Fixtures.user("alice")
            try await store.insertUser(alice)
            let now = Fixtures.epoch
            let outcomes = try await withThrowingTaskGroup(of: DeviceBindingOutcome.self) { group in
                for _ in 0..<30 {
                    group.addTask {
                        let (device, challenge, notification) = DeviceStoreConformanceTests.binding(user: alice.id, now: now)
                        return try await store.insertDeviceBinding(
                            device: device, challenge: challenge, notification: notification, limits: Self.limits(now: now))
                    }
                }
                return try await group.reduce(into: [DeviceBindingOutcome]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == .inserted }.count == 3)
            #expect(outcomes.filter { $0 == .tooManyPending(retryAt: now.addingTimeInterval(600)) }.count == 27)
            #expect(try await store.devices(userID: alice.id).count == 3)
            // Three SMS counted: two more fit into the budget of five.
            #expect(try await store.reserveSMS([SMSBudget(key: "user:alice", limit: 5)], at: now, window: 3600) == .reserved)
            #expect(try await store.reserveSMS([SMSBudget(key: "user:alice", limit: 5)], at: now, window: 3600) == .reserved)
            #expect(try await store.reserveSMS([SMSBudget(key: "user:alice", limit: 5)], at: now, window: 3600) != .reserved)

            // A device removed or older than the pending lifetime no longer counts; the spent SMS
            // budget then refuses, and stores nothing.
            let first = try #require(try await store.devices(userID: alice.id).first)
            #expect(try await store.transitionDevice(id: first.id, from: [.created], to: .removed, reason: nil, at: now))
            let (device, challenge, notification) = DeviceStoreConformanceTests.binding(user: alice.id, now: now)
            #expect(
                try await store.insertDeviceBinding(device: device, challenge: challenge, notification: notification, limits: Self.limits(now: now))
                    == .smsExhausted(retryAt: now.addingTimeInterval(3600)))
            #expect(try await store.device(id: device.id) == nil)
            #expect(try await store.challenge(id: challenge.id) == nil)
        }
    }

    @Test("30 concurrent bindings across users of one phone number: exactly the number's SMS budget", arguments: TestDatabases.engines)
    func concurrentBindingsOnePhone(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let now = Fixtures.epoch
            var users: [User] = []
            for index in 0..<30 {
                let user = Fixtures.user("user\(index)")
                try await store.insertUser(user)
                users.append(user)
            }
            let inserted = try await withThrowingTaskGroup(of: Bool.self) { group in
                for user in users {
                    group.addTask {
                        let (device, challenge, notification) = DeviceStoreConformanceTests.binding(user: user.id, now: now)
                        let limits = DeviceBindingLimits(
                            maxPending: 3, pendingSince: now.addingTimeInterval(-600), pendingLifetime: 600,
                            sms: [SMSBudget(key: "user:\(user.id)", limit: 5), SMSBudget(key: "phone:shared", limit: 4)], smsWindow: 3600)
                        return try await store.insertDeviceBinding(device: device, challenge: challenge, notification: notification, limits: limits)
                            == .inserted
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(inserted == 4)
            #expect(try await TestDatabases.count("notifications", in: store) == 4)
        }
    }
}
