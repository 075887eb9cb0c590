import Configuration
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import StrongAuthCore
import StrongAuthServer
import SQLKit
import StrongAuthStore
import Testing

/// Failed authentications of unauthenticated callers no longer append a row each to the
/// append-only audit chain (anyone could fill the disk with rows that can never be
/// deleted): they are counted per window and source, and each closed window is ONE chained
/// record with its count.
@Suite("Audit: aggregated failed authentications")
struct AuditAggregationTests {
    static let noRateLimits: [String: ConfigContent] = ["rateLimits.enabled": .bool(false)]

    static func openRows(_ server: TestServer) async throws -> Int {
        try await server.runtime.store.pool.withConnection { db in
            try await db.raw("SELECT COUNT(*) AS n FROM audit_failures").first()?.decode(column: "n", as: Int.self) ?? 0
        }
    }

    /// Seals every window that is over once the clock has moved past it.
    static func sealClosedWindows(_ server: TestServer) async throws -> [AuditEvent] {
        server.time.advance(by: Double(server.runtime.store.failurePolicy.windowSeconds))
        try await server.runtime.store.sealFailureWindows(closedBy: server.time.now())
        return try await server.runtime.store.auditEvents(after: 0, limit: 10_000)
    }

    @Test("audit.failureWindowSeconds / audit.failureKeysPerWindow: 60 and 1000 by default, STRONGAUTH_AUDIT_* set them, out of range is refused")
    func settings() async throws {
        func read(flags: [String: ConfigContent] = [:], environment: [String: String] = [:]) async throws -> ServerSettings {
            try ServerSettings(reader: try await ServerSettings.reader(flags: flags, environment: environment, configFile: nil))
        }
        #expect(try await read().auditFailures == AuditFailurePolicy(windowSeconds: 60, maxKeysPerWindow: 1000))
        let set = try await read(environment: ["STRONGAUTH_AUDIT_FAILURE_WINDOW_SECONDS": "300", "STRONGAUTH_AUDIT_FAILURE_KEYS_PER_WINDOW": "50"])
        #expect(set.auditFailures == AuditFailurePolicy(windowSeconds: 300, maxKeysPerWindow: 50))
        await #expect(throws: SettingsError.self) { try await read(flags: ["audit.failureWindowSeconds": .int(0)]) }
        await #expect(throws: SettingsError.self) { try await read(flags: ["audit.failureKeysPerWindow": .int(5)]) }
    }

    @Test("N wrong client secrets from one address in one window: the audit grows by one record, with count N, when the window is sealed")
    func wrongClientSecrets() async throws {
        try await TestServer.with(Self.noRateLimits) { server in
            _ = try await server.createClient("shop")
            let before = try await server.runtime.store.auditEvents(after: 0, limit: 10_000).count
            try await server.test { client in
                for _ in 0..<25 {
                    let (response, body) = try await client.token([("grant_type", "client_credentials")], basic: HTTP.basic("shop", "wrong"))
                    #expect(response.status == .unauthorized && body["error"] as? String == "invalid_client")
                }
            }
            // Nothing per failure in the chain; the open window counts them.
            #expect(try await server.runtime.store.auditEvents(after: 0, limit: 10_000).count == before)
            #expect(try await server.runtime.store.openFailureWindows(realm: nil, limit: 10).map(\.count) == [25])
            let after = try await Self.sealClosedWindows(server)
            #expect(after.count == before + 1)
            let record = try #require(after.last?.record)
            #expect(record.action.rawValue == "client.authentication" && record.subject == "client:shop" && record.outcome == .failure)
            #expect(record.details["count"] == "25" && record.details["reason"] == "wrong_secret")
            #expect(try await AuditVerification.verifyAll(server.runtime.store) == .intact(events: before + 1))
        }
    }

    @Test("random client ids: the rows of a window stay bounded by the key cap, the rest is one overflow record")
    func randomClientIDs() async throws {
        try await TestServer.with(Self.noRateLimits.merging(["audit.failureKeysPerWindow": .int(10)]) { $1 }) { server in
            let before = try await server.runtime.store.auditEvents(after: 0, limit: 10_000).count
            try await server.test { client in
                for index in 0..<60 {
                    let (response, _) = try await client.token(
                        [("grant_type", "client_credentials")], basic: HTTP.basic("random-\(index)-\(UUID().uuidString)", "x"))
                    #expect(response.status == .unauthorized)
                }
            }
            #expect(try await Self.openRows(server) == 11)
            let after = try await Self.sealClosedWindows(server)
            #expect(after.count == before + 11)
            let overflow = try #require(after.first { $0.record.details["overflow"] == "true" })
            #expect(overflow.record.details["count"] == "50" && overflow.record.subject == "*")
            #expect(try await Self.openRows(server) == 0)
        }
    }

    @Test("N wrong integration-user passwords: one record with count N")
    func wrongIntegrationPasswords() async throws {
        try await TestServer.with(Self.noRateLimits) { server in
            let (_, basic) = try await server.powerAuthSetup()
            let name = String(decoding: Data(base64Encoded: String(basic.dropFirst("Basic ".count)))!, as: UTF8.self).split(separator: ":")[0]
            let before = try await server.runtime.store.auditEvents(after: 0, limit: 10_000).count
            try await server.test { client in
                for _ in 0..<15 {
                    let status = try await client.integration(
                        .get, "/powerauth-cloud/v2/registrations/none", basic: HTTP.basic(String(name), "wrong")
                    )
                    .0.status
                    #expect(status == .unauthorized)
                }
            }
            #expect(try await server.runtime.store.auditEvents(after: 0, limit: 10_000).count == before)
            let after = try await Self.sealClosedWindows(server)
            let failures = after.filter { $0.record.action.rawValue == "powerauth.integration_user.authentication" }
            #expect(failures.count == 1 && failures.first?.record.details["count"] == "15")
            #expect(failures.first?.record.actor == "integration-user:\(name)")
        }
    }

    @Test("a user's wrong passwords stay individual records (bounded by the lockout); tries against the lock are one counted record")
    func lockedUser() async throws {
        try await TestServer.with(Self.noRateLimits.merging(["lockout.durationSeconds": .int(600)]) { $1 }) { server in
            let basic = HTTP.basic("shop", try await server.createClient())
            try await server.createUser()
            try await server.test { client in
                for _ in 0..<25 {
                    _ = try await client.token([("grant_type", "password"), ("username", "alice"), ("password", "wrong")], basic: basic)
                }
            }
            let individual = try await server.runtime.store.auditEvents(after: 0, limit: 10_000).filter {
                $0.record.action.rawValue == "login.password"
            }
            #expect(individual.count == 5 && individual.allSatisfy { $0.record.details["reason"] == "wrong_password" })
            let after = try await Self.sealClosedWindows(server).filter { $0.record.action.rawValue == "login.password" }
            #expect(after.count == 6)
            #expect(after.last?.record.details["reason"] == "locked" && after.last?.record.details["count"] == "20")
            #expect(after.last?.record.subject?.hasPrefix("user:") == true)
        }
    }

    @Test("back-office and self-service sign-ins with unknown names or against a lock are counted; the back office shows the open counts")
    func webSignIns() async throws {
        try await TestServer.with(Self.noRateLimits) { server in
            let created = try await server.runtime.operators.create(username: "olga", password: "operator pw", actor: "test")
            let before = try await server.runtime.store.auditEvents(after: 0, limit: 10_000).count
            try await server.test { client in
                var browser = Browser(client: client)
                for _ in 0..<12 { _ = try await browser.signInOperator("nobody-\(UUID().uuidString)", "pw", code: "123456") }
                #expect(try await server.runtime.store.auditEvents(after: 0, limit: 10_000).count == before)
                #expect(try await browser.signInOperator("olga", "operator pw", code: server.totp(created)).status == .seeOther)
                let page = try await browser.get("/admin/audit")
                #expect(page.status == .ok)
                #expect(page.text.contains("id=\"failure-windows\""))
                #expect(page.text.contains("operator.signin") && page.text.contains("unknown_operator") && page.text.contains(">12<"))
            }
            let after = try await Self.sealClosedWindows(server).filter {
                $0.record.action.rawValue == "operator.signin" && $0.record.outcome == .failure
            }
            #expect(after.count == 1 && after.first?.record.details["count"] == "12" && after.first?.record.details["reason"] == "unknown_operator")
        }
    }
}
