import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import StrongAuthCore
import StrongAuthProtocol
import Testing

/// PowerAuth parity and abuse resistance: a remote guesser without the device cannot
/// block an activation; MAC token headers are accepted once and only within the reference's
/// timestamp window; wrong PINs count on the operation being authorized; the mobile token API
/// answers in the enrollment server's codes; an unknown activation's status is no oracle.
@Suite("PowerAuth parity")
struct PowerAuthParityTests {
    /// A `possession_knowledge` header for the activation with `signature` as its value.
    static func garbage(_ phone: PowerAuthTestPhone, signature: String) -> String {
        #"PowerAuth pa_activation_id="\#(phone.registrationID)", pa_application_key="\#(phone.applicationKey)", "#
            + #"pa_nonce="\#(PowerAuthBase64.encode(SecureRandom.bytes(16)))", pa_signature_type="possession_knowledge", "#
            + #"pa_signature="\#(signature)", pa_version="3.1""#
    }

    static func randomDigits() -> String {
        (0..<2).map { _ in
            let number = String(Int.random(in: 0..<100_000_000))
            return String(repeating: "0", count: 8 - number.count) + number
        }.joined(separator: "-")
    }

    @Test(
        "7 garbage possession_knowledge signatures (random digits, random Base64, the device's keys at a counter far off) leave the registration ACTIVE with 5 attempts; 5 wrong PINs from the phone still block it"
    )
    func garbageSignaturesDoNotBlock() async throws {
        try await PowerAuthTests.withActive { _, client, basic, phone in
            var phone = phone
            // The attacker knows the activation id and application key, not the device's keys (nor
            // its counter: even the real keys far from the counter count nothing).
            var stranger = phone
            stranger.counterData = SecureRandom.bytes(16)
            let headers = [
                Self.garbage(phone, signature: Self.randomDigits()), Self.garbage(phone, signature: Self.randomDigits()),
                Self.garbage(phone, signature: Self.randomDigits()),
                Self.garbage(phone, signature: Data(SecureRandom.bytes(32)).base64EncodedString()),
                Self.garbage(phone, signature: Data(SecureRandom.bytes(32)).base64EncodedString()),
                stranger.sign(wrongKnowledge: true), stranger.sign(),
            ]
            for header in headers {
                let (response, json) = try await client.verify(header, basic: basic)
                #expect(response.status == .ok && json["signatureValid"] as? Bool == false)
                #expect(json["registrationStatus"] as? String == "ACTIVE" && json["remainingAttempts"] as? Int == 5)
            }
            // A captured (accepted) request's possession component is behind the counter: a
            // wrong PIN grafted onto it counts nothing either.
            let accepted = phone.sign()
            #expect(try await client.verify(accepted, basic: basic).1["signatureValid"] as? Bool == true)
            // Whoever has the device and guesses the PIN is counted and blocked at 5.
            for remaining in [4, 3, 2, 1, 0] {
                let (_, json) = try await client.verify(phone.sign(wrongKnowledge: true), basic: basic)
                #expect(json["signatureValid"] as? Bool == false && json["remainingAttempts"] as? Int == remaining)
            }
            let (_, blocked) = try await client.verify(phone.sign(), basic: basic)
            #expect(blocked["registrationStatus"] as? String == "BLOCKED" && blocked["blockedReason"] as? String == "MAX_FAILED_ATTEMPTS")
        }
    }

    @Test("a knowledge-only signature proves no device: refused and not counted")
    func knowledgeOnlyIsNotCounted() async throws {
        try await PowerAuthTests.withActive { _, client, basic, phone in
            var phone = phone
            for _ in 0..<6 {
                let (_, json) = try await client.verify(phone.sign(factors: [.knowledge], wrongKnowledge: true), basic: basic)
                #expect(json["signatureValid"] as? Bool == false && json["remainingAttempts"] as? Int == 5)
                #expect(json["registrationStatus"] as? String == "ACTIVE")
            }
            #expect(try await client.verify(phone.sign(), basic: basic).1["signatureValid"] as? Bool == true)
        }
    }

    @Test(
        "on a 3.0 activation (8-digit components) garbage 2FA signatures share the possession throttle: uncounted, but no free guesses at the possession component"
    )
    func decimalGarbageIsThrottled() async throws {
        try await PowerAuthTests.withActive(["powerauth.possessionAttemptLimit": .int(3)], protocolVersion: "3.0") { server, client, basic, phone in
            var phone = phone
            for _ in 0..<5 {
                let header = Self.garbage(phone, signature: Self.randomDigits()).replacingOccurrences(
                    of: #"pa_version="3.1""#, with: #"pa_version="3.0""#)
                let (_, json) = try await client.verify(header, basic: basic)
                #expect(json["signatureValid"] as? Bool == false && json["remainingAttempts"] as? Int == 5)
                #expect(json["registrationStatus"] as? String == "ACTIVE")
            }
            // The limit is used up: even the phone's own possession-only signature waits for the window.
            let (_, throttled) = try await client.verify(phone.sign(factors: [.possession], version: .v3_0), basic: basic)
            #expect(throttled["signatureValid"] as? Bool == false)
            server.time.advance(by: 901)
            #expect(try await client.verify(phone.sign(version: .v3_0), basic: basic).1["signatureValid"] as? Bool == true)
            let (_, wrong) = try await client.verify(phone.sign(wrongKnowledge: true, version: .v3_0), basic: basic)
            #expect(wrong["signatureValid"] as? Bool == false && wrong["remainingAttempts"] as? Int == 4)
        }
    }

    /// A MAC token of the phone's registration and a header maker for it.
    static func token(_ server: TestServer, _ phone: PowerAuthTestPhone) async throws -> @Sendable (TimeInterval) -> (String, String) {
        let registration = try #require(try await server.runtime.store.registration(id: phone.registrationID))
        let token = try await server.runtime.powerAuth.createToken(for: registration, signatureType: "possession")
        return { offset in
            let nonce = SecureRandom.bytes(16)
            let timestamp = UInt64(server.time.now().addingTimeInterval(offset).epochMilliseconds)
            let digest = PowerAuthTokenDigest.compute(tokenSecret: token.secret, nonce: nonce, timestamp: timestamp, version: .v3_1)
            return (
                "X-PowerAuth-Token",
                PowerAuthTokenHeader(tokenID: token.id, tokenDigest: digest, nonce: nonce, timestamp: timestamp, version: .v3_1).headerValue
            )
        }
    }

    @Test("a MAC token header is accepted once (mobile token API and /v2/token/verify); its timestamp may be 2 h old and 30 min ahead, no more")
    func tokenReplayAndWindow() async throws {
        try await PowerAuthTests.withActive { server, client, basic, phone in
            let header = try await Self.token(server, phone)
            let once = header(0)
            let (first, _) = try await PowerAuthOperationsTests.mobile(client, "/list", header: once, body: Array("{}".utf8))
            #expect(first.status == .ok)
            let (again, againJSON) = try await PowerAuthOperationsTests.mobile(client, "/list", header: once, body: Array("{}".utf8))
            expectPowerAuthError(again, againJSON, status: .unauthorized, code: "POWERAUTH_AUTH_FAIL")

            func verified(_ value: String) async throws -> Bool? {
                try await client.integration(.post, "/powerauth-cloud/v2/token/verify", basic: basic, ["tokenHeader": value]).1["tokenValid"]
                    as? Bool
            }
            let fresh = header(0).1
            #expect(try await verified(fresh) == true)
            #expect(try await verified(fresh) == false)
            #expect(try await verified(once.1) == false)

            #expect(try await verified(header(3600).1) == false)  // 1 h ahead
            #expect(try await verified(header(1790).1) == true)
            #expect(try await verified(header(-7190).1) == true)
            #expect(try await verified(header(-7300).1) == false)
        }
    }

    @Test("the forward window is configurable")
    func tokenForwardWindowConfigurable() async throws {
        try await PowerAuthTests.withActive(["powerauth.tokenTimestampForwardToleranceSeconds": .int(3700)]) { server, client, basic, phone in
            let header = try await Self.token(server, phone)
            let (_, json) = try await client.integration(.post, "/powerauth-cloud/v2/token/verify", basic: basic, ["tokenHeader": header(3600).1])
            #expect(json["tokenValid"] as? Bool == true)
            let (_, beyond) = try await client.integration(.post, "/powerauth-cloud/v2/token/verify", basic: basic, ["tokenHeader": header(3800).1])
            #expect(beyond["tokenValid"] as? Bool == false)
        }
    }

    @Test("wrong-PIN authorizations count on the operation (FAILED at 5); garbage without the device counts on neither; the mobile token codes")
    func wrongPINFailsTheOperation() async throws {
        try await PowerAuthTests.withActive(["powerauth.maxFailedAttempts": .int(10)]) { server, client, basic, phone in
            var phone = phone
            let (_, created) = try await client.integration(.post, "/powerauth-cloud/v2/operations", basic: basic, PowerAuthOperationsTests.seedBody)
            let id = try #require(created["operationId"] as? String)
            let body = try PowerAuthOperationsTests.json(["requestObject": ["id": id, "data": "A1*A63.99EUR*ICZ32493745329497374923"]])
            func authorize(_ header: String) async throws -> (TestResponse, [String: Any]) {
                try await PowerAuthOperationsTests.mobile(client, "/authorize", header: ("X-PowerAuth-Authorization", header), body: body)
            }
            func failures() async throws -> (Int?, String?) {
                let json = try await client.integration(.get, "/powerauth-cloud/v2/operations/\(id)", basic: basic).1
                return (json["failureCount"] as? Int, json["status"] as? String)
            }
            // Without the device: refused, counted on neither.
            let (garbage, garbageJSON) = try await authorize(Self.garbage(phone, signature: Self.randomDigits()))
            expectPowerAuthError(garbage, garbageJSON, status: .unauthorized, code: "POWERAUTH_AUTH_FAIL")
            #expect(try await failures() == (0, "PENDING"))

            for count in 1...4 {
                let (wrong, wrongJSON) = try await authorize(phone.sign(uriID: "/operation/authorize", body: body, wrongKnowledge: true))
                expectPowerAuthError(wrong, wrongJSON, status: .unauthorized, code: "POWERAUTH_AUTH_FAIL")
                #expect(try await failures() == (count, "PENDING"))
            }
            _ = try await authorize(phone.sign(uriID: "/operation/authorize", body: body, wrongKnowledge: true))
            #expect(try await failures() == (5, "FAILED"))
            #expect(try await server.runtime.store.registration(id: phone.registrationID)?.counter.failedAttempts == 5)

            // The operation FAILED: even the right PIN is refused, in the Mobile Token API's code.
            let (late, lateJSON) = try await authorize(phone.sign(uriID: "/operation/authorize", body: body))
            expectPowerAuthError(late, lateJSON, status: .badRequest, code: "OPERATION_ALREADY_FAILED")

            // Canceled by the bank, expired: their own codes; bad JSON is INVALID_REQUEST.
            let (_, second) = try await client.integration(.post, "/powerauth-cloud/v2/operations", basic: basic, PowerAuthOperationsTests.seedBody)
            let secondID = try #require(second["operationId"] as? String)
            _ = try await client.integration(.delete, "/powerauth-cloud/v2/operations/\(secondID)", basic: basic)
            let secondBody = try PowerAuthOperationsTests.json(["requestObject": ["id": secondID, "data": "A1*A63.99EUR*ICZ32493745329497374923"]])
            let (canceled, canceledJSON) = try await PowerAuthOperationsTests.mobile(
                client, "/authorize", header: ("X-PowerAuth-Authorization", phone.sign(uriID: "/operation/authorize", body: secondBody)),
                body: secondBody)
            expectPowerAuthError(canceled, canceledJSON, status: .badRequest, code: "OPERATION_ALREADY_CANCELED")

            let (_, third) = try await client.integration(.post, "/powerauth-cloud/v2/operations", basic: basic, PowerAuthOperationsTests.seedBody)
            let thirdID = try #require(third["operationId"] as? String)
            server.time.advance(by: 301)
            let thirdBody = try PowerAuthOperationsTests.json(["requestObject": ["id": thirdID, "data": "A1*A63.99EUR*ICZ32493745329497374923"]])
            let (expired, expiredJSON) = try await PowerAuthOperationsTests.mobile(
                client, "/authorize", header: ("X-PowerAuth-Authorization", phone.sign(uriID: "/operation/authorize", body: thirdBody)),
                body: thirdBody)
            expectPowerAuthError(expired, expiredJSON, status: .badRequest, code: "OPERATION_EXPIRED")

            let broken = Array("{\"requestObject\": 1}".utf8)
            let (bad, badJSON) = try await PowerAuthOperationsTests.mobile(
                client, "/cancel",
                header: ("X-PowerAuth-Authorization", phone.sign(uriID: "/operation/cancel", body: broken, factors: [.possession])),
                body: broken)
            expectPowerAuthError(bad, badJSON, status: .badRequest, code: "INVALID_REQUEST")
        }
    }

    @Test("the status of an unknown activation id is answered like any other (a random blob and nonce), not with a 400")
    func unknownActivationStatus() async throws {
        try await PowerAuthTests.withActive { _, client, _, phone in
            for id in [UUID().uuidString.lowercased(), phone.registrationID] {
                let (response, json) = try await PowerAuthEnrollmentTests.post(
                    client, "/activation/status",
                    body: ["requestObject": ["activationId": id, "challenge": PowerAuthBase64.encode(SecureRandom.bytes(16))]])
                #expect(response.status == .ok)
                let object = try #require(json["responseObject"] as? [String: Any])
                #expect(object["activationId"] as? String == id)
                #expect((object["encryptedStatusBlob"] as? String).flatMap(PowerAuthBase64.decode)?.count == 32)
                #expect((object["nonce"] as? String).flatMap(PowerAuthBase64.decode)?.count == 16)
            }
        }
    }
}
