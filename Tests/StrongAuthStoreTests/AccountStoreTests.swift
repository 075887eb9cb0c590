import Foundation
import SQLKit
import StrongAuthCore
import StrongAuthStore
import Testing

/// The self-service account changes on every database (docs/security-model.md): each is one atomic store step,
/// correct when several nodes do it at once.
@Suite("Store conformance: account changes")
struct AccountStoreTests {
    static func session(_ store: SQLStore, _ hash: String, kind: WebSessionKind = .user, principal: String) async throws {
        try await store.insertWebSession(
            WebSession(
                tokenHash: hash, kind: kind, principalID: principal, createdAt: Fixtures.epoch, expiresAt: Fixtures.epoch.addingTimeInterval(300)))
    }

    static func sessionHashes(_ store: SQLStore) async throws -> Set<String> {
        try await store.pool.withConnection { db in
            Set(try await db.raw("SELECT token_hash FROM web_sessions").all().map { try $0.decode(column: "token_hash", as: String.self) })
        }
    }

    static func revokedFamilies(_ store: SQLStore, user: String) async throws -> Int {
        try await store.pool.withConnection { db in
            try await db.raw("SELECT COUNT(*) AS n FROM token_families WHERE user_id = \(bind: user) AND revoked_at IS NOT NULL")
                .first()?.decode(column: "n", as: Int.self) ?? -1
        }
    }

    static func notice(_ user: String, to phone: String) -> OutboxNotification {
        OutboxNotification(
            id: UUID().uuidString, kind: .smsNotice, userID: user, recipient: phone, sealedBody: "sealed", nextAttemptAt: Fixtures.epoch,
            createdAt: Fixtures.epoch)
    }

    @Test(
        "password change: a compare-and-set (one of 10 concurrent wins); all the user's families revoked; other sessions end",
        arguments: TestDatabases.engines)
    func changePassword(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            try await store.insertClient(Fixtures.client())
            let alice = Fixtures.user("alice")
            let bob = Fixtures.user("bob")
            try await store.insertUser(alice)
            try await store.insertUser(bob)
            for user in [alice.id, alice.id, bob.id] { try await store.insertRefreshToken(Fixtures.refreshToken(user: user)) }
            try await Self.session(store, "alice-here", principal: alice.id)
            try await Self.session(store, "alice-elsewhere", principal: alice.id)
            try await Self.session(store, "bob", principal: bob.id)
            try await Self.session(store, "operator", kind: .operator, principal: alice.id)

            #expect(
                try await store.changePassword(userID: alice.id, from: "wrong", to: "h2", keepingWebSession: "alice-here", at: Fixtures.epoch)
                    == false)
            #expect(try await Self.revokedFamilies(store, user: alice.id) == 0)
            #expect(try await Self.sessionHashes(store).count == 4)

            let won = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<10 {
                    group.addTask {
                        try await store.changePassword(
                            userID: alice.id, from: alice.passwordHash, to: "new-\(index)", keepingWebSession: "alice-here", at: Fixtures.epoch)
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(won == 1)
            #expect(try await store.user(id: alice.id)?.passwordHash.hasPrefix("new-") == true)
            #expect(try await Self.revokedFamilies(store, user: alice.id) == 2)
            #expect(try await Self.revokedFamilies(store, user: bob.id) == 0)
            #expect(try await Self.sessionHashes(store) == ["alice-here", "bob", "operator"])
        }
    }

    @Test("phone change: only from the number read; the notice is queued with it, and only with it", arguments: TestDatabases.engines)
    func changePhone(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let alice = Fixtures.user("alice")
            var carol = Fixtures.user("carol")
            carol.phone = nil
            try await store.insertUser(alice)
            try await store.insertUser(carol)
            let old = try #require(alice.phone)

            #expect(
                try await store.changePhone(userID: alice.id, from: "+4900000000", to: "+4917098765432", notice: Self.notice(alice.id, to: old))
                    == false)
            #expect(try await TestDatabases.count("notifications", in: store) == 0)
            #expect(try await store.changePhone(userID: carol.id, from: old, to: "+4917098765432", notice: nil) == false)

            let won = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<10 {
                    group.addTask {
                        try await store.changePhone(userID: alice.id, from: old, to: "+491709876543\(index)", notice: Self.notice(alice.id, to: old))
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(won == 1)
            #expect(try await store.user(id: alice.id)?.phone?.hasPrefix("+491709876543") == true)
            #expect(try await TestDatabases.count("notifications", in: store) == 1)
            // A user without a phone gets one (no one to notify).
            #expect(try await store.changePhone(userID: carol.id, from: nil, to: "+4917011111111", notice: nil))
            #expect(try await store.user(id: carol.id)?.phone == "+4917011111111")
        }
    }

    @Test(
        "deleting a user deletes its refresh tokens, families and challenges of every kind (bound to a device or to none), not another user's",
        arguments: TestDatabases.engines)
    func deleteUserDeletesTokensAndChallenges(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let alice = Fixtures.user("alice")
            let bob = Fixtures.user("bob")
            for user in [alice, bob] {
                try await store.insertUser(user)
                let (device, binding, notification) = DeviceStoreConformanceTests.binding(user: user.id)
                try await store.insertDeviceBinding(device: device, challenge: binding, notification: notification)
                for (kind, deviceID) in [(Challenge.Kind.deviceSignature, device.id), (.mfaPush, ""), (.webStepUp, "")] {
                    try await store.insertChallenge(
                        Challenge(
                            id: UUID().uuidString, kind: kind, userID: user.id, deviceID: deviceID, payload: "p", maxAttempts: 5,
                            createdAt: Fixtures.epoch, expiresAt: Fixtures.epoch.addingTimeInterval(300)),
                        notifications: [])
                }
                try await store.insertRefreshToken(Fixtures.refreshToken(user: user.id, client: "shop", family: "family-\(user.username)"))
            }
            #expect(try await store.deleteUser(id: alice.id))
            for table in ["challenges", "refresh_tokens", "token_families", "devices"] {
                #expect(try await TestDatabases.count("\(table) WHERE user_id = '\(alice.id)'", in: store) == 0, "\(table)")
            }
            #expect(try await TestDatabases.count("challenges WHERE user_id = '\(bob.id)'", in: store) == 4)
            #expect(try await TestDatabases.count("refresh_tokens WHERE user_id = '\(bob.id)'", in: store) == 1)
            #expect(try await TestDatabases.count("token_families WHERE user_id = '\(bob.id)'", in: store) == 1)
        }
    }

    @Test("deleting a user ends its self-service sessions (not an operator's of the same id, not another user's)", arguments: TestDatabases.engines)
    func deleteUserEndsSessions(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let alice = Fixtures.user("alice")
            let bob = Fixtures.user("bob")
            try await store.insertUser(alice)
            try await store.insertUser(bob)
            try await Self.session(store, "alice-1", principal: alice.id)
            try await Self.session(store, "alice-2", principal: alice.id)
            try await Self.session(store, "bob", principal: bob.id)
            try await Self.session(store, "operator", kind: .operator, principal: alice.id)
            #expect(try await store.deleteUser(id: alice.id))
            #expect(try await Self.sessionHashes(store) == ["bob", "operator"])
            // The username is free again.
            try await store.insertUser(Fixtures.user("alice"))
        }
    }
}
