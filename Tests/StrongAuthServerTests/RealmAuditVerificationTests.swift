import Foundation
import HummingbirdTesting
import SQLKit
@testable import StrongAuthCore
import Testing

/// Verifying the audit chain in the back office (docs/security-model.md): the chain is one for the
/// installation, but a realm's operator is told only what concerns the realm — a break at one of
/// its own events by the realm's own position, a break elsewhere without any number — never the
/// chain's global sequence numbers, which would count every realm's events.
@Suite("Realms: audit chain verification within the realm's view")
struct RealmAuditVerificationTests {
    /// Changes the stored action of event `sequence` (the append-only trigger dropped first), as
    /// someone with write access to the database would.
    static func tamper(_ server: TestServer, sequence: Int64) async throws {
        _ = try await server.runtime.backOffice.verifyAuditChain()  // seals the journal into the chain
        try await server.runtime.store.pool.withWriteConnection { db in
            try await db.raw("DROP TRIGGER audit_events_no_update").run()
            try await db.raw("UPDATE audit_events SET action = 'forged' WHERE sequence = \(bind: sequence)").run()
        }
    }

    static func sequences(_ server: TestServer, realm: String) async throws -> [Int64] {
        _ = try await server.runtime.backOffice.verifyAuditChain()
        return try await server.runtime.store.pool.withConnection { db in
            try await db.raw("SELECT sequence FROM audit_events WHERE realm_id = \(bind: realm) ORDER BY sequence").all()
                .map { try $0.decode(column: "sequence", as: Int64.self) }
        }
    }

    /// Two realms with a few events each, interleaved; signs in each realm's operator.
    static func withTwoRealms(
        _ body: @escaping @Sendable (TestServer, _ root: Browser, _ bob: Browser) async throws -> Void
    ) async throws {
        try await TestServer.with { server in
            try await server.runtime.administration.createRealm(id: "bank-b", actor: "test")
            for name in ["alice", "carol", "dave"] {
                _ = try await server.runtime.administration.createUser(
                    username: name, password: "\(name) password", phone: nil, email: nil, ownerClientID: nil, actor: "test")
                _ = try await server.runtime.administration.createUser(
                    username: name, password: "b \(name) password", phone: nil, email: nil, ownerClientID: nil, realm: "bank-b", actor: "test")
            }
            let root = try await server.runtime.operators.create(username: "root", password: "operator pw", actor: "test")
            let bob = try await server.runtime.operators.create(username: "bob", password: "operator pw", realm: "bank-b", actor: "test")
            try await server.test { client in
                var rootBrowser = Browser(client: client)
                #expect(try await rootBrowser.signInOperator("root", "operator pw", code: server.totp(root)).status == .seeOther)
                var bobBrowser = Browser(client: client)
                #expect(try await bobBrowser.signInOperator("bob", "operator pw", code: server.totp(bob)).status == .seeOther)
                try await body(server, rootBrowser, bobBrowser)
            }
        }
    }

    @Test("a break at another realm's event is reported to realm B's operator without any number; the default realm's operator is told where")
    func breakElsewhereHasNoNumber() async throws {
        try await Self.withTwoRealms { server, root, bob in
            var (root, bob) = (root, bob)
            let broken = try #require(try await Self.sequences(server, realm: Realm.defaultID).last)
            try await Self.tamper(server, sequence: broken)
            let page = try await bob.get("/admin/audit?verify=1")
            #expect(page.status == .ok)
            #expect(!page.text.contains("Broken at event"), "B is told the chain's global position")
            #expect(page.text.contains("Broken outside this realm"))
            // The installation's view (the default realm's operators, the CLI) names the event.
            #expect(try await root.get("/admin/audit?verify=1").text.contains("Broken at event \(broken): content does not match its hash"))
            #expect(try await server.runtime.backOffice.verifyAuditChain(realm: "bank-b") == .brokenOutsideRealm)
        }
    }

    @Test("a break at one of realm B's own events is reported to B's operator by the realm's own position and time, not the chain's")
    func breakInRealmByOwnPosition() async throws {
        try await Self.withTwoRealms { server, _, bob in
            var bob = bob
            let own = try await Self.sequences(server, realm: "bank-b")
            #expect(own.count >= 3)
            // B's last event: its global number is larger (events of the default realm came between).
            let broken = try #require(own.last)
            #expect(broken > Int64(own.count))
            try await Self.tamper(server, sequence: broken)
            let page = try await bob.get("/admin/audit?verify=1")
            #expect(!page.text.contains("event \(broken)"), "B is told the chain's global position")
            let told = "realm&#39;s event \(own.count) (counted from its first"
            #expect(
                page.text.contains("Broken at this \(told)")
                    || page.text.contains("Broken at this \(told.replacingOccurrences(of: "&#39;", with: "'"))"))
            #expect(page.text.contains("content does not match its hash"))
            let verification = try await server.runtime.backOffice.verifyAuditChain(realm: "bank-b")
            guard case .brokenAtRealmEvent(let position, _, let reason) = verification else {
                Issue.record("\(verification)")
                return
            }
            #expect(position == own.count && reason == "content does not match its hash")
        }
    }

    @Test("an intact chain tells realm B's operator how many of its own events verify, not how many the installation holds")
    func intactCountsOwnEvents() async throws {
        try await Self.withTwoRealms { server, _, bob in
            var bob = bob
            let own = try await Self.sequences(server, realm: "bank-b")
            let page = try await bob.get("/admin/audit?verify=1")
            #expect(page.text.contains("Intact"))
            let verification = try await server.runtime.backOffice.verifyAuditChain(realm: "bank-b")
            // The verification itself is audited in B's realm after the count was taken.
            guard case .intact(let count) = verification else {
                Issue.record("\(verification)")
                return
            }
            #expect(count >= own.count)
        }
    }
}
