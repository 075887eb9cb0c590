import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import StrongAuthAPI
import StrongAuthClient
import StrongAuthProtocol
import StrongAuthServer
import Testing

/// The PowerAuth face through the Swift SDK only: the integrator's `PowerAuthIntegrationClient`
/// and the phone's `PowerAuthDevice` against a live, listening server (real sockets, real HTTP).
/// The application and the integration user are made through `runtime.powerAuth`, as
/// `strongauth apps create` and `strongauth integration-users create` make them.
@Suite("PowerAuth end to end through the Swift SDK")
struct PowerAuthEndToEndTests {
    typealias Status = Components.Schemas.Registration.RegistrationStatusPayload

    // MARK: Registration (PowerAuth Cloud REST API, "Implement Mobile Device Registration")

    @Test("PowerAuth Cloud flow: CREATED with the code, 3.1 key exchange → PENDING_COMMIT with the phone's fingerprint, commit → ACTIVE")
    func seedRegistrationFlow() async throws {
        try await PowerAuthScenario.run { scenario in
            let created = try await scenario.cloud.createRegistration(userId: "end-user-1234", appId: "my-application")
            #expect(created.activationQrCodeData == "\(created.activationCode)#\(created.activationCodeSignature)")
            let fresh = try await scenario.cloud.registration(id: created.registrationId)
            #expect(fresh.registrationStatus == .created)
            #expect(fresh.userId == "end-user-1234" && fresh.applicationId == "my-application")
            #expect(fresh.activationCode == created.activationCode)

            let phone = scenario.phone(.v3_1)
            let activation = try await phone.activate(code: created.activationQrCodeData, name: "John's iPhone", pin: scenario.pin)
            #expect(activation.activationID == created.registrationId)
            let pending = try await scenario.cloud.registration(id: created.registrationId)
            #expect(pending.registrationStatus == .pendingCommit)
            #expect(pending.activationFingerprint == activation.fingerprint)
            #expect(pending.activationCode == nil)
            #expect(pending.name == "John's iPhone")

            let committed = try await scenario.cloud.commit(id: created.registrationId)
            #expect(committed.registrationStatus == .active)
            #expect(try await scenario.cloud.registration(id: created.registrationId).registrationStatus == .active)
            #expect(try await scenario.cloud.registrations(userId: "end-user-1234").map(\.registrationId) == [created.registrationId])
        }
    }

    @Test("ON_KEY_EXCHANGE OTP: the key exchange with the right OTP lands ACTIVE without a commit")
    func onKeyExchangeOTPLandsActive() async throws {
        try await PowerAuthScenario.run { scenario in
            let created = try await scenario.cloud.createRegistration(
                userId: "end-user-1234", appId: "my-application", otp: "81726354", otpValidation: .onKeyExchange)
            let phone = scenario.phone(.v3_1)
            _ = try await phone.activate(code: created.activationCode, otp: "81726354", name: "Mobile-only", pin: scenario.pin)
            #expect(try await scenario.cloud.registration(id: created.registrationId).registrationStatus == .active)
            let header = try await phone.sign(method: "POST", uriId: "/login", body: Array("{}".utf8), pin: scenario.pin)
            #expect(try await scenario.verify(header).signatureValid)
        }
    }

    @Test("a wrong activation OTP is refused with the enrollment API's ERR_ACTIVATION and changes nothing")
    func wrongActivationOTPIsRefused() async throws {
        try await PowerAuthScenario.run { scenario in
            let created = try await scenario.cloud.createRegistration(
                userId: "end-user-1234", appId: "my-application", otp: "81726354", otpValidation: .onKeyExchange)
            let phone = scenario.phone(.v3_1)
            let error = try await #require(throws: PowerAuthServerError.self) {
                try await phone.activate(code: created.activationCode, otp: "00000000", name: "Mobile-only", pin: scenario.pin)
            }
            #expect(error.status == 400 && error.code == "ERR_ACTIVATION" && error.message.contains("OTP"))
            #expect(await phone.activationID == nil)
            #expect(try await scenario.cloud.registration(id: created.registrationId).registrationStatus == .created)
        }
    }

    @Test(
        "PowerAuth Cloud's operation flow through the SDK: the integrator creates, the phone lists (token) and authorizes with its PIN, the integrator reads APPROVED; a rejection reads REJECTED"
    )
    func operationsThroughTheSDK() async throws {
        try await PowerAuthScenario.run { scenario in
            let (phone, _) = try await scenario.activeRegistration(.v3_2)
            let token = try await phone.createToken(pin: nil)
            let created = try await scenario.cloud.createOperation(
                userId: "end-user-1234", template: "default.payment",
                parameters: ["amount": "63.99", "currency": "EUR", "account": "CZ32493745329497374923"])
            #expect(created.status == .pending && created.maxFailureCount == 5)
            let pending = try await phone.pendingOperations(tokenID: token)
            let operation = try #require(pending.first { $0.id == created.operationId })
            #expect(operation.data == "A1*A63.99EUR*ICZ32493745329497374923")
            // The screen: the template's title and message with the parameters filled in.
            #expect(operation.formData?.title == "Payment approval")
            #expect(operation.formData?.message == "Please confirm the payment of 63.99 EUR to the account CZ32493745329497374923.")
            #expect(operation.formData?.attributes.map(\.value).sorted() == ["63.99", "CZ32493745329497374923", "EUR"])
            // A wrong PIN is a failed signature: refused, the operation stays PENDING.
            await #expect(throws: PowerAuthServerError.self) { try await phone.authorize(operation, pin: "0000") }
            try await phone.authorize(operation, pin: scenario.pin)
            #expect(try await scenario.cloud.operation(id: created.operationId).status == .approved)

            let second = try await scenario.cloud.createOperation(userId: "end-user-1234", template: "default.login", parameters: [:])
            try await phone.reject(operationID: second.operationId, reason: "UNEXPECTED_OPERATION")
            #expect(try await scenario.cloud.operation(id: second.operationId).status == .rejected)
            #expect(try await phone.pendingOperations(tokenID: token).isEmpty)
        }
    }

    @Test(
        "protocol 3.2 and 3.3 (temporary keys in both scopes): activation, signature and token all work",
        arguments: [
            PowerAuthProtocolVersion.v3_2, .v3_3,
        ])
    func laterProtocolVersions(_ version: PowerAuthProtocolVersion) async throws {
        try await PowerAuthScenario.run { scenario in
            let (phone, registrationID) = try await scenario.activeRegistration(version)
            let header = try await phone.sign(method: "POST", uriId: "/login", body: Array("{}".utf8), pin: scenario.pin)
            #expect(header.contains("pa_version=\"\(version.rawValue)\""))
            let verdict = try await scenario.verify(header)
            #expect(verdict.signatureValid && verdict.registrationId == registrationID)
            // token/create is activation-scope ECIES: in 3.3 to an activation-scope temporary key.
            let tokenID = try await phone.createToken(pin: scenario.pin)
            #expect(try await scenario.cloud.verifyToken(tokenHeader: try await phone.tokenHeader(for: tokenID)).tokenValid)
        }
    }

    // MARK: Signatures (PowerAuth Cloud REST API, "Implement Protected API Resources")

    @Test("a signature over the raw body verifies through /v2/signature/verify")
    func signatureVerifies() async throws {
        try await PowerAuthScenario.run { scenario in
            let (phone, registrationID) = try await scenario.activeRegistration()
            let header = try await phone.sign(method: "POST", uriId: "/login", body: Array("{}".utf8), pin: scenario.pin)
            let verdict = try await scenario.verify(header, body: "{}")
            #expect(verdict.signatureValid)
            #expect(verdict.userId == "end-user-1234" && verdict.registrationId == registrationID)
            #expect(verdict.registrationStatus == .active)
            #expect(verdict.signatureType == "possession_knowledge")
            #expect(verdict.remainingAttempts == 5)
        }
    }

    @Test("a replayed header is invalid the second time")
    func replayIsInvalid() async throws {
        try await PowerAuthScenario.run { scenario in
            let (phone, _) = try await scenario.activeRegistration()
            let header = try await phone.sign(method: "POST", uriId: "/login", body: Array("{}".utf8), pin: scenario.pin)
            #expect(try await scenario.verify(header).signatureValid)
            #expect(try await scenario.verify(header).signatureValid == false)
        }
    }

    @Test("a changed body (or uriId) makes the signature invalid")
    func changedBodyIsInvalid() async throws {
        try await PowerAuthScenario.run { scenario in
            let (phone, _) = try await scenario.activeRegistration()
            let header = try await phone.sign(method: "POST", uriId: "/payment", body: Array(#"{"amount":"10.00"}"#.utf8), pin: scenario.pin)
            #expect(try await scenario.verify(header, body: #"{"amount":"99.00"}"#, uriId: "/payment").signatureValid == false)
            #expect(try await scenario.verify(header, body: #"{"amount":"10.00"}"#, uriId: "/login").signatureValid == false)
            // The untouched request still verifies: the failures above did not move the counter.
            #expect(try await scenario.verify(header, body: #"{"amount":"10.00"}"#, uriId: "/payment").signatureValid)
        }
    }

    @Test("BLOCK: signatures are invalid and the verdict says BLOCKED with the reason")
    func blockRefusesSignatures() async throws {
        try await PowerAuthScenario.run { scenario in
            let (phone, registrationID) = try await scenario.activeRegistration()
            let blocked = try await scenario.cloud.block(id: registrationID, reason: "DEVICE_LOST")
            #expect(blocked.registrationStatus == .blocked && blocked.blockedReason == "DEVICE_LOST")
            let header = try await phone.sign(method: "POST", uriId: "/login", body: Array("{}".utf8), pin: scenario.pin)
            let verdict = try await scenario.verify(header)
            #expect(verdict.signatureValid == false)
            #expect(verdict.registrationStatus == .blocked && verdict.blockedReason == "DEVICE_LOST")
        }
    }

    @Test("UNBLOCK: the next signature is valid again")
    func unblockRestoresSignatures() async throws {
        try await PowerAuthScenario.run { scenario in
            let (phone, registrationID) = try await scenario.activeRegistration()
            _ = try await scenario.cloud.block(id: registrationID)
            let refused = try await phone.sign(method: "POST", uriId: "/login", body: Array("{}".utf8), pin: scenario.pin)
            #expect(try await scenario.verify(refused).signatureValid == false)
            #expect(try await scenario.cloud.unblock(id: registrationID).registrationStatus == .active)
            // The phone is one counter value ahead (the refused signature); the look-ahead covers it.
            let header = try await phone.sign(method: "POST", uriId: "/login", body: Array("{}".utf8), pin: scenario.pin)
            #expect(try await scenario.verify(header).signatureValid)
        }
    }

    @Test("DELETE: REMOVED, signatures invalid, listed only with removed=true")
    func removeEndsRegistration() async throws {
        try await PowerAuthScenario.run { scenario in
            let (phone, registrationID) = try await scenario.activeRegistration()
            #expect(try await scenario.cloud.remove(id: registrationID).registrationStatus == .removed)
            #expect(try await scenario.cloud.registration(id: registrationID).registrationStatus == .removed)
            let header = try await phone.sign(method: "POST", uriId: "/login", body: Array("{}".utf8), pin: scenario.pin)
            let verdict = try await scenario.verify(header)
            #expect(verdict.signatureValid == false && verdict.registrationStatus == .removed)
            #expect(try await scenario.cloud.registrations(userId: "end-user-1234").isEmpty)
            #expect(try await scenario.cloud.registrations(userId: "end-user-1234", includeRemoved: true).map(\.registrationId) == [registrationID])
        }
    }

    @Test("five wrong PINs block with MAX_FAILED_ATTEMPTS, counting down; the sixth, with the right PIN, is refused")
    func wrongPINBlocks() async throws {
        try await PowerAuthScenario.run { scenario in
            let (phone, registrationID) = try await scenario.activeRegistration()
            var remaining: [Int] = []
            var last: Components.Schemas.SignatureVerifyResponse?
            for _ in 1...5 {
                let header = try await phone.sign(method: "POST", uriId: "/login", body: Array("{}".utf8), pin: "9999")
                let verdict = try await scenario.verify(header)
                #expect(verdict.signatureValid == false)
                remaining.append(verdict.remainingAttempts)
                last = verdict
            }
            #expect(remaining == [4, 3, 2, 1, 0])
            #expect(last?.registrationStatus == .blocked && last?.blockedReason == "MAX_FAILED_ATTEMPTS")
            let right = try await phone.sign(method: "POST", uriId: "/login", body: Array("{}".utf8), pin: scenario.pin)
            let sixth = try await scenario.verify(right)
            #expect(sixth.signatureValid == false && sixth.registrationStatus == .blocked)
            let registration = try await scenario.cloud.registration(id: registrationID)
            #expect(registration.registrationStatus == .blocked && registration.blockedReason == "MAX_FAILED_ATTEMPTS")
        }
    }

    @Test("validatePin: the right PIN passes, a wrong one fails and is counted by the server")
    func validatePIN() async throws {
        try await PowerAuthScenario.run { scenario in
            let (phone, _) = try await scenario.activeRegistration()
            #expect(try await phone.validatePin(scenario.pin))
            #expect(try await phone.validatePin("0000") == false)
            #expect(try await phone.status().failedAttempts == 1)
            #expect(try await phone.validatePin(scenario.pin))
            #expect(try await phone.status().failedAttempts == 0)
        }
    }

    // MARK: Status

    @Test("status: ACTIVE in sync after a signature, BLOCKED after a block")
    func statusShowsBlocked() async throws {
        try await PowerAuthScenario.run { scenario in
            let (phone, registrationID) = try await scenario.activeRegistration()
            let header = try await phone.sign(method: "POST", uriId: "/login", body: Array("{}".utf8), pin: scenario.pin)
            #expect(try await scenario.verify(header).signatureValid)
            let active = try await phone.status()
            #expect(active.state == .active && active.counterSync == .inSync && active.remainingAttempts == 5)
            _ = try await scenario.cloud.block(id: registrationID)
            #expect(try await phone.status().state == .blocked)
        }
    }

    @Test("status: a phone behind the server (state restored from a backup) catches up, and its next signature is valid")
    func statusCatchesUpWithTheServer() async throws {
        try await PowerAuthScenario.run { scenario in
            let (phone, registrationID) = try await scenario.activeRegistration()
            let backup = try #require(try scenario.store.load(activationID: registrationID))
            for _ in 1...3 {
                let header = try await phone.sign(method: "POST", uriId: "/login", body: Array("{}".utf8), pin: scenario.pin)
                #expect(try await scenario.verify(header).signatureValid)
            }
            try scenario.store.save(backup)
            #expect(try await phone.status().counterSync == .caughtUp(steps: 3))
            #expect(try await phone.status().counterSync == .inSync)
            let header = try await phone.sign(method: "POST", uriId: "/login", body: Array("{}".utf8), pin: scenario.pin)
            let verdict = try await scenario.verify(header)
            #expect(verdict.signatureValid && verdict.remainingAttempts == 5)
        }
    }

    // MARK: Tokens

    @Test("a token made with possession + knowledge verifies through /v2/token/verify, many times")
    func tokenVerifies() async throws {
        try await PowerAuthScenario.run { scenario in
            let (phone, registrationID) = try await scenario.activeRegistration()
            let tokenID = try await phone.createToken(pin: scenario.pin)
            for _ in 1...2 {
                let verdict = try await scenario.cloud.verifyToken(tokenHeader: try await phone.tokenHeader(for: tokenID))
                #expect(verdict.tokenValid)
                #expect(verdict.registrationId == registrationID && verdict.userId == "end-user-1234")
                #expect(verdict.signatureType == "possession_knowledge")
            }
        }
    }

    @Test("a token header computed with another secret is invalid")
    func tokenWithWrongSecretIsInvalid() async throws {
        try await PowerAuthScenario.run { scenario in
            let (phone, _) = try await scenario.activeRegistration()
            let tokenID = try await phone.createToken(pin: scenario.pin)
            let genuine = try PowerAuthTokenHeader.parse(try await phone.tokenHeader(for: tokenID))
            var forged = genuine
            forged.tokenDigest = PowerAuthTokenDigest.compute(
                tokenSecret: SecureRandom.bytes(16), nonce: genuine.nonce, timestamp: genuine.timestamp, version: genuine.version)
            #expect(try await scenario.cloud.verifyToken(tokenHeader: forged.headerValue).tokenValid == false)
            #expect(try await scenario.cloud.verifyToken(tokenHeader: genuine.headerValue).tokenValid)
        }
    }

    @Test("a removed token is invalid, and the phone forgets it")
    func removedTokenIsInvalid() async throws {
        try await PowerAuthScenario.run { scenario in
            let (phone, _) = try await scenario.activeRegistration()
            let tokenID = try await phone.createToken(pin: scenario.pin)
            let header = try await phone.tokenHeader(for: tokenID)
            #expect(try await scenario.cloud.verifyToken(tokenHeader: header).tokenValid)
            try await phone.removeToken(tokenID)
            #expect(try await scenario.cloud.verifyToken(tokenHeader: header).tokenValid == false)
            #expect(try await phone.tokenIDs().isEmpty)
        }
    }

    // MARK: The phone's own removal and storage

    @Test("the phone removes its activation: REMOVED on the server, nothing left in the store")
    func phoneRemovesItsActivation() async throws {
        try await PowerAuthScenario.run { scenario in
            let (phone, registrationID) = try await scenario.activeRegistration()
            try await phone.remove(pin: scenario.pin)
            #expect(try await scenario.cloud.registration(id: registrationID).registrationStatus == .removed)
            #expect(try scenario.store.load(activationID: registrationID) == nil)
            #expect(await phone.activationID == nil)
        }
    }

    @Test("the activation file is 0600 in a 0700 directory and holds neither the PIN nor the knowledge key")
    func activationFileProtection() async throws {
        try await PowerAuthScenario.run { scenario in
            let (_, registrationID) = try await scenario.activeRegistration()
            let file = scenario.store.directory.appendingPathComponent("\(registrationID).json")
            let fileMode = try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int
            let directoryMode = try FileManager.default.attributesOfItem(atPath: scenario.store.directory.path)[.posixPermissions] as? Int
            #expect(fileMode == 0o600 && directoryMode == 0o700)
            let record = try #require(try scenario.store.load(activationID: registrationID))
            let contents = try String(contentsOf: file, encoding: .utf8)
            let knowledgeKey = try record.knowledgeKey.unlock(pin: scenario.pin)
            #expect(!contents.contains(PowerAuthBase64.encode(knowledgeKey)))
            #expect(!contents.contains("\"\(scenario.pin)\""))
            #expect(record.knowledgeKey.iterations >= PowerAuthProtectedKnowledgeKey.minimumIterations)
            // A wrong PIN gives other bytes, not an error: no offline oracle in the file.
            #expect(try record.knowledgeKey.unlock(pin: "9999") != knowledgeKey)
        }
    }

    // MARK: Integration API errors

    @Test("integration errors carry PowerAuth's code and the HTTP status")
    func integrationErrors() async throws {
        try await PowerAuthScenario.run { scenario in
            let missing = try await #require(throws: PowerAuthServerError.self) {
                try await scenario.cloud.registration(id: UUID().uuidString.lowercased())
            }
            #expect(missing.status == 404 && missing.code == "ERROR_REGISTRATION_NOT_FOUND")
            let (_, registrationID) = try await scenario.activeRegistration()
            let state = try await #require(throws: PowerAuthServerError.self) { try await scenario.cloud.commit(id: registrationID) }
            #expect(state.status == 409 && state.code == "ERROR_REGISTRATION_STATE_CHANGE")
            let intruder = PowerAuthIntegrationClient(baseURL: scenario.cloud.baseURL, username: "integration-user", password: "wrong")
            let unauthorized = try await #require(throws: PowerAuthServerError.self) {
                try await intruder.registrations(userId: "end-user-1234")
            }
            #expect(unauthorized.status == 401 && unauthorized.code == "ERROR_UNAUTHORIZED")
        }
    }
}

// MARK: - Test support for the PowerAuth face (kept here, apart from TestSupport.swift)

/// A live server with PowerAuth Cloud's application (`my-application`) and an integration user, and
/// the SDK's two sides pointed at it.
struct PowerAuthScenario: Sendable {
    let cloud: PowerAuthIntegrationClient
    let enrollmentBaseURL: String
    let applicationKey: String
    let applicationSecret: String
    let masterPublicKey: String
    let store: FilePowerAuthActivationStore
    let pin = "1234"

    /// The server's clock ticks with the wall clock: the SDK stamps ECIES requests and tokens with
    /// the wall clock, and a test may run longer than their window on a loaded machine.
    static func run(_ body: @escaping @Sendable (PowerAuthScenario) async throws -> Void) async throws {
        try await TestServer.with(tickingClock: true) { server in
            let app = try await server.runtime.powerAuth.createApplication(id: "my-application", name: nil, callbackURL: nil, actor: "test")
            let user = try await server.runtime.powerAuth.createIntegrationUser(
                name: "integration-user", applicationIDs: ["my-application"], actor: "test")
            let store = FilePowerAuthActivationStore(directory: server.directory.appendingPathComponent("powerauth"))
            let (key, secret, master) = (app.application.applicationKey, app.applicationSecret, app.application.masterPublicKey)
            try await buildApplication(runtime: server.runtime).test(.live) { client in
                let base = "http://127.0.0.1:\(try #require(client.port))"
                try await body(
                    PowerAuthScenario(
                        cloud: PowerAuthIntegrationClient(
                            baseURL: base + "/powerauth-cloud", username: user.user.name, password: user.password),
                        enrollmentBaseURL: base + "/enrollment-server", applicationKey: key, applicationSecret: secret,
                        masterPublicKey: master, store: store))
            }
        }
    }

    /// A phone of this application; the fewest PBKDF2 rounds the SDK allows keep the tests quick.
    func phone(_ version: PowerAuthProtocolVersion = .v3_1) -> PowerAuthDevice {
        PowerAuthDevice(
            configuration: PowerAuthDeviceConfiguration(
                enrollmentBaseURL: enrollmentBaseURL, applicationKey: applicationKey, applicationSecret: applicationSecret,
                masterPublicKey: masterPublicKey, protocolVersion: version),
            store: store, pinIterations: PowerAuthProtectedKnowledgeKey.minimumIterations)
    }

    /// PowerAuth Cloud's registration, activated by a new phone and committed.
    func activeRegistration(_ version: PowerAuthProtocolVersion = .v3_1) async throws -> (PowerAuthDevice, String) {
        let created = try await cloud.createRegistration(userId: "end-user-1234", appId: "my-application")
        let phone = phone(version)
        let activation = try await phone.activate(code: created.activationQrCodeData, name: "Test phone", pin: pin)
        #expect(try await cloud.commit(id: created.registrationId).registrationStatus == .active)
        return (phone, activation.activationID)
    }

    /// What the integrator's API does with a signed request: `/v2/signature/verify` with the raw body.
    func verify(_ header: String, body: String = "{}", uriId: String = "/login") async throws -> Components.Schemas.SignatureVerifyResponse {
        try await cloud.verifySignature(method: "POST", uriId: uriId, authHeader: header, requestBody: Array(body.utf8))
    }
}
