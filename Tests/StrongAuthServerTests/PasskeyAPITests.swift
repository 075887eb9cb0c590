import Configuration
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import StrongAuthCore
import StrongAuthProtocol
import StrongAuthServer
import Testing

/// Passkeys through the API for apps (docs/passkeys.md): the assurance rules of adding one,
/// single-use ceremonies, clones, and approvals whose assertion signs exactly the approval's
/// data (dynamic linking). Issuer https://auth.test: RP ID `auth.test`, origin `https://auth.test`.
@Suite("Passkeys: API, assurance and dynamic linking")
struct PasskeyAPITests {
    typealias RegistrationOptions = PasskeyRegistrationOptions
    typealias RequestOptions = PasskeyRequestOptions
    typealias Registration = PasskeyRegistrationRequest
    typealias Assertion = PasskeyAssertionRequest

    static func post(_ client: any TestClientProtocol, _ uri: String, token: String, _ body: some Encodable) async throws -> TestResponse {
        try await client.executeRequest(
            uri: uri, method: .post, headers: HTTP.bearer(token, json: true), body: ByteBuffer(data: try JSONEncoder().encode(body)))
    }

    static func decode<T: Decodable>(_ type: T.Type, _ response: TestResponse) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(buffer: response.body))
    }

    static func passwordToken(_ client: any TestClientProtocol, _ basic: String, user: String = "alice") async throws -> String {
        let (_, tokens) = try await client.token(
            [("grant_type", "password"), ("username", user), ("password", "correct horse")], basic: basic)
        return try #require(tokens["access_token"] as? String)
    }

    /// Registers a first passkey with a password token and the SMS OTP.
    static func registerFirst(_ server: TestServer, _ client: any TestClientProtocol, token: String, authenticator: inout SoftwareAuthenticator)
        async throws -> [String: Any]
    {
        let started = try await post(client, "/api/user/passkeys/registration/options", token: token, ["name": "Laptop"])
        #expect(started.status == .ok)
        let options = try decode(RegistrationOptions.self, started)
        #expect(options.otpRequired)
        let response = authenticator.register(options.publicKey)
        let registered = try await post(
            client, "/api/user/passkeys/registration", token: token,
            Registration(ceremonyId: options.ceremonyId, otp: try await server.latestOTP(), credential: response))
        #expect(registered.status == .created)
        return try HTTP.json(registered.body)
    }

    /// Steps up with the passkey: the confirmed (two-factor) access token.
    static func stepUp(_ client: any TestClientProtocol, token: String, authenticator: inout SoftwareAuthenticator) async throws -> String {
        let started = try await post(client, "/api/user/passkeys/authentication/options", token: token, [String: String]())
        let options = try decode(RequestOptions.self, started)
        let answered = try await post(
            client, "/api/user/passkeys/authentication", token: token,
            Assertion(ceremonyId: options.ceremonyId, credential: authenticator.assert(options.publicKey)))
        #expect(answered.status == .ok)
        return try #require(try HTTP.json(answered.body)["token"] as? String)
    }

    @Test("a first passkey: password token + SMS OTP (missing and wrong OTP refused, options as WebAuthn L3 JSON); lists as an ACTIVE passkey")
    func firstPasskey() async throws {
        try await TestServer.with { server in
            let basic = HTTP.basic("shop", try await server.createClient())
            try await server.createUser()
            try await server.test { client in
                let token = try await Self.passwordToken(client, basic)
                var authenticator = SoftwareAuthenticator()
                let started = try await Self.post(client, "/api/user/passkeys/registration/options", token: token, ["name": "Laptop"])
                let options = try Self.decode(RegistrationOptions.self, started)
                #expect(options.otpRequired)
                #expect(options.publicKey.rp.id == "auth.test" && options.publicKey.authenticatorSelection.userVerification == "required")
                #expect(options.publicKey.pubKeyCredParams.map(\.alg) == [-7, -8, -257])
                #expect(Base64URL.decode(options.publicKey.challenge)?.count == 32)
                let response = authenticator.register(options.publicKey)
                let noOTP = try await Self.post(
                    client, "/api/user/passkeys/registration", token: token, Registration(ceremonyId: options.ceremonyId, credential: response))
                #expect(noOTP.status == .badRequest)
                let otp = try await server.latestOTP()
                let wrong = otp == "000000" ? "000001" : "000000"
                let wrongOTP = try await Self.post(
                    client, "/api/user/passkeys/registration", token: token,
                    Registration(ceremonyId: options.ceremonyId, otp: wrong, credential: response))
                #expect(wrongOTP.status == .forbidden)
                #expect(try await server.count("devices") == 0)
                let registered = try await Self.post(
                    client, "/api/user/passkeys/registration", token: token,
                    Registration(ceremonyId: options.ceremonyId, otp: otp, credential: response))
                #expect(registered.status == .created)
                let device = try HTTP.json(registered.body)
                #expect(device["kind"] as? String == "passkey" && device["status"] as? String == "ACTIVE" && device["name"] as? String == "Laptop")
                // The same ceremony again: used.
                let again = try await Self.post(
                    client, "/api/user/passkeys/registration", token: token,
                    Registration(ceremonyId: options.ceremonyId, otp: otp, credential: response))
                #expect(again.status == .conflict)
                let list = try await client.executeRequest(uri: "/api/user/devices", method: .get, headers: HTTP.bearer(token), body: nil)
                let devices = try #require(try JSONSerialization.jsonObject(with: Data(buffer: list.body)) as? [[String: Any]])
                #expect(devices.map { $0["kind"] as? String } == ["passkey"])
            }
        }
    }

    @Test("with a bound device, adding a passkey needs fresh two factors (RFC 9470 401); the passkey's own step-up gives them")
    func secondPasskeyNeedsStepUp() async throws {
        try await TestServer.with { server in
            let basic = HTTP.basic("shop", try await server.createClient())
            try await server.createUser()
            try await server.test { client in
                let token = try await Self.passwordToken(client, basic)
                var first = SoftwareAuthenticator()
                _ = try await Self.registerFirst(server, client, token: token, authenticator: &first)
                let refused = try await Self.post(client, "/api/user/passkeys/registration/options", token: token, ["name": "Key"])
                #expect(refused.status == .unauthorized)
                let challenge = try #require(refused.headers[.wwwAuthenticate])
                #expect(challenge.contains(#"error="insufficient_user_authentication""#) && challenge.contains(AssuranceLevel.twoFactor.rawValue))

                let confirmed = try await Self.stepUp(client, token: token, authenticator: &first)
                let claims = try #require(try await server.runtime.tokens.validateAccessToken(confirmed))
                #expect(claims.acr == AssuranceLevel.twoFactor.rawValue && claims.amr == ["pwd", "hwk", "user"])
                let started = try await Self.post(client, "/api/user/passkeys/registration/options", token: confirmed, ["name": "Key"])
                let options = try Self.decode(RegistrationOptions.self, started)
                #expect(!options.otpRequired)
                #expect(options.publicKey.excludeCredentials.map(\.id) == [first.credentialIDBase64URL])
                var second = SoftwareAuthenticator()
                let registered = try await Self.post(
                    client, "/api/user/passkeys/registration", token: confirmed,
                    Registration(ceremonyId: options.ceremonyId, credential: second.register(options.publicKey, packed: true)))
                #expect(registered.status == .created)
                // The first passkey's credential again (excludeCredentials ignored): refused, nothing stored.
                let again = try Self.decode(
                    RegistrationOptions.self,
                    try await Self.post(client, "/api/user/passkeys/registration/options", token: confirmed, ["name": "Again"]))
                let duplicate = try await Self.post(
                    client, "/api/user/passkeys/registration", token: confirmed,
                    Registration(ceremonyId: again.ceremonyId, credential: first.register(again.publicKey)))
                #expect(duplicate.status == .conflict)
                #expect(try await server.count("passkeys") == 2)
            }
        }
    }

    @Test("assertions: single use, user verification required, only the user's own passkeys, origin and RP ID checked")
    func assertionRefusals() async throws {
        try await TestServer.with { server in
            let basic = HTTP.basic("shop", try await server.createClient())
            try await server.createUser()
            try await server.createUser("bob")
            try await server.test { client in
                let alice = try await Self.passwordToken(client, basic)
                let bob = try await Self.passwordToken(client, basic, user: "bob")
                var aliceKey = SoftwareAuthenticator()
                var bobKey = SoftwareAuthenticator()
                _ = try await Self.registerFirst(server, client, token: alice, authenticator: &aliceKey)
                _ = try await Self.registerFirst(server, client, token: bob, authenticator: &bobKey)

                func options() async throws -> RequestOptions {
                    try Self.decode(
                        RequestOptions.self,
                        try await Self.post(client, "/api/user/passkeys/authentication/options", token: alice, [String: String]()))
                }
                func answer(_ ceremony: String, _ response: AuthenticationResponseJSON) async throws -> HTTPResponse.Status {
                    try await Self.post(
                        client, "/api/user/passkeys/authentication", token: alice, Assertion(ceremonyId: ceremony, credential: response)
                    ).status
                }
                let first = try await options()
                #expect(first.publicKey.allowCredentials.map(\.id) == [aliceKey.credentialIDBase64URL])
                let response = aliceKey.assert(first.publicKey)
                #expect(try await answer(first.ceremonyId, response) == .ok)
                #expect(try await answer(first.ceremonyId, response) == .conflict)

                // Bob's passkey answering Alice's ceremony.
                let second = try await options()
                #expect(try await answer(second.ceremonyId, bobKey.assert(second.publicKey)) == .forbidden)
                // No user verification.
                var noUV = aliceKey
                noUV.userVerified = false
                let third = try await options()
                #expect(try await answer(third.ceremonyId, noUV.assert(third.publicKey)) == .badRequest)
                // Another origin, another RP ID, another ceremony's challenge.
                var phishing = aliceKey.moved(to: "https://auth.test.evil.example")
                let fourth = try await options()
                #expect(try await answer(fourth.ceremonyId, phishing.assert(fourth.publicKey)) == .badRequest)
                let fifth = try await options()
                #expect(
                    try await answer(fifth.ceremonyId, aliceKey.assertion(rpID: "evil.example", challenge: fifth.publicKey.challenge)) == .badRequest)
                let sixth = try await options()
                let seventh = try await options()
                #expect(try await answer(seventh.ceremonyId, aliceKey.assert(sixth.publicKey)) == .badRequest)
                // Garbage never reaches a 5xx.
                var garbage = aliceKey.assert(sixth.publicKey)
                garbage.response.authenticatorData = "%%%"
                #expect(try await answer(sixth.ceremonyId, garbage) == .badRequest)
            }
        }
    }

    @Test("a cloned authenticator (the counter goes backwards) blocks the passkey and is audited")
    func counterRegression() async throws {
        try await TestServer.with { server in
            let basic = HTTP.basic("shop", try await server.createClient())
            try await server.createUser()
            try await server.test { client in
                let token = try await Self.passwordToken(client, basic)
                var original = SoftwareAuthenticator()
                let device = try await Self.registerFirst(server, client, token: token, authenticator: &original)
                let clone = original
                _ = try await Self.stepUp(client, token: token, authenticator: &original)
                _ = try await Self.stepUp(client, token: token, authenticator: &original)
                let options = try Self.decode(
                    RequestOptions.self, try await Self.post(client, "/api/user/passkeys/authentication/options", token: token, [String: String]()))
                var cloned = clone
                let refused = try await Self.post(
                    client, "/api/user/passkeys/authentication", token: token,
                    Assertion(ceremonyId: options.ceremonyId, credential: cloned.assert(options.publicKey)))
                #expect(refused.status == .forbidden)
                let deviceID = try #require(device["id"] as? String)
                let stored = try #require(try await server.runtime.store.device(id: deviceID))
                #expect(stored.status == .blocked && stored.blockedReason == "COUNTER_REGRESSION")
                // Journal and chain in one statement: the sealer may move the record between two reads.
                let audited = try await server.count(
                    "(SELECT action FROM audit_journal UNION ALL SELECT action FROM audit_events) AS log WHERE action = 'passkey.counter_regression'")
                #expect(audited == 1)
                // Blocked: the original is refused too, and no options are offered.
                let none = try await Self.post(client, "/api/user/passkeys/authentication/options", token: token, [String: String]())
                #expect(none.status == .conflict)
            }
        }
    }

    @Test(
        "dynamic linking: the passkey approves a new Kontist device and a Shine action request; other data and another approval's ceremony count failures"
    )
    func approvals() async throws {
        try await TestServer.with { server in
            let secret = try await server.createClient()
            let basic = HTTP.basic("shop", secret)
            let user = try await server.createUser()
            try await server.test { client in
                let token = try await Self.passwordToken(client, basic)
                var passkey = SoftwareAuthenticator()
                _ = try await Self.registerFirst(server, client, token: token, authenticator: &passkey)

                // A phone binds while the passkey is ACTIVE: it waits for the passkey's approval (RTS art. 24).
                let phone = TestPhone()
                let (created, createdJSON) = try await client.postJSON(
                    "/api/user/devices", token: token, ["name": "Phone", "key": phone.publicKeyHex])
                #expect(created.status == .created)
                let phoneID = try #require(createdJSON["deviceId"] as? String)
                let bindingChallenge = try #require(createdJSON["challengeId"] as? String)
                let (verified, _) = try await client.postJSON(
                    "/api/user/devices/\(phoneID)/verify", token: token,
                    ["challengeId": bindingChallenge, "signature": try phone.signDER(try await server.latestOTP())])
                #expect(verified.status == .noContent)
                #expect(try await server.runtime.store.device(id: phoneID)?.status == .pendingCommit)
                let deviceApproval = try #require(try await server.runtime.approvals.pending(userID: user.id).first)

                // A Shine action request from the client.
                let (_, requestJSON) = try await ActionRequestsTests.post(
                    client, "/v2/authentication/oauth2/action_request",
                    [
                        "action": "bank:transfers:create", "client_id": "shop", "client_secret": secret, "uid": "alice",
                        "payload": ActionRequestsTests.payload,
                    ])
                let actionID = try #require((requestJSON["data"] as? [String: Any])?["authenticationActionRequestId"] as? String)

                func options(_ approvalID: String) async throws -> RequestOptions {
                    let response = try await Self.post(client, "/api/user/approvals/\(approvalID)/passkey/options", token: token, [String: String]())
                    #expect(response.status == .ok)
                    return try Self.decode(RequestOptions.self, response)
                }
                func approve(_ approvalID: String, _ options: RequestOptions, data: String? = nil, signing challenge: String? = nil)
                    async throws -> TestResponse
                {
                    try await Self.post(
                        client, "/api/user/approvals/\(approvalID)/passkey", token: token,
                        Assertion(
                            ceremonyId: options.ceremonyId, data: data ?? options.data,
                            credential: passkey.assert(options.publicKey, challenge: challenge)))
                }

                // The challenge commits to the approval's message and the nonce.
                let action = try await options(actionID)
                let shown = try #require(action.data)
                #expect(shown.hasPrefix("bank:transfers:create\n"))
                // Other data than shown: the challenge recomputed from it differs: counted.
                let otherData = try await approve(actionID, action, data: shown.replacingOccurrences(of: "234", with: "2340"))
                #expect(otherData.status == .forbidden)
                #expect(try await server.runtime.store.approval(id: actionID)?.failureCount == 1)
                // The device approval's ceremony used on the action request: counted on the action request.
                let forDevice = try await options(deviceApproval.id)
                let crossed = try await Self.post(
                    client, "/api/user/approvals/\(actionID)/passkey", token: token,
                    Assertion(ceremonyId: forDevice.ceremonyId, data: shown, credential: passkey.assert(forDevice.publicKey)))
                #expect(crossed.status == .forbidden)
                #expect(try await server.runtime.store.approval(id: actionID)?.failureCount == 2)
                // An assertion over a challenge of the attacker's choosing (not SHA-256(message ‖ nonce)): counted.
                let substituted = try await options(actionID)
                let forged = try await approve(actionID, substituted, signing: Base64URL.encode(SecureRandom.bytes(32)))
                #expect(forged.status == .forbidden)
                #expect(try await server.runtime.store.approval(id: actionID)?.failureCount == 3)

                let good = try await options(actionID)
                let approved = try await approve(actionID, good)
                #expect(approved.status == .ok)
                #expect(try HTTP.json(approved.body)["status"] as? String == "APPROVED")
                let poll = try await ActionRequestsTests.post(
                    client, "/v2/authentication/oauth2/action_request/\(actionID)/poll", ["client_id": "shop", "client_secret": secret])
                #expect((poll.1["data"] as? [String: Any])?["status"] as? String == "CONFIRMED")

                let device = try await options(deviceApproval.id)
                #expect(try await approve(deviceApproval.id, device).status == .ok)
                #expect(try await server.runtime.store.device(id: phoneID)?.status == .active)
            }
        }
    }
}

extension SoftwareAuthenticator {
    /// The same credential used from another origin (a phishing site relaying the ceremony).
    func moved(to origin: String) -> SoftwareAuthenticator {
        var moved = self
        moved.origin = origin
        return moved
    }
}

@Suite("Passkeys: relying-party settings")
struct PasskeySettingsTests {
    func settings(_ flags: [String: ConfigContent]) async throws -> ServerSettings {
        try ServerSettings(reader: try await ServerSettings.reader(flags: flags, environment: [:]))
    }

    @Test("RP ID and origins follow the issuer; an IP issuer gives localhost; bad combinations are refused at start")
    func relyingParty() async throws {
        let bank = try await settings(["issuer": .string("https://login.bank.example")]).webAuthn
        #expect(bank.relyingPartyID == "login.bank.example" && bank.origins == ["https://login.bank.example"])
        let local = try await settings(["issuer": .string("http://127.0.0.1:8080")]).webAuthn
        #expect(local.relyingPartyID == "localhost" && local.origins == ["http://localhost:8080"])
        let parent = try await settings([
            "issuer": .string("https://login.bank.example"), "webauthn.rpId": .string("bank.example"),
            "webauthn.origins": .string("https://login.bank.example, https://app.bank.example"),
        ]).webAuthn
        #expect(parent.origins == ["https://login.bank.example", "https://app.bank.example"])
        // An origin off the RP ID, an RP ID with a scheme, `required` without roots, an unreadable roots file.
        for flags: [String: ConfigContent] in [
            ["webauthn.rpId": .string("bank.example"), "webauthn.origins": .string("https://evil.example")],
            ["webauthn.rpId": .string("https://bank.example")],
            ["webauthn.attestation": .string("required")],
            ["webauthn.attestation": .string("sometimes")],
            ["webauthn.attestationRootsFile": .string("/nonexistent/roots.pem")],
        ] {
            await #expect(throws: SettingsError.self) { try await settings(flags.merging(["issuer": .string("https://bank.example")]) { $1 }) }
        }
        let garbage = FileManager.default.temporaryDirectory.appendingPathComponent("roots-\(UUID().uuidString).pem")
        try "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".write(to: garbage, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: garbage) }
        await #expect(throws: SettingsError.self) {
            try await settings(["issuer": .string("https://bank.example"), "webauthn.attestationRootsFile": .string(garbage.path)])
        }
    }
}
