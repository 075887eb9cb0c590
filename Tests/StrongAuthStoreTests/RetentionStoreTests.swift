import Foundation
import SQLKit
import StrongAuthCore
import StrongAuthStore
import Testing

/// The retention job's deletes on every database: exactly the rows expired before the cutoff, at
/// most a batch at a time; a token family goes with its last refresh token, never before.
@Suite("Store conformance: retention of expired records")
struct RetentionStoreTests {
    static let cutoff = Fixtures.epoch.addingTimeInterval(10_000)
    static let before = Fixtures.epoch.addingTimeInterval(100)
    static let after = Fixtures.epoch.addingTimeInterval(20_000)

    static func challenge(_ id: String, user: String, expiresAt: Date, status: Challenge.Status = .open) -> Challenge {
        Challenge(
            id: id, kind: .deviceSignature, userID: user, deviceID: "d-1", payload: "sign me", status: status, maxAttempts: 5,
            createdAt: Fixtures.epoch, expiresAt: expiresAt)
    }

    @Test(
        "challenges: those expired before the cutoff go, in batches of the limit; one expiring at the cutoff and live ones stay",
        arguments: TestDatabases.engines)
    func challenges(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let user = Fixtures.user()
            try await store.insertUser(user)
            for (id, expiry, status) in [
                ("old-open", Self.before, Challenge.Status.open), ("old-answered", Self.before, .answered), ("old-failed", Self.before, .failed),
                ("at-cutoff", Self.cutoff, .open), ("live", Self.after, .open),
            ] {
                try await store.insertChallenge(Self.challenge(id, user: user.id, expiresAt: expiry, status: status), notifications: [])
            }
            #expect(try await store.deleteExpiredChallenges(before: Self.cutoff, limit: 2) == 2)
            #expect(try await store.deleteExpiredChallenges(before: Self.cutoff, limit: 2) == 1)
            #expect(try await store.deleteExpiredChallenges(before: Self.cutoff, limit: 2) == 0)
            for id in ["old-open", "old-answered", "old-failed"] { #expect(try await store.challenge(id: id) == nil) }
            #expect(try await store.challenge(id: "at-cutoff") != nil)
            #expect(try await store.challenge(id: "live") != nil)
        }
    }

    @Test(
        "refresh tokens: expired ones go; their family goes with its last token and stays while one is left",
        arguments: TestDatabases.engines)
    func refreshTokensAndFamilies(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let user = Fixtures.user()
            try await store.insertUser(user)
            try await store.insertClient(Fixtures.client())
            // Family A: one expired token and one live; B: one expired; C: one live.
            try await store.insertRefreshToken(Fixtures.refreshToken(user: user.id, hash: "a-old", family: "A", expiresIn: 100))
            try await store.insertRefreshToken(Fixtures.refreshToken(user: user.id, hash: "a-live", family: "A", expiresIn: 20_000))
            try await store.insertRefreshToken(Fixtures.refreshToken(user: user.id, hash: "b-old", family: "B", expiresIn: 100))
            try await store.insertRefreshToken(Fixtures.refreshToken(user: user.id, hash: "c-live", family: "C", expiresIn: 20_000))
            #expect(try await TestDatabases.count("token_families", in: store) == 3)

            #expect(try await store.deleteExpiredRefreshTokens(before: Self.cutoff, limit: 10) == 2)
            #expect(try await store.deleteExpiredRefreshTokens(before: Self.cutoff, limit: 10) == 0)
            #expect(try await store.refreshToken(hash: "a-old") == nil)
            #expect(try await store.refreshToken(hash: "b-old") == nil)
            #expect(try await store.refreshToken(hash: "a-live")?.familyID == "A")
            #expect(try await store.refreshToken(hash: "c-live")?.familyID == "C")
            let families = try await store.pool.withConnection { db in
                try await db.raw("SELECT id FROM token_families ORDER BY id").all().map { try $0.decode(column: "id", as: String.self) }
            }
            #expect(families == ["A", "C"])
        }
    }

    @Test(
        "refresh tokens: several sweeps at once delete every expired token and leave no family without one",
        arguments: TestDatabases.engines)
    func concurrentSweeps(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let user = Fixtures.user()
            try await store.insertUser(user)
            try await store.insertClient(Fixtures.client())
            for family in 0..<30 {
                for token in 0..<2 {
                    try await store.insertRefreshToken(
                        Fixtures.refreshToken(user: user.id, hash: "f\(family)-t\(token)", family: "F\(family)", expiresIn: 100))
                }
            }
            try await store.insertRefreshToken(Fixtures.refreshToken(user: user.id, hash: "live", family: "L", expiresIn: 20_000))
            let deleted = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<6 {
                    group.addTask {
                        var deleted = 0
                        while true {
                            let batch = try await store.deleteExpiredRefreshTokens(before: Self.cutoff, limit: 3)
                            if batch == 0 { return deleted }
                            deleted += batch
                        }
                    }
                }
                return try await group.reduce(0, +)
            }
            // A sweep that found its batch taken by another returns 0 early; one more pass finds what is left.
            let rest = try await store.deleteExpiredRefreshTokens(before: Self.cutoff, limit: 100)
            #expect(deleted + rest == 60)
            #expect(try await TestDatabases.count("refresh_tokens", in: store) == 1)
            #expect(try await TestDatabases.count("token_families", in: store) == 1)
        }
    }

    @Test(
        "access-token revocations: those whose token expired before the cutoff go; a live token stays revoked",
        arguments: TestDatabases.engines)
    func accessTokenRevocations(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            try await store.revokeAccessToken(jti: "expired", expiresAt: Self.before, at: Fixtures.epoch)
            try await store.revokeAccessToken(jti: "live", expiresAt: Self.after, at: Fixtures.epoch)
            #expect(try await store.deleteExpiredAccessTokenRevocations(before: Self.cutoff, limit: 10) == 1)
            let live = AccessTokenLivenessQuery(jti: "live", familyID: nil, userID: nil, clientID: "shop", deviceID: nil)
            #expect(try await store.accessTokenLiveness(live).isLive == false)
            #expect(try await TestDatabases.count("revoked_access_tokens", in: store) == 1)
        }
    }

    @Test("action tokens: those expired before the cutoff go, used or not; a live one stays", arguments: TestDatabases.engines)
    func actionTokens(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            for (hash, expiry, used) in [("old-used", Self.before, true), ("old-unused", Self.before, false), ("live", Self.after, false)] {
                try await store.pool.withWriteConnection { db in
                    try await db.raw(
                        """
                        INSERT INTO action_tokens (token_hash, approval_id, client_id, action, payload_hash, expires_at, used_at)
                        VALUES (\(bind: hash), 'a-1', 'shop', 'transfer', 'h', \(bind: expiry.epochMilliseconds), \(bind: used ? Int64(1) : nil))
                        """
                    ).run()
                }
            }
            #expect(try await store.deleteExpiredActionTokens(before: Self.cutoff, limit: 10) == 2)
            let left = try await store.pool.withConnection { db in
                try await db.raw("SELECT token_hash FROM action_tokens").all().map { try $0.decode(column: "token_hash", as: String.self) }
            }
            #expect(left == ["live"])
        }
    }

    @Test(
        "notifications: delivered and given-up ones whose last attempt is before the cutoff go; pending ones never",
        arguments: TestDatabases.engines)
    func notifications(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let user = Fixtures.user()
            try await store.insertUser(user)
            func notification(_ id: String, _ status: OutboxNotification.Status, due: Date) -> OutboxNotification {
                OutboxNotification(
                    id: id, kind: .smsOTP, userID: user.id, recipient: "+4915112345678", sealedBody: "sealed", status: status,
                    nextAttemptAt: due, createdAt: Fixtures.epoch)
            }
            try await store.enqueue([
                notification("sent-old", .sent, due: Self.before), notification("dead-old", .dead, due: Self.before),
                notification("pending-old", .pending, due: Self.before), notification("sent-new", .sent, due: Self.after),
            ])
            #expect(try await store.deleteFinishedNotifications(before: Self.cutoff, limit: 10) == 2)
            let left = try await store.pool.withConnection { db in
                try await db.raw("SELECT id FROM notifications ORDER BY id").all().map { try $0.decode(column: "id", as: String.self) }
            }
            #expect(left == ["pending-old", "sent-new"])
        }
    }
}
