import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import StrongAuthCore
import StrongAuthProtocol
import StrongAuthServer
import Testing

/// `strongauth keys rotate` without downtime (docs/architecture.md): the new key signs, the old one keeps
/// verifying its tokens, the JWKS publishes both, and a node that has not refreshed yet still
/// verifies tokens signed with the new key.
@Suite("Signing key rotation")
struct KeyRotationTests {
    static func kid(_ token: String) throws -> String? {
        let header = try #require(Base64URL.decode(String(token.split(separator: ".")[0])))
        return (try JSONSerialization.jsonObject(with: Data(header)) as? [String: Any])?["kid"] as? String
    }

    @Test("rotate: new tokens carry the new kid, old tokens stay valid, JWKS has both; another node verifies new tokens at once")
    func rotation() async throws {
        try await TestServer.with { server in
            let secret = try await server.createClient()
            let basic = HTTP.basic("shop", secret)
            // A second node on the same database, started before the rotation.
            let other = try await StrongAuthRuntime.start(settings: server.runtime.settings, logger: Logger(label: "node-b"), time: server.time)
            do {
                try await Self.rotate(server, other: other, basic: basic)
            } catch {
                await other.shutdown()
                throw error
            }
            await other.shutdown()
        }
    }

    static func rotate(_ server: TestServer, other: StrongAuthRuntime, basic: String) async throws {
        do {
            let oldKID = server.runtime.signer.activeKID
            #expect(other.signer.activeKID == oldKID)
            let oldToken = try await server.test { client in
                try #require(try await client.token([("grant_type", "client_credentials")], basic: basic).1["access_token"] as? String)
            }

            let rotated = try await KeyManagement(store: server.runtime.store, masterKey: server.runtime.masterKey, time: server.time).rotate()
            #expect(rotated.retired == [oldKID] && rotated.active.kid != oldKID)
            #expect(try await server.runtime.signer.refresh())
            #expect(try await server.runtime.signer.refresh() == false, "nothing changed since")
            #expect(server.runtime.signer.activeKID == rotated.active.kid)

            let newToken = try await server.test { client in
                let jwks = try HTTP.json(
                    try await client.executeRequest(uri: "/.well-known/jwks.json", method: .get, headers: [:], body: nil).body)
                let kids = Set(((jwks["keys"] as? [[String: Any]]) ?? []).compactMap { $0["kid"] as? String })
                #expect(kids == [oldKID, rotated.active.kid])
                let token = try #require(try await client.token([("grant_type", "client_credentials")], basic: basic).1["access_token"] as? String)
                #expect(try Self.kid(token) == rotated.active.kid && (try Self.kid(oldToken)) == oldKID)
                for presented in [oldToken, token] {
                    let (_, introspected) = try await client.token([("token", presented)], basic: basic, path: "/oauth/introspect")
                    #expect(introspected["active"] as? Bool == true)
                }
                return token
            }

            // Node B never refreshed: it meets the new kid and picks the key up on the spot.
            #expect(other.signer.activeKID == oldKID)
            try await buildApplication(runtime: other).test(.router) { client in
                for presented in [oldToken, newToken] {
                    let (_, introspected) = try await client.token([("token", presented)], basic: basic, path: "/oauth/introspect")
                    #expect(introspected["active"] as? Bool == true)
                }
            }
            #expect(other.signer.activeKID == rotated.active.kid)
            // A forged kid does not make it reload more than once a second, and never verifies.
            let forged =
                Base64URL.encode(Array(#"{"alg":"ES256","kid":"made-up","typ":"at+jwt"}"#.utf8)) + "."
                + newToken.split(separator: ".").dropFirst().joined(separator: ".")
            await #expect(throws: (any Error).self) { try await other.signer.verify(forged) }
        }
    }
}
