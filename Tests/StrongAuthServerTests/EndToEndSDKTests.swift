import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import StrongAuthAPI
import StrongAuthClient
import StrongAuthServer
import Testing

/// The Swift SDK against a real listening server (real sockets, real HTTP/1.1).
@Suite("End to end through the Swift SDK")
struct EndToEndSDKTests {
    @Test("integrator flows: client token, finAPI user, password login, rotation, reuse detection, revocation, deletion")
    func integratorFlows() async throws {
        try await TestServer.with { server in
            let secret = try await server.createClient("sdk")
            try await buildApplication(runtime: server.runtime).test(.live) { client in
                let port = try #require(client.port)
                let sdk = IntegratorClient(baseURL: "http://127.0.0.1:\(port)", clientID: "sdk", clientSecret: secret)

                let metadata = try await sdk.metadata()
                #expect(metadata.issuer == "https://auth.test")
                #expect(Set(metadata.grantTypesSupported) == ["client_credentials", "password", "refresh_token"])

                let clientToken = try await sdk.clientCredentials(scope: "accounts")
                #expect(clientToken.tokenType == .bearer)
                let user = try await sdk.createUser(
                    .init(id: "e2e-user", password: "e2e-password", isAutoUpdateEnabled: false), clientAccessToken: clientToken.accessToken)
                #expect(user.id == "e2e-user")

                let login = try await sdk.password(username: "e2e-user", password: "e2e-password")
                let refresh1 = try #require(login.refreshToken)
                #expect(try await sdk.authorisedUser(userAccessToken: login.accessToken).id == "e2e-user")
                let introspection = try await sdk.introspect(login.accessToken)
                #expect(introspection.active && introspection.subjectType == .user && introspection.amr == ["pwd"])

                let rotated = try await sdk.refresh(refresh1)
                await #expect(throws: StrongAuthClientError.self) { try await sdk.refresh(refresh1) }
                await #expect(throws: StrongAuthClientError.self) { try await sdk.refresh(try #require(rotated.refreshToken)) }

                try await sdk.revoke(clientToken.accessToken)
                #expect(try await sdk.introspect(clientToken.accessToken).active == false)

                let fresh = try await sdk.password(username: "e2e-user", password: "e2e-password")
                try await sdk.deleteAuthorisedUser(userAccessToken: fresh.accessToken)
                do {
                    _ = try await sdk.password(username: "e2e-user", password: "e2e-password")
                    Issue.record("a deleted user logged in")
                } catch let error as StrongAuthClientError {
                    #expect(error == .oauth(status: 400, error: "invalid_grant", description: "The resource owner credentials are invalid or the account is temporarily locked."))
                }
            }
            #expect(try await server.count("users") == 0)
        }
    }
}

@Suite("End to end through the Swift SDK: the device side")
struct EndToEndDeviceSDKTests {
    @Test("createDevice, verifyDevice with the SMS OTP, challenge → confirmed tokens, refresh stays confirmed, delete")
    func deviceFlows() async throws {
        try await TestServer.with { server in
            let secret = try await server.createClient("app")
            try await server.createUser("dora", password: "dora-password")
            let keys = FileDeviceKeyStore(directory: server.directory.appendingPathComponent("keys"))
            try await buildApplication(runtime: server.runtime).test(.live) { client in
                let base = "http://127.0.0.1:\(try #require(client.port))"
                let integrator = IntegratorClient(baseURL: base, clientID: "app", clientSecret: secret)
                let login = try await integrator.password(username: "dora", password: "dora-password")
                let device = DeviceClient(baseURL: base, accessToken: login.accessToken, keyStore: keys)

                let created = try await device.createDevice(name: "iPhone XS")
                #expect(try keys.loadKey(named: created.deviceId) != nil)
                let otp = try await server.latestOTP()
                await #expect(throws: StrongAuthClientError.self) {
                    try await device.verifyDevice(created.deviceId, challengeId: created.challengeId, otp: otp == "000000" ? "111111" : "000000")
                }
                try await device.verifyDevice(created.deviceId, challengeId: created.challengeId, otp: otp)

                let confirmed = try await device.confirm(deviceId: created.deviceId)
                let introspection = try await integrator.introspect(confirmed.token)
                #expect(introspection.cnf?.kid == created.deviceId)
                #expect(introspection.amr == ["pwd", "hwk"])
                let refreshed = try await integrator.refresh(try #require(confirmed.refreshToken))
                #expect(try await integrator.introspect(refreshed.accessToken).cnf?.kid == created.deviceId)

                #expect(try await device.devices().map(\.id) == [created.deviceId])
                try await device.deleteDevice(created.deviceId)
                #expect(try keys.loadKey(named: created.deviceId) == nil)
                #expect(try await integrator.introspect(refreshed.accessToken).active == false)
                do {
                    _ = try await device.confirm(deviceId: created.deviceId)
                    Issue.record("a deleted device passed a challenge")
                } catch let error as StrongAuthClientError {
                    #expect(error.status == 404)
                }
            }
        }
    }
}
