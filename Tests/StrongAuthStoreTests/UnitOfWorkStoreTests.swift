import Foundation
import StrongAuthCore
import StrongAuthStore
import Testing

/// The hot paths' units of work (issue 19): each request's writes in one transaction, on every
/// database — and each still decided by one conditional update, exactly once under races.
@Suite("Store conformance: one unit of work per request")
struct UnitOfWorkStoreTests {
    /// An ACTIVE ECDSA device of a new user and an open signature challenge of it.
    static func activeDevice(_ store: SQLStore, maxAttempts: Int = 5) async throws -> (User, Device, Challenge) {
        let user = Fixtures.user("u-\(UUID().uuidString.prefix(8))")
        try await store.insertUser(user)
        let (device, binding, notification) = DeviceStoreConformanceTests.binding(user: user.id)
        try await store.insertDeviceBinding(device: device, challenge: binding, notification: notification)
        #expect(try await store.transitionDevice(id: device.id, from: [.created], to: .active, reason: nil, at: Fixtures.epoch))
        let challenge = Self.signatureChallenge(user: user.id, device: device.id, maxAttempts: maxAttempts)
        #expect(try await store.insertDeviceChallenge(challenge, whileLive: nil))
        return (user, try #require(try await store.device(id: device.id)), challenge)
    }

    /// A token query whose liveness these tests do not look at.
    static let anyToken = AccessTokenLivenessQuery(jti: "j", familyID: nil, userID: nil, clientID: "shop", deviceID: nil)

    static func signatureChallenge(user: String, device: String, maxAttempts: Int = 5) -> Challenge {
        Challenge(
            id: UUID().uuidString, kind: .deviceSignature, userID: user, deviceID: device, payload: UUID().uuidString,
            maxAttempts: maxAttempts, createdAt: Fixtures.epoch, expiresAt: Fixtures.epoch.addingTimeInterval(300))
    }

    static func answerAudit(_ device: Device) -> AuditRecord {
        AuditRecord(actor: "user:\(device.userID)", action: .challengeAnswer(.deviceSignature), subject: "device:\(device.id)", outcome: .success)
    }

    static func confirmedToken(_ device: Device) -> RefreshTokenRecord {
        var token = Fixtures.refreshToken(user: device.userID)
        token.deviceID = device.id
        return token
    }

    @Test(
        "a device challenge is stored only for the user's ACTIVE ECDSA device; read back with its device in one read",
        arguments: TestDatabases.engines)
    func deviceChallenges(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let (user, device, challenge) = try await Self.activeDevice(store)
            #expect(try await store.challenge(id: challenge.id) == challenge)
            let loaded = try #require(try await store.device(id: device.id, challengeID: challenge.id))
            #expect(loaded.0 == device)
            #expect(loaded.1 == challenge)
            #expect(try await store.device(id: device.id, challengeID: "nothing")?.1 == nil)
            #expect(try await store.device(id: "nothing", challengeID: challenge.id) == nil)

            // Answering reads the device, its challenge and the token's client in one read; each
            // is there or not on its own.
            let client = Fixtures.client("shop")
            try await store.insertClient(client)
            let context = try await store.challengeAnswerContext(
                deviceID: device.id, challengeID: challenge.id, clientID: client.id, token: Self.anyToken)
            #expect(context.device == device)
            #expect(context.challenge == challenge)
            #expect(context.client == client)
            let noClient = try await store.challengeAnswerContext(
                deviceID: device.id, challengeID: challenge.id, clientID: "nobody", token: Self.anyToken)
            #expect(noClient.device == device && noClient.challenge == challenge && noClient.client == nil)
            let noDevice = try await store.challengeAnswerContext(
                deviceID: "nothing", challengeID: challenge.id, clientID: client.id, token: Self.anyToken)
            #expect(noDevice.device == nil && noDevice.challenge == nil && noDevice.client == client)
            #expect(
                try await store.challengeAnswerContext(deviceID: device.id, challengeID: "nothing", clientID: client.id, token: Self.anyToken)
                    .challenge == nil)

            // Not this user's device, an unfinished device, a blocked one: nothing stored.
            let other = Fixtures.user("bob")
            try await store.insertUser(other)
            #expect(try await !store.insertDeviceChallenge(Self.signatureChallenge(user: other.id, device: device.id), whileLive: nil))
            let (created, binding, notification) = DeviceStoreConformanceTests.binding(user: user.id)
            try await store.insertDeviceBinding(device: created, challenge: binding, notification: notification)
            #expect(try await !store.insertDeviceChallenge(Self.signatureChallenge(user: user.id, device: created.id), whileLive: nil))
            // Another device's challenge does not read as this device's.
            #expect(try await store.device(id: created.id, challengeID: challenge.id)?.1 == nil)
            #expect(try await store.transitionDevice(id: device.id, from: [.active], to: .blocked, reason: "lost", at: Fixtures.epoch))
            #expect(try await !store.insertDeviceChallenge(Self.signatureChallenge(user: user.id, device: device.id), whileLive: nil))
        }
    }

    @Test(
        "a device challenge is stored only while the presented token is live; the answer context reads the same liveness as accessTokenLiveness",
        arguments: TestDatabases.engines)
    func challengesWhileLive(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let (user, device, _) = try await Self.activeDevice(store)
            let client = Fixtures.client("shop")
            try await store.insertClient(client)
            let family = Fixtures.refreshToken(user: user.id)
            try await store.insertRefreshToken(family)
            let live = AccessTokenLivenessQuery(jti: "jti-live", familyID: family.familyID, userID: user.id, clientID: client.id, deviceID: device.id)
            func expect(_ token: AccessTokenLivenessQuery, live expected: Bool, _ comment: Comment) async throws {
                let challenge = Self.signatureChallenge(user: user.id, device: device.id)
                #expect(try await store.insertDeviceChallenge(challenge, whileLive: token) == expected, comment)
                #expect((try await store.challenge(id: challenge.id) != nil) == expected, comment)
                let context = try await store.challengeAnswerContext(
                    deviceID: device.id, challengeID: challenge.id, clientID: client.id, token: token)
                #expect(context.liveness == (try await store.accessTokenLiveness(token)), comment)
                #expect(context.liveness.isLive == expected, comment)
            }
            try await expect(live, live: true, "a live token")
            var revoked = live
            revoked.jti = "jti-revoked"
            try await store.revokeAccessToken(jti: revoked.jti, expiresAt: Fixtures.epoch.addingTimeInterval(600), at: Fixtures.epoch)
            try await expect(revoked, live: false, "its jti revoked")
            var familyGone = live
            familyGone.familyID = "no-such-family"
            try await expect(familyGone, live: false, "its family gone")
            let (unfinished, binding, notification) = DeviceStoreConformanceTests.binding(user: user.id)
            try await store.insertDeviceBinding(device: unfinished, challenge: binding, notification: notification)
            var confirmedByUnfinished = live
            confirmedByUnfinished.deviceID = unfinished.id
            try await expect(confirmedByUnfinished, live: false, "confirmed by a device that is not ACTIVE")
            try await store.insertClient(Fixtures.client("disabled", status: .disabled))
            var disabledClient = live
            disabledClient.clientID = "disabled"
            try await expect(disabledClient, live: false, "its client disabled")
            #expect(try await store.setStatus(.user, id: user.id, realm: Realm.defaultID, active: false, at: Fixtures.epoch) == .changed)
            try await expect(live, live: false, "its user locked")
        }
    }

    @Test(
        "20 concurrent correct answers to one device challenge: exactly one answers it, with one family and one audit record",
        arguments: TestDatabases.engines)
    func oneAnswer(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let (_, device, challenge) = try await Self.activeDevice(store)
            let journaled = try await TestDatabases.count("audit_journal", in: store)
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        try await store.answerDeviceChallenge(
                            id: challenge.id, deviceID: device.id, refreshToken: Self.confirmedToken(device), audit: Self.answerAudit(device),
                            at: Fixtures.epoch)
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1)
            let answered = try await store.challenge(id: challenge.id)
            #expect(answered?.status == .answered)
            #expect(answered?.attempts == 1)
            #expect(try await TestDatabases.count("token_families", in: store) == 1)
            #expect(try await TestDatabases.count("refresh_tokens", in: store) == 1)
            #expect(try await TestDatabases.count("audit_journal", in: store) == journaled + 1)
            #expect(try await store.device(id: device.id)?.lastUsedAt == Fixtures.epoch)
        }
    }

    @Test(
        "an answer races wrong answers for the last attempts: never more than max_attempts counted, answered only within them",
        arguments: TestDatabases.engines)
    func answerRacesWrongAnswers(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let (_, device, challenge) = try await Self.activeDevice(store, maxAttempts: 3)
            let outcomes = try await withThrowingTaskGroup(of: (answered: Bool, wrong: Int?).self) { group in
                for index in 0..<20 {
                    group.addTask {
                        if index == 10 {
                            let answered = try await store.answerDeviceChallenge(
                                id: challenge.id, deviceID: device.id, refreshToken: nil, audit: Self.answerAudit(device), at: Fixtures.epoch)
                            return (answered, nil)
                        }
                        let wrong = try await store.reserveAttempt(.challenge, subject: .challenge(id: challenge.id), at: Fixtures.epoch)?.attempts
                        return (false, wrong)
                    }
                }
                return try await group.reduce(into: [(answered: Bool, wrong: Int?)]()) { $0.append($1) }
            }
            let answered = outcomes.filter(\.answered).count
            let wrong = outcomes.compactMap(\.wrong)
            #expect(answered + wrong.count <= 3)
            let stored = try await store.challenge(id: challenge.id)
            #expect(stored?.attempts == answered + wrong.count)
            #expect(stored?.status == (answered == 1 ? .answered : .open))
            // Once answered, no further attempt is counted.
            if answered == 1 {
                #expect(try await store.reserveAttempt(.challenge, subject: .challenge(id: challenge.id), at: Fixtures.epoch) == nil)
            }
        }
    }

    @Test("an expired, exhausted or another device's challenge is not answered, and nothing is written", arguments: TestDatabases.engines)
    func refusedAnswers(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let (_, device, challenge) = try await Self.activeDevice(store, maxAttempts: 2)
            let journaled = try await TestDatabases.count("audit_journal", in: store)
            func answer(_ id: String, device deviceID: String, at now: Date = Fixtures.epoch) async throws -> Bool {
                try await store.answerDeviceChallenge(
                    id: id, deviceID: deviceID, refreshToken: Self.confirmedToken(device), audit: Self.answerAudit(device), at: now)
            }
            #expect(try await !answer(challenge.id, device: device.id, at: Fixtures.epoch.addingTimeInterval(300)))
            #expect(try await !answer(challenge.id, device: "another-device"))
            for _ in 0..<2 { _ = try await store.reserveAttempt(.challenge, subject: .challenge(id: challenge.id), at: Fixtures.epoch) }
            #expect(try await !answer(challenge.id, device: device.id))
            #expect(try await TestDatabases.count("token_families", in: store) == 0)
            #expect(try await TestDatabases.count("audit_journal", in: store) == journaled)
            #expect(try await store.device(id: device.id)?.lastUsedAt == nil)
        }
    }

    @Test("a confirmed family answered for a device blocked meanwhile is born revoked", arguments: TestDatabases.engines)
    func blockedDeviceFamily(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let (_, device, challenge) = try await Self.activeDevice(store)
            #expect(try await store.transitionDevice(id: device.id, from: [.active], to: .blocked, reason: "lost", at: Fixtures.epoch))
            let token = Self.confirmedToken(device)
            #expect(
                try await store.answerDeviceChallenge(
                    id: challenge.id, deviceID: device.id, refreshToken: token, audit: Self.answerAudit(device), at: Fixtures.epoch))
            #expect(try await store.refreshToken(hash: token.tokenHash)?.revokedAt != nil)
        }
    }

    @Test(
        "a new approval stores its pushes and audit record with it; 20 concurrent decisions: one wins and journals one record",
        arguments: TestDatabases.engines)
    func approvalUnits(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let userID = try await store.ensureUser(realm: "default", externalUserID: "end-user-1234", at: Fixtures.epoch)
            #expect(try await store.ensureUser(realm: "default", externalUserID: "end-user-1234", at: Fixtures.epoch) == userID)
            let approval = Approval(
                id: UUID().uuidString.lowercased(), kind: .operation, userID: userID, externalUserID: "end-user-1234",
                applicationID: "my-application", template: "default.payment", operationType: "payment", parameters: [:], data: "A1*A1EUR",
                maxFailureCount: 5, signatureTypes: ["possession_knowledge"], createdAt: Fixtures.epoch,
                expiresAt: Fixtures.epoch.addingTimeInterval(300), updatedAt: Fixtures.epoch)
            let push = OutboxNotification(
                id: UUID().uuidString, kind: .push, userID: userID, recipient: "device-1", sealedBody: "sealed", nextAttemptAt: Fixtures.epoch,
                createdAt: Fixtures.epoch)
            let notifications = try await TestDatabases.count("notifications", in: store)
            let journaled = try await TestDatabases.count("audit_journal", in: store)
            func record(_ action: AuditAction) -> AuditRecord {
                AuditRecord(actor: "device:device-1", action: action, subject: "approval:\(approval.id)", outcome: .success)
            }
            let webhooks = try await TestDatabases.count("webhook_deliveries", in: store)
            try await store.insertApproval(
                approval, webhooks: [PowerAuthStoreTests.webhook()], notifications: [push], audit: record(.approvalCreated))
            #expect(try await store.approval(id: approval.id) == approval)
            #expect(try await TestDatabases.count("notifications", in: store) == notifications + 1)
            #expect(try await TestDatabases.count("webhook_deliveries", in: store) == webhooks + 1)
            #expect(try await TestDatabases.count("audit_journal", in: store) == journaled + 1)
            // The record names the approval stored with it (in the same statement on PostgreSQL),
            // and is still attributed to that approval's realm (its user's).
            let realm = try await store.pool.withConnection { db in
                try await db.raw("SELECT realm_id FROM audit_journal WHERE action = 'approval.created'").first()?
                    .decode(column: "realm_id", as: String?.self)
            }
            #expect(realm == Realm.defaultID)

            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        try await store.decideApproval(
                            id: approval.id, to: .approved, reason: nil, webhooks: [], actionToken: nil, audit: record(.approval(.approved)),
                            at: Fixtures.epoch)
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1)
            #expect(try await store.approval(id: approval.id)?.status == .approved)
            #expect(try await TestDatabases.count("audit_journal", in: store) == journaled + 2)
        }
    }

    @Test(
        "30 concurrent audited exchanges of one process token with a maximum of 10: 10 succeed, each with its client and its audit record",
        arguments: TestDatabases.engines)
    func auditedExchanges(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let created = try await ProcessStoreTests.process(store, hash: "h1", maxExchanges: 10)
            let realm = try #require(try await store.user(id: created.userID)?.realmID)
            let before = try await store.auditEvents(after: 0, limit: 1000).last?.sequence ?? 0
            typealias Exchange = (process: IdentityProcess, client: OAuthClient)
            let exchanged = try await withThrowingTaskGroup(of: Exchange?.self) { group in
                for index in 0..<30 {
                    group.addTask {
                        try await store.exchangeProcess(tokenHash: "h1", invalidate: false, source: "10.0.0.\(index)", at: Fixtures.epoch)
                    }
                }
                return try await group.reduce(into: [Exchange]()) { if let exchange = $1 { $0.append(exchange) } }
            }
            #expect(exchanged.map(\.process.exchanges).sorted() == Array(1...10))
            #expect(exchanged.allSatisfy { $0.client.id == "shop" && $0.client == exchanged[0].client })
            #expect(exchanged[0].client == (try await store.client(id: "shop")))
            // Each exchange journaled once, as `exchangeRecord` writes it — on PostgreSQL, from SQL.
            let journaled = try await store.auditEvents(after: before, limit: 1000).map(\.record)
            #expect(journaled.count == 10)
            for record in journaled {
                let exchanges = try #require(record.details["exchanges"].flatMap { Int($0) })
                let process = try #require(exchanged.first { $0.process.exchanges == exchanges }?.process)
                var expected = process.exchangeRecord(invalidating: false, source: record.sourceAddress)
                expected.realm = realm
                #expect(record == expected)
                #expect(record.detailsJSON == expected.detailsJSON)
            }
            // The journal's stored text is the one Swift writes (the audit chain hashes it).
            let stored = try await store.pool.withConnection { db in
                try await db.raw("SELECT details FROM audit_events WHERE action = 'process.exchanged'").all()
                    .map { try $0.decode(column: "details", as: String.self) }
            }
            #expect(Set(stored) == Set(exchanged.map { $0.process.exchangeRecord(invalidating: false, source: nil).detailsJSON }))
            // An exchange that ends its process is journaled as such; a refused one journals nothing.
            let ending = try #require(
                try await store.exchangeProcess(
                    tokenHash: try await ProcessStoreTests.process(store, hash: "h2").tokenHash, invalidate: true, source: nil, at: Fixtures.epoch))
            #expect(try await store.exchangeProcess(tokenHash: "h2", invalidate: false, source: nil, at: Fixtures.epoch) == nil)
            let ended = try await store.auditEvents(after: before, limit: 1000).map(\.record).dropFirst(10)
            var expected = ending.process.exchangeRecord(invalidating: true, source: nil)
            expected.realm = try await store.user(id: ending.process.userID)?.realmID
            #expect(Array(ended) == [expected])
        }
    }
}
