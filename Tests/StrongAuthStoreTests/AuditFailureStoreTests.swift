import Foundation
import SQLKit
import StrongAuthCore
import StrongAuthStore
import Testing

/// Failed authentications counted per window on every database (a row per wrong
/// client secret in the append-only audit chain filled the disk): one atomic upsert per failure,
/// a bounded number of rows per window, and ONE chained record per closed key, written once.
@Suite("Store conformance: aggregated failed authentications")
struct AuditFailureStoreTests {
    static func wrongSecret(_ clientID: String = "shop", from source: String = "192.0.2.1") -> AuditRecord {
        AuditRecord(
            actor: "anonymous", action: AuditAction(rawValue: "client.authentication"), subject: "client:\(clientID)", sourceAddress: source,
            outcome: .failure,
            details: ["reason": "wrong_secret"])
    }

    static func failureRows(_ store: SQLStore) async throws -> Int { try await TestDatabases.count("audit_failures", in: store) }

    @Test(
        "30 concurrent failures of one key are one row counting 30; two concurrent seals journal it once, as one record with count 30",
        arguments: TestDatabases.engines)
    func concurrentUpsert(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            try await store.insertClient(Fixtures.client("shop"))
            let now = Fixtures.epoch
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<30 {
                    group.addTask { try await store.recordFailure(Self.wrongSecret(), at: now.addingTimeInterval(Double(index)), policy: .standard) }
                }
                try await group.waitForAll()
            }
            #expect(try await Self.failureRows(store) == 1)
            let open = try await store.openFailureWindows(realm: nil, limit: 10)
            #expect(open.count == 1)
            #expect(open.first?.count == 30 && open.first?.realm == Realm.defaultID)
            #expect(open.first?.firstSeen == now && open.first?.lastSeen == now.addingTimeInterval(29))
            #expect(open.first?.windowStart == now && open.first?.windowEnd == now.addingTimeInterval(60))
            // Nothing is sealed while the window is open.
            #expect(try await store.sealFailureWindows(closedBy: now.addingTimeInterval(59.999)) == 0)
            let before = try await store.auditEvents(after: 0, limit: 100).count
            async let first = store.sealFailureWindows(closedBy: now.addingTimeInterval(60))
            async let second = store.sealFailureWindows(closedBy: now.addingTimeInterval(61))
            #expect(try await first + second == 1)
            let events = try await store.auditEvents(after: 0, limit: 100)
            #expect(events.count == before + 1)
            let record = try #require(events.last?.record)
            #expect(record.action.rawValue == "client.authentication" && record.subject == "client:shop" && record.sourceAddress == "192.0.2.1")
            #expect(record.outcome == .failure && record.details["count"] == "30" && record.details["reason"] == "wrong_secret")
            #expect(record.details["window_start"] == "2027-01-15T08:00:00Z" && record.details["window_end"] == "2027-01-15T08:01:00Z")
            #expect(try await Self.failureRows(store) == 0)
            #expect(try await store.sealFailureWindows(closedBy: now.addingTimeInterval(3600)) == 0)
            #expect(try await AuditVerification.verifyAll(store) == .intact(events: before + 1))
        }
    }

    @Test(
        "random client ids beyond the key cap are counted in one overflow row per action; known keys keep counting",
        arguments: TestDatabases.engines)
    func keyCap(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let now = Fixtures.epoch
            let policy = AuditFailurePolicy(windowSeconds: 60, maxKeysPerWindow: 5)
            for index in 0..<50 {
                try await store.recordFailure(Self.wrongSecret("random-\(index)", from: "198.51.100.\(index)"), at: now, policy: policy)
            }
            try await store.recordFailure(Self.wrongSecret("random-0", from: "198.51.100.0"), at: now, policy: policy)
            let integration = AuditRecord(
                actor: "integration-user:nobody", action: AuditAction(rawValue: "powerauth.integration_user.authentication"),
                sourceAddress: "192.0.2.9",
                outcome: .failure)
            for _ in 0..<3 { try await store.recordFailure(integration, at: now, policy: policy) }
            // Five keys of the window (random-0 … random-4), then one overflow row per action.
            #expect(try await Self.failureRows(store) == 5 + 2)
            let open = try await store.openFailureWindows(realm: nil, limit: 100)
            #expect(open.first(where: { $0.subject == "client:random-0" })?.count == 2)
            let overflow = open.filter(\.isOverflow)
            #expect(Set(overflow.map(\.action.rawValue)) == ["client.authentication", "powerauth.integration_user.authentication"])
            #expect(overflow.first(where: { $0.action.rawValue == "client.authentication" })?.count == 45)
            #expect(overflow.first(where: { $0.action.rawValue == "powerauth.integration_user.authentication" })?.count == 3)
            #expect(open.reduce(0) { $0 + $1.count } == 54)

            // Concurrently (30 calls, several connections): no failure is lost, and the rows stay
            // bounded by the cap plus the writers that raced past it (at most the pool's 8).
            let later = now.addingTimeInterval(60)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<30 {
                    group.addTask { try await store.recordFailure(Self.wrongSecret("flood-\(index)"), at: later, policy: policy) }
                }
                try await group.waitForAll()
            }
            let flood = try await store.openFailureWindows(realm: nil, limit: 100).filter { $0.windowStart == later }
            #expect(flood.reduce(0) { $0 + $1.count } == 30)
            #expect(flood.count <= 5 + 8 + 1)
            #expect(flood.contains { $0.isOverflow })

            // The first window seals into 7 records, the second stays open.
            #expect(try await store.sealFailureWindows(closedBy: later) == 7)
            let sealed = try await store.auditEvents(after: 0, limit: 100)
            #expect(sealed.filter { $0.record.details["overflow"] == "true" }.count == 2)
            #expect(
                sealed.first(where: { $0.record.details["overflow"] == "true" && $0.record.action.rawValue == "client.authentication" })?.record
                    .details["count"] == "45")
            #expect(try await Self.failureRows(store) == flood.count)
        }
    }

    @Test(
        "a failure naming a realm's client is that realm's; another realm does not see it; unknown ids are installation-wide",
        arguments: TestDatabases.engines)
    func realms(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            try await store.insertRealm(id: "bank-b", at: Fixtures.epoch)
            var client = Fixtures.client("b-shop")
            client.realmID = "bank-b"
            try await store.insertClient(client)
            try await store.recordFailure(Self.wrongSecret("b-shop"), at: Fixtures.epoch, policy: .standard)
            try await store.recordFailure(Self.wrongSecret("nobody"), at: Fixtures.epoch, policy: .standard)
            #expect(try await store.openFailureWindows(realm: "bank-b", limit: 10).map(\.subject) == ["client:b-shop"])
            #expect(try await store.openFailureWindows(realm: Realm.defaultID, limit: 10).map(\.subject) == ["client:nobody"])
            #expect(try await store.sealFailureWindows(closedBy: Fixtures.epoch.addingTimeInterval(60)) == 2)
            let inB = try await store.recentAuditEvents(realm: "bank-b", subject: nil, failuresOnly: true, before: nil, limit: 10)
            #expect(inB.map(\.record.subject) == ["client:b-shop"] && inB.first?.record.details["count"] == "1")
        }
    }
}
