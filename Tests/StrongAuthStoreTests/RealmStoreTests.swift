import Foundation
import SQLKit
import StrongAuthCore
@testable import StrongAuthStore
import Testing

/// Realms (docs/security-model.md) on every database: usernames unique per realm, every lookup by an external
/// name within one realm, and the back office's read models of one realm only.
@Suite("Store conformance: realms")
struct RealmStoreTests {
    static func user(_ username: String, realm: String, owner: String? = nil) -> User {
        User(
            id: UUID().uuidString.lowercased(), username: username, passwordHash: "!", ownerClientId: owner, createdAt: Fixtures.epoch,
            realmID: realm)
    }

    /// A CREATED PowerAuth registration of the user.
    static func registration(_ store: SQLStore, userID: String) async throws -> Device {
        let device = Device(
            id: UUID().uuidString.lowercased(), userID: userID, kind: .powerauth, name: "", publicKeyHex: "", status: .created,
            createdAt: Fixtures.epoch)
        let activation = PowerAuthActivation(
            deviceID: device.id, applicationID: "bank-app", activationCode: UUID().uuidString, activationCodeSignature: nil,
            expiresAt: Fixtures.epoch.addingTimeInterval(300))
        try await store.insertRegistration(
            device: device, activation: activation,
            counter: PowerAuthCounter(counterData: [], counter: 0, failedAttempts: 0, maxFailedAttempts: 5), webhooks: [])
        return device
    }

    @Test("realms: the default realm exists after migrating; a new one is created once", arguments: TestDatabases.engines)
    func realms(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            #expect(try await store.realmExists(id: Realm.defaultID))
            #expect(try await !store.realmExists(id: "bank-b"))
            try await store.insertRealm(id: "bank-b", at: Fixtures.epoch)
            #expect(try await store.realmExists(id: "bank-b"))
            await #expect(throws: StoreError.conflict("realm 'bank-b'")) { try await store.insertRealm(id: "bank-b", at: Fixtures.epoch) }
        }
    }

    @Test(
        "one username in two realms is two users; each realm finds only its own; a duplicate within a realm is refused; references",
        arguments: TestDatabases.engines)
    func usernamesPerRealm(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            try await store.insertRealm(id: "bank-b", at: Fixtures.epoch)
            let inDefault = Self.user("alice", realm: Realm.defaultID)
            let inB = Self.user("alice", realm: "bank-b")
            try await store.insertUser(inDefault)
            try await store.insertUser(inB)
            #expect(try await store.user(realm: Realm.defaultID, username: "alice") == inDefault)
            #expect(try await store.user(realm: "bank-b", username: "alice") == inB)
            #expect(try await store.user(realm: "bank-c", username: "alice") == nil)
            await #expect(throws: StoreError.self) { try await store.insertUser(Self.user("alice", realm: "bank-b")) }

            // Shine's uid names an id of any realm first, else a username of the realm.
            func recipient(_ uid: String, realm: String) async throws -> User? {
                try await store.actionRequestRecipient(uid: uid, realm: realm)?.user
            }
            #expect(try await recipient("alice", realm: "bank-b") == inB)
            #expect(try await recipient("alice", realm: "bank-c") == nil)
            #expect(try await recipient(inDefault.id, realm: "bank-b") == inDefault)
            // A username that is another user's id: the id wins, as user(id:) before user(realm:username:).
            let namedAfterID = Self.user(inB.id, realm: Realm.defaultID)
            try await store.insertUser(namedAfterID)
            #expect(try await recipient(inB.id, realm: Realm.defaultID) == inB)
            #expect(try await recipient(namedAfterID.id, realm: Realm.defaultID) == namedAfterID)
            // With the devices it is announced to: not the REMOVED ones.
            #expect(try await store.actionRequestRecipient(uid: "alice", realm: "bank-b")?.devices.isEmpty == true)
            let kept = try await Self.registration(store, userID: inB.id)
            let removed = try await Self.registration(store, userID: inB.id)
            try await store.pool.withWriteConnection { db in
                try await db.sql("UPDATE devices SET status = 'REMOVED' WHERE id = \(bind: removed.id)").run()
            }
            #expect(try await store.actionRequestRecipient(uid: "alice", realm: "bank-b")?.devices.map(\.id) == [kept.id])
        }
    }

    @Test("PowerAuth userId: ensureUser and registrations stay inside the realm", arguments: TestDatabases.engines)
    func powerAuthUsersPerRealm(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            try await store.insertRealm(id: "bank-b", at: Fixtures.epoch)
            let clientsAlice = Self.user("alice", realm: Realm.defaultID, owner: "shop")
            try await store.insertUser(clientsAlice)
            // The integrator of realm bank-b registers its own "alice": a different user.
            let bankAlice = try await store.ensureUser(realm: "bank-b", externalUserID: "alice", at: Fixtures.epoch)
            #expect(bankAlice != clientsAlice.id)
            #expect(try await store.ensureUser(realm: "bank-b", externalUserID: "alice", at: Fixtures.epoch) == bankAlice)
            #expect(try await store.ensureUser(realm: Realm.defaultID, externalUserID: "alice", at: Fixtures.epoch) == clientsAlice.id)
            #expect(try await store.user(id: bankAlice)?.realmID == "bank-b")

            let device = try await Self.registration(store, userID: bankAlice)
            #expect(try await store.registrations(realm: "bank-b", externalUserID: "alice", includeRemoved: true).map(\.id) == [device.id])
            #expect(try await store.registrations(realm: Realm.defaultID, externalUserID: "alice", includeRemoved: true).isEmpty)
            #expect(try await store.devices(userID: clientsAlice.id).isEmpty)
        }
    }

    @Test("back office read models and audit records are of one realm", arguments: TestDatabases.engines)
    func backOfficePerRealm(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            try await store.insertRealm(id: "bank-b", at: Fixtures.epoch)
            let inDefault = Self.user("alice", realm: Realm.defaultID)
            let inB = Self.user("alice", realm: "bank-b")
            try await store.insertUser(inDefault)
            try await store.insertUser(inB)
            for user in [inDefault, inB] { _ = try await Self.registration(store, userID: user.id) }
            #expect(try await store.searchUsers(realm: "bank-b", query: "alice", limit: 10) == [inB])
            #expect(try await store.searchUsers(realm: "bank-b", query: inDefault.id, limit: 10).isEmpty)
            #expect(try await store.backOfficeCounts(realm: "bank-b", at: Fixtures.epoch).users == 1)
            #expect(try await store.backOfficeCounts(realm: "bank-c", at: Fixtures.epoch).users == 0)
            #expect(try await store.recentDevices(realm: "bank-b", status: nil, limit: 10).map(\.userID) == [inB.id])
            #expect(try await store.recentDevices(realm: "bank-c", status: nil, limit: 10).isEmpty)

            // The realm of a record follows from its subject (or actor); records of no realm are
            // the default realm's. The chain stays one chain.
            try await store.append(
                AuditRecord(actor: "user:\(inB.id)", action: AuditAction(rawValue: "b.thing"), subject: "user:\(inB.id)", outcome: .success),
                at: Fixtures.epoch)
            try await store.append(
                AuditRecord(
                    actor: "user:\(inDefault.id)", action: AuditAction(rawValue: "a.thing"), subject: "user:\(inDefault.id)", outcome: .success),
                at: Fixtures.epoch)
            try await store.append(
                AuditRecord(actor: "operator:cli", action: AuditAction(rawValue: "keys.thing"), outcome: .success), at: Fixtures.epoch)
            let bEvents = try await store.recentAuditEvents(realm: "bank-b", subject: nil, failuresOnly: false, before: nil, limit: 10)
            #expect(bEvents.map(\.record.action.rawValue) == ["b.thing"])
            let defaultEvents = try await store.recentAuditEvents(realm: Realm.defaultID, subject: nil, failuresOnly: false, before: nil, limit: 10)
            #expect(Set(defaultEvents.map(\.record.action.rawValue)) == ["a.thing", "keys.thing"])
            #expect(try await store.recentAuditEvents(realm: "bank-c", subject: nil, failuresOnly: false, before: nil, limit: 10).isEmpty)
            #expect(try await AuditVerification.verifyAll(store) == .intact(events: 3))
        }
    }
}

/// Migration 15 (`realms`) carries an existing installation into the default realm.
@Suite("Store conformance: the realms migration")
struct RealmMigrationTests {
    @Test(
        "existing users, clients, applications, integration users and operators land in the default realm; usernames become per realm",
        arguments: TestDatabases.engines)
    func existingDataMovesToTheDefaultRealm(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine, migrate: false) { store in
            try await Migrator.migrate(store.pool, only: Migrator.all.filter { $0.version < 15 })
            try await store.pool.withConnection { db in
                try await db.raw(
                    """
                    INSERT INTO users (id, username, password_hash, owner_client_id, status, created_at, failed_binding_attempts, process_identity)
                    VALUES ('u-1', 'alice', '!', 'shop', 'active', 1, 2, 0)
                    """
                ).run()
                try await db.raw(
                    "INSERT INTO clients (id, name, secret_hash, grants, scopes, status, created_at) VALUES ('shop', 'Shop', 'h', 'password', '', 'active', 1)"
                ).run()
                try await db.raw(
                    "INSERT INTO integration_users (name, password_hash, applications, status, created_at) VALUES ('iu', 'h', 'app', 'active', 1)"
                ).run()
                try await db.raw(
                    "INSERT INTO operators (id, username, password_hash, sealed_totp_secret, status, created_at) VALUES ('o-1', 'olga', '!', 's', 'active', 1)"
                ).run()
            }
            #expect(try await Migrator.migrate(store.pool).first == "realms")
            let alice = try #require(try await store.user(realm: Realm.defaultID, username: "alice"))
            #expect(alice.id == "u-1" && alice.ownerClientId == "shop" && alice.realmID == Realm.defaultID)
            #expect(try await store.client(id: "shop")?.realmID == Realm.defaultID)
            #expect(try await store.integrationUser(name: "iu")?.realmID == Realm.defaultID)
            #expect(try await store.operator(id: "o-1")?.realmID == Realm.defaultID)
            // The old global UNIQUE is gone, the per-realm one holds.
            try await store.insertRealm(id: "bank-b", at: Fixtures.epoch)
            try await store.insertUser(RealmStoreTests.user("alice", realm: "bank-b"))
            await #expect(throws: StoreError.self) { try await store.insertUser(RealmStoreTests.user("alice", realm: Realm.defaultID)) }
            // The rebuilt table kept the columns that later migrations added.
            let binding = try await store.pool.withConnection { db in
                try await db.raw("SELECT failed_binding_attempts FROM users WHERE id = 'u-1'").first()?.decode(
                    column: "failed_binding_attempts", as: Int.self)
            }
            #expect(binding == 2)
        }
    }

    @Test(
        "audit chain in a realm's view: read events carry their realm; a break is told by the realm's own position, or without a number outside it",
        arguments: TestDatabases.engines)
    func auditVerificationInRealmView(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            // Events 1…6 of the chain: realm a, b, a, b, none (installation-wide), b.
            for (index, realm) in ["a", "b", "a", "b", nil, "b"].enumerated() {
                try await store.append(
                    AuditRecord(actor: "operator:cli", action: AuditAction(rawValue: "thing.\(index)"), outcome: .success, realm: realm),
                    at: Fixtures.epoch.addingTimeInterval(Double(index)))
            }
            let events = try await store.auditEvents(after: 0, limit: 10)
            #expect(events.map(\.record.realm) == ["a", "b", "a", "b", nil, "b"])
            #expect(try await AuditVerification.verifyAll(store, realm: "b") == .intact(realmEvents: 3))
            #expect(try await AuditVerification.verifyAll(store, realm: "b", pageSize: 2) == .intact(realmEvents: 3))
            #expect(try await AuditVerification.verifyAll(store, realm: "c") == .intact(realmEvents: 0))
            func tamper(_ sequence: Int64) async throws {
                try await store.pool.withWriteConnection { db in
                    switch engine {
                    case .sqlite: try await db.raw("DROP TRIGGER IF EXISTS audit_events_no_update").run()
                    case .postgres: try await db.raw("DROP TRIGGER IF EXISTS audit_events_no_change ON audit_events").run()
                    }
                    try await db.raw("UPDATE audit_events SET action = 'forged' WHERE sequence = \(bind: sequence)").run()
                }
            }
            // Event 4 is b's second: b is told "its event 2" (never 4); a is told only that it is broken elsewhere.
            try await tamper(4)
            for pageSize in [1000, 3] {
                #expect(
                    try await AuditVerification.verifyAll(store, realm: "b", pageSize: pageSize)
                        == .brokenAtRealmEvent(
                            position: 2, occurredAt: Fixtures.epoch.addingTimeInterval(3), reason: "content does not match its hash"))
                #expect(try await AuditVerification.verifyAll(store, realm: "a", pageSize: pageSize) == .brokenOutsideRealm)
            }
            // The installation's view still names the chain's event.
            #expect(try await AuditVerification.verifyAll(store) == .broken(atSequence: 4, reason: "content does not match its hash"))
        }
    }
}
