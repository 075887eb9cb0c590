import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import StrongAuthCore
import StrongAuthServer
import Testing

/// Realms in the back office and self-service (docs/security-model.md): an operator of realm R sees, counts and
/// changes only R's users, devices and audit records; another realm's object reads exactly as an
/// unknown one. A self-service user signs in within one realm.
@Suite("Web UI: realms")
struct RealmsWebTests {
    @Test("an operator of another realm neither finds, counts, shows nor changes the default realm's users and devices")
    func operatorSeesOnlyItsRealm() async throws {
        try await TestServer.with { server in
            try await server.runtime.administration.createRealm(id: "bank-b", actor: "test")
            let alice = try await server.runtime.administration.createUser(
                username: "alice", password: "alice password", phone: nil, email: nil, ownerClientID: nil, actor: "test"
            ).user
            let bAlice = try await server.runtime.administration.createUser(
                username: "alice", password: "b alice password", phone: nil, email: nil, ownerClientID: nil, realm: "bank-b", actor: "test"
            ).user
            let device = try await server.activeDevice(userID: alice.id)
            let bOperator = try await server.runtime.operators.create(username: "bob", password: "operator pw", realm: "bank-b", actor: "test")
            try await server.test { client in
                var browser = Browser(client: client)
                #expect(try await browser.signInOperator("bob", "operator pw", code: server.totp(bOperator)).status == .seeOther)
                let search = try await browser.get("/admin/users?q=alice")
                #expect(search.text.contains("/admin/users/\(bAlice.id)"))
                #expect(!search.text.contains(alice.id))
                // Searching by the other realm's user id finds nothing (the page echoes only the query).
                #expect(!(try await browser.get("/admin/users?q=\(alice.id)").text.contains("/admin/users/\(alice.id)")))
                let unknownUser = try await browser.get("/admin/users/\(UUID().uuidString.lowercased())")
                let foreignUser = try await browser.get("/admin/users/\(alice.id)")
                #expect(foreignUser.status == unknownUser.status)
                #expect(foreignUser.status == .notFound)
                #expect(try await browser.get("/admin/devices/\(device)").status == .notFound)
                #expect(!(try await browser.get("/admin/devices").text.contains(device)))
                #expect(!(try await browser.get("/admin/audit").text.contains(alice.id)))
                let csrf = try #require(try await browser.get("/admin").csrf)
                #expect(try await browser.post("/admin/devices/\(device)/block", ["_csrf": csrf, "reason": "FRAUD_SUSPECTED"]).status == .notFound)
                #expect(try await browser.post("/admin/devices/\(device)/remove", ["_csrf": csrf]).status == .notFound)
                #expect(try await browser.post("/admin/users/\(alice.id)/unlock", ["_csrf": csrf]).status == .notFound)
            }
            #expect(try await server.runtime.store.device(id: device)?.status == .active)
            #expect(try await server.runtime.backOffice.counts(realm: "bank-b").users == 1)
            #expect(try await server.runtime.backOffice.counts(realm: "bank-b").devicesByStatus.isEmpty)
        }
    }

    @Test("self-service signs in within the realm the form names; the default realm without one")
    func selfServiceSignInPerRealm() async throws {
        try await TestServer.with { server in
            try await server.runtime.administration.createRealm(id: "bank-b", actor: "test")
            _ = try await server.runtime.administration.createUser(
                username: "alice", password: "alice password", phone: nil, email: nil, ownerClientID: nil, actor: "test")
            _ = try await server.runtime.administration.createUser(
                username: "alice", password: "b alice password", phone: nil, email: nil, ownerClientID: nil, realm: "bank-b", actor: "test")
            try await server.test { client in
                var browser = Browser(client: client)
                let form = try await browser.get("/self-service/login?realm=bank-b")
                #expect(form.text.contains("name=\"realm\" value=\"bank-b\""))
                /// A fresh form each time: a refused sign-in starts a new pre-session (and CSRF token).
                func signIn(realm: String, _ username: String, _ password: String) async throws -> HTTPResponse.Status {
                    let form = try await browser.get("/self-service/login?realm=\(realm)")
                    guard let csrf = form.csrf else {
                        Issue.record("the sign-in form has no CSRF token")
                        return .internalServerError
                    }
                    let answer = try await browser.post(
                        "/self-service/login", ["_csrf": csrf, "realm": realm, "username": username, "password": password])
                    return answer.status
                }
                // The default realm's password does not open realm bank-b's alice, nor the other way round.
                #expect(try await signIn(realm: "bank-b", "alice", "alice password") == .unauthorized)
                #expect(try await browser.signInUser("alice", "b alice password").status == .unauthorized)
                #expect(try await signIn(realm: "no-such", "alice", "alice password") == .unauthorized)
                #expect(try await signIn(realm: "bank-b", "alice", "b alice password") == .seeOther)
                var other = Browser(client: client)
                #expect(try await other.signInUser("alice", "alice password").status == .seeOther)
            }
        }
    }

    @Test("the record of a deleted user stays in the user's realm's audit, not in the default realm's")
    func deletedUsersAuditStaysInItsRealm() async throws {
        try await TestServer.with { server in
            try await server.runtime.administration.createRealm(id: "bank-b", actor: "test")
            let bAlice = try await server.runtime.administration.createUser(
                username: "alice", password: "b alice password", phone: nil, email: nil, ownerClientID: nil, realm: "bank-b", actor: "test"
            ).user
            // Deleted by herself (finAPI's DELETE /api/v2/users): neither subject nor actor exists afterwards.
            #expect(try await server.runtime.administration.deleteUser(id: bAlice.id, actor: "user:\(bAlice.id)", source: nil))
            let inB = try await server.runtime.backOffice.auditEvents(realm: "bank-b", subject: "user:\(bAlice.id)")
            #expect(inB.map(\.record.action.rawValue).contains("user.deleted"))
            #expect(try await server.runtime.backOffice.auditEvents(realm: Realm.defaultID, subject: "user:\(bAlice.id)").isEmpty)
        }
    }
}
