import Foundation
import StrongAuthCore
import StrongAuthStore
import Testing

/// A new device waits for any bound device (either kind), and the engine's approval
/// of it and its activation move in one transaction — on SQLite and PostgreSQL.
@Suite("Store: a new device's approval by a bound device of either kind")
struct PendingDeviceApprovalStoreTests {
    /// A user with an ACTIVE PowerAuth device and a Kontist device bound after it (PENDING_COMMIT,
    /// with its approval stored in the same step). Returns (powerAuthID, newDeviceID, approvalID).
    static func pendingBehindPowerAuth(_ store: SQLStore, user: User) async throws -> (String, String, String) {
        let (bound, boundChallenge, boundNotification) = DeviceStoreConformanceTests.binding(user: user.id)
        var powerAuth = bound
        powerAuth.kind = .powerauth
        try await store.insertDeviceBinding(device: powerAuth, challenge: boundChallenge, notification: boundNotification)
        #expect(try await store.transitionDevice(id: powerAuth.id, from: [.created], to: .active, reason: nil, at: Fixtures.epoch))

        let (device, challenge, notification) = DeviceStoreConformanceTests.binding(user: user.id)
        try await store.insertDeviceBinding(device: device, challenge: challenge, notification: notification)
        let approval = ApprovalService.newDeviceApproval(for: device, username: user.username, lifetime: 300, at: Fixtures.epoch)
        let status = try await store.completeBindingChallenge(
            id: challenge.id, deviceID: device.id, userID: user.id, approvalRequired: true, approval: approval, at: Fixtures.epoch)
        #expect(status == .pendingCommit, "an ACTIVE PowerAuth device is a bound device")
        #expect(try await store.approval(id: approval.id)?.externalID == device.id)
        return (powerAuth.id, device.id, approval.id)
    }

    @Test(
        "an ACTIVE PowerAuth device makes the next binding PENDING_COMMIT; a first binding stores no approval",
        arguments: TestDatabases.engines)
    func powerAuthCounts(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let alice = Fixtures.user()
            try await store.insertUser(alice)
            let (first, firstChallenge, firstNotification) = DeviceStoreConformanceTests.binding(user: alice.id)
            try await store.insertDeviceBinding(device: first, challenge: firstChallenge, notification: firstNotification)
            let unused = ApprovalService.newDeviceApproval(for: first, username: alice.username, lifetime: 300, at: Fixtures.epoch)
            #expect(
                try await store.completeBindingChallenge(
                    id: firstChallenge.id, deviceID: first.id, userID: alice.id, approvalRequired: true, approval: unused, at: Fixtures.epoch)
                    == .active)
            #expect(try await store.approval(id: unused.id) == nil, "an ACTIVE first device needs no approval")

            let bob = Fixtures.user("bob")
            try await store.insertUser(bob)
            _ = try await Self.pendingBehindPowerAuth(store, user: bob)
        }
    }

    @Test(
        "decision: only an ACTIVE approver of the user; approve → ACTIVE with APPROVED, once; reject → REMOVED",
        arguments: TestDatabases.engines)
    func decision(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let alice = Fixtures.user()
            try await store.insertUser(alice)
            let (approver, device, approval) = try await Self.pendingBehindPowerAuth(store, user: alice)
            func decide(_ approve: Bool = true, by approverID: String = approver, user: String = alice.id, at now: Date = Fixtures.epoch)
                async throws -> PendingDeviceDecision
            {
                try await store.decidePendingDeviceApproval(
                    approvalID: approval, deviceID: device, approverID: approverID, userID: user, approve: approve, reason: nil, at: now)
            }
            // A blocked approver, another user's, the new device itself: nothing moves.
            #expect(try await store.transitionDevice(id: approver, from: [.active], to: .blocked, reason: "LOST", at: Fixtures.epoch))
            #expect(try await decide() == .approverNotActive)
            #expect(try await store.transitionDevice(id: approver, from: [.blocked], to: .active, reason: nil, at: Fixtures.epoch))
            #expect(try await decide(user: "bob") == .approverNotActive)
            #expect(try await decide(by: device) == .approverNotActive)
            #expect(try await decide(at: Fixtures.epoch.addingTimeInterval(300)) == .approvalClosed, "expired")
            #expect(try await store.device(id: device)?.status == .pendingCommit)
            #expect(try await store.approval(id: approval)?.status == .pending)

            // 10 concurrent approvals: one decides, the device is ACTIVE once.
            let outcomes = try await withThrowingTaskGroup(of: PendingDeviceDecision.self) { group in
                for _ in 0..<10 {
                    group.addTask {
                        try await store.decidePendingDeviceApproval(
                            approvalID: approval, deviceID: device, approverID: approver, userID: alice.id, approve: true, reason: nil,
                            at: Fixtures.epoch)
                    }
                }
                return try await group.reduce(into: [PendingDeviceDecision]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == .decided }.count == 1)
            #expect(outcomes.filter { $0 == .approvalClosed }.count == 9)
            #expect(try await store.device(id: device)?.status == .active)
            #expect(try await store.device(id: device)?.activatedAt == Fixtures.epoch)
            #expect(try await store.approval(id: approval)?.status == .approved)
            #expect(try await decide(false) == .approvalClosed, "a decided approval is not rejected after")
            #expect(try await store.device(id: device)?.status == .active)

            // Rejection removes the pending device.
            let bob = Fixtures.user("bob")
            try await store.insertUser(bob)
            let (bobApprover, bobDevice, bobApproval) = try await Self.pendingBehindPowerAuth(store, user: bob)
            #expect(
                try await store.decidePendingDeviceApproval(
                    approvalID: bobApproval, deviceID: bobDevice, approverID: bobApprover, userID: bob.id, approve: false, reason: "NO",
                    at: Fixtures.epoch) == .decided)
            #expect(try await store.device(id: bobDevice)?.status == .removed)
            #expect(try await store.approval(id: bobApproval)?.status == .rejected)
        }
    }

    @Test("a device removed meanwhile: its approval is CANCELED, nothing activates", arguments: TestDatabases.engines)
    func removedMeanwhile(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let alice = Fixtures.user()
            try await store.insertUser(alice)
            let (approver, device, approval) = try await Self.pendingBehindPowerAuth(store, user: alice)
            #expect(try await store.transitionDevice(id: device, from: [.pendingCommit], to: .removed, reason: nil, at: Fixtures.epoch))
            #expect(
                try await store.decidePendingDeviceApproval(
                    approvalID: approval, deviceID: device, approverID: approver, userID: alice.id, approve: true, reason: nil,
                    at: Fixtures.epoch) == .deviceNotPending)
            #expect(try await store.device(id: device)?.status == .removed)
            #expect(try await store.approval(id: approval)?.status == .canceled)
        }
    }

    @Test(
        "approve racing a block of the approver: the device is ACTIVE only with the approval APPROVED and the approval won first",
        arguments: TestDatabases.engines)
    func approveRacesBlock(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            for round in 0..<8 {
                let user = Fixtures.user("user\(round)")
                try await store.insertUser(user)
                let (approver, device, approval) = try await Self.pendingBehindPowerAuth(store, user: user)
                async let blocked = store.transitionDevice(id: approver, from: [.active], to: .blocked, reason: "LOST", at: Fixtures.epoch)
                async let decided = store.decidePendingDeviceApproval(
                    approvalID: approval, deviceID: device, approverID: approver, userID: user.id, approve: true, reason: nil,
                    at: Fixtures.epoch)
                let (wasBlocked, outcome) = try await (blocked, decided)
                #expect(wasBlocked)
                let status = try await store.device(id: device)?.status
                let approvalStatus = try await store.approval(id: approval)?.status
                if outcome == .decided {
                    #expect(status == .active && approvalStatus == .approved)
                } else {
                    #expect(outcome == .approverNotActive)
                    #expect(status == .pendingCommit && approvalStatus == .pending, "a blocked approver lets nothing in")
                }
            }
        }
    }

    @Test("the ECDSA path of before (approve-device) APPROVES the device's approval in the same step", arguments: TestDatabases.engines)
    func legacyPathClosesApproval(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let alice = Fixtures.user()
            try await store.insertUser(alice)
            let (first, firstChallenge, firstNotification) = DeviceStoreConformanceTests.binding(user: alice.id)
            try await store.insertDeviceBinding(device: first, challenge: firstChallenge, notification: firstNotification)
            #expect(
                try await store.completeBindingChallenge(
                    id: firstChallenge.id, deviceID: first.id, userID: alice.id, approvalRequired: true, at: Fixtures.epoch) == .active)
            let (device, challenge, notification) = DeviceStoreConformanceTests.binding(user: alice.id)
            try await store.insertDeviceBinding(device: device, challenge: challenge, notification: notification)
            let approval = ApprovalService.newDeviceApproval(for: device, username: alice.username, lifetime: 300, at: Fixtures.epoch)
            #expect(
                try await store.completeBindingChallenge(
                    id: challenge.id, deviceID: device.id, userID: alice.id, approvalRequired: true, approval: approval, at: Fixtures.epoch)
                    == .pendingCommit)
            #expect(try await store.approvePendingDevice(id: device.id, approverID: first.id, userID: alice.id, at: Fixtures.epoch))
            #expect(try await store.device(id: device.id)?.status == .active)
            #expect(try await store.approval(id: approval.id)?.status == .approved)
        }
    }
}
