import Configuration
import Foundation
import HummingbirdTesting
import Logging
import StrongAuthCore
import StrongAuthServer
import Testing

/// The retention job through the whole server: records a device flow leaves behind are deleted
/// once they have been expired for `retention.expiredRecordsHours` (refresh tokens and their
/// families one access-token lifetime later), and nothing that still works is touched.
@Suite("Retention: the job deletes expired records, never a live one")
struct RetentionTests {
    @Test(
        "challenges, delivered SMS and revocations go an hour after they expire, refresh tokens and families an hour plus the access-token lifetime after; a live refresh token keeps working"
    )
    func expiredRecordsGo() async throws {
        let settings: [String: ConfigContent] = [
            "retention.expiredRecordsHours": .int(1), "tokens.refreshLifetimeSeconds": .int(7200), "tokens.accessLifetimeSeconds": .int(600),
        ]
        try await DevicesTests.withUserToken(settings) { server, client, token, basic in
            let start = server.time.now()
            let phone = TestPhone()
            let deviceID = try await DevicesTests.bind(phone, server: server, client: client, token: token)
            let (verified, confirmed) = try await DevicesTests.confirm(phone, deviceID: deviceID, client: client, token: token)
            #expect(verified.status == .ok)
            let confirmedRefresh = try #require(confirmed["refresh_token"] as? String)
            let (revoked, _) = try await client.token(
                [("token", try #require(confirmed["token"] as? String))], basic: basic, path: "/oauth/revoke")
            #expect(revoked.status == .ok)
            _ = try await server.deliveredNotifications()
            // The binding and the signature challenge; the password grant's family and the confirmed one.
            #expect(try await server.count("challenges") == 2)
            #expect(try await server.count("token_families") == 2)
            #expect(try await server.count("refresh_tokens") == 2)
            #expect(try await server.count("revoked_access_tokens") == 1)
            #expect(try await server.count("notifications WHERE status = 'sent'") == 1)
            let sweeper = RetentionSweeper(retention: server.runtime.retention, logger: Logger(label: "test"))

            // An hour after the challenges (300 s) expired: they and the delivered SMS go; the
            // revocation (its token lives 600 s) and the refresh tokens (7200 s) stay.
            #expect(try await sweeper.pass() == .idle)
            #expect(try await server.count("challenges") == 2)
            server.time.advance(by: 3600 + 301)
            #expect(try await sweeper.pass() == .idle)
            #expect(try await server.count("challenges") == 0)
            #expect(try await server.count("notifications") == 0)
            #expect(try await server.count("revoked_access_tokens") == 1)
            #expect(try await server.count("refresh_tokens") == 2)

            // The confirmed token rotates (its successor lives to start + 5000 + 7200).
            server.time.advance(by: 5000 - (3600 + 301))
            let (rotated, rotatedBody) = try await client.token([("grant_type", "refresh_token"), ("refresh_token", confirmedRefresh)], basic: basic)
            #expect(rotated.status == .ok)
            let successor = try #require(rotatedBody["refresh_token"] as? String)

            // The first tokens expired (start + 7200) over an hour ago, but an access token issued
            // with them may have lived 600 s longer: they stay (so does every family).
            server.time.advance(by: (7200 + 3600 + 300) - 5000)
            #expect(try await sweeper.pass() == .idle)
            #expect(try await server.count("refresh_tokens") == 3)
            #expect(try await server.count("token_families") == 2)

            // Past their expiry plus the access-token lifetime and the hour: both go, with the
            // password grant's family; the confirmed family stays with its live successor.
            server.time.advance(by: 301)
            #expect(server.time.now().timeIntervalSince(start) == 11_401)
            #expect(try await sweeper.pass() == .idle)
            #expect(try await server.count("refresh_tokens") == 1)
            #expect(try await server.count("token_families") == 1)
            #expect(try await server.count("revoked_access_tokens") == 0)
            let (refreshed, _) = try await client.token([("grant_type", "refresh_token"), ("refresh_token", successor)], basic: basic)
            #expect(refreshed.status == .ok)
        }
    }
}
