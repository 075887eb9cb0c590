import Foundation
import SQLKit
import StrongAuthCore
import StrongAuthStore
import Testing

/// The PowerAuth part of the store, on every database: registrations as devices, the
/// conditional updates that decide signatures and blocks under concurrency, tokens, temporary
/// keys and the webhook outbox.
@Suite("Store conformance: PowerAuth")
struct PowerAuthStoreTests {
    static func application(_ id: String = "my-application", callback: String? = "http://127.0.0.1:9/hook") -> PowerAuthApplication {
        PowerAuthApplication(
            id: id, name: id, applicationKey: "key-\(id)", sealedApplicationSecret: "sealed-secret", sealedMasterPrivateKey: "sealed-master",
            masterPublicKey: "BPUB", callbackURL: callback, sealedCallbackSecret: callback == nil ? nil : "sealed-callback",
            createdAt: Fixtures.epoch)
    }

    static func webhook(_ applicationID: String = "my-application", at date: Date = Fixtures.epoch) -> WebhookDelivery {
        WebhookDelivery(
            id: UUID().uuidString, subscriber: .application(applicationID), url: "http://127.0.0.1:9/hook", eventType: "REGISTRATION_STATUS_CHANGED",
            body: #"{"registrationStatus":"ACTIVE"}"#, nextAttemptAt: date, createdAt: date)
    }

    /// A CREATED registration of `userID` with `code`, inserted; returns its id.
    @discardableResult
    static func insertRegistration(
        _ store: SQLStore, userID: String, code: String? = nil, expiresIn: TimeInterval = 300, maxFailures: Int = 5,
        webhooks: [WebhookDelivery] = []
    ) async throws -> String {
        let id = UUID().uuidString.lowercased()
        let device = Device(
            id: id, userID: userID, kind: .powerauth, name: "", publicKeyHex: "", status: .created, createdAt: Fixtures.epoch)
        let activation = PowerAuthActivation(
            deviceID: id, applicationID: "my-application", activationCode: code ?? "CODE-\(id.prefix(8))",
            activationCodeSignature: "sig", expiresAt: Fixtures.epoch.addingTimeInterval(expiresIn), flags: ["a", "b"])
        try await store.insertRegistration(
            device: device, activation: activation,
            counter: PowerAuthCounter(counterData: [], counter: 0, failedAttempts: 0, maxFailedAttempts: maxFailures), webhooks: webhooks)
        return id
    }

    /// Moves a registration through the key exchange to ACTIVE with counter data `ctr`.
    static func activate(_ store: SQLStore, id: String, ctr: [UInt8] = Array(repeating: 7, count: 16)) async throws {
        let registration = try #require(try await store.registration(id: id))
        var activation = registration.activation
        activation.serverPublicKey = "BSERVER"
        activation.sealedDerivedKeys = "sealed-keys"
        activation.protocolVersion = "3.1"
        let done = try await store.completeKeyExchange(
            id: id, to: .active, devicePublicKeyHex: "04ab", name: "phone", activation: activation, counterData: ctr, webhooks: [],
            at: Fixtures.epoch.addingTimeInterval(1))
        #expect(done)
    }

    static func webhookCount(_ store: SQLStore) async throws -> Int {
        try await store.webhookDeliveries(subscriber: nil, limit: 1000).count
    }

    @Test("applications and integration users: insert, read by id and key, refuse duplicates", arguments: TestDatabases.engines)
    func applications(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            try await store.insertApplication(Self.application())
            #expect(try await store.application(id: "my-application") == Self.application())
            #expect(try await store.application(key: "key-my-application") == Self.application())
            #expect(try await store.application(key: "nope") == nil)
            await #expect(throws: StoreError.self) { try await store.insertApplication(Self.application()) }

            let user = IntegrationUser(
                name: "integration-user", passwordHash: "hash", applicationIDs: ["a", "my-application"], createdAt: Fixtures.epoch)
            try await store.insertIntegrationUser(user)
            #expect(try await store.integrationUser(name: "integration-user") == user)
            await #expect(throws: StoreError.self) { try await store.insertIntegrationUser(user) }
        }
    }

    @Test("ensureUser: one user per external id, even when 10 registrations race to create it", arguments: TestDatabases.engines)
    func ensureUser(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let ids = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<10 {
                    group.addTask { try await store.ensureUser(realm: "default", externalUserID: "end-user-1234", at: Fixtures.epoch) }
                }
                return try await group.reduce(into: Set<String>()) { $0.insert($1) }
            }
            #expect(ids.count == 1)
            let user = try #require(try await store.user(realm: "default", username: "end-user-1234"))
            #expect(ids == [user.id])
            #expect(user.passwordHash == "!")  // never a usable password
        }
    }

    @Test("registrations: read back, by live code, by user; a live code cannot be issued twice", arguments: TestDatabases.engines)
    func registrations(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            try await store.insertApplication(Self.application())
            let userID = try await store.ensureUser(realm: "default", externalUserID: "end-user-1234", at: Fixtures.epoch)
            let id = try await Self.insertRegistration(store, userID: userID, code: "AAAAA-BBBBB-CCCCC-DDDDD", webhooks: [Self.webhook()])
            let registration = try #require(try await store.registration(id: id))
            #expect(registration.device.kind == .powerauth && registration.device.status == .created)
            #expect(registration.externalUserID == "end-user-1234")
            #expect(registration.activation.flags == ["a", "b"])
            #expect(registration.counter.maxFailedAttempts == 5)
            #expect(try await store.registration(activationCode: "AAAAA-BBBBB-CCCCC-DDDDD", applicationID: "my-application")?.id == id)
            #expect(try await store.registration(activationCode: "AAAAA-BBBBB-CCCCC-DDDDD", applicationID: "other") == nil)
            #expect(try await Self.webhookCount(store) == 1)

            // The same live code again: refused, and nothing of the second registration remains.
            await #expect(throws: StoreError.conflict("activation code")) {
                try await Self.insertRegistration(store, userID: userID, code: "AAAAA-BBBBB-CCCCC-DDDDD", webhooks: [Self.webhook()])
            }
            #expect(try await store.registrations(realm: "default", externalUserID: "end-user-1234", includeRemoved: true).count == 1)
            #expect(try await Self.webhookCount(store) == 1)

            // Once the code is used it is free again.
            try await Self.activate(store, id: id)
            #expect(try await store.registration(activationCode: "AAAAA-BBBBB-CCCCC-DDDDD", applicationID: "my-application") == nil)
            try await Self.insertRegistration(store, userID: userID, code: "AAAAA-BBBBB-CCCCC-DDDDD")
            #expect(try await store.registrations(realm: "default", externalUserID: "end-user-1234", includeRemoved: false).count == 2)
        }
    }

    @Test("key exchange: once per registration, never after expiry", arguments: TestDatabases.engines)
    func keyExchange(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            try await store.insertApplication(Self.application())
            let userID = try await store.ensureUser(realm: "default", externalUserID: "u", at: Fixtures.epoch)
            let id = try await Self.insertRegistration(store, userID: userID)
            let activation = try #require(try await store.registration(id: id)).activation
            let results = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<10 {
                    group.addTask {
                        try await store.completeKeyExchange(
                            id: id, to: .pendingCommit, devicePublicKeyHex: "04", name: "p", activation: activation,
                            counterData: [1], webhooks: [Self.webhook()], at: Fixtures.epoch)
                    }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(results.filter { $0 }.count == 1)
            #expect(try await Self.webhookCount(store) == 1)
            #expect(try await store.registration(id: id)?.device.status == .pendingCommit)

            let expiring = try await Self.insertRegistration(store, userID: userID, expiresIn: 10)
            let late = try await store.completeKeyExchange(
                id: expiring, to: .pendingCommit, devicePublicKeyHex: "04", name: "p", activation: activation, counterData: [1],
                webhooks: [], at: Fixtures.epoch.addingTimeInterval(11))
            #expect(!late)
        }
    }

    @Test("signatures: 20 concurrent acceptances of one counter value — exactly one wins", arguments: TestDatabases.engines)
    func counterAcceptedOnce(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            try await store.insertApplication(Self.application())
            let userID = try await store.ensureUser(realm: "default", externalUserID: "u", at: Fixtures.epoch)
            let id = try await Self.insertRegistration(store, userID: userID)
            let ctr = Array(repeating: UInt8(7), count: 16)
            try await Self.activate(store, id: id, ctr: ctr)
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<20 {
                    group.addTask {
                        try await store.acceptSignature(
                            id: id, expected: ctr, next: Array(repeating: UInt8(index), count: 16), steps: 1, history: [ctr],
                            resetFailures: true, at: Fixtures.epoch)
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1)
            let after = try #require(try await store.registration(id: id))
            #expect(after.counter.counter == 1 && after.counter.counterData != ctr)
            #expect(after.counter.recentCounterData == [ctr])
            // A stale expected value never moves it.
            #expect(
                try await !store.acceptSignature(id: id, expected: ctr, next: ctr, steps: 1, history: [], resetFailures: true, at: Fixtures.epoch))
        }
    }

    @Test("failures: 40 concurrent failures count exactly 5, block once with MAX_FAILED_ATTEMPTS", arguments: TestDatabases.engines)
    func failuresBlockOnce(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            try await store.insertApplication(Self.application())
            let userID = try await store.ensureUser(realm: "default", externalUserID: "u", at: Fixtures.epoch)
            let id = try await Self.insertRegistration(store, userID: userID)
            try await Self.activate(store, id: id)
            let counts = try await withThrowingTaskGroup(of: AttemptReservation?.self) { group in
                for _ in 0..<40 {
                    group.addTask {
                        try await store.reserveAttempt(
                            .powerAuthSignature, subject: .activation(id: id, webhooksAtLimit: [Self.webhook()]), at: Fixtures.epoch)
                    }
                }
                return try await group.reduce(into: [AttemptReservation]()) { if let count = $1 { $0.append(count) } }
            }
            #expect(counts.count == 5)
            #expect(counts.compactMap(\.attempts).sorted() == [1, 2, 3, 4, 5])
            #expect(counts.filter(\.limitReached).count == 1)
            let blocked = try #require(try await store.registration(id: id))
            #expect(blocked.device.status == .blocked && blocked.device.blockedReason == BlockedReason.maxFailedAttempts)
            #expect(try await Self.webhookCount(store) == 1)
            // A success resets the count only while ACTIVE; unblocking resets it.
            #expect(
                try await store.transitionRegistration(
                    id: id, from: [.blocked], to: .active, reason: nil, resetFailures: true, webhooks: [], at: Fixtures.epoch))
            #expect(try await store.registration(id: id)?.counter.failedAttempts == 0)
        }
    }

    @Test("transitions: only from the allowed statuses; webhooks only when it moved; removal ends tokens", arguments: TestDatabases.engines)
    func transitions(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            try await store.insertApplication(Self.application())
            let userID = try await store.ensureUser(realm: "default", externalUserID: "u", at: Fixtures.epoch)
            let id = try await Self.insertRegistration(store, userID: userID)
            // Not yet PENDING_COMMIT: no commit.
            #expect(
                try await !store.transitionRegistration(
                    id: id, from: [.pendingCommit], to: .active, reason: nil, resetFailures: true, webhooks: [Self.webhook()],
                    at: Fixtures.epoch))
            #expect(try await Self.webhookCount(store) == 0)
            try await Self.activate(store, id: id)
            #expect(
                try await store.transitionRegistration(
                    id: id, from: [.active], to: .blocked, reason: "DEVICE_LOST", resetFailures: false, webhooks: [Self.webhook()],
                    at: Fixtures.epoch))
            #expect(try await store.registration(id: id)?.device.blockedReason == "DEVICE_LOST")
            try await store.insertToken(
                PowerAuthToken(id: "t1", deviceID: id, sealedSecret: "s", signatureType: "possession", createdAt: Fixtures.epoch))
            #expect(try await store.token(id: "t1")?.deviceID == id)
            #expect(
                try await store.transitionRegistration(
                    id: id, from: [.created, .pendingCommit, .active, .blocked], to: .removed, reason: nil, resetFailures: false,
                    webhooks: [Self.webhook()], at: Fixtures.epoch))
            #expect(try await store.token(id: "t1") == nil)
            #expect(try await Self.webhookCount(store) == 2)
            #expect(try await store.registrations(realm: "default", externalUserID: "u", includeRemoved: false).isEmpty)
            #expect(try await store.registrations(realm: "default", externalUserID: "u", includeRemoved: true).map(\.device.status) == [.removed])
        }
    }

    @Test("activation OTP: wrong answers are counted; the last one removes the registration", arguments: TestDatabases.engines)
    func activationOTPFailures(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            try await store.insertApplication(Self.application())
            let userID = try await store.ensureUser(realm: "default", externalUserID: "u", at: Fixtures.epoch)
            let id = try await Self.insertRegistration(store, userID: userID, code: "ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ", maxFailures: 3)
            let subject = AttemptSubject.activation(id: id, webhooksAtLimit: [Self.webhook()])
            for attempt in 1...2 {
                let count = try await store.reserveAttempt(.powerAuthActivationOTP, subject: subject, at: Fixtures.epoch)
                #expect(count == AttemptReservation(attempts: attempt, remaining: 3 - attempt))
                #expect(try await store.registration(id: id)?.device.status == .created)
            }
            let last = try await store.reserveAttempt(.powerAuthActivationOTP, subject: subject, at: Fixtures.epoch)
            #expect(last?.limitReached == true)
            #expect(try await store.registration(id: id)?.device.status == .removed)
            #expect(try await store.registration(activationCode: "ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ", applicationID: "my-application") == nil)
            #expect(
                try await store.reserveAttempt(.powerAuthActivationOTP, subject: .activation(id: id, webhooksAtLimit: []), at: Fixtures.epoch)
                    == nil)
            #expect(try await Self.webhookCount(store) == 1)
        }
    }

    @Test("tokens and temporary keys: insert, read, delete only by the owning device", arguments: TestDatabases.engines)
    func tokensAndTemporaryKeys(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            try await store.insertApplication(Self.application())
            let userID = try await store.ensureUser(realm: "default", externalUserID: "u", at: Fixtures.epoch)
            let id = try await Self.insertRegistration(store, userID: userID)
            let token = PowerAuthToken(id: "t1", deviceID: id, sealedSecret: "s", signatureType: "possession_knowledge", createdAt: Fixtures.epoch)
            try await store.insertToken(token)
            #expect(try await store.token(id: "t1") == token)
            #expect(try await !store.deleteToken(id: "t1", deviceID: "another"))
            #expect(try await store.deleteToken(id: "t1", deviceID: id))
            #expect(try await store.token(id: "t1") == nil)

            let key = PowerAuthTemporaryKeyRecord(
                id: "k1", applicationID: "my-application", activationID: nil, sealedPrivateKey: "sealed", expiresAt: Fixtures.epoch)
            try await store.insertTemporaryKey(key)
            #expect(try await store.temporaryKey(id: "k1") == key)
            #expect(try await store.temporaryKey(id: "k2") == nil)
        }
    }

    @Test("webhook outbox: leased once, retried after a failure, delivered or dead, logged", arguments: TestDatabases.engines)
    func webhookOutbox(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            try await store.insertApplication(Self.application())
            let userID = try await store.ensureUser(realm: "default", externalUserID: "u", at: Fixtures.epoch)
            let first = Self.webhook()
            try await Self.insertRegistration(store, userID: userID, webhooks: [first])
            let claimed = try await store.claimDueWebhooks(at: Fixtures.epoch, limit: 10, lease: 30)
            #expect(claimed.map(\.id) == [first.id] && claimed.first?.attempts == 1)
            #expect(try await store.claimDueWebhooks(at: Fixtures.epoch.addingTimeInterval(1), limit: 10, lease: 30).isEmpty)
            // The lease runs out without an answer (the sender died): it is claimed again.
            #expect(try await store.claimDueWebhooks(at: Fixtures.epoch.addingTimeInterval(31), limit: 10, lease: 30).map(\.id) == [first.id])
            try await store.markWebhookFailed(
                id: first.id, responseStatus: 503, error: "the receiver answered 503", nextAttemptAt: Fixtures.epoch.addingTimeInterval(100),
                dead: false)
            #expect(try await store.claimDueWebhooks(at: Fixtures.epoch.addingTimeInterval(99), limit: 10, lease: 30).isEmpty)
            #expect(try await store.claimDueWebhooks(at: Fixtures.epoch.addingTimeInterval(100), limit: 10, lease: 30).first?.attempts == 3)
            try await store.markWebhookDelivered(id: first.id, responseStatus: 204, at: Fixtures.epoch.addingTimeInterval(101))
            let log = try await store.webhookDeliveries(subscriber: .application("my-application"), limit: 10)
            #expect(log.first?.status == .delivered && log.first?.lastResponseStatus == 204 && log.first?.deliveredAt != nil)
            #expect(try await store.claimDueWebhooks(at: Fixtures.epoch.addingTimeInterval(1000), limit: 10, lease: 30).isEmpty)
        }
    }

    @Test(
        "webhook log and retry: per subscriber; only a dead delivery is retried, only by its own subscriber, once under 10 racers",
        arguments: TestDatabases.engines)
    func webhookRetry(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            try await store.insertApplication(Self.application())
            let userID = try await store.ensureUser(realm: "default", externalUserID: "u", at: Fixtures.epoch)
            let forApplication = Self.webhook()
            var forClient = Self.webhook(at: Fixtures.epoch.addingTimeInterval(1))
            forClient.subscriber = .client("shop")
            try await Self.insertRegistration(store, userID: userID, webhooks: [forApplication, forClient])
            #expect(try await store.webhookDeliveries(subscriber: .application("my-application"), limit: 10).map(\.id) == [forApplication.id])
            #expect(try await store.webhookDeliveries(subscriber: .client("shop"), limit: 10).map(\.id) == [forClient.id])
            #expect(try await store.webhookDeliveries(subscriber: .client("my-application"), limit: 10).isEmpty)
            #expect(try await store.webhookDeliveries(subscriber: nil, limit: 10).map(\.id) == [forClient.id, forApplication.id])
            #expect(try await store.webhookDelivery(id: forClient.id)?.subscriber == .client("shop"))

            // Pending: nothing to retry.
            #expect(try await store.retryWebhook(id: forClient.id, subscriber: .client("shop"), at: Fixtures.epoch) == false)
            #expect(try await store.claimDueWebhooks(at: Fixtures.epoch.addingTimeInterval(2), limit: 10, lease: 30).count == 2)
            try await store.markWebhookDelivered(id: forApplication.id, responseStatus: 200, at: Fixtures.epoch.addingTimeInterval(2))
            try await store.markWebhookFailed(
                id: forClient.id, responseStatus: nil, error: "connection refused", nextAttemptAt: Fixtures.epoch.addingTimeInterval(5),
                dead: true)
            #expect(try await store.webhookDelivery(id: forClient.id)?.status == .dead)
            // Dead: not retried for another subscriber; retried once by its own, however many ask.
            #expect(try await store.retryWebhook(id: forClient.id, subscriber: .application("shop"), at: Fixtures.epoch) == false)
            let later = Fixtures.epoch.addingTimeInterval(600)
            let deadID = forClient.id
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<10 { group.addTask { try await store.retryWebhook(id: deadID, subscriber: .client("shop"), at: later) } }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1)
            let retried = try #require(try await store.webhookDelivery(id: forClient.id))
            #expect(retried.status == .pending && retried.attempts == 0 && retried.nextAttemptAt == later)
            #expect(try await store.claimDueWebhooks(at: later, limit: 10, lease: 30).map(\.id) == [forClient.id])
        }
    }

    @Test("signature context: registration, application and integration user in one read, each nil when absent", arguments: TestDatabases.engines)
    func signatureContext(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            try await store.insertApplication(Self.application())
            let user = IntegrationUser(name: "iu", passwordHash: "hash", applicationIDs: ["my-application"], createdAt: Fixtures.epoch)
            try await store.insertIntegrationUser(user)
            let userID = try await store.ensureUser(realm: "default", externalUserID: "u", at: Fixtures.epoch)
            let id = try await Self.insertRegistration(store, userID: userID)
            try await Self.activate(store, id: id)

            let full = try await store.signatureContext(registrationID: id, integrationUserName: "iu")
            #expect(full.registration == (try await store.registration(id: id)))
            #expect(full.application == Self.application())
            #expect(full.integrationUser == user)

            let noUser = try await store.signatureContext(registrationID: id, integrationUserName: nil)
            #expect(noUser.registration?.id == id && noUser.integrationUser == nil)
            let unknown = try await store.signatureContext(registrationID: "nope", integrationUserName: "iu")
            #expect(unknown.registration == nil && unknown.application == nil && unknown.integrationUser == user)
            let nothing = try await store.signatureContext(registrationID: "nope", integrationUserName: "nobody")
            #expect(nothing.registration == nil && nothing.integrationUser == nil)
        }
    }
}
