import Foundation
import SQLKit
import StrongAuthCore
import StrongAuthStore
import Testing

/// The finAPI process controller's store on every database: exchanges counted exactly under
/// concurrency, invalidation and expiry final, and the retention job deleting exactly the
/// identities whose time has come, with their data.
@Suite("Store conformance: processes")
struct ProcessStoreTests {
    /// A process (and its identity) of client `shop`, created at `Fixtures.epoch`.
    static func process(
        _ store: SQLStore, hash: String = UUID().uuidString, maxExchanges: Int = 10, lifetime: TimeInterval = 86_400,
        retention: TimeInterval = 7 * 86_400
    ) async throws -> IdentityProcess {
        if try await store.client(id: "shop") == nil { try await store.insertClient(Fixtures.client()) }
        let userID = UUID().uuidString.lowercased()
        let identity = User(id: userID, username: "process:\(userID)", passwordHash: "!", ownerClientId: "shop", createdAt: Fixtures.epoch)
        let process = IdentityProcess(
            id: UUID().uuidString.lowercased(), tokenHash: hash, clientID: "shop", processType: "USER_ONLY", clientReference: "ref-\(hash)",
            userID: userID, maxExchanges: maxExchanges, createdAt: Fixtures.epoch, expiresAt: Fixtures.epoch.addingTimeInterval(lifetime),
            deleteAfter: Fixtures.epoch.addingTimeInterval(retention))
        try await store.insertProcesses([process], identities: [identity])
        return process
    }

    static func rows(_ store: SQLStore, _ sql: String) async throws -> Int {
        try await store.pool.withConnection { db in
            try await db.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: sql)").first()?.decode(column: "n", as: Int.self) ?? -1
        }
    }

    @Test("processes and identities are stored together, flagged, and read back by token hash", arguments: TestDatabases.engines)
    func insertAndRead(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let process = try await Self.process(store, hash: "h1")
            #expect(try await store.process(tokenHash: "h1") == process)
            #expect(try await store.process(tokenHash: "other") == nil)
            let identity = try #require(try await store.user(id: process.userID))
            #expect(identity.ownerClientId == "shop" && identity.passwordHash == "!")
            #expect(try await Self.rows(store, "users WHERE process_identity = 1") == 1)
            // All or none: a batch with a duplicate token hash stores nothing of the batch.
            let userID = UUID().uuidString
            var duplicate = process
            duplicate.id = UUID().uuidString
            duplicate.userID = userID
            func created(_ process: IdentityProcess) -> AuditRecord {
                AuditRecord(actor: "client:shop", action: .processCreated, subject: "user:\(process.userID)", outcome: .success)
            }
            await #expect(throws: (any Error).self) {
                try await store.insertProcesses(
                    [duplicate], identities: [User(id: userID, username: "process:\(userID)", passwordHash: "!", createdAt: Fixtures.epoch)],
                    audits: [created(duplicate)], at: Fixtures.epoch)
            }
            #expect(try await store.user(id: userID) == nil)
            #expect(try await Self.rows(store, "processes") == 1)
            // Nor its record; the records of a batch that is stored are journaled with it, in the identities' realm.
            #expect(try await Self.rows(store, "audit_journal WHERE action = 'process.created'") == 0)
            let second = UUID().uuidString.lowercased()
            duplicate.tokenHash = "h2"
            duplicate.userID = second
            try await store.insertProcesses(
                [duplicate], identities: [User(id: second, username: "process:\(second)", passwordHash: "!", createdAt: Fixtures.epoch)],
                audits: [created(duplicate)], at: Fixtures.epoch)
            let journaled = try await store.auditEvents(after: 0, limit: 100).filter { $0.record.action == .processCreated }
            #expect(journaled.map(\.record.subject) == ["user:\(second)"])
            #expect(journaled.map(\.record.realm) == [try await store.user(id: second)?.realmID])
        }
    }

    @Test("30 concurrent exchanges of one token with a maximum of 10: exactly 10 succeed", arguments: TestDatabases.engines)
    func exchangesAreExact(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let process = try await Self.process(store, hash: "h1", maxExchanges: 10)
            let counts = try await withThrowingTaskGroup(of: Int?.self) { group in
                for _ in 0..<30 {
                    group.addTask { try await store.exchangeProcess(tokenHash: "h1", invalidate: false, at: Fixtures.epoch)?.exchanges }
                }
                return try await group.reduce(into: [Int]()) { if let count = $1 { $0.append(count) } }
            }
            #expect(counts.sorted() == Array(1...10))
            let stored = try #require(try await store.process(tokenHash: "h1"))
            #expect(stored.exchanges == 10 && stored.state(at: Fixtures.epoch) == .exhausted)
            #expect(try await store.exchangeProcess(tokenHash: "h1", invalidate: true, at: Fixtures.epoch) == nil)
            #expect(process.userID == stored.userID)
        }
    }

    @Test("invalidate: the exchange that invalidates succeeds once, concurrently too; nothing after it", arguments: TestDatabases.engines)
    func invalidation(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            _ = try await Self.process(store, hash: "h1")
            #expect(try await store.exchangeProcess(tokenHash: "h1", invalidate: false, at: Fixtures.epoch)?.exchanges == 1)
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<10 {
                    group.addTask { try await store.exchangeProcess(tokenHash: "h1", invalidate: true, at: Fixtures.epoch) != nil }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1)
            let stored = try #require(try await store.process(tokenHash: "h1"))
            #expect(stored.exchanges == 2 && stored.invalidatedAt == Fixtures.epoch && stored.state(at: Fixtures.epoch) == .invalidated)
            #expect(try await store.exchangeProcess(tokenHash: "h1", invalidate: false, at: Fixtures.epoch) == nil)
        }
    }

    @Test("expiry: exchanged until expiresAt, never at or after it; a deleted identity or disabled client ends it", arguments: TestDatabases.engines)
    func expiryAndLiveness(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            _ = try await Self.process(store, hash: "h1", lifetime: 60)
            #expect(try await store.exchangeProcess(tokenHash: "h1", invalidate: false, at: Fixtures.epoch.addingTimeInterval(59.999)) != nil)
            #expect(try await store.exchangeProcess(tokenHash: "h1", invalidate: false, at: Fixtures.epoch.addingTimeInterval(60)) == nil)
            #expect(try await store.exchangeProcess(tokenHash: "h1", invalidate: true, at: Fixtures.epoch.addingTimeInterval(3600)) == nil)
            #expect(try await store.process(tokenHash: "h1")?.state(at: Fixtures.epoch.addingTimeInterval(60)) == .expired)

            let orphan = try await Self.process(store, hash: "h2")
            #expect(try await store.deleteUser(id: orphan.userID))
            #expect(try await store.exchangeProcess(tokenHash: "h2", invalidate: false, at: Fixtures.epoch) == nil)

            try await store.insertClient(Fixtures.client("other", status: .disabled))
            let userID = UUID().uuidString
            let foreign = IdentityProcess(
                id: UUID().uuidString, tokenHash: "h3", clientID: "other", processType: "USER_ONLY", clientReference: "r", userID: userID,
                maxExchanges: 10, createdAt: Fixtures.epoch, expiresAt: Fixtures.epoch.addingTimeInterval(60),
                deleteAfter: Fixtures.epoch.addingTimeInterval(60))
            try await store.insertProcesses(
                [foreign],
                identities: [User(id: userID, username: "process:\(userID)", passwordHash: "!", ownerClientId: "other", createdAt: Fixtures.epoch)])
            #expect(try await store.exchangeProcess(tokenHash: "h3", invalidate: false, at: Fixtures.epoch) == nil)
            #expect(try await store.process(tokenHash: "h3")?.exchanges == 0)
        }
    }

    @Test("retention: exactly the due processes, their identities and data go; concurrent passes delete each once", arguments: TestDatabases.engines)
    func retention(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let due = try await Self.process(store, hash: "h1", lifetime: 86_400, retention: 86_400)
            let kept = try await Self.process(store, hash: "h2", lifetime: 86_400, retention: 2 * 86_400)
            let person = Fixtures.user()
            try await store.insertUser(person)
            for user in [due.userID, kept.userID, person.id] {
                try await store.insertRefreshToken(Fixtures.refreshToken(user: user))
                let (device, challenge, notification) = DeviceStoreConformanceTests.binding(user: user)
                try await store.insertDeviceBinding(device: device, challenge: challenge, notification: notification)
                let approval = Approval(
                    id: UUID().uuidString, kind: .actionRequest, userID: user, externalUserID: user, applicationID: nil,
                    template: "bank:transfers:create", operationType: "action", parameters: [:], data: "d", maxFailureCount: 5,
                    signatureTypes: ["possession_knowledge"], createdAt: Fixtures.epoch, expiresAt: Fixtures.epoch.addingTimeInterval(300),
                    updatedAt: Fixtures.epoch)
                try await store.insertApproval(approval, webhooks: [])
            }
            let tables = ["refresh_tokens", "token_families", "devices", "challenges", "notifications", "approvals"]
            func counts(_ user: String) async throws -> [Int] {
                var result: [Int] = []
                for table in tables { result.append(try await Self.rows(store, "\(table) WHERE user_id = '\(user)'")) }
                return result
            }
            #expect(try await counts(due.userID) == [1, 1, 1, 1, 1, 1])

            let now = Fixtures.epoch.addingTimeInterval(86_400)
            #expect(try await store.processesDueForDeletion(at: now.addingTimeInterval(-0.001), limit: 10).isEmpty)
            #expect(try await !store.deleteProcess(id: due.id, at: now.addingTimeInterval(-0.001)))
            #expect(try await store.processesDueForDeletion(at: now, limit: 10).map(\.id) == [due.id])

            // What the retention job does on three nodes at once: the identity's data, then the row.
            let deletions = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<3 {
                    group.addTask {
                        _ = try await store.deleteUser(id: due.userID)
                        return try await store.deleteProcess(id: due.id, at: now)
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(deletions == 1)
            #expect(try await store.user(id: due.userID) == nil)
            #expect(try await counts(due.userID) == [0, 0, 0, 0, 0, 0])
            #expect(try await store.process(tokenHash: "h1") == nil)
            #expect(try await store.processesDueForDeletion(at: now, limit: 10).isEmpty)

            #expect(try await store.user(id: kept.userID) != nil)
            #expect(try await store.user(id: person.id) != nil)
            #expect(try await counts(kept.userID) == [1, 1, 1, 1, 1, 1])
            #expect(try await counts(person.id) == [1, 1, 1, 1, 1, 1])
            #expect(try await store.process(tokenHash: "h2") == kept)
        }
    }
}
