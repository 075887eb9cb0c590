import Foundation
import StrongAuthCore
import StrongAuthStore
import Testing

/// `DeviceLifecycle` over a real store, on every database: a Kontist key's actions (one
/// conditional update and its audit record each), their refusals, and concurrent actions on one
/// device deciding exactly once — the property that makes it correct with several nodes.
@Suite("Store: the device lifecycle")
struct DeviceLifecycleStoreTests {
    /// An ACTIVE Kontist device of a fresh user.
    static func activeDevice(_ store: SQLStore) async throws -> Device {
        let alice = Fixtures.user()
        try await store.insertUser(alice)
        let (device, challenge, notification) = DeviceStoreConformanceTests.binding(user: alice.id)
        try await store.insertDeviceBinding(device: device, challenge: challenge, notification: notification)
        #expect(
            try await store.completeBindingChallenge(
                id: challenge.id, deviceID: device.id, userID: alice.id, approvalRequired: true, at: Fixtures.epoch) == .active)
        return try #require(try await store.device(id: device.id))
    }

    static func actions(_ store: SQLStore, subject: String) async throws -> [AuditRecord] {
        try await store.auditEvents(after: 0, limit: 1000).map(\.record).filter { $0.subject == subject }
    }

    @Test("a Kontist key: block (with reason), unblock, remove, each audited once; refused from other states", arguments: TestDatabases.engines)
    func kontistKey(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let lifecycle = DeviceLifecycle(store: store, time: ManualTimeSource(Fixtures.epoch))
            var device = try await Self.activeDevice(store)
            await #expect(throws: DeviceLifecycleError.state(.active)) {
                try await lifecycle.apply(.unblock, to: device, actor: "operator:test", source: nil)
            }
            #expect(try await lifecycle.apply(.block, to: device, reason: "LOST", actor: "user:x", source: "192.0.2.1") == .blocked)
            device = try #require(try await store.device(id: device.id))
            #expect(device.status == .blocked && device.blockedReason == "LOST")
            // A stale read (the device as it was) is refused by the conditional update, with the status now.
            await #expect(throws: DeviceLifecycleError.state(.blocked)) {
                var stale = device
                stale.status = .active
                try await lifecycle.apply(.block, to: stale, reason: "AGAIN", actor: "user:x", source: nil)
            }
            await #expect(throws: DeviceLifecycleError.state(.blocked)) {
                try await lifecycle.apply(.commit, to: device, actor: "user:x", source: nil)
            }
            #expect(try await lifecycle.apply(.unblock, to: device, actor: "operator:test", source: nil) == .active)
            device = try #require(try await store.device(id: device.id))
            #expect(device.status == .active && device.blockedReason == nil)
            #expect(try await lifecycle.apply(.remove, to: device, actor: "user:x", source: nil) == .removed)
            device = try #require(try await store.device(id: device.id))
            for action in DeviceAction.allCases {
                await #expect(throws: DeviceLifecycleError.state(.removed)) {
                    try await lifecycle.apply(action, to: device, actor: "user:x", source: nil)
                }
            }
            // One record per change (journaled at the same instant here, so compared as a set).
            let records = try await Self.actions(store, subject: "device:\(device.id)")
            let seen = records.map { "\($0.action.rawValue) \($0.actor) \($0.details.sorted { $0.key < $1.key }) \($0.sourceAddress ?? "-")" }
                .sorted()
            let expected = [
                "device.blocked user:x [(key: \"reason\", value: \"LOST\")] 192.0.2.1",
                "device.removed user:x [] -",
                "device.unblocked operator:test [] -",
            ]
            #expect(seen == expected)
            #expect(records.allSatisfy { $0.outcome == .success })
        }
    }

    @Test("a Kontist key in PENDING_COMMIT is committed only by a bound device's approval", arguments: TestDatabases.engines)
    func kontistCommitNeedsApproval(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let alice = Fixtures.user()
            try await store.insertUser(alice)
            let (_, pending, _) = try await PendingDeviceApprovalStoreTests.pendingBehindPowerAuth(store, user: alice)
            let device = try #require(try await store.device(id: pending))
            let lifecycle = DeviceLifecycle(store: store, time: ManualTimeSource(Fixtures.epoch))
            await #expect(throws: DeviceLifecycleError.approvalRequired) {
                try await lifecycle.apply(.commit, to: device, actor: "user:x", source: nil)
            }
            #expect(try await store.device(id: pending)?.status == .pendingCommit)
        }
    }

    @Test("20 concurrent removes and blocks of one device: exactly one remove wins, every other is refused", arguments: TestDatabases.engines)
    func concurrentActions(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let lifecycle = DeviceLifecycle(store: store, time: ManualTimeSource(Fixtures.epoch))
            let device = try await Self.activeDevice(store)
            let outcomes = try await withThrowingTaskGroup(of: (DeviceAction, Bool).self) { group in
                for index in 0..<20 {
                    let action: DeviceAction = index.isMultiple(of: 2) ? .remove : .block
                    group.addTask {
                        do {
                            try await lifecycle.apply(action, to: device, reason: action == .block ? "RACE" : nil, actor: "user:x", source: nil)
                            return (action, true)
                        } catch is DeviceLifecycleError {
                            return (action, false)
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let won = outcomes.filter(\.1).map(\.0)
            // From ACTIVE: at most one block wins, and then at most one remove (from BLOCKED);
            // without a block first, exactly one remove. Either way the device ends REMOVED.
            #expect(won.filter { $0 == .remove }.count == 1)
            #expect(won.filter { $0 == .block }.count <= 1)
            #expect(try await store.device(id: device.id)?.status == .removed)
            let audited = try await Self.actions(store, subject: "device:\(device.id)").map(\.action.rawValue)
            #expect(audited.sorted() == won.map { "device.\($0.pastTense)" }.sorted())
        }
    }
}
