import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import StrongAuthAPI
import StrongAuthClient
import StrongAuthServer
import Testing

/// Passkeys through the Swift SDK against a listening server, with the software authenticator
/// playing the platform.
@Suite("Passkeys through the Swift SDK")
struct PasskeySDKTests {
    @Test("first passkey with the SMS code, step-up, approving a Shine action request: the client's poll turns CONFIRMED")
    func passkeyFlows() async throws {
        try await TestServer.with(tickingClock: true) { server in
            let secret = try await server.createClient("sdk")
            try await server.createUser()
            try await buildApplication(runtime: server.runtime).test(.live) { client in
                let base = "http://127.0.0.1:\(try #require(client.port))"
                let integrator = IntegratorClient(baseURL: base, clientID: "sdk", clientSecret: secret)
                let login = try await integrator.password(username: "alice", password: "correct horse")
                var authenticator = SoftwareAuthenticator()
                let passkeys = PasskeyClient(baseURL: base, accessToken: login.accessToken)

                let options = try await passkeys.registrationOptions(name: "SDK key")
                #expect(options.otpRequired)
                await #expect(throws: StrongAuthClientError.self) {
                    try await passkeys.register(options, credential: authenticator.register(options.publicKey), otp: nil)
                }
                let device = try await passkeys.register(
                    options, credential: authenticator.register(options.publicKey), otp: try await server.latestOTP())
                #expect(device.kind == .passkey && device.status == .active)

                let stepUp = try await passkeys.authenticationOptions()
                let confirmed = try await passkeys.authenticate(stepUp, credential: authenticator.assert(stepUp.publicKey))
                #expect(try await integrator.introspect(confirmed.token).acr == "urn:strongauth:acr:2fa")

                let created = try await HTTPClient.shared.execute(
                    HTTPClientRequest.json(
                        "\(base)/v2/authentication/oauth2/action_request",
                        ["action": "bank:transfers:create", "client_id": "sdk", "client_secret": secret, "uid": "alice", "payload": ["amount": 5]]),
                    timeout: .seconds(10))
                let body = try await created.body.collect(upTo: 1 << 16)
                let actionID = try #require(
                    ((try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any])?["data"] as? [String: Any])?[
                        "authenticationActionRequestId"] as? String)
                let approval = try await passkeys.approvalOptions(approvalId: actionID)
                #expect(approval.data?.contains("\"amount\":5") == true)
                try await passkeys.approve(approvalId: actionID, approval, credential: authenticator.assert(approval.publicKey))
                let poll = try await HTTPClient.shared.execute(
                    HTTPClientRequest.json(
                        "\(base)/v2/authentication/oauth2/action_request/\(actionID)/poll", ["client_id": "sdk", "client_secret": secret]),
                    timeout: .seconds(10))
                let polled = try JSONSerialization.jsonObject(with: Data(buffer: try await poll.body.collect(upTo: 1 << 16))) as? [String: Any]
                #expect((polled?["data"] as? [String: Any])?["status"] as? String == "CONFIRMED")
            }
        }
    }
}

extension HTTPClientRequest {
    /// A JSON POST.
    static func json(_ url: String, _ body: [String: Any]) throws -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(try JSONSerialization.data(withJSONObject: body))
        return request
    }
}
