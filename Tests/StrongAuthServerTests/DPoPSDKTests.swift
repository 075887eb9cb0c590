import Configuration
import Crypto
import Foundation
import Glibc
import Hummingbird
import Logging
import ServiceLifecycle
import StrongAuthAPI
import StrongAuthClient
import StrongAuthCore
import StrongAuthServer
import Testing

/// The SDK's DPoP signer against a real listening server: bound tokens, the nonce retry, and a
/// phone whose device key (bound through the Kontist face) is its DPoP key.
@Suite("DPoP through the Swift SDK")
struct DPoPSDKTests {
    @Test("the signer's proof: header, claims, ath and thumbprint as RFC 9449 and RFC 7638 say")
    func proofShape() throws {
        let signer = DPoPSigner()
        let proof = try signer.proof(method: "GET", url: "https://auth.test/api/user/devices?x=1#frag", accessToken: "token")
        let parts = proof.split(separator: ".").map(String.init)
        let header = try Self.json(parts[0])
        let claims = try Self.json(parts[1])
        #expect(header["typ"] as? String == "dpop+jwt" && header["alg"] as? String == "ES256")
        #expect((header["jwk"] as? [String: String]) == signer.publicJWK)
        #expect(claims["htm"] as? String == "GET" && claims["htu"] as? String == "https://auth.test/api/user/devices")
        #expect(claims["ath"] as? String == "PEaenWxYddN6Q_NT1PiOYfz4EsZu7jRXRlpAsNpBU-A")  // base64url(SHA-256("token"))
        #expect(claims["nonce"] == nil)
        #expect(DPoPPublicKey(p256: try P256.Signing.PublicKey(rawRepresentation: Self.raw(signer.publicJWK))).thumbprint == signer.thumbprint)
        signer.remember(nonce: "n-1")
        let withNonce = try signer.proof(method: "GET", url: "https://auth.test/x").split(separator: ".").map(String.init)
        let nonceClaims = try Self.json(withNonce[1])
        #expect(nonceClaims["nonce"] as? String == "n-1")
    }

    static func raw(_ jwk: [String: String]) throws -> [UInt8] {
        let x = try #require(Base64URLDecode(jwk["x"] ?? ""))
        let y = try #require(Base64URLDecode(jwk["y"] ?? ""))
        return Array(x) + Array(y)
    }

    static func json(_ part: String) throws -> [String: Any] {
        let data = try #require(Base64URLDecode(part))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// A port free right now, so that the issuer (the URL a proof's htu names) can be the
    /// address the SDK calls.
    static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                guard bind(socket, raw, length) == 0, getsockname(socket, raw, &length) == 0 else { throw CocoaError(.fileReadUnknown) }
            }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Runs the server on its configured port (`.live` testing would pick another one) and
    /// hands `body` its URL, which is its issuer.
    static func live<T: Sendable>(_ server: TestServer, _ body: @Sendable (String) async throws -> T) async throws -> T {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = try buildApplication(runtime: server.runtime) { port in continuation.yield(port) }
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: Logger(label: "test")))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var waiting = ports.makeAsyncIterator()
            _ = await waiting.next()
            do {
                let value = try await body(server.runtime.settings.issuer)
                await group.triggerGracefulShutdown()
                return value
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
        }
    }

    /// A server whose issuer is the loopback address it listens on.
    static func settings(_ extra: [String: ConfigContent] = [:]) throws -> [String: ConfigContent] {
        let port = try freePort()
        return ["http.port": .int(port), "issuer": .string("http://127.0.0.1:\(port)")].merging(extra) { $1 }
    }

    @Test("a phone's device key as its DPoP key: the token is bound to the key in the phone, and works only with its proofs")
    func deviceKeyAsDPoPKey() async throws {
        try await TestServer.with(try Self.settings(), tickingClock: true) { server in
            let secret = try await server.createClient("sdk")
            try await server.createUser()
            try await Self.live(server) { url in
                let sdk = IntegratorClient(baseURL: url, clientID: "sdk", clientSecret: secret)
                let keys = FileDeviceKeyStore(directory: server.directory.appendingPathComponent("keys"))
                let login = try await sdk.password(username: "alice", password: "correct horse")
                let phone = DeviceClient(baseURL: url, accessToken: login.accessToken, keyStore: keys)
                let device = try await phone.createDevice(name: "phone")
                try await phone.verifyDevice(device.deviceId, challengeId: device.challengeId, otp: try await server.latestOTP())

                let signer = try DPoPSigner(keyStore: keys, keyName: device.deviceId)
                let deviceKey = try #require(try keys.loadKey(named: device.deviceId))
                #expect(signer.thumbprint == DPoPPublicKey(p256: deviceKey.publicKey).thumbprint)

                let bound = try await sdk.withDPoP(signer).password(username: "alice", password: "correct horse")
                #expect(bound.tokenType == .dPoP)
                let introspection = try await sdk.introspect(bound.accessToken)
                #expect(introspection.tokenType == .dPoP && introspection.cnf?.jkt == signer.thumbprint)

                var boundPhone = DeviceClient(baseURL: url, accessToken: bound.accessToken, keyStore: keys)
                boundPhone.dpop = signer
                #expect(try await boundPhone.devices().map(\.id) == [device.deviceId])
                // The confirmed token the phone earns by signing a challenge stays bound to its key.
                let confirmed = try await boundPhone.confirm(deviceId: device.deviceId)
                let confirmedClaims = try await sdk.introspect(confirmed.token)
                #expect(confirmedClaims.cnf?.kid == device.deviceId && confirmedClaims.cnf?.jkt == signer.thumbprint)
                #expect(confirmedClaims.tokenType == .dPoP)
                #expect(try await sdk.withDPoP(signer).authorisedUser(userAccessToken: bound.accessToken).id == "alice")

                // Without the phone's key the token is worthless: as a bearer token, or with another key's proofs.
                boundPhone.dpop = nil
                await #expect(throws: StrongAuthClientError.self) { try await boundPhone.devices() }
                boundPhone.dpop = DPoPSigner()
                await #expect(throws: StrongAuthClientError.self) { try await boundPhone.devices() }
                // The confirmed (two-factor, DPoP-bound) token removes the device, with the phone's proofs.
                boundPhone.dpop = signer
                try await boundPhone.deleteDevice(device.deviceId, confirmedAccessToken: confirmed.token)
                #expect(try await boundPhone.devices().isEmpty)
            }
        }
    }

    @Test("with oauth.dpop.requireNonce the SDK retries once with the offered nonce, at the token endpoint and at resources")
    func nonceRetry() async throws {
        try await TestServer.with(try Self.settings(["oauth.dpop.requireNonce": .bool(true)]), tickingClock: true) { server in
            let secret = try await server.createClient("sdk")
            try await server.createUser()
            try await Self.live(server) { url in
                let signer = DPoPSigner()
                let sdk = IntegratorClient(baseURL: url, clientID: "sdk", clientSecret: secret).withDPoP(signer)
                #expect(signer.currentNonce == nil)
                let clientToken = try await sdk.clientCredentials()
                #expect(clientToken.tokenType == .dPoP && signer.currentNonce != nil)
                let login = try await sdk.password(username: "alice", password: "correct horse")
                #expect(try await sdk.authorisedUser(userAccessToken: login.accessToken).id == "alice")
                // A signer of the same key that has not been offered a nonce learns it at the resource.
                let key = P256.Signing.PrivateKey()
                let bound = try await sdk.withDPoP(DPoPSigner(key: key)).password(username: "alice", password: "correct horse")
                let forgetful = DPoPSigner(key: key)
                #expect(try await sdk.withDPoP(forgetful).authorisedUser(userAccessToken: bound.accessToken).id == "alice")
                #expect(forgetful.currentNonce != nil)
            }
        }
    }
}
