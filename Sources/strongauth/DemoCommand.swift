import ArgumentParser
import Foundation
import StrongAuthAPI
import StrongAuthClient
import StrongAuthCore
import StrongAuthServer

/// `strongauth demo`: walks through the flows against a running server with the Swift SDK,
/// printing each step. It creates its own demo client in the same data as the server.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Show the flows against a running server (uses the Swift SDK).")

    @OptionGroup var common: CommonOptions

    @Option(help: "Base URL of the running server.") var server: String = "http://127.0.0.1:8080"

    func run() async throws {
        let suffix = String(UUID().uuidString.prefix(8)).lowercased()
        let clientID = "demo-\(suffix)"
        let created = try await withRuntime(common) { runtime in
            try await runtime.administration.createClient(
                id: clientID, name: "Demo client", scopes: Scopes(["accounts", "transfers"]),
                grants: [.clientCredentials, .password, .refreshToken], actor: "operator:demo")
        }
        step("1. Created OAuth client '\(clientID)' (strongauth clients create …)")
        let sdk = IntegratorClient(baseURL: server, clientID: clientID, clientSecret: created.secret)

        let clientToken = try await sdk.clientCredentials(scope: "accounts")
        step(
            "2. client_credentials grant → ES256 JWT access token, expires in \(clientToken.expiresIn) s", detail: abbreviate(clientToken.accessToken)
        )

        let username = "demo-user-\(suffix)"
        let password = "demo-password-\(suffix)"
        let user = try await sdk.createUser(
            .init(id: username, password: password, email: "\(username)@example.com", phone: "+4915100000000", isAutoUpdateEnabled: false),
            clientAccessToken: clientToken.accessToken)
        step("3. POST /api/v2/users (finAPI) with the client token → user '\(user.id)'")

        let userTokens = try await sdk.password(username: username, password: password)
        step("4. password grant → user access token + refresh token", detail: abbreviate(userTokens.refreshToken ?? ""))

        let me = try await sdk.authorisedUser(userAccessToken: userTokens.accessToken)
        step("5. GET /api/v2/users with the user token → '\(me.id)', password \(me.password)")

        let introspection = try await sdk.introspect(userTokens.accessToken)
        step("6. RFC 7662 introspection → active=\(introspection.active), sub=\(introspection.sub ?? "-"), amr=\(introspection.amr ?? [])")

        guard let firstRefresh = userTokens.refreshToken else { throw ValidationError("no refresh token issued") }
        let rotated = try await sdk.refresh(firstRefresh)
        step("7. refresh_token grant → a new refresh token (rotation); the old one is spent")
        do {
            _ = try await sdk.refresh(firstRefresh)
            step("8. !! reuse of a spent refresh token was accepted — this is a bug")
        } catch let error as StrongAuthClientError {
            step("8. reusing the spent refresh token → \(error) — the whole family is revoked")
        }
        if let second = rotated.refreshToken {
            do {
                _ = try await sdk.refresh(second)
                step("9. !! the family survived reuse detection — this is a bug")
            } catch let error as StrongAuthClientError {
                step("9. the rotated token of that family is refused too → \(error)")
            }
        }
        try await sdk.revoke(clientToken.accessToken)
        let afterRevoke = try await sdk.introspect(clientToken.accessToken)
        step("10. RFC 7009 revocation of the client token → introspection active=\(afterRevoke.active)")

        // Device binding (Kontist): the phone's P-256 key, the SMS OTP, confirmed tokens.
        let fresh = try await sdk.password(username: username, password: password)
        let keyDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("strongauth-demo-\(suffix)")
        let phone = DeviceClient(
            baseURL: server, accessToken: fresh.accessToken, keyStore: FileDeviceKeyStore(directory: keyDirectory))
        let settings = try await common.settings()
        let notifications = settings.notificationFilePath ?? "data/notifications.jsonl"
        let offset = NotificationsFile.size(of: notifications)
        let device = try await phone.createDevice(name: "Demo phone")
        step("11. POST /api/user/devices with a fresh P-256 key → device \(device.deviceId) (CREATED); an SMS OTP is on its way")
        let otp = try await NotificationsFile.awaitOTP(
            path: notifications, userID: try JWTSubject.of(fresh.accessToken), after: offset)
        try await phone.verifyDevice(device.deviceId, challengeId: device.challengeId, otp: otp)
        step("12. the phone signs the OTP from the SMS (data/notifications.jsonl) → device ACTIVE")
        let confirmed = try await phone.confirm(deviceId: device.deviceId)
        let confirmedClaims = try await sdk.introspect(confirmed.token)
        step(
            "13. device challenge signed → confirmed token: cnf.kid=\(confirmedClaims.cnf?.kid ?? "-"), acr=\(confirmedClaims.acr ?? "-"), amr=\(confirmedClaims.amr ?? [])"
        )
        if let confirmedRefresh = confirmed.refreshToken {
            let renewed = try await sdk.introspect(try await sdk.refresh(confirmedRefresh).accessToken)
            step("14. refreshing the confirmed refresh token → still confirmed by \(renewed.cnf?.kid ?? "-")")
        }
        // Removing a device or the account needs fresh two factors (RFC 9470 step-up).
        do {
            try await phone.deleteDevice(device.deviceId, confirmedAccessToken: fresh.accessToken)
            step("15. !! the password token removed a device — this is a bug")
        } catch let error as StrongAuthClientError {
            step("15. DELETE /api/user/devices/{id} with the password token → \(error) (step-up to two factors)")
        }
        try await sdk.deleteAuthorisedUser(userAccessToken: confirmed.token)
        try? FileManager.default.removeItem(at: keyDirectory)
        step(
            "16. DELETE /api/v2/users with the confirmed token → the user, its device and tokens are gone: active=\(try await sdk.introspect(confirmed.token).active)"
        )
        do {
            _ = try await sdk.password(username: username, password: password)
        } catch let error as StrongAuthClientError {
            step("17. logging in as the deleted user → \(error)")
        }

        try await powerAuth(suffix: suffix)
        try await sessions(suffix: suffix)
        step("Done. The audit log of all this: strongauth audit verify")
    }

    /// PowerAuth (PowerAuth Cloud REST API): the bank creates a registration, the phone activates with the code,
    /// the bank commits, the phone signs a request and the bank verifies it; a wrong PIN counts.
    private func powerAuth(suffix: String) async throws {
        let appID = "demo-app-\(suffix)"
        let (application, integration) = try await withRuntime(common) { runtime in
            let created = try await runtime.powerAuth.createApplication(id: appID, name: "Demo app", callbackURL: nil, actor: "operator:demo")
            let user = try await runtime.powerAuth.createIntegrationUser(
                name: "demo-integration-\(suffix)", applicationIDs: [appID], actor: "operator:demo")
            return (created, user)
        }
        step("18. PowerAuth: application '\(appID)' (strongauth apps create) and integration user '\(integration.user.name)'")
        let cloud = PowerAuthIntegrationClient(
            baseURL: "\(server)/powerauth-cloud", username: integration.user.name, password: integration.password)
        let registration = try await cloud.createRegistration(userId: "demo-end-user-\(suffix)", appId: appID)
        step("19. POST /powerauth-cloud/v2/registrations → activation code \(registration.activationCode) (QR: CODE#SIGNATURE)")

        let storeDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("strongauth-demo-pa-\(suffix)")
        defer { try? FileManager.default.removeItem(at: storeDirectory) }
        let phone = PowerAuthDevice(
            configuration: PowerAuthDeviceConfiguration(
                enrollmentBaseURL: "\(server)/enrollment-server", applicationKey: application.application.applicationKey,
                applicationSecret: application.applicationSecret, masterPublicKey: application.application.masterPublicKey,
                protocolVersion: .v3_2),
            store: FilePowerAuthActivationStore(directory: storeDirectory),
            pinIterations: PowerAuthProtectedKnowledgeKey.minimumIterations)
        let activation = try await phone.activate(code: registration.activationCode, name: "Demo phone", pin: "1234")
        let pending = try await cloud.registration(id: activation.activationID)
        step(
            "20. the phone activates (ECIES 3.2, ECDH) → \(pending.registrationStatus.rawValue), fingerprint phone \(activation.fingerprint) = server \(pending.activationFingerprint ?? "-")"
        )
        let committed = try await cloud.commit(id: activation.activationID)
        step("21. POST …/registrations/{id}/commit → \(committed.registrationStatus.rawValue)")

        let body = Array(#"{"amount":"63.99","currency":"EUR"}"#.utf8)
        let header = try await phone.sign(method: "POST", uriId: "/payment", body: body, pin: "1234")
        let verdict = try await cloud.verifySignature(method: "POST", uriId: "/payment", authHeader: header, requestBody: body)
        step("22. the phone signs POST /payment with PIN → /v2/signature/verify: signatureValid=\(verdict.signatureValid)")
        let replay = try await cloud.verifySignature(method: "POST", uriId: "/payment", authHeader: header, requestBody: body)
        step("23. the same header again (a replay) → signatureValid=\(replay.signatureValid)")
        let wrongPIN = try await phone.sign(method: "POST", uriId: "/payment", body: body, pin: "9999")
        let wrong = try await cloud.verifySignature(method: "POST", uriId: "/payment", authHeader: wrongPIN, requestBody: body)
        step("24. signed with a wrong PIN → signatureValid=\(wrong.signatureValid), remainingAttempts=\(wrong.remainingAttempts)")
        let removed = try await cloud.remove(id: activation.activationID)
        step("25. DELETE …/registrations/{id} → \(removed.registrationStatus.rawValue)")
    }

    /// ABN AMRO sessions (ABN AMRO login protocol, docs/sessions.md): a login with the soft token (the identification code,
    /// RSA-encrypted under the challenge's key), the cookie session, a signed scenario, logout.
    private func sessions(suffix: String) async throws {
        let account = String(UInt32.random(in: 100_000_000...999_999_999))
        let card = String(Int.random(in: 100...999))
        let code = String(format: "%05d", Int.random(in: 0..<100_000))
        let identity = try await withRuntime(common) { runtime in
            try await runtime.sessions.createUser(
                username: "demo-abn-\(suffix)", password: nil, phone: nil, email: nil, accountNumber: account, cardNumber: card,
                identificationCode: code, actor: "operator:demo"
            ).identity
        }
        step("26. ABN AMRO login identity \(identity.loginUserID) (strongauth users create --account … --card … --identification-code …)")
        let browser = SessionClient(baseURL: server)
        let challenge = try await browser.loginChallenge(accountNumber: account, cardNumber: card)
        step(
            "27. GET /session/loginchallenge → SOFTTOKEN challenge (TLV: nonces + RSA-2048 key), attemptsLeft=\(challenge.attemptsLeft), session cookie set"
        )
        do {
            _ = try await browser.answer(challenge, accountNumber: account, cardNumber: card, identificationCode: code == "00000" ? "11111" : "00000")
        } catch let error as StrongAuthClientError {
            step("28. a wrong identification code → \(error)")
        }
        let session = try await browser.loginWithSoftToken(accountNumber: account, cardNumber: card, identificationCode: code)
        step("29. PUT /session/loginresponse with the RSA-encrypted code → session authorized (deviceType \(session.deviceType)); attempts back to 3")
        step("30. GET /session → lastLogonDate \(try await browser.lastLogonDate())")
        let signed = try await browser.signScenario(
            "ADD_PAYEE", data: ["iban": "NL02ABNA0123456789", "name": "Demo payee"], identificationCode: code)
        step("31. step-up: scenario ADD_PAYEE signed with the soft token → \(signed.status.rawValue), hash \(signed.scenarioHash.prefix(16))…")
        try await browser.logout()
        do {
            _ = try await browser.lastLogonDate()
        } catch let error as StrongAuthClientError {
            step("32. DELETE /session, then GET /session → \(error)")
        }
    }

    private func step(_ text: String, detail: String? = nil) {
        print(text)
        if let detail { print("     \(detail)") }
    }

    private func abbreviate(_ token: String) -> String {
        token.count > 40 ? "\(token.prefix(24))…\(token.suffix(8))" : token
    }
}
