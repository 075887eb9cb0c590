import Configuration
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import StrongAuthCore
import Testing
@testable import StrongAuthServer

/// Retired signing keys leave the database and the JWKS once no unexpired token can carry them
/// (`keys.retiredRetentionSeconds`, docs/keys.md), and no earlier.
@Suite("Signing key pruning")
struct SigningKeyPruningTests {
    static func jwksKIDs(_ server: TestServer) async throws -> Set<String> {
        try await server.test { client in
            let jwks = try HTTP.json(try await client.executeRequest(uri: "/.well-known/jwks.json", method: .get, headers: [:], body: nil).body)
            return Set(((jwks["keys"] as? [[String: Any]]) ?? []).compactMap { $0["kid"] as? String })
        }
    }

    @Test("the retired key stays in the JWKS for the whole retention, then is pruned and leaves it; the active key stays")
    func retiredKeyLeavesTheJWKSAfterRetention() async throws {
        try await TestServer.with(["tokens.accessLifetimeSeconds": .int(600), "keys.retiredRetentionSeconds": .int(900)]) { server in
            #expect(server.runtime.settings.retiredSigningKeyRetention == 900)
            let keys = KeyManagement(store: server.runtime.store, masterKey: server.runtime.masterKey, time: server.time)
            let oldKID = server.runtime.signer.activeKID
            let rotated = try await keys.rotate()
            _ = try await server.runtime.signer.refresh()
            #expect(try await Self.jwksKIDs(server) == [oldKID, rotated.active.kid])

            server.time.advance(by: 899)
            #expect(try await keys.pruneRetiredKeys(retention: 900) == [])
            #expect(try await Self.jwksKIDs(server) == [oldKID, rotated.active.kid])

            server.time.advance(by: 1)
            #expect(try await keys.pruneRetiredKeys(retention: 900) == [oldKID])
            #expect(try await server.runtime.signer.refresh())
            #expect(try await Self.jwksKIDs(server) == [rotated.active.kid])
            #expect(try await keys.pruneRetiredKeys(retention: 0) == [], "the active key is never pruned")
        }
    }

    @Test("the background pass deletes the expired retired key, audits it and drops it from this node's JWKS at once")
    func prunerPass() async throws {
        try await TestServer.with(["tokens.accessLifetimeSeconds": .int(600), "keys.retiredRetentionSeconds": .int(900)]) { server in
            let runtime = server.runtime
            let keys = KeyManagement(store: runtime.store, masterKey: runtime.masterKey, time: server.time)
            let oldKID = runtime.signer.activeKID
            let rotated = try await keys.rotate()
            _ = try await runtime.signer.refresh()
            let pruner = SigningKeyPruner(
                keys: keys, signer: runtime.signer, audit: runtime.store, time: server.time,
                retention: runtime.settings.retiredSigningKeyRetention, logger: runtime.logger)
            #expect(try await pruner.pass() == .idle)
            #expect(try await Self.jwksKIDs(server) == [oldKID, rotated.active.kid])
            server.time.advance(by: 900)
            #expect(try await pruner.pass() == .idle)
            #expect(try await Self.jwksKIDs(server) == [rotated.active.kid])
            let pruned = try await runtime.backOffice.auditEvents(realm: "default", limit: 100).filter {
                $0.record.action.rawValue == "signing_key.pruned"
            }
            #expect(pruned.map(\.record.subject) == ["signing-key:\(oldKID)"])
        }
    }

    @Test("the retention defaults to the access-token lifetime plus a day; less than the lifetime plus a minute is refused")
    func retentionSetting() async throws {
        func settings(_ flags: [String: ConfigContent]) async throws -> ServerSettings {
            try ServerSettings(reader: try await ServerSettings.reader(flags: flags, environment: [:]))
        }
        #expect(try await settings(["tokens.accessLifetimeSeconds": .int(300)]).retiredSigningKeyRetention == 300 + 86_400)
        #expect(
            try await settings(["tokens.accessLifetimeSeconds": .int(300), "keys.retiredRetentionSeconds": .int(360)]).retiredSigningKeyRetention
                == 360)
        await #expect(throws: SettingsError.self) {
            try await settings(["tokens.accessLifetimeSeconds": .int(300), "keys.retiredRetentionSeconds": .int(359)])
        }
    }
}
