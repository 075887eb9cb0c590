import Configuration
import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
@testable import StrongAuthCore
import StrongAuthProtocol
import Testing

/// A PowerAuth phone reduced to what the integration-API tests need: it activates through the
/// core's key exchange (the ECIES layers are the enrollment tests' business) and signs requests
/// with the keys it derives itself from ECDH.
struct PowerAuthTestPhone {
    let registrationID: String
    let applicationKey: String
    let applicationSecret: String
    let keys: PowerAuthDerivedKeys
    var counterData: [UInt8]

    /// `X-PowerAuth-Authorization` over `body`, advancing the counter like a real phone. A
    /// `wrongKnowledge` signs with a key derived from a wrong PIN; `version` 3.0 writes the
    /// signature in decimal groups.
    mutating func sign(
        method: String = "POST", uriID: String = "/login", body: [UInt8] = Array("{}".utf8),
        factors: [PowerAuthSignature.Factor] = [.possession, .knowledge], wrongKnowledge: Bool = false, skip: Int = 0,
        version: PowerAuthProtocolVersion = .v3_1
    ) -> String {
        for _ in 0..<skip { counterData = PowerAuthStatusBlob.nextCounterData(counterData) }
        let nonce = SecureRandom.bytes(16)
        let data = Array(
            PowerAuthSignature.baseString(method: method, uriID: uriID, nonce: nonce, body: body, applicationSecret: applicationSecret).utf8)
        let factorKeys = factors.map { factor -> [UInt8] in
            switch factor {
            case .possession: keys.possession
            case .knowledge: wrongKnowledge ? Array(repeating: 0x42, count: 16) : keys.knowledge
            case .biometry: keys.biometry
            }
        }
        let signature = PowerAuthSignature.compute(
            data: data, counterData: counterData, keys: factorKeys, format: version == .v3_0 ? .decimal(componentLength: 8) : .base64)
        counterData = PowerAuthStatusBlob.nextCounterData(counterData)
        let type = factors.map(\.rawValue).joined(separator: "_")
        return #"PowerAuth pa_activation_id="\#(registrationID)", pa_application_key="\#(applicationKey)", "#
            + #"pa_nonce="\#(PowerAuthBase64.encode(nonce))", pa_signature_type="\#(type)", pa_signature="\#(signature)", pa_version="\#(version.rawValue)""#
    }
}

extension TestServer {
    /// `my-application` (with a callback URL when given) and an integration user for it; returns
    /// the opened application and the user's Basic header.
    func powerAuthSetup(callbackURL: String? = nil, appID: String = "my-application") async throws -> (OpenedApplication, String) {
        let created = try await runtime.powerAuth.createApplication(id: appID, name: nil, callbackURL: callbackURL, actor: "test")
        let user = try await runtime.powerAuth.createIntegrationUser(name: "integration-\(appID)", applicationIDs: [appID], actor: "test")
        return (try runtime.powerAuth.openApplication(created.application), HTTP.basic(user.user.name, user.password))
    }

    /// Runs the phone's key exchange for a CREATED registration with `code`.
    func activate(code: String, application: OpenedApplication, otp: String? = nil, protocolVersion: String = "3.1") async throws
        -> PowerAuthTestPhone
    {
        let device = P256.KeyAgreement.PrivateKey()
        let result = try await runtime.powerAuth.exchangeKeys(
            KeyExchangeRequest(
                activationCode: code, activationOTP: otp, devicePublicKey: device.publicKey, activationName: "John's iPhone",
                platform: "ios", deviceInfo: "iPhone10,6", extras: nil, protocolVersion: protocolVersion),
            application: application, source: nil)
        let secret = try PowerAuthDerivedKeys.masterSecret(privateKey: device, publicKey: result.serverPublicKey)
        return PowerAuthTestPhone(
            registrationID: result.registration.id, applicationKey: application.application.applicationKey,
            applicationSecret: application.applicationSecret, keys: try PowerAuthDerivedKeys(masterSecret: secret),
            counterData: result.counterData)
    }
}

extension TestClientProtocol {
    /// A JSON request to the integration API with Basic credentials.
    func integration(
        _ method: HTTPRequest.Method, _ uri: String, basic: String?, _ body: [String: Any]? = nil
    ) async throws -> (TestResponse, [String: Any]) {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if let basic { headers[.authorization] = basic }
        let data = try body.map { try JSONSerialization.data(withJSONObject: $0) }
        let response = try await executeRequest(uri: uri, method: method, headers: headers, body: data.map { ByteBuffer(data: $0) })
        return (response, try HTTP.json(response.body))
    }

    /// `POST /powerauth-cloud/v2/signature/verify` in PowerAuth Cloud's request shape.
    func verify(_ header: String, basic: String, uriID: String = "/login", body: [UInt8] = Array("{}".utf8)) async throws
        -> (TestResponse, [String: Any])
    {
        try await integration(
            .post, "/powerauth-cloud/v2/signature/verify", basic: basic,
            ["method": "POST", "uriId": uriID, "authHeader": header, "requestBody": Data(body).base64EncodedString()])
    }
}

/// PowerAuth's error shape, checked the same way everywhere.
func expectPowerAuthError(
    _ response: TestResponse, _ json: [String: Any], status: HTTPResponse.Status, code: String? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(response.status == status, sourceLocation: sourceLocation)
    #expect(json["status"] as? String == "ERROR", sourceLocation: sourceLocation)
    let object = json["responseObject"] as? [String: Any]
    #expect(object?["message"] is String, sourceLocation: sourceLocation)
    if let code { #expect(object?["code"] as? String == code, sourceLocation: sourceLocation) }
}

@Suite("PowerAuth integration API (PowerAuth Cloud REST API)")
struct PowerAuthTests {
    /// A server with `my-application`, its integration user and one ACTIVE registration of `end-user-1234`.
    static func withActive(
        _ overrides: [String: ConfigContent] = [:], protocolVersion: String = "3.1",
        _ body: @escaping @Sendable (TestServer, any TestClientProtocol, String, PowerAuthTestPhone) async throws -> Void
    ) async throws {
        try await TestServer.with(overrides) { server in
            let (application, basic) = try await server.powerAuthSetup()
            try await server.test { client in
                let (_, created) = try await client.integration(
                    .post, "/powerauth-cloud/v2/registrations", basic: basic, ["userId": "end-user-1234", "appId": "my-application"])
                let phone = try await server.activate(
                    code: try #require(created["activationCode"] as? String), application: application, protocolVersion: protocolVersion)
                let (commit, committed) = try await client.integration(
                    .post, "/powerauth-cloud/v2/registrations/\(phone.registrationID)/commit", basic: basic, [:])
                #expect(commit.status == .ok && committed["registrationStatus"] as? String == "ACTIVE")
                try await body(server, client, basic, phone)
            }
        }
    }

    @Test("PowerAuth Cloud's registration flow: CREATED with a signed code, PENDING_COMMIT with the fingerprint, commit → ACTIVE")
    func seedRegistrationFlow() async throws {
        try await TestServer.with { server in
            let (application, basic) = try await server.powerAuthSetup()
            try await server.test { client in
                let (response, created) = try await client.integration(
                    .post, "/powerauth-cloud/v2/registrations", basic: basic, ["userId": "end-user-1234", "appId": "my-application"])
                #expect(response.status == .ok)
                let code = try #require(created["activationCode"] as? String)
                let signature = try #require(created["activationCodeSignature"] as? String)
                let id = try #require(created["registrationId"] as? String)
                #expect(PowerAuthActivationCode.isValid(code))
                #expect(created["activationQrCodeData"] as? String == "\(code)#\(signature)")
                let masterKey = try P256.Signing.PublicKey(
                    x963Representation: try #require(Data(base64Encoded: application.application.masterPublicKey)))
                #expect(PowerAuthActivationCode.verify(code, signatureBase64: signature, masterPublicKey: masterKey))

                let (_, fresh) = try await client.integration(.get, "/powerauth-cloud/v2/registrations/\(id)", basic: basic)
                #expect(fresh["registrationStatus"] as? String == "CREATED")
                #expect(fresh["userId"] as? String == "end-user-1234" && fresh["applicationId"] as? String == "my-application")
                #expect(fresh["activationCode"] as? String == code && fresh["flags"] as? [String] == [])
                #expect(fresh["timestampCreated"] is Int && fresh["timestampLastUsed"] is Int)

                let phone = try await server.activate(code: code, application: application)
                #expect(phone.registrationID == id)
                let (_, pending) = try await client.integration(.get, "/powerauth-cloud/v2/registrations/\(id)", basic: basic)
                #expect(pending["registrationStatus"] as? String == "PENDING_COMMIT")
                #expect(pending["activationCode"] == nil)
                let fingerprint = try #require(pending["activationFingerprint"] as? String)
                #expect(fingerprint.count == 8 && fingerprint.allSatisfy(\.isNumber))
                #expect(pending["name"] as? String == "John's iPhone" && pending["platform"] as? String == "ios")

                // The code is single-use.
                await #expect(throws: PowerAuthServiceError.activationCodeNotFound) {
                    _ = try await server.activate(code: code, application: application)
                }
                let (commit, active) = try await client.integration(.post, "/powerauth-cloud/v2/registrations/\(id)/commit", basic: basic, [:])
                #expect(commit.status == .ok && active["registrationStatus"] as? String == "ACTIVE")
                let (again, json) = try await client.integration(.post, "/powerauth-cloud/v2/registrations/\(id)/commit", basic: basic, [:])
                expectPowerAuthError(again, json, status: .conflict, code: "ERROR_REGISTRATION_STATE_CHANGE")

                // The registration is one of the user's devices.
                let user = try #require(try await server.runtime.store.user(realm: "default", username: "end-user-1234"))
                #expect(try await server.runtime.devices.devices(userID: user.id).map(\.kind) == [.powerauth])
            }
        }
    }

    @Test("signatures: valid once (a replay is not), within the lookahead of 20, bound to the body and uriId")
    func signatures() async throws {
        try await Self.withActive { _, client, basic, phone in
            var phone = phone
            let header = phone.sign()
            let (response, valid) = try await client.verify(header, basic: basic)
            #expect(response.status == .ok)
            #expect(valid["signatureValid"] as? Bool == true)
            #expect(valid["userId"] as? String == "end-user-1234" && valid["registrationId"] as? String == phone.registrationID)
            #expect(valid["registrationStatus"] as? String == "ACTIVE" && valid["signatureType"] as? String == "possession_knowledge")
            #expect(valid["remainingAttempts"] as? Int == 5)
            // A replay is refused but not counted: five replays must not block the user.
            for _ in 0..<6 {
                let (_, replay) = try await client.verify(header, basic: basic)
                #expect(replay["signatureValid"] as? Bool == false && replay["remainingAttempts"] as? Int == 5)
            }

            // 20 values ahead is one too far (the server did not move: the phone may still catch up).
            var tooFar = phone
            #expect(try await client.verify(tooFar.sign(skip: 20), basic: basic).1["signatureValid"] as? Bool == false)
            #expect(try await client.verify(phone.sign(skip: 19), basic: basic).1["signatureValid"] as? Bool == true)

            var other = phone
            #expect(try await client.verify(other.sign(body: Array("{ }".utf8)), basic: basic).1["signatureValid"] as? Bool == false)
            #expect(try await client.verify(other.sign(uriID: "/payment"), basic: basic).1["signatureValid"] as? Bool == false)
            for factors: [PowerAuthSignature.Factor] in [[.possession], [.possession, .biometry], [.possession, .knowledge, .biometry]] {
                let (_, json) = try await client.verify(phone.sign(factors: factors), basic: basic)
                #expect(json["signatureValid"] as? Bool == true, "factors \(factors)")
            }
        }
    }

    @Test("the 5 wrong PINs count down remainingAttempts and block with MAX_FAILED_ATTEMPTS; the 6th signature is refused; UNBLOCK restores")
    func wrongKnowledgeBlocks() async throws {
        try await Self.withActive { _, client, basic, phone in
            var phone = phone
            // Wrong possession-only signatures are not counted.
            var stranger = phone
            stranger.counterData = SecureRandom.bytes(16)
            #expect(try await client.verify(stranger.sign(factors: [.possession]), basic: basic).1["remainingAttempts"] as? Int == 5)

            for remaining in [4, 3, 2, 1] {
                let (_, json) = try await client.verify(phone.sign(wrongKnowledge: true), basic: basic)
                #expect(json["signatureValid"] as? Bool == false && json["remainingAttempts"] as? Int == remaining)
                #expect(json["registrationStatus"] as? String == "ACTIVE")
            }
            let (_, fifth) = try await client.verify(phone.sign(wrongKnowledge: true), basic: basic)
            #expect(fifth["remainingAttempts"] as? Int == 0 && fifth["registrationStatus"] as? String == "BLOCKED")
            #expect(fifth["blockedReason"] as? String == "MAX_FAILED_ATTEMPTS")
            let (_, sixth) = try await client.verify(phone.sign(), basic: basic)
            #expect(sixth["signatureValid"] as? Bool == false && sixth["registrationStatus"] as? String == "BLOCKED")

            let (_, detail) = try await client.integration(.get, "/powerauth-cloud/v2/registrations/\(phone.registrationID)", basic: basic)
            #expect(detail["blockedReason"] as? String == "MAX_FAILED_ATTEMPTS")
            let (unblock, _) = try await client.integration(
                .put, "/powerauth-cloud/v2/registrations/\(phone.registrationID)", basic: basic, ["change": "UNBLOCK"])
            #expect(unblock.status == .ok)
            let (_, after) = try await client.verify(phone.sign(), basic: basic)
            #expect(after["signatureValid"] as? Bool == true && after["remainingAttempts"] as? Int == 5)
        }
    }

    @Test("a correct signature resets the failure count; 20 concurrent presentations of one signature: exactly one is valid")
    func concurrentVerification() async throws {
        try await Self.withActive { _, client, basic, phone in
            var phone = phone
            _ = try await client.verify(phone.sign(wrongKnowledge: true), basic: basic)
            #expect(try await client.verify(phone.sign(), basic: basic).1["remainingAttempts"] as? Int == 5)
            let header = phone.sign()
            let valid = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<20 {
                    group.addTask { try await client.verify(header, basic: basic).1["signatureValid"] as? Bool == true }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(valid == 1)
        }
    }

    @Test("block with a reason, unblock, remove; list by user hides REMOVED unless removed=true")
    func lifecycle() async throws {
        try await Self.withActive { server, client, basic, phone in
            var phone = phone
            let path = "/powerauth-cloud/v2/registrations/\(phone.registrationID)"
            let (_, blocked) = try await client.integration(.put, path, basic: basic, ["change": "BLOCK", "blockedReason": "DEVICE_LOST"])
            #expect(blocked["registrationStatus"] as? String == "BLOCKED" && blocked["blockedReason"] as? String == "DEVICE_LOST")
            #expect(try await client.verify(phone.sign(), basic: basic).1["signatureValid"] as? Bool == false)
            let (twice, json) = try await client.integration(.put, path, basic: basic, ["change": "BLOCK"])
            expectPowerAuthError(twice, json, status: .conflict, code: "ERROR_REGISTRATION_STATE_CHANGE")
            _ = try await client.integration(.put, path, basic: basic, ["change": "UNBLOCK"])
            #expect(try await client.verify(phone.sign(), basic: basic).1["signatureValid"] as? Bool == true)

            let (_, list) = try await client.integration(.get, "/powerauth-cloud/v2/registrations?userId=end-user-1234", basic: basic)
            #expect((list["registrations"] as? [[String: Any]])?.count == 1)
            let (removed, gone) = try await client.integration(.delete, path, basic: basic)
            #expect(removed.status == .ok && gone["registrationStatus"] as? String == "REMOVED")
            #expect(try await client.verify(phone.sign(), basic: basic).1["signatureValid"] as? Bool == false)
            let (_, hidden) = try await client.integration(.get, "/powerauth-cloud/v2/registrations?userId=end-user-1234", basic: basic)
            #expect((hidden["registrations"] as? [[String: Any]])?.isEmpty == true)
            let (_, all) = try await client.integration(
                .get, "/powerauth-cloud/v2/registrations?userId=end-user-1234&removed=true", basic: basic)
            #expect((all["registrations"] as? [[String: Any]])?.first?["registrationStatus"] as? String == "REMOVED")
            // Everything was audited, and the audit chain holds.
            let verdict = try await AuditVerification.verifyAll(server.runtime.store)
            #expect(try await server.count("audit_events") > 5)
            #expect(verdict == .intact(events: try await server.count("audit_events")))
        }
    }

    @Test("a blocked reason is 1–64 ASCII letters, digits, '_', '-' on the integration API as in the back office")
    func blockedReasonIsASCII() async throws {
        // Both faces block through the one lifecycle; the integration API used to take any
        // Unicode letter or digit ("É", "½", Arabic-Indic digits) that the back office refuses.
        try await Self.withActive { _, client, basic, phone in
            let path = "/powerauth-cloud/v2/registrations/\(phone.registrationID)"
            for reason in ["LOST_É", "LOST½", "LOST\u{0663}", "", String(repeating: "A", count: 65), "LOST REASON"] {
                let (response, json) = try await client.integration(.put, path, basic: basic, ["change": "BLOCK", "blockedReason": reason])
                #expect(response.status == .badRequest, "\(reason) was accepted: \(json)")
            }
            let (_, blocked) = try await client.integration(.put, path, basic: basic, ["change": "BLOCK", "blockedReason": "LOST-1_A"])
            #expect(blocked["registrationStatus"] as? String == "BLOCKED" && blocked["blockedReason"] as? String == "LOST-1_A")
        }
    }

    @Test("an unused code expires: the registration reads REMOVED and can no longer be activated")
    func expiry() async throws {
        try await TestServer.with(["powerauth.activationLifetimeSeconds": .int(60)]) { server in
            let (application, basic) = try await server.powerAuthSetup()
            try await server.test { client in
                let (_, created) = try await client.integration(
                    .post, "/powerauth-cloud/v2/registrations", basic: basic, ["userId": "u1", "appId": "my-application"])
                let id = try #require(created["registrationId"] as? String)
                server.time.advance(by: 61)
                let (_, detail) = try await client.integration(.get, "/powerauth-cloud/v2/registrations/\(id)", basic: basic)
                #expect(detail["registrationStatus"] as? String == "REMOVED" && detail["activationCode"] == nil)
                await #expect(throws: PowerAuthServiceError.activationCodeNotFound) {
                    _ = try await server.activate(code: try #require(created["activationCode"] as? String), application: application)
                }
            }
        }
    }

    @Test("mobile-only: otp with ON_KEY_EXCHANGE activates straight to ACTIVE; a wrong OTP is refused and counted")
    func activationOTP() async throws {
        try await TestServer.with { server in
            let (application, basic) = try await server.powerAuthSetup()
            try await server.test { client in
                let (_, created) = try await client.integration(
                    .post, "/powerauth-cloud/v2/registrations", basic: basic,
                    ["userId": "u1", "appId": "my-application", "otp": "12345678", "otpValidation": "ON_KEY_EXCHANGE"])
                let code = try #require(created["activationCode"] as? String)
                await #expect(throws: PowerAuthServiceError.wrongActivationOTP(remainingAttempts: 4)) {
                    _ = try await server.activate(code: code, application: application, otp: "00000000")
                }
                let phone = try await server.activate(code: code, application: application, otp: "12345678")
                let (_, detail) = try await client.integration(.get, "/powerauth-cloud/v2/registrations/\(phone.registrationID)", basic: basic)
                #expect(detail["registrationStatus"] as? String == "ACTIVE")
                // The OTP is stored only as a keyed hash.
                let stored = try await server.runtime.store.registration(id: phone.registrationID)
                #expect(stored?.activation.otpHash?.contains("12345678") == false)
            }
        }
    }

    @Test("integration users: no or wrong credentials are 401 with WWW-Authenticate; another application's data is invisible")
    func integrationAuthentication() async throws {
        try await Self.withActive { server, client, basic, phone in
            let (none, noneJSON) = try await client.integration(.get, "/powerauth-cloud/v2/registrations?userId=end-user-1234", basic: nil)
            expectPowerAuthError(none, noneJSON, status: .unauthorized, code: "ERROR_UNAUTHORIZED")
            #expect(none.headers[.wwwAuthenticate]?.hasPrefix("Basic") == true)
            let wrong = HTTP.basic("integration-my-application", "sa_iu_wrong")
            let (bad, badJSON) = try await client.integration(.get, "/powerauth-cloud/v2/registrations?userId=end-user-1234", basic: wrong)
            expectPowerAuthError(bad, badJSON, status: .unauthorized)

            let (_, otherBasic) = try await server.powerAuthSetup(appID: "other-app")
            let (hidden, hiddenJSON) = try await client.integration(
                .get, "/powerauth-cloud/v2/registrations/\(phone.registrationID)", basic: otherBasic)
            expectPowerAuthError(hidden, hiddenJSON, status: .notFound, code: "ERROR_REGISTRATION_NOT_FOUND")
            let (forbidden, forbiddenJSON) = try await client.integration(
                .post, "/powerauth-cloud/v2/registrations", basic: otherBasic, ["userId": "u", "appId": "my-application"])
            expectPowerAuthError(forbidden, forbiddenJSON, status: .forbidden)
            var phone = phone
            let (foreign, foreignJSON) = try await client.verify(phone.sign(), basic: otherBasic)
            expectPowerAuthError(foreign, foreignJSON, status: .notFound)
        }
    }

    static let malformedHeaders: [(String, String)] = [
        ("empty", ""),
        ("not PowerAuth", "Bearer abc"),
        (
            "missing signature",
            #"PowerAuth pa_activation_id="ID", pa_application_key="KEY", pa_nonce="NONCE", pa_signature_type="possession", pa_version="3.1""#
        ),
        (
            "wrong version",
            #"PowerAuth pa_activation_id="ID", pa_application_key="KEY", pa_nonce="NONCE", pa_signature_type="possession", pa_signature="SIG", pa_version="2.1""#
        ),
        (
            "nonce not Base64",
            #"PowerAuth pa_activation_id="ID", pa_application_key="KEY", pa_nonce="!!!", pa_signature_type="possession", pa_signature="SIG", pa_version="3.1""#
        ),
        (
            "nonce too short",
            #"PowerAuth pa_activation_id="ID", pa_application_key="KEY", pa_nonce="AAAA", pa_signature_type="possession", pa_signature="SIG", pa_version="3.1""#
        ),
        (
            "unknown type",
            #"PowerAuth pa_activation_id="ID", pa_application_key="KEY", pa_nonce="NONCE", pa_signature_type="telepathy", pa_signature="SIG", pa_version="3.1""#
        ),
        ("garbage", String(repeating: "\"=,", count: 500)),
    ]

    @Test("bad input to /v2/signature/verify is a 4xx in PowerAuth's shape, never a 5xx", arguments: malformedHeaders)
    func malformedAuthHeaders(name: String, template: String) async throws {
        try await Self.withActive { _, client, basic, phone in
            let header = template.replacingOccurrences(of: "ID", with: phone.registrationID)
                .replacingOccurrences(of: "KEY", with: phone.applicationKey)
                .replacingOccurrences(of: "NONCE", with: PowerAuthBase64.encode(SecureRandom.bytes(16)))
            let (response, json) = try await client.verify(header, basic: basic)
            expectPowerAuthError(response, json, status: .badRequest)
        }
    }

    @Test("other bad input: unknown activation, non-Base64 body, wrong media type, oversized body, bad JSON, unknown fields' values")
    func otherBadInput() async throws {
        try await Self.withActive { _, client, basic, phone in
            var phone = phone
            var stranger = phone
            stranger = PowerAuthTestPhone(
                registrationID: UUID().uuidString.lowercased(), applicationKey: phone.applicationKey,
                applicationSecret: phone.applicationSecret, keys: phone.keys, counterData: phone.counterData)
            let (unknown, unknownJSON) = try await client.verify(stranger.sign(), basic: basic)
            expectPowerAuthError(unknown, unknownJSON, status: .notFound, code: "ERROR_REGISTRATION_NOT_FOUND")

            let (base64, base64JSON) = try await client.integration(
                .post, "/powerauth-cloud/v2/signature/verify", basic: basic,
                ["method": "POST", "uriId": "/login", "authHeader": phone.sign(), "requestBody": "%%%"])
            expectPowerAuthError(base64, base64JSON, status: .badRequest)

            var headers = HTTPFields()
            headers[.authorization] = basic
            headers[.contentType] = "text/plain"
            let media = try await client.executeRequest(
                uri: "/powerauth-cloud/v2/registrations", method: .post, headers: headers, body: ByteBuffer(string: "{}"))
            expectPowerAuthError(media, try HTTP.json(media.body), status: .unsupportedMediaType)

            headers[.contentType] = "application/json"
            let large = try await client.executeRequest(
                uri: "/powerauth-cloud/v2/registrations", method: .post, headers: headers,
                body: ByteBuffer(string: "{\"userId\":\"" + String(repeating: "a", count: 70_000) + "\"}"))
            expectPowerAuthError(large, try HTTP.json(large.body), status: .contentTooLarge)

            let broken = try await client.executeRequest(
                uri: "/powerauth-cloud/v2/registrations", method: .post, headers: headers, body: ByteBuffer(string: "{\"userId\":"))
            expectPowerAuthError(broken, try HTTP.json(broken.body), status: .badRequest)

            for body: [String: Any] in [
                ["userId": "u", "appId": "nope"], ["userId": "has space", "appId": "my-application"],
                ["userId": "u", "appId": "my-application", "otpValidation": "ON_KEY_EXCHANGE"],
                ["userId": "u", "appId": "my-application", "otpValidation": "SOMETIMES"],
                ["userId": "u", "appId": "my-application", "otp": "1234"],
            ] {
                let (response, json) = try await client.integration(.post, "/powerauth-cloud/v2/registrations", basic: basic, body)
                expectPowerAuthError(response, json, status: .badRequest)
            }
            let (change, changeJSON) = try await client.integration(
                .put, "/powerauth-cloud/v2/registrations/\(phone.registrationID)", basic: basic, ["change": "EXPLODE"])
            expectPowerAuthError(change, changeJSON, status: .badRequest)
            let (missing, missingJSON) = try await client.integration(.get, "/powerauth-cloud/v2/registrations", basic: basic)
            expectPowerAuthError(missing, missingJSON, status: .badRequest)
        }
    }

    @Test("one device model: the user's self-service lists the activation beside Kontist devices and removes it the PowerAuth way")
    func selfService() async throws {
        try await TestServer.with { server in
            let (application, basic) = try await server.powerAuthSetup()
            let shop = HTTP.basic("shop", try await server.createClient())
            try await server.createUser()
            try await server.test { client in
                let (_, created) = try await client.integration(
                    .post, "/powerauth-cloud/v2/registrations", basic: basic,
                    ["userId": "alice", "appId": "my-application", "commitPhase": "ON_KEY_EXCHANGE"])
                var phone = try await server.activate(code: try #require(created["activationCode"] as? String), application: application)
                let (_, tokens) = try await client.token(
                    [("grant_type", "password"), ("username", "alice"), ("password", "correct horse")], basic: shop)
                let userToken = try #require(tokens["access_token"] as? String)

                let list = try await client.executeRequest(uri: "/api/user/devices", method: .get, headers: HTTP.bearer(userToken), body: nil)
                let devices = try #require(try JSONSerialization.jsonObject(with: Data(buffer: list.body)) as? [[String: Any]])
                #expect(devices.map { $0["id"] as? String } == [phone.registrationID])
                #expect(devices.first?["kind"] as? String == "powerauth" && devices.first?["status"] as? String == "ACTIVE")

                // Kontist challenges need an ECDSA key; an activation has none to sign them with.
                let (challenge, _) = try await client.postJSON("/api/user/devices/\(phone.registrationID)/challenges", token: userToken)
                #expect(challenge.status == .conflict)

                // Removing needs fresh two factors: a token confirmed by a bound Kontist device —
                // which, bound beside the ACTIVE activation, the activation approves first (docs/security-model.md).
                let kontist = TestPhone()
                let kontistID = try await CrossFaceDeviceApprovalTests.bindKontist(
                    kontist, name: "iPhone", server: server, client: client, token: userToken)
                #expect(try await server.runtime.store.device(id: kontistID)?.status == .pendingCommit)
                try await CrossFaceDeviceApprovalTests.approveWithPowerAuth(server, client, &phone)
                let (_, confirmed) = try await DevicesTests.confirm(kontist, deviceID: kontistID, client: client, token: userToken)
                let twoFactor = try #require(confirmed["token"] as? String)
                let removed = try await client.executeRequest(
                    uri: "/api/user/devices/\(phone.registrationID)", method: .delete, headers: HTTP.bearer(twoFactor), body: nil)
                #expect(removed.status == .noContent)
                let (_, detail) = try await client.integration(.get, "/powerauth-cloud/v2/registrations/\(phone.registrationID)", basic: basic)
                #expect(detail["registrationStatus"] as? String == "REMOVED")
                #expect(try await client.verify(phone.sign(), basic: basic).1["signatureValid"] as? Bool == false)
            }
        }
    }

    @Test("registration status changes go to the application's callback URL through the durable webhook outbox")
    func callbacksQueued() async throws {
        try await TestServer.with { server in
            let (application, basic) = try await server.powerAuthSetup(callbackURL: "http://127.0.0.1:9/hooks")
            try await server.test { client in
                let (_, created) = try await client.integration(
                    .post, "/powerauth-cloud/v2/registrations", basic: basic, ["userId": "u1", "appId": "my-application"])
                server.time.advance(by: 1)
                let phone = try await server.activate(code: try #require(created["activationCode"] as? String), application: application)
                server.time.advance(by: 1)
                _ = try await client.integration(.post, "/powerauth-cloud/v2/registrations/\(phone.registrationID)/commit", basic: basic, [:])
                server.time.advance(by: 1)
                _ = try await client.integration(.put, "/powerauth-cloud/v2/registrations/\(phone.registrationID)", basic: basic, ["change": "BLOCK"])
                server.time.advance(by: 1)
                _ = try await client.integration(.delete, "/powerauth-cloud/v2/registrations/\(phone.registrationID)", basic: basic)
                let log = try await server.runtime.store.webhookDeliveries(subscriber: .application("my-application"), limit: 10)
                let statuses = try log.reversed().map { delivery -> String in
                    let body = try #require(try JSONSerialization.jsonObject(with: Data(delivery.body.utf8)) as? [String: Any])
                    #expect(body["registrationId"] as? String == phone.registrationID && body["userId"] as? String == "u1")
                    #expect(delivery.url == "http://127.0.0.1:9/hooks" && delivery.status == .pending)
                    return try #require(body["registrationStatus"] as? String)
                }
                #expect(statuses == ["CREATED", "PENDING_COMMIT", "ACTIVE", "BLOCKED", "REMOVED"])
            }
        }
    }

    @Test("after a valid signature (the node's fast path is primed) the database still decides: wrong credentials, another app's user, a block")
    func fastPathStillDecidedByTheDatabase() async throws {
        try await Self.withActive { server, client, basic, phone in
            var phone = phone
            #expect(try await client.verify(phone.sign(), basic: basic).1["signatureValid"] as? Bool == true)
            #expect(server.runtime.powerAuth.hints[phone.registrationID] != nil)

            let wrong = HTTP.basic("integration-my-application", "sa_iu_wrong")
            let (unauthorized, unauthorizedJSON) = try await client.verify(phone.sign(), basic: wrong)
            expectPowerAuthError(unauthorized, unauthorizedJSON, status: .unauthorized, code: "ERROR_UNAUTHORIZED")
            let (_, otherBasic) = try await server.powerAuthSetup(appID: "other-app")
            let (foreign, foreignJSON) = try await client.verify(phone.sign(), basic: otherBasic)
            expectPowerAuthError(foreign, foreignJSON, status: .notFound)

            // Signatures skipped by the refused requests are within the lookahead: still valid.
            let (_, valid) = try await client.verify(phone.sign(), basic: basic)
            #expect(valid["signatureValid"] as? Bool == true && valid["userId"] as? String == "end-user-1234")
            // A block made elsewhere (here: directly in the database, as another node would) wins.
            #expect(
                try await server.runtime.store.transitionRegistration(
                    id: phone.registrationID, from: [.active], to: .blocked, reason: "FRAUD", resetFailures: false, webhooks: [],
                    at: server.time.now()))
            let (_, blocked) = try await client.verify(phone.sign(), basic: basic)
            #expect(blocked["signatureValid"] as? Bool == false && blocked["registrationStatus"] as? String == "BLOCKED")
            #expect(blocked["blockedReason"] as? String == "FRAUD")
            #expect(server.runtime.powerAuth.hints[phone.registrationID] == nil)
        }
    }

    @Test("GET requests: the signature covers the query parameters, sorted and form-encoded (the reference's canonical form)")
    func queryParameters() async throws {
        try await Self.withActive { _, client, basic, phone in
            var phone = phone
            let canonical = Array("account=CZ32+4937&amount=63.99&currency=EUR".utf8)
            let header = phone.sign(method: "GET", uriID: "/balance", body: canonical)
            let params = ["currency": "EUR", "amount": "63.99", "account": "CZ32 4937"]
            let (response, json) = try await client.integration(
                .post, "/powerauth-cloud/v2/signature/verify", basic: basic,
                ["method": "GET", "uriId": "/balance", "authHeader": header, "queryParams": params])
            #expect(response.status == .ok && json["signatureValid"] as? Bool == true)
            let tampered = phone.sign(method: "GET", uriID: "/balance", body: canonical)
            let (_, changed) = try await client.integration(
                .post, "/powerauth-cloud/v2/signature/verify", basic: basic,
                ["method": "GET", "uriId": "/balance", "authHeader": tampered, "queryParams": params.merging(["amount": "1.00"]) { $1 }])
            #expect(changed["signatureValid"] as? Bool == false)
        }
    }

    @Test("signatures racing each other are never counted as failures: 20 concurrent, each a fresh counter value")
    func racingSignaturesAreNotFailures() async throws {
        try await Self.withActive { server, client, basic, phone in
            var phone = phone
            let headers = (0..<20).map { _ in phone.sign() }
            let answers = try await withThrowingTaskGroup(of: (valid: Bool, remaining: Int?, status: String?).self) { group in
                for header in headers {
                    group.addTask {
                        let json = try await client.verify(header, basic: basic).1
                        return (json["signatureValid"] as? Bool == true, json["remainingAttempts"] as? Int, json["registrationStatus"] as? String)
                    }
                }
                return try await group.reduce(into: [(valid: Bool, remaining: Int?, status: String?)]()) { $0.append($1) }
            }
            #expect(answers.contains { $0.valid })
            #expect(answers.allSatisfy { $0.remaining == 5 && $0.status == "ACTIVE" })
            #expect(try await server.runtime.store.registration(id: phone.registrationID)?.counter.failedAttempts == 0)
        }
    }
}
