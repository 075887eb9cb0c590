import Foundation
import SQLKit
import StrongAuthCore
import StrongAuthStore
import Testing

/// One conformance suite, every database: the same behaviour on SQLite and PostgreSQL,
/// including the atomic conditional updates that decide security under concurrency.
@Suite("Store conformance")
struct StoreConformanceTests {
    @Test("migrations apply once and are idempotent", arguments: TestDatabases.engines)
    func migrations(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let applied = try await Migrator.migrate(store.pool)
            #expect(applied.isEmpty)
        }
    }

    @Test("clients: insert, read back, refuse a duplicate id", arguments: TestDatabases.engines)
    func clients(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            try await store.insertClient(Fixtures.client())
            #expect(try await store.client(id: "shop") == Fixtures.client())
            #expect(try await store.client(id: "nobody") == nil)
            await #expect(throws: StoreError.conflict("client 'shop'")) { try await store.insertClient(Fixtures.client()) }
        }
    }

    @Test("clients: the login profile (redirect URIs, public, JWK Set, DPoP, PAR, acr) reads back on both reads", arguments: TestDatabases.engines)
    func clientLoginProfile(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            var app = Fixtures.client("app")
            app.secretHash = ""
            app.grants = [.authorizationCode, .refreshToken]
            app.redirectURIs = ["https://app.example/cb", "com.example.app:/cb"]
            app.isPublic = true
            app.jwks = #"{"keys":[{"kty":"EC"}]}"#
            app.requiresDPoP = true
            app.requiresPushedAuthorizationRequests = true
            app.defaultACR = AssuranceLevel.twoFactor.rawValue
            try await store.insertClient(app)
            #expect(try await store.client(id: "app") == app)
            // Introspection reads the introspecting client through its own statement.
            let (read, _) = try await store.introspectionContext(
                introspectingClientID: "app", token: AccessTokenLivenessQuery(jti: "j", familyID: nil, userID: nil, clientID: "app", deviceID: nil))
            #expect(read == app)
        }
    }

    @Test("users: insert, find by id and username, refuse a duplicate username", arguments: TestDatabases.engines)
    func users(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let alice = Fixtures.user()
            try await store.insertUser(alice)
            #expect(try await store.user(id: alice.id) == alice)
            #expect(try await store.user(realm: "default", username: "alice") == alice)
            await #expect(throws: StoreError.self) { try await store.insertUser(Fixtures.user()) }
        }
    }

    @Test("password attempts: the 5th sets the lock, the 6th is refused, expiry restarts the count", arguments: TestDatabases.engines)
    func passwordLockout(engine: DatabaseEngine) async throws {
        let limits = AttemptLimits(password: LockoutPolicy(maxFailures: 5, lockDuration: 60))
        try await TestDatabases.withStore(engine, attemptLimits: limits) { store in
            let alice = Fixtures.user()
            try await store.insertUser(alice)
            let now = Fixtures.epoch
            for attempt in 1...4 {
                let reservation = try await store.reserveAttempt(.password, subject: .user(id: alice.id), at: now)
                #expect(reservation == AttemptReservation(attempts: attempt, remaining: 5 - attempt, lockedUntil: nil))
            }
            let fifth = try #require(try await store.reserveAttempt(.password, subject: .user(id: alice.id), at: now))
            #expect(fifth.attempts == 5 && fifth.limitReached)
            #expect(fifth.lockedUntil == now.addingTimeInterval(60))
            #expect(try await store.reserveAttempt(.password, subject: .user(id: alice.id), at: now.addingTimeInterval(59)) == nil)
            let afterLock = try await store.reserveAttempt(.password, subject: .user(id: alice.id), at: now.addingTimeInterval(61))
            #expect(afterLock?.attempts == 1)
            try await store.resetAttempts(.password, subject: .user(id: alice.id))
            #expect(try await store.user(id: alice.id)?.failedLoginAttempts == 0)
        }
    }

    @Test("password attempts: 40 concurrent guesses get exactly 5 tries", arguments: TestDatabases.engines)
    func concurrentPasswordAttempts(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let alice = Fixtures.user()
            try await store.insertUser(alice)
            let granted = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<40 {
                    group.addTask {
                        try await store.reserveAttempt(.password, subject: .user(id: alice.id), at: Fixtures.epoch) != nil
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(granted == 5)
        }
    }

    @Test("refresh rotation: once; a second use revokes the family", arguments: TestDatabases.engines)
    func refreshRotation(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let alice = Fixtures.user()
            try await store.insertUser(alice)
            let first = Fixtures.refreshToken(user: alice.id, hash: "h1")
            try await store.insertRefreshToken(first)
            let now = Fixtures.epoch.addingTimeInterval(10)
            let outcome = try await store.rotateRefreshToken(
                hash: "h1", clientID: "shop", at: now, successorID: "s1", successorHash: "h2", successorExpiresAt: now.addingTimeInterval(3600))
            guard case .rotated(let successor) = outcome else {
                Issue.record("expected rotation, got \(outcome)")
                return
            }
            #expect(successor.familyID == first.familyID && successor.userID == alice.id && successor.scopes == first.scopes)
            #expect(try await store.refreshToken(hash: "h1")?.usedAt == now)

            let reuse = try await store.rotateRefreshToken(
                hash: "h1", clientID: "shop", at: now, successorID: "s2", successorHash: "h3", successorExpiresAt: now)
            #expect(reuse == .reused(familyID: first.familyID))
            // The successor dies with its family.
            #expect(try await store.refreshToken(hash: "h2")?.revokedAt != nil)
            let afterRevocation = try await store.rotateRefreshToken(
                hash: "h2", clientID: "shop", at: now, successorID: "s3", successorHash: "h4", successorExpiresAt: now)
            #expect(afterRevocation == .inactive)
            #expect(try await store.refreshToken(hash: "h3") == nil)
        }
    }

    @Test("refresh rotation: another client's, unknown and expired tokens do not rotate", arguments: TestDatabases.engines)
    func refreshRotationRefusals(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let alice = Fixtures.user()
            try await store.insertUser(alice)
            try await store.insertRefreshToken(Fixtures.refreshToken(user: alice.id, hash: "h1", expiresIn: 60))
            let now = Fixtures.epoch
            #expect(
                try await store.rotateRefreshToken(
                    hash: "h1", clientID: "other", at: now, successorID: "x", successorHash: "y", successorExpiresAt: now) == .unknown)
            #expect(
                try await store.rotateRefreshToken(
                    hash: "nope", clientID: "shop", at: now, successorID: "x", successorHash: "y", successorExpiresAt: now) == .unknown)
            let later = now.addingTimeInterval(61)
            #expect(
                try await store.rotateRefreshToken(
                    hash: "h1", clientID: "shop", at: later, successorID: "x", successorHash: "y", successorExpiresAt: later) == .inactive)
        }
    }

    @Test("refresh rotation: 20 concurrent presentations rotate exactly once", arguments: TestDatabases.engines)
    func concurrentRotation(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let alice = Fixtures.user()
            try await store.insertUser(alice)
            try await store.insertRefreshToken(Fixtures.refreshToken(user: alice.id, hash: "h1"))
            let outcomes = try await withThrowingTaskGroup(of: RefreshRotationOutcome.self) { group in
                for index in 0..<20 {
                    group.addTask {
                        try await store.rotateRefreshToken(
                            hash: "h1", clientID: "shop", at: Fixtures.epoch, successorID: "s\(index)", successorHash: "n\(index)",
                            successorExpiresAt: Fixtures.epoch.addingTimeInterval(60))
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let rotated = outcomes.filter { if case .rotated = $0 { true } else { false } }
            #expect(rotated.count == 1)
        }
    }

    @Test("access-token liveness: revoked jti, revoked family, deleted user, disabled client", arguments: TestDatabases.engines)
    func accessTokenLiveness(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            try await store.insertClient(Fixtures.client())
            try await store.insertClient(Fixtures.client("off", status: .disabled))
            let alice = Fixtures.user()
            try await store.insertUser(alice)
            let token = Fixtures.refreshToken(user: alice.id, hash: "h1", family: "fam")
            try await store.insertRefreshToken(token)

            #expect(
                try await store.accessTokenLiveness(
                    AccessTokenLivenessQuery(jti: "j1", familyID: "fam", userID: alice.id, clientID: "shop", deviceID: nil)
                ).isLive)
            #expect(
                try await store.accessTokenLiveness(AccessTokenLivenessQuery(jti: "j1", familyID: nil, userID: nil, clientID: "shop", deviceID: nil))
                    .isLive)
            #expect(
                try await !store.accessTokenLiveness(AccessTokenLivenessQuery(jti: "j1", familyID: nil, userID: nil, clientID: "off", deviceID: nil))
                    .isLive)
            #expect(
                try await !store.accessTokenLiveness(AccessTokenLivenessQuery(jti: "j1", familyID: nil, userID: nil, clientID: "gone", deviceID: nil))
                    .isLive)

            try await store.revokeAccessToken(jti: "j1", expiresAt: Fixtures.epoch.addingTimeInterval(60), at: Fixtures.epoch)
            try await store.revokeAccessToken(jti: "j1", expiresAt: Fixtures.epoch.addingTimeInterval(60), at: Fixtures.epoch)
            #expect(
                try await store.accessTokenLiveness(AccessTokenLivenessQuery(jti: "j1", familyID: nil, userID: nil, clientID: "shop", deviceID: nil))
                    .jtiRevoked)

            try await store.revokeFamily(id: "fam", at: Fixtures.epoch)
            #expect(
                try await store.accessTokenLiveness(
                    AccessTokenLivenessQuery(jti: "j2", familyID: "fam", userID: alice.id, clientID: "shop", deviceID: nil)
                ).familyRevoked)

            #expect(try await store.deleteUser(id: alice.id))
            #expect(try await !store.deleteUser(id: alice.id))
            #expect(try await store.refreshToken(hash: "h1") == nil)
            #expect(
                try await !store.accessTokenLiveness(
                    AccessTokenLivenessQuery(jti: "j3", familyID: nil, userID: alice.id, clientID: "shop", deviceID: nil)
                ).isLive)
        }
    }

    @Test("signing keys round-trip sealed", arguments: TestDatabases.engines)
    func signingKeys(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let key = SealedSigningKey(kid: "k1", sealedPrivateKey: "sealed", status: .active, createdAt: Fixtures.epoch)
            try await store.insertSigningKey(key)
            #expect(try await store.signingKeys() == [key])
        }
    }

    @Test(
        "audit log: journaled appends, sealed once by concurrent sealers into a hash chain that verifies, stays one line and refuses edits",
        arguments: TestDatabases.engines)
    func auditChain(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<25 {
                    group.addTask {
                        try await store.append(
                            AuditRecord(
                                actor: "test", action: AuditAction(rawValue: "event.\(index)"), subject: "user:\(index)", sourceAddress: "127.0.0.1",
                                outcome: .success, details: ["n": "\(index)"]),
                            at: Fixtures.epoch)
                    }
                }
                try await group.waitForAll()
            }
            // Journaled, not yet chained; four sealers at once (as on four nodes) chain each record once.
            #expect(try await TestDatabases.count("audit_journal", in: store) == 25)
            let sealed = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        var total = 0
                        while case let count = try await store.sealAuditJournal(limit: 7), count > 0 { total += count }
                        return total
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(sealed == 25)
            #expect(try await TestDatabases.count("audit_journal", in: store) == 0)
            #expect(try await AuditVerification.verifyAll(store, pageSize: 7) == .intact(events: 25))
            #expect(Set(try await store.auditEvents(after: 0, limit: 100).map(\.record.action.rawValue)) == Set((0..<25).map { "event.\($0)" }))
            let events = try await store.auditEvents(after: 0, limit: 100)
            #expect(events.map(\.sequence) == Array(1...25))

            // One large batch is inserted in chunks of 32, 8 and 1 rows: 45 = 32 + 8 + 5 × 1.
            for index in 25..<70 {
                try await store.append(
                    AuditRecord(actor: "test", action: AuditAction(rawValue: "event.\(index)"), outcome: .success, details: ["n": "\(index)"]),
                    at: Fixtures.epoch.addingTimeInterval(Double(index)))
            }
            #expect(try await store.sealAuditJournal(limit: 500) == 45)
            #expect(try await TestDatabases.count("audit_journal", in: store) == 0)
            #expect(try await AuditVerification.verifyAll(store, pageSize: 16) == .intact(events: 70))
            let all = try await store.auditEvents(after: 0, limit: 100)
            #expect(all.map(\.sequence) == Array(1...70))
            #expect(all.suffix(45).map(\.record.action.rawValue) == (25..<70).map { "event.\($0)" })

            // The database itself refuses to change history.
            await #expect(throws: (any Error).self) {
                try await store.pool.withConnection { db in
                    try await db.raw("UPDATE audit_events SET action = 'forged' WHERE sequence = 3").run()
                }
            }
            await #expect(throws: (any Error).self) {
                try await store.pool.withConnection { db in try await db.raw("DELETE FROM audit_events WHERE sequence = 3").run() }
            }
        }
    }
}

@Suite("Audit chain")
struct AuditChainTests {
    func chain(_ count: Int) -> [AuditEvent] {
        var events: [AuditEvent] = []
        var previous = AuditChain.genesisHash
        for sequence in 1...Int64(count) {
            let record = AuditRecord(actor: "a", action: AuditAction(rawValue: "x"), outcome: .success, details: ["k": "\(sequence)"])
            let hash = AuditChain.hash(sequence: sequence, occurredAt: Fixtures.epoch, record: record, previousHash: previous)
            events.append(AuditEvent(sequence: sequence, occurredAt: Fixtures.epoch, record: record, previousHash: previous, hash: hash))
            previous = hash
        }
        return events
    }

    @Test("any change to a stored event breaks the chain at that event")
    func tampering() {
        let events = chain(5)
        #expect(AuditChain.verify(events) == .intact(events: 5))

        var altered = events
        altered[2].record.details["k"] = "forged"
        #expect(AuditChain.verify(altered) == .broken(atSequence: 3, reason: "content does not match its hash"))

        var removed = events
        removed.remove(at: 1)
        #expect(AuditChain.verify(removed) == .broken(atSequence: 2, reason: "event 2 is missing"))

        var relinked = events
        relinked[3].previousHash = AuditChain.genesisHash
        #expect(AuditChain.verify(relinked) == .broken(atSequence: 4, reason: "previous-hash link does not match"))
    }
}

@Suite("Signing keys across nodes")
struct SigningKeyRaceTests {
    @Test("nodes starting together on an empty database agree on one active key", arguments: TestDatabases.engines)
    func oneActiveKey(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let masterKey = MasterKey.generate()
            let loaded = try await withThrowingTaskGroup(of: [SigningKey].self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await KeyManagement(store: store, masterKey: masterKey, time: SystemTimeSource()).loadOrCreateSigningKeys()
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let activeKIDs = Set(loaded.flatMap { $0.filter { $0.status == .active }.map(\.kid) })
            #expect(activeKIDs.count == 1)
            #expect(try await store.signingKeys().count == 1)
        }
    }

    @Test("a different master key cannot open the stored signing keys", arguments: TestDatabases.engines)
    func wrongMasterKey(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            _ = try await KeyManagement(store: store, masterKey: MasterKey.generate(), time: SystemTimeSource()).loadOrCreateSigningKeys()
            await #expect(throws: KeyManagementError.self) {
                _ = try await KeyManagement(store: store, masterKey: MasterKey.generate(), time: SystemTimeSource()).loadSigningKeys()
            }
        }
    }
}

@Suite("Store conformance: devices, challenges and the notification outbox")
struct DeviceStoreConformanceTests {
    static func binding(user: String, now: Date = Fixtures.epoch) -> (Device, Challenge, OutboxNotification) {
        let device = Device(
            id: UUID().uuidString, userID: user, kind: .ecdsaP256, name: "phone", publicKeyHex: "04ab", status: .created, createdAt: now)
        let challenge = Challenge(
            id: UUID().uuidString, kind: .deviceBinding, userID: user, deviceID: device.id, payload: "sealed", maxAttempts: 5,
            createdAt: now, expiresAt: now.addingTimeInterval(300))
        let notification = OutboxNotification(
            id: UUID().uuidString, kind: .smsOTP, userID: user, recipient: "+4915112345678", sealedBody: "sealed",
            nextAttemptAt: now, createdAt: now)
        return (device, challenge, notification)
    }

    @Test("a binding stores device, challenge and SMS together; completing it activates the device once", arguments: TestDatabases.engines)
    func bindingLifecycle(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let (device, challenge, notification) = Self.binding(user: "u1")
            try await store.insertDeviceBinding(device: device, challenge: challenge, notification: notification)
            #expect(try await store.device(id: device.id) == device)
            #expect(try await store.challenge(id: challenge.id) == challenge)
            #expect(try await store.devices(userID: "u1").map(\.id) == [device.id])

            #expect(try await store.reserveAttempt(.challenge, subject: .challenge(id: challenge.id), at: Fixtures.epoch)?.attempts == 1)
            #expect(try await store.completeChallenge(id: challenge.id, at: Fixtures.epoch, activatingDevice: (device.id, .active)))
            #expect(try await store.device(id: device.id)?.status == .active)
            #expect(try await !store.completeChallenge(id: challenge.id, at: Fixtures.epoch, activatingDevice: (device.id, .active)))
            #expect(try await store.reserveAttempt(.challenge, subject: .challenge(id: challenge.id), at: Fixtures.epoch) == nil)

            #expect(try await store.transitionDevice(id: device.id, from: [.active], to: .removed, reason: nil, at: Fixtures.epoch))
            #expect(try await !store.transitionDevice(id: device.id, from: [.active], to: .blocked, reason: "x", at: Fixtures.epoch))
            #expect(try await store.devices(userID: "u1").isEmpty)
        }
    }

    @Test("30 concurrent answers reserve exactly max_attempts; expired challenges reserve none", arguments: TestDatabases.engines)
    func challengeAttempts(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let (device, challenge, notification) = Self.binding(user: "u1")
            try await store.insertDeviceBinding(device: device, challenge: challenge, notification: notification)
            let reserved = try await withThrowingTaskGroup(of: Int?.self) { group in
                for _ in 0..<30 {
                    group.addTask { try await store.reserveAttempt(.challenge, subject: .challenge(id: challenge.id), at: Fixtures.epoch)?.attempts }
                }
                return try await group.reduce(into: [Int]()) { if let attempt = $1 { $0.append(attempt) } }
            }
            #expect(reserved.sorted() == [1, 2, 3, 4, 5])
            try await store.failChallengeIfExhausted(id: challenge.id)
            #expect(try await store.challenge(id: challenge.id)?.status == .failed)

            let (device2, challenge2, notification2) = Self.binding(user: "u1")
            try await store.insertDeviceBinding(device: device2, challenge: challenge2, notification: notification2)
            #expect(
                try await store.reserveAttempt(.challenge, subject: .challenge(id: challenge2.id), at: Fixtures.epoch.addingTimeInterval(301)) == nil)
        }
    }

    @Test("outbox: due notifications are leased to one claimer, retried after the lease, and stop once sent", arguments: TestDatabases.engines)
    func outbox(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            for user in ["u1", "u2", "u3"] {
                let (device, challenge, notification) = Self.binding(user: user)
                try await store.insertDeviceBinding(device: device, challenge: challenge, notification: notification)
            }
            let claims = try await withThrowingTaskGroup(of: [OutboxNotification].self) { group in
                for _ in 0..<6 { group.addTask { try await store.claimDueNotifications(at: Fixtures.epoch, limit: 10, lease: 30) } }
                return try await group.reduce(into: [OutboxNotification]()) { $0 += $1 }
            }
            #expect(claims.count == 3, "each notification is claimed by exactly one claimer")
            #expect(Set(claims.map(\.id)).count == 3)
            #expect(try await store.claimDueNotifications(at: Fixtures.epoch.addingTimeInterval(29), limit: 10, lease: 30).isEmpty)

            try await store.markNotificationsSent(ids: [claims[0].id], at: Fixtures.epoch)
            try await store.markNotificationFailed(id: claims[1].id, nextAttemptAt: Fixtures.epoch.addingTimeInterval(2), dead: false)
            // The third was claimed and never confirmed (its sender died): it comes back after its lease.
            let retried = try await store.claimDueNotifications(at: Fixtures.epoch.addingTimeInterval(31), limit: 10, lease: 30)
            #expect(Set(retried.map(\.id)) == [claims[1].id, claims[2].id])
            #expect(retried.allSatisfy { $0.attempts == 2 })
        }
    }

    @Test("a pass's 41 notifications are marked sent together (chunks of 32, 8, 1) and never come back", arguments: TestDatabases.engines)
    func outboxMarksAPassSent(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            try await store.enqueue(
                (0..<41).map { _ in
                    OutboxNotification(
                        id: UUID().uuidString, kind: .push, userID: "u1", recipient: "device", sealedBody: "sealed",
                        nextAttemptAt: Fixtures.epoch, createdAt: Fixtures.epoch)
                })
            let claimed = try await store.claimDueNotifications(at: Fixtures.epoch, limit: 50, lease: 30)
            #expect(claimed.count == 41)
            try await store.markNotificationsSent(ids: claimed.dropLast().map(\.id), at: Fixtures.epoch)
            // Only the one left unmarked comes back after the lease.
            let retried = try await store.claimDueNotifications(at: Fixtures.epoch.addingTimeInterval(31), limit: 50, lease: 30)
            #expect(retried.map(\.id) == [claimed.last?.id])
        }
    }

    @Test("a confirmed refresh-token family dies with its device", arguments: TestDatabases.engines)
    func confirmedFamily(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let alice = Fixtures.user()
            try await store.insertUser(alice)
            let (device, challenge, notification) = Self.binding(user: alice.id)
            try await store.insertDeviceBinding(device: device, challenge: challenge, notification: notification)
            _ = try await store.reserveAttempt(.challenge, subject: .challenge(id: challenge.id), at: Fixtures.epoch)
            _ = try await store.completeChallenge(id: challenge.id, at: Fixtures.epoch, activatingDevice: (device.id, .active))
            var token = Fixtures.refreshToken(user: alice.id, hash: "h1", family: "fam")
            token.deviceID = device.id
            try await store.insertRefreshToken(token)

            let rotated = try await store.rotateRefreshToken(
                hash: "h1", clientID: "shop", at: Fixtures.epoch, successorID: "s1", successorHash: "h2",
                successorExpiresAt: Fixtures.epoch.addingTimeInterval(60))
            guard case .rotated(let successor) = rotated else {
                Issue.record("expected rotation, got \(rotated)")
                return
            }
            #expect(successor.deviceID == device.id)
            #expect(
                try await store.accessTokenLiveness(
                    AccessTokenLivenessQuery(jti: "j", familyID: "fam", userID: alice.id, clientID: "shop", deviceID: device.id)
                ).deviceActive)

            _ = try await store.transitionDevice(id: device.id, from: [.active], to: .blocked, reason: "lost", at: Fixtures.epoch)
            #expect(try await store.refreshToken(hash: "h2")?.revokedAt != nil)
            #expect(
                try await store.rotateRefreshToken(
                    hash: "h2", clientID: "shop", at: Fixtures.epoch, successorID: "s2", successorHash: "h3", successorExpiresAt: Fixtures.epoch)
                    == .inactive)
            #expect(
                try await !store.accessTokenLiveness(
                    AccessTokenLivenessQuery(jti: "j", familyID: "fam", userID: alice.id, clientID: "shop", deviceID: device.id)
                ).isLive)
        }
    }

    @Test("20 concurrent first bindings of one user: exactly one ACTIVE, the rest PENDING_COMMIT", arguments: TestDatabases.engines)
    func concurrentFirstBindings(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let alice = Fixtures.user()
            try await store.insertUser(alice)
            var challenges: [(device: String, challenge: String)] = []
            for _ in 0..<20 {
                let (device, challenge, notification) = Self.binding(user: alice.id)
                try await store.insertDeviceBinding(device: device, challenge: challenge, notification: notification)
                challenges.append((device.id, challenge.id))
            }
            let outcomes = try await withThrowingTaskGroup(of: Device.Status?.self) { group in
                for binding in challenges {
                    group.addTask {
                        try await store.completeBindingChallenge(
                            id: binding.challenge, deviceID: binding.device, userID: alice.id, approvalRequired: true, at: Fixtures.epoch)
                    }
                }
                return try await group.reduce(into: [Device.Status?]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == .active }.count == 1)
            #expect(outcomes.filter { $0 == .pendingCommit }.count == 19)
            let stored = try await store.devices(userID: alice.id)
            #expect(stored.filter { $0.status == .active }.count == 1)
            #expect(stored.filter { $0.status == .pendingCommit }.count == 19)
            #expect(stored.filter { $0.status == .active }.allSatisfy { $0.activatedAt == Fixtures.epoch })
            // A completed challenge completes once.
            let replay = try await store.completeBindingChallenge(
                id: challenges[0].challenge, deviceID: challenges[0].device, userID: alice.id, approvalRequired: true, at: Fixtures.epoch)
            #expect(replay == nil)
        }
    }

    @Test("without required approval every binding activates; another user's ACTIVE device does not count", arguments: TestDatabases.engines)
    func bindingDecisionScope(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let alice = Fixtures.user()
            try await store.insertUser(alice)
            let (bobDevice, bobChallenge, bobNotification) = Self.binding(user: "bob")
            try await store.insertDeviceBinding(device: bobDevice, challenge: bobChallenge, notification: bobNotification)
            #expect(
                try await store.completeBindingChallenge(
                    id: bobChallenge.id, deviceID: bobDevice.id, userID: "bob", approvalRequired: true, at: Fixtures.epoch) == .active)
            for expected in [Device.Status.active, .active] {
                let (device, challenge, notification) = Self.binding(user: alice.id)
                try await store.insertDeviceBinding(device: device, challenge: challenge, notification: notification)
                #expect(
                    try await store.completeBindingChallenge(
                        id: challenge.id, deviceID: device.id, userID: alice.id, approvalRequired: false, at: Fixtures.epoch) == expected)
            }
        }
    }

    @Test(
        "a device leaving ACTIVE revokes its families for good: unblocked, they stay revoked; auth_time survives rotation",
        arguments: TestDatabases.engines)
    func blockRevokesFamilies(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let alice = Fixtures.user()
            try await store.insertUser(alice)
            try await store.insertClient(Fixtures.client())  // so that liveness turns on the family alone
            let (device, challenge, notification) = Self.binding(user: alice.id)
            try await store.insertDeviceBinding(device: device, challenge: challenge, notification: notification)
            #expect(
                try await store.completeBindingChallenge(
                    id: challenge.id, deviceID: device.id, userID: alice.id, approvalRequired: true, at: Fixtures.epoch) == .active)
            var token = Fixtures.refreshToken(user: alice.id, hash: "h1", family: "fam")
            token.deviceID = device.id
            token.authTime = Fixtures.epoch.addingTimeInterval(-30)
            try await store.insertRefreshToken(token)
            #expect(try await store.refreshToken(hash: "h1")?.authTime == token.authTime)
            let rotated = try await store.rotateRefreshToken(
                hash: "h1", clientID: "shop", at: Fixtures.epoch, successorID: "s1", successorHash: "h2",
                successorExpiresAt: Fixtures.epoch.addingTimeInterval(60))
            guard case .rotated(let successor) = rotated else {
                Issue.record("expected rotation, got \(rotated)")
                return
            }
            #expect(successor.authTime == token.authTime)

            // Another family of the same user, not confirmed by the device, is untouched.
            try await store.insertRefreshToken(Fixtures.refreshToken(user: alice.id, hash: "p1", family: "plain"))

            #expect(try await store.transitionDevice(id: device.id, from: [.active], to: .blocked, reason: "LOST", at: Fixtures.epoch))
            #expect(try await store.transitionDevice(id: device.id, from: [.blocked], to: .active, reason: nil, at: Fixtures.epoch))
            #expect(try await store.refreshToken(hash: "h2")?.revokedAt != nil)
            #expect(
                try await store.rotateRefreshToken(
                    hash: "h2", clientID: "shop", at: Fixtures.epoch, successorID: "s2", successorHash: "h3",
                    successorExpiresAt: Fixtures.epoch.addingTimeInterval(60)) == .inactive)
            #expect(
                try await !store.accessTokenLiveness(
                    AccessTokenLivenessQuery(jti: "j", familyID: "fam", userID: alice.id, clientID: "shop", deviceID: device.id)
                ).isLive)
            #expect(try await store.refreshToken(hash: "p1")?.revokedAt == nil)

            // Tokens issued while the device is blocked (a challenge answered as the block lands)
            // are born revoked and stay so after the unblock.
            #expect(try await store.transitionDevice(id: device.id, from: [.active], to: .blocked, reason: "LOST", at: Fixtures.epoch))
            var late = Fixtures.refreshToken(user: alice.id, hash: "l1", family: "late")
            late.deviceID = device.id
            try await store.insertRefreshToken(late)
            #expect(try await store.transitionDevice(id: device.id, from: [.blocked], to: .active, reason: nil, at: Fixtures.epoch))
            #expect(try await store.refreshToken(hash: "l1")?.revokedAt != nil)
            #expect(
                try await !store.accessTokenLiveness(
                    AccessTokenLivenessQuery(jti: "k", familyID: "late", userID: alice.id, clientID: "shop", deviceID: device.id)
                ).isLive)
        }
    }

    @Test("approval: PENDING_COMMIT → ACTIVE only while the approver is ACTIVE, and once", arguments: TestDatabases.engines)
    func approvalNeedsActiveApprover(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let alice = Fixtures.user()
            try await store.insertUser(alice)
            var ids: [String] = []
            for _ in 0..<3 {
                let (device, challenge, notification) = Self.binding(user: alice.id)
                try await store.insertDeviceBinding(device: device, challenge: challenge, notification: notification)
                _ = try await store.completeBindingChallenge(
                    id: challenge.id, deviceID: device.id, userID: alice.id, approvalRequired: true, at: Fixtures.epoch)
                ids.append(device.id)
            }
            let (approver, first, second) = (ids[0], ids[1], ids[2])
            #expect(try await store.device(id: first)?.status == .pendingCommit)
            // A blocked approver approves nothing.
            #expect(try await store.transitionDevice(id: approver, from: [.active], to: .blocked, reason: "LOST", at: Fixtures.epoch))
            #expect(try await !store.approvePendingDevice(id: first, approverID: approver, userID: alice.id, at: Fixtures.epoch))
            #expect(try await store.device(id: first)?.status == .pendingCommit)
            #expect(try await store.transitionDevice(id: approver, from: [.blocked], to: .active, reason: nil, at: Fixtures.epoch))
            // Another user's id for the approver, or a pending device as approver: refused.
            #expect(try await !store.approvePendingDevice(id: first, approverID: approver, userID: "bob", at: Fixtures.epoch))
            #expect(try await !store.approvePendingDevice(id: first, approverID: second, userID: alice.id, at: Fixtures.epoch))
            // 10 concurrent approvals of one device: one wins, the rest find it ACTIVE.
            let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<10 {
                    group.addTask {
                        do {
                            return try await store.approvePendingDevice(id: first, approverID: approver, userID: alice.id, at: Fixtures.epoch)
                        } catch StoreError.conflict {
                            return false
                        }
                    }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 1)
            #expect(try await store.device(id: first)?.status == .active)
        }
    }
}
