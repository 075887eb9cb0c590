import Foundation
import SQLKit
import StrongAuthCore
import StrongAuthStore
import Testing

/// The conditional updates behind the credential lifecycle (docs/admin-api.md): each is keyed by
/// id and realm (another realm's object is not found and not changed), reports whether it changed
/// anything, and takes its side effects (sessions ended, token families revoked) in the same
/// transaction, on every engine.
@Suite("Store conformance: credential lifecycle")
struct CredentialLifecycleStoreTests {
    static func inRealm(_ client: OAuthClient, _ realm: String) -> OAuthClient {
        var client = client
        client.realmID = realm
        return client
    }

    static func webSessions(of principal: String, in store: SQLStore) async throws -> Int {
        try await store.pool.withConnection { db in
            try await db.raw("SELECT COUNT(*) AS n FROM web_sessions WHERE principal_id = \(bind: principal)").first()?.decode(
                column: "n", as: Int.self) ?? 0
        }
    }

    static func insertSession(_ store: SQLStore, kind: WebSessionKind, principal: String) async throws {
        try await store.insertWebSession(
            WebSession(
                tokenHash: UUID().uuidString, kind: kind, principalID: principal, createdAt: Fixtures.epoch,
                expiresAt: Fixtures.epoch.addingTimeInterval(3600)))
    }

    @Test("disable/enable: keyed by realm, changed once, then unchanged", arguments: TestDatabases.engines)
    func clientStatus(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            try await store.insertRealm(id: "other", at: Fixtures.epoch)
            try await store.insertClient(Fixtures.client("shop"))
            try await store.insertClient(Self.inRealm(Fixtures.client("theirs"), "other"))
            #expect(try await store.setStatus(.client, id: "shop", realm: "other", active: false, at: Fixtures.epoch) == .notFound)
            #expect(try await store.client(id: "shop")?.status == .active)
            #expect(try await store.setStatus(.client, id: "shop", realm: Realm.defaultID, active: false, at: Fixtures.epoch) == .changed)
            #expect(try await store.setStatus(.client, id: "shop", realm: Realm.defaultID, active: false, at: Fixtures.epoch) == .unchanged)
            #expect(try await store.client(id: "shop")?.status == .disabled)
            #expect(try await store.setStatus(.client, id: "shop", realm: Realm.defaultID, active: true, at: Fixtures.epoch) == .changed)
            #expect(try await store.client(id: "shop")?.status == .active)
            #expect(try await store.clients(realm: Realm.defaultID).map(\.id) == ["shop"])
            #expect(try await store.clients(realm: "other").map(\.id) == ["theirs"])
        }
    }

    @Test("a rotated secret hash replaces the old one; not across realms, not for a deleted client", arguments: TestDatabases.engines)
    func rotateSecret(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            try await store.insertRealm(id: "other", at: Fixtures.epoch)
            try await store.insertClient(Fixtures.client("shop"))
            #expect(try await !store.replaceSecretHash(.client, id: "shop", realm: "other", hash: "stolen"))
            #expect(try await store.client(id: "shop")?.secretHash == "hash-shop")
            #expect(try await store.replaceSecretHash(.client, id: "shop", realm: Realm.defaultID, hash: "new-hash"))
            #expect(try await store.client(id: "shop")?.secretHash == "new-hash")
            #expect(try await store.delete(.client, id: "shop", realm: Realm.defaultID, at: Fixtures.epoch) == .changed)
            #expect(try await !store.replaceSecretHash(.client, id: "shop", realm: Realm.defaultID, hash: "revived"))
            #expect(try await store.setStatus(.client, id: "shop", realm: Realm.defaultID, active: true, at: Fixtures.epoch) == .notFound)
        }
    }

    @Test("deleting a client revokes its token families in the same transaction and keeps its id taken", arguments: TestDatabases.engines)
    func deleteClient(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            try await store.insertClient(Fixtures.client("shop"))
            try await store.insertClient(Fixtures.client("bystander"))
            let user = Fixtures.user()
            try await store.insertUser(user)
            let mine = Fixtures.refreshToken(user: user.id, client: "shop")
            let theirs = Fixtures.refreshToken(user: user.id, client: "bystander")
            try await store.insertRefreshToken(mine)
            try await store.insertRefreshToken(theirs)
            #expect(try await store.delete(.client, id: "shop", realm: Realm.defaultID, at: Fixtures.epoch) == .changed)
            #expect(try await store.delete(.client, id: "shop", realm: Realm.defaultID, at: Fixtures.epoch) == .notFound)
            let liveness = try await store.accessTokenLiveness(
                AccessTokenLivenessQuery(jti: "j", familyID: mine.familyID, userID: user.id, clientID: "shop", deviceID: nil))
            #expect(liveness.familyRevoked && !liveness.clientActive)
            let bystander = try await store.accessTokenLiveness(
                AccessTokenLivenessQuery(jti: "j", familyID: theirs.familyID, userID: user.id, clientID: "bystander", deviceID: nil))
            #expect(bystander.isLive)
            // The tombstone: the id cannot be handed to a new client whose name would revive old tokens.
            await #expect(throws: StoreError.self) { try await store.insertClient(Fixtures.client("shop")) }
            #expect(try await store.client(id: "shop")?.status == .deleted)
            #expect(try await store.clients(realm: Realm.defaultID).map(\.id) == ["bystander"])
        }
    }

    @Test("disabling or deleting an operator, and a TOTP reset, end their web sessions", arguments: TestDatabases.engines)
    func operators(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let olga = try await BackOfficeStoreTests.insertOperator(store, "olga")
            let oscar = try await BackOfficeStoreTests.insertOperator(store, "oscar")
            try await Self.insertSession(store, kind: .operator, principal: olga.id)
            try await Self.insertSession(store, kind: .operator, principal: oscar.id)
            #expect(try await store.setStatus(.operator, id: olga.id, realm: Realm.defaultID, active: false, at: Fixtures.epoch) == .changed)
            #expect(try await Self.webSessions(of: olga.id, in: store) == 0)
            #expect(try await Self.webSessions(of: oscar.id, in: store) == 1)

            // Up to the lock: reserving fails once the TOTP factor is locked.
            while let attempt = try await store.reserveAttempt(.operatorTOTP, subject: .operator(id: oscar.id), at: Fixtures.epoch),
                !attempt.limitReached
            {}
            #expect(try await !store.replaceOperatorTOTP(id: oscar.id, realm: "nowhere", sealedSecret: "x"))
            #expect(try await store.replaceOperatorTOTP(id: oscar.id, realm: Realm.defaultID, sealedSecret: "new-sealed"))
            #expect(try await store.operator(id: oscar.id)?.sealedTOTPSecret == "new-sealed")
            #expect(try await Self.webSessions(of: oscar.id, in: store) == 0)
            // The TOTP lock went with the old secret.
            #expect(
                try await store.reserveAttempt(.operatorTOTP, subject: .operator(id: oscar.id), at: Fixtures.epoch) != nil)

            try await Self.insertSession(store, kind: .operator, principal: oscar.id)
            #expect(try await store.delete(.operator, id: oscar.id, realm: Realm.defaultID, at: Fixtures.epoch) == .changed)
            #expect(try await store.operator(id: oscar.id) == nil)
            #expect(try await Self.webSessions(of: oscar.id, in: store) == 0)
            #expect(try await store.operators(realm: Realm.defaultID).map(\.username) == ["olga"])
        }
    }

    @Test(
        "locking a user ends their web sessions and refresh-token families; unlocking clears the password lockout", arguments: TestDatabases.engines)
    func users(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let alice = Fixtures.user("alice")
            try await store.insertUser(alice)
            try await store.insertUser(Fixtures.user("bob"))
            try await store.insertUser(Fixtures.user("carol"))
            try await Self.insertSession(store, kind: .user, principal: alice.id)
            let refresh = Fixtures.refreshToken(user: alice.id)
            try await store.insertRefreshToken(refresh)
            while let attempt = try await store.reserveAttempt(.password, subject: .user(id: alice.id), at: Fixtures.epoch), !attempt.limitReached {}
            #expect(try await store.user(id: alice.id)?.lockedUntil != nil, "locked before the lifecycle unlocks it")
            #expect(try await store.setStatus(.user, id: alice.id, realm: "nowhere", active: false, at: Fixtures.epoch) == .notFound)
            #expect(try await store.setStatus(.user, id: alice.id, realm: Realm.defaultID, active: false, at: Fixtures.epoch) == .changed)
            #expect(try await store.user(id: alice.id)?.status == .disabled)
            #expect(try await Self.webSessions(of: alice.id, in: store) == 0)
            let family = try await store.accessTokenLiveness(
                AccessTokenLivenessQuery(jti: "j", familyID: refresh.familyID, userID: nil, clientID: "x", deviceID: nil))
            #expect(family.familyRevoked)
            #expect(try await store.setStatus(.user, id: alice.id, realm: Realm.defaultID, active: true, at: Fixtures.epoch) == .changed)
            let unlocked = try await store.user(id: alice.id)
            #expect(unlocked?.status == .active && unlocked?.lockedUntil == nil && unlocked?.failedLoginAttempts == 0)

            #expect(try await store.users(realm: Realm.defaultID, after: nil, limit: 2).map(\.username) == ["alice", "bob"])
            #expect(try await store.users(realm: Realm.defaultID, after: "bob", limit: 2).map(\.username) == ["carol"])
            #expect(try await store.users(realm: "nowhere", after: nil, limit: 2).isEmpty)
        }
    }

    @Test("an application with a live registration is not deleted; without one it becomes a tombstone", arguments: TestDatabases.engines)
    func applications(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            try await store.insertApplication(PowerAuthStoreTests.application())
            let user = Fixtures.user()
            try await store.insertUser(user)
            try await PowerAuthStoreTests.insertRegistration(store, userID: user.id)
            #expect(try await store.delete(.application, id: "my-application", realm: "nowhere", at: Fixtures.epoch) == .notFound)
            #expect(try await store.delete(.application, id: "my-application", realm: Realm.defaultID, at: Fixtures.epoch) == .unchanged)
            #expect(try await store.application(id: "my-application")?.status == .active)
            #expect(
                try await store.setStatus(.application, id: "my-application", realm: Realm.defaultID, active: false, at: Fixtures.epoch) == .changed)

            try await store.insertApplication(PowerAuthStoreTests.application("unused", callback: nil))
            #expect(try await store.delete(.application, id: "unused", realm: Realm.defaultID, at: Fixtures.epoch) == .changed)
            #expect(try await store.application(id: "unused")?.status == .deleted)
            #expect(try await store.managedApplications(realm: Realm.defaultID).map(\.id) == ["my-application"])
            await #expect(throws: StoreError.self) {
                try await store.insertApplication(PowerAuthStoreTests.application("unused", callback: nil))
            }
        }
    }

    @Test("integration users: password hash replaced, disabled, deleted — only in their realm", arguments: TestDatabases.engines)
    func integrationUsers(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            try await store.insertIntegrationUser(
                IntegrationUser(name: "integration-user", passwordHash: "old", applicationIDs: ["my-application"], createdAt: Fixtures.epoch))
            #expect(try await !store.replaceSecretHash(.integrationUser, id: "integration-user", realm: "nowhere", hash: "x"))
            #expect(try await store.replaceSecretHash(.integrationUser, id: "integration-user", realm: Realm.defaultID, hash: "new"))
            #expect(try await store.integrationUser(name: "integration-user")?.passwordHash == "new")
            #expect(
                try await store.setStatus(.integrationUser, id: "integration-user", realm: Realm.defaultID, active: false, at: Fixtures.epoch)
                    == .changed)
            #expect(try await store.integrationUser(name: "integration-user")?.status == .disabled)
            #expect(try await store.integrationUsers(realm: Realm.defaultID).map(\.name) == ["integration-user"])
            #expect(try await store.delete(.integrationUser, id: "integration-user", realm: "nowhere", at: Fixtures.epoch) == .notFound)
            #expect(try await store.delete(.integrationUser, id: "integration-user", realm: Realm.defaultID, at: Fixtures.epoch) == .changed)
            #expect(try await store.integrationUser(name: "integration-user") == nil)
        }
    }
}
