import Foundation
import StrongAuthCore
import StrongAuthStore
import Testing

/// The approval engine's store on every database: exactly one decision per approval under
/// concurrency, never after expiry, and failures counted exactly.
@Suite("Store conformance: approvals")
struct ApprovalStoreTests {
    static func pending(_ store: SQLStore, maxFailures: Int = 5, expiresIn: TimeInterval = 300) async throws -> Approval {
        let userID = try await store.ensureUser(realm: "default", externalUserID: "end-user-1234", at: Fixtures.epoch)
        let approval = Approval(
            id: UUID().uuidString.lowercased(), kind: .operation, userID: userID, externalUserID: "end-user-1234",
            applicationID: "my-application", template: "default.payment", operationType: "payment",
            parameters: ["amount": "63.99", "currency": "EUR"], data: "A1*A63.99EUR*ICZ32", maxFailureCount: maxFailures,
            signatureTypes: ["possession_knowledge"], createdAt: Fixtures.epoch, expiresAt: Fixtures.epoch.addingTimeInterval(expiresIn),
            updatedAt: Fixtures.epoch)
        try await store.insertApproval(approval, webhooks: [])
        return approval
    }

    @Test("templates: upsert and read back; approvals read back with their parameters", arguments: TestDatabases.engines)
    func templatesAndApprovals(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            var template = OperationTemplate.defaults(applicationID: "my-application")[0]
            try await store.upsertTemplate(template)
            template.expiration = 60
            try await store.upsertTemplate(template)
            #expect(try await store.template(applicationID: "my-application", name: "default.payment") == template)
            let approval = try await Self.pending(store)
            #expect(try await store.approval(id: approval.id) == approval)
            #expect(try await store.approvals(userID: approval.userID, pendingOnly: true, at: Fixtures.epoch, limit: 10) == [approval])
            #expect(
                try await store.approvals(userID: approval.userID, pendingOnly: true, at: Fixtures.epoch.addingTimeInterval(301), limit: 10).isEmpty)
        }
    }

    @Test(
        "creating an operation reads the first application's template with its application, and the user with their devices",
        arguments: TestDatabases.engines)
    func operationCreationReads(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            try await store.insertApplication(PowerAuthStoreTests.application("first"))
            try await store.insertApplication(PowerAuthStoreTests.application("second", callback: nil))
            let payment = OperationTemplate.defaults(applicationID: "second")[0]
            try await store.upsertTemplate(payment)
            var firstsPayment = OperationTemplate.defaults(applicationID: "first")[0]
            firstsPayment.expiration = 60
            try await store.upsertTemplate(firstsPayment)
            // Integration users whose applications are listed in different orders, one in another realm.
            func caller(_ name: String, applications: [String], realm: String = "default") async throws {
                try await store.insertIntegrationUser(
                    IntegrationUser(name: name, passwordHash: "hash", applicationIDs: applications, createdAt: Fixtures.epoch, realmID: realm))
            }
            try await store.insertRealm(id: "another", at: Fixtures.epoch)
            try await caller("second-first", applications: ["nobody", "second", "first"])
            try await caller("first-second", applications: ["first", "second"])
            try await caller("nobody", applications: ["nobody"])
            try await caller("another", applications: ["second"], realm: "another")
            func template(name: String, caller: String) async throws -> (template: OperationTemplate, application: PowerAuthApplication?)? {
                try await store.operationTargets(template: name, username: "nobody", integrationUserName: caller).targets.template
            }
            func userWithDevices(caller: String, username: String) async throws -> (userID: String, devices: [Device])? {
                try await store.operationTargets(template: "no.such.template", username: username, integrationUserName: caller).targets.recipient
            }

            // The caller as stored; no such caller: nothing else is read.
            let read = try await store.operationTargets(template: payment.name, username: "nobody", integrationUserName: "first-second")
            #expect(read.integrationUser == (try await store.integrationUser(name: "first-second")))
            let unknown = try await store.operationTargets(template: payment.name, username: "nobody", integrationUserName: "unknown")
            #expect(unknown.integrationUser == nil && unknown.targets.template == nil && unknown.targets.recipient == nil)

            // The first of the caller's applications that has the template, in its order.
            let fromSecond = try #require(try await template(name: payment.name, caller: "second-first"))
            #expect(fromSecond.template == payment)
            #expect(fromSecond.application == PowerAuthStoreTests.application("second", callback: nil))
            let fromFirst = try #require(try await template(name: payment.name, caller: "first-second"))
            #expect(fromFirst.template == firstsPayment)
            #expect(fromFirst.application?.callbackURL == "http://127.0.0.1:9/hook")
            #expect(try await template(name: "no.such.template", caller: "first-second") == nil)
            #expect(try await template(name: payment.name, caller: "nobody") == nil)
            // Membership is exact (no prefix or substring of an application matches), and a caller
            // of no application reads no template.
            try await caller("prefix", applications: ["secon", "irst"])
            #expect(try await template(name: payment.name, caller: "prefix") == nil)
            try await caller("none", applications: [])
            #expect(try await template(name: payment.name, caller: "none") == nil)

            // The user of the caller's realm with the devices that are not REMOVED (none: still found); no user: nil.
            #expect(try await userWithDevices(caller: "first-second", username: "nobody") == nil)
            let (user, device, _) = try await UnitOfWorkStoreTests.activeDevice(store)
            let found = try #require(try await userWithDevices(caller: "first-second", username: user.username))
            #expect(found.userID == user.id)
            #expect(found.devices == [device])
            // All in one read: the same answers.
            let targets = try await store.operationTargets(template: payment.name, username: user.username, integrationUserName: "second-first")
            #expect(targets.integrationUser?.name == "second-first")
            #expect(targets.targets.template?.template == payment && targets.targets.template?.application == fromSecond.application)
            #expect(targets.targets.recipient?.userID == user.id && targets.targets.recipient?.devices == [device])
            #expect(try await userWithDevices(caller: "another", username: user.username) == nil)
            #expect(try await userWithDevices(caller: "none", username: user.username)?.devices == [device])
            // Two templates and two devices: each device once, in order, and still the first application's template.
            let (second, binding, notification) = DeviceStoreConformanceTests.binding(user: user.id)
            try await store.insertDeviceBinding(device: second, challenge: binding, notification: notification)
            let both = try await store.operationTargets(template: payment.name, username: user.username, integrationUserName: "second-first")
            let expectedDevices = [device, try #require(try await store.device(id: second.id))].sorted {
                ($0.createdAt, $0.id) < ($1.createdAt, $1.id)
            }
            #expect(both.targets.recipient?.devices == expectedDevices)
            #expect(both.targets.template?.template == payment)
            #expect(try await store.transitionDevice(id: second.id, from: [.created], to: .removed, reason: nil, at: Fixtures.epoch))
            #expect(try await store.transitionDevice(id: device.id, from: [.active], to: .removed, reason: nil, at: Fixtures.epoch))
            let withoutDevices = try #require(try await userWithDevices(caller: "first-second", username: user.username))
            #expect(withoutDevices.userID == user.id && withoutDevices.devices.isEmpty)
        }
    }

    @Test("an operation and its caller are read together; each is there or not on its own", arguments: TestDatabases.engines)
    func operationWithCaller(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let approval = try await Self.pending(store)
            let caller = IntegrationUser(name: "caller", passwordHash: "hash", applicationIDs: ["a"], createdAt: Fixtures.epoch)
            try await store.insertIntegrationUser(caller)
            let both = try await store.approval(id: approval.id, integrationUserName: "caller")
            #expect(both.approval == approval && both.integrationUser == caller)
            let noCaller = try await store.approval(id: approval.id, integrationUserName: "nobody")
            #expect(noCaller.approval == approval && noCaller.integrationUser == nil)
            let noApproval = try await store.approval(id: "no-such-approval", integrationUserName: "caller")
            #expect(noApproval.approval == nil && noApproval.integrationUser == caller)
        }
    }

    @Test(
        "an approval, the device answering it and the approval's application are read together; each is there or not on its own",
        arguments: TestDatabases.engines)
    func approvalWithDevice(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let approval = try await Self.pending(store)
            let (_, device, _) = try await UnitOfWorkStoreTests.activeDevice(store)
            // Its application does not exist yet: the approval and the device are read without it.
            let both = try await store.approval(id: approval.id, answeredBy: device.id, token: UnitOfWorkStoreTests.anyToken)
            #expect(both.approval == approval)
            #expect(both.device == device)
            #expect(both.application == nil)
            let application = PowerAuthStoreTests.application()
            try await store.insertApplication(application)
            let all = try await store.approval(id: approval.id, answeredBy: device.id, token: UnitOfWorkStoreTests.anyToken)
            #expect(all.approval == approval && all.device == device && all.application == application)
            let noDevice = try await store.approval(id: approval.id, answeredBy: "nothing", token: UnitOfWorkStoreTests.anyToken)
            #expect(noDevice.approval == approval && noDevice.device == nil && noDevice.application == application)
            let noApproval = try await store.approval(id: "nothing", answeredBy: device.id, token: UnitOfWorkStoreTests.anyToken)
            #expect(noApproval.approval == nil && noApproval.device == device && noApproval.application == nil)
        }
    }

    @Test(
        "the pending list is read with the presented token's liveness: newest first, limited, and the liveness even when the list is empty",
        arguments: TestDatabases.engines)
    func pendingWithLiveness(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let client = Fixtures.client("shop")
            try await store.insertClient(client)
            let first = try await Self.pending(store)
            var second = first
            second.id = UUID().uuidString.lowercased()
            second.createdAt = Fixtures.epoch.addingTimeInterval(1)
            try await store.insertApproval(second, webhooks: [])
            let token = AccessTokenLivenessQuery(jti: "j", familyID: nil, userID: first.userID, clientID: client.id, deviceID: nil)
            let read = try await store.pendingApprovals(userID: first.userID, at: Fixtures.epoch, limit: 10, token: token)
            #expect(read.approvals.map(\.id) == [second.id, first.id])
            #expect(read.approvals.first == ApprovalSummary(second))
            let liveness = try await store.accessTokenLiveness(token)
            #expect(read.liveness.isLive && read.liveness == liveness)
            #expect(
                try await store.pendingApprovals(userID: first.userID, at: Fixtures.epoch, limit: 1, token: token).approvals.map(\.id) == [second.id])
            // Nothing pending (expired): still the liveness.
            let none = try await store.pendingApprovals(userID: first.userID, at: Fixtures.epoch.addingTimeInterval(301), limit: 10, token: token)
            #expect(none.approvals.isEmpty && none.liveness.isLive)
            // A dead token reads as dead, with or without approvals.
            var dead = token
            dead.clientID = "no-such-client"
            #expect(try await !store.pendingApprovals(userID: first.userID, at: Fixtures.epoch, limit: 10, token: dead).liveness.isLive)
            #expect(
                try await !store.pendingApprovals(userID: first.userID, at: Fixtures.epoch.addingTimeInterval(301), limit: 10, token: dead)
                    .liveness.isLive)
            let answered = try await store.approval(id: first.id, answeredBy: "nothing", token: dead)
            #expect(answered.approval == first && !answered.liveness.isLive)
        }
    }

    @Test("50 concurrent approvals of one operation: exactly one APPROVED", arguments: TestDatabases.engines)
    func oneDecision(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let approval = try await Self.pending(store)
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<50 {
                    group.addTask {
                        try await store.decideApproval(
                            id: approval.id, to: index % 2 == 0 ? .approved : .rejected, reason: nil, webhooks: [], actionToken: nil,
                            at: Fixtures.epoch)
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1)
            #expect(try await store.approval(id: approval.id)?.status != .pending)
        }
    }

    @Test("an expired approval can no longer be decided; failures count exactly and FAIL it at the maximum", arguments: TestDatabases.engines)
    func expiryAndFailures(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let expiring = try await Self.pending(store, expiresIn: 10)
            #expect(
                try await !store.decideApproval(
                    id: expiring.id, to: .approved, reason: nil, webhooks: [], actionToken: nil, at: Fixtures.epoch.addingTimeInterval(10)))
            #expect(try await store.approval(id: expiring.id)?.status(at: Fixtures.epoch.addingTimeInterval(10)) == .expired)

            let approval = try await Self.pending(store, maxFailures: 5)
            let counts = try await withThrowingTaskGroup(of: Int?.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        try await store.reserveAttempt(.approvalAnswer, subject: .approval(id: approval.id, webhooksAtLimit: []), at: Fixtures.epoch)?
                            .attempts
                    }
                }
                return try await group.reduce(into: [Int]()) { if let count = $1 { $0.append(count) } }
            }
            #expect(counts.sorted() == [1, 2, 3, 4, 5])
            #expect(try await store.approval(id: approval.id)?.status == .failed)
            #expect(try await !store.decideApproval(id: approval.id, to: .approved, reason: nil, webhooks: [], actionToken: nil, at: Fixtures.epoch))
        }
    }

    @Test(
        "the sweeper's expiry: only once, only after expiresAt, never for a decided approval; tokens are used once", arguments: TestDatabases.engines)
    func expiryAndTokens(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let approval = try await Self.pending(store, expiresIn: 10)
            #expect(try await store.expiredPendingApprovals(at: Fixtures.epoch, limit: 10).isEmpty)
            #expect(try await !store.expireApproval(id: approval.id, webhooks: [], at: Fixtures.epoch))
            let later = Fixtures.epoch.addingTimeInterval(10)
            #expect(try await store.expiredPendingApprovals(at: later, limit: 10).map(\.id) == [approval.id])
            let expirations = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<10 { group.addTask { try await store.expireApproval(id: approval.id, webhooks: [], at: later) } }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(expirations == 1)
            #expect(try await store.approval(id: approval.id)?.status == .expired)

            let confirmed = try await Self.pending(store)
            let token = ActionToken(
                tokenHash: "h1", approvalID: confirmed.id, clientID: "shop", action: "bank:transfers:create", payloadHash: "p1",
                expiresAt: Fixtures.epoch.addingTimeInterval(60))
            #expect(
                try await store.decideApproval(id: confirmed.id, to: .approved, reason: nil, webhooks: [], actionToken: token, at: Fixtures.epoch))
            /// One use of the token; the audit record names no subject: the store names the request used.
            func use(action: String = "bank:transfers:create", payloadHash: String = "p1", clientID: String = "shop") async throws -> Approval? {
                try await store.useActionToken(
                    tokenHash: "h1", action: action, payloadHash: payloadHash, clientID: clientID,
                    audit: AuditRecord(actor: "client:\(clientID)", action: .actionTokenUsed, outcome: .success, details: ["template": action]),
                    at: Fixtures.epoch)
            }
            func usesJournaled() async throws -> [AuditEvent] {
                try await store.auditEvents(after: 0, limit: 1000).filter { $0.record.action == .actionTokenUsed }
            }
            #expect(try await use(payloadHash: "other") == nil)
            #expect(try await use(action: "bank:transfers:delete") == nil)
            // Another client cannot use (nor spend) the token of this client's action request.
            #expect(try await use(clientID: "other") == nil)
            #expect(try await usesJournaled().isEmpty)
            let uses = try await withThrowingTaskGroup(of: String?.self) { group in
                for _ in 0..<50 { group.addTask { try await use()?.id } }
                return try await group.reduce(into: [String]()) { if let id = $1 { $0.append(id) } }
            }
            #expect(uses == [confirmed.id])
            // Exactly one use journaled, about the request the token confirmed (and in its realm).
            let journaled = try await usesJournaled()
            #expect(journaled.map(\.record.subject) == ["approval:\(confirmed.id)"])
            #expect(journaled.map(\.record.realm) == [try await store.user(id: confirmed.userID)?.realmID])
        }
    }
}
