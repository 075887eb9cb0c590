import StrongAuthCore
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
    @Test("the SDK reads the ABN AMRO login's refusals (its `messages` shape) as status, message key and text")
    func sessionRefusalsInTheirOwnShape() async throws {
        try await TestServer.with { server in
            try await buildApplication(runtime: server.runtime).test(.live) { client in
                let browser = SessionClient(baseURL: "http://127.0.0.1:\(try #require(client.port))")
                do {
                    _ = try await browser.lastLogonDate()
                    Issue.record("GET /session without a session answered")
                } catch let error as StrongAuthClientError {
                    guard case .messages(401, "MESSAGE_NO_SESSION", let text) = error else {
                        Issue.record("not read as the face's messages: \(error)")
                        return
                    }
                    #expect(text.contains("no authorized session"))
                }
            }
        }
    }

    @Test("integrator flows: client token, finAPI user, password login, rotation, reuse detection, revocation, deletion")
    func integratorFlows() async throws {
        try await TestServer.with { server in
            let secret = try await server.createClient("sdk")
            try await buildApplication(runtime: server.runtime).test(.live) { client in
                let port = try #require(client.port)
                let sdk = IntegratorClient(baseURL: "http://127.0.0.1:\(port)", clientID: "sdk", clientSecret: secret)

                let metadata = try await sdk.metadata()
                #expect(metadata.issuer == "https://auth.test")
                #expect(Set(metadata.grantTypesSupported) == ["authorization_code", "client_credentials", "password", "refresh_token"])

                let clientToken = try await sdk.clientCredentials(scope: "accounts")
                #expect(clientToken.tokenType == .bearer)
                let user = try await sdk.createUser(
                    .init(id: "e2e-user", password: "e2e-password", phone: "+4915100000001", isAutoUpdateEnabled: false),
                    clientAccessToken: clientToken.accessToken)
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
                // Deleting the account needs fresh two factors: refused with the password token,
                // done with a token confirmed by a device bound with the SMS OTP.
                await #expect(throws: StrongAuthClientError.self) { try await sdk.deleteAuthorisedUser(userAccessToken: fresh.accessToken) }
                let device = DeviceClient(
                    baseURL: "http://127.0.0.1:\(port)", accessToken: fresh.accessToken,
                    keyStore: FileDeviceKeyStore(directory: server.directory.appendingPathComponent("keys")))
                let created = try await device.createDevice(name: "e2e phone")
                try await device.verifyDevice(created.deviceId, challengeId: created.challengeId, otp: try await server.latestOTP())
                try await sdk.deleteAuthorisedUser(userAccessToken: try await device.confirm(deviceId: created.deviceId).token)
                do {
                    _ = try await sdk.password(username: "e2e-user", password: "e2e-password")
                    Issue.record("a deleted user logged in")
                } catch let error as StrongAuthClientError {
                    #expect(
                        error
                            == .oauth(
                                status: 400, error: "invalid_grant",
                                description: "The resource owner credentials are invalid or the account is temporarily locked."))
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
                await #expect(throws: StrongAuthClientError.self) {
                    try await device.deleteDevice(created.deviceId, confirmedAccessToken: login.accessToken)
                }
                try await device.deleteDevice(created.deviceId, confirmedAccessToken: confirmed.token)
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

@Suite("End to end through the Swift SDK: approvals on an ECDSA-bound phone")
struct EndToEndApprovalSDKTests {
    @Test("an operation and an action request reach the phone's list; it approves one and rejects the other; the integrators see it")
    func approvals() async throws {
        try await TestServer.with { server in
            let secret = try await server.createClient("app")
            try await server.createUser("dora", password: "dora-password")
            let created = try await server.runtime.powerAuth.createApplication(id: "bank-app", name: nil, callbackURL: nil, actor: "test")
            let integration = try await server.runtime.powerAuth.createIntegrationUser(
                name: "bank-backend", applicationIDs: [created.application.id], actor: "test")
            let keys = FileDeviceKeyStore(directory: server.directory.appendingPathComponent("keys"))
            try await buildApplication(runtime: server.runtime).test(.live) { client in
                let base = "http://127.0.0.1:\(try #require(client.port))"
                let integrator = IntegratorClient(baseURL: base, clientID: "app", clientSecret: secret)
                let login = try await integrator.password(username: "dora", password: "dora-password")
                let phone = DeviceClient(baseURL: base, accessToken: login.accessToken, keyStore: keys)
                let bound = try await phone.createDevice(name: "Dora's phone")
                try await phone.verifyDevice(bound.deviceId, challengeId: bound.challengeId, otp: try await server.latestOTP())

                let operation = try await server.runtime.approvals.createOperation(
                    caller: StrongAuthCore.IntegrationCredentials(name: integration.user.name, password: integration.password), userID: "dora",
                    templateName: "default.payment",
                    parameters: ["amount": "10.00", "currency": "EUR", "account": "DE02"], externalID: nil, expiresAt: nil, source: nil)
                let clientRecord = try #require(try await server.runtime.store.client(id: "app"))
                let action = try await server.runtime.approvals.createActionRequest(
                    client: clientRecord, uid: "dora", action: "bank:transfers:create", canonicalPayload: #"{"amount":10}"#, source: nil)

                let pending = try await phone.approvals()
                #expect(Set(pending.map(\.id)) == [operation.id, action.id])
                try await phone.approve(try #require(pending.first { $0.id == operation.id }), deviceId: bound.deviceId)
                try await phone.reject(approvalId: action.id, deviceId: bound.deviceId, reason: "NOT_ME")
                #expect(try await phone.approvals().isEmpty)

                #expect(try await server.runtime.store.approval(id: operation.id)?.status == .approved)
                #expect(try await server.runtime.store.approval(id: action.id)?.status == .rejected)
            }
        }
    }
}
