import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
@testable import StrongAuthCore
import StrongAuthProtocol
import Testing

/// No signature below the activation's protocol version, possession-only
/// guesses throttled without blocking the user, and ECIES requests (3.2+) fresh and used once.
@Suite("PowerAuth hardening: downgrade, possession throttle, ECIES freshness")
struct PowerAuthHardeningTests {
    // MARK: Protocol downgrade

    @Test("a valid 3.0 signature (8 decimal digits per factor) on a 3.3 activation is refused, on the full and the fast path, and not counted")
    func downgradeTo30IsRefused() async throws {
        try await PowerAuthTests.withActive(protocolVersion: "3.3") { _, client, basic, phone in
            var phone = phone
            // Full path (no hint yet): a correct 3.0 signature, possession only and with the PIN.
            for factors: [PowerAuthSignature.Factor] in [[.possession], [.possession, .knowledge]] {
                let (_, json) = try await client.verify(phone.sign(factors: factors, version: .v3_0), basic: basic)
                #expect(json["signatureValid"] as? Bool == false, "factors \(factors)")
                #expect(json["remainingAttempts"] as? Int == 5 && json["registrationStatus"] as? String == "ACTIVE")
            }
            // 3.2 is below 3.3 as well.
            #expect(try await client.verify(phone.sign(version: .v3_2), basic: basic).1["signatureValid"] as? Bool == false)
            // The activation's own version is fine (and primes this node's fast path) …
            #expect(try await client.verify(phone.sign(version: .v3_3), basic: basic).1["signatureValid"] as? Bool == true)
            // … which must refuse the downgrade too.
            let (_, fast) = try await client.verify(phone.sign(factors: [.possession], version: .v3_0), basic: basic)
            #expect(fast["signatureValid"] as? Bool == false && fast["remainingAttempts"] as? Int == 5)
            #expect(try await client.verify(phone.sign(version: .v3_3), basic: basic).1["signatureValid"] as? Bool == true)
        }
    }

    @Test("a 3.0 signature on a 3.1 activation is refused; the phone's own 3.1 signatures still verify")
    func downgradeBelow31IsRefused() async throws {
        try await PowerAuthTests.withActive { _, client, basic, phone in
            var phone = phone
            let (_, downgraded) = try await client.verify(phone.sign(factors: [.possession], version: .v3_0), basic: basic)
            #expect(downgraded["signatureValid"] as? Bool == false)
            let (_, own) = try await client.verify(phone.sign(factors: [.possession]), basic: basic)
            #expect(own["signatureValid"] as? Bool == true)
        }
    }

    // MARK: Possession throttle

    @Test(
        "a flood of garbage possession signatures is throttled: even a correct one is refused, the registration stays ACTIVE with 5 attempts, the PIN still works, the window ends it"
    )
    func possessionFloodIsThrottled() async throws {
        try await PowerAuthTests.withActive { server, client, basic, phone in
            var phone = phone
            var stranger = phone
            for _ in 0..<30 {
                stranger.counterData = SecureRandom.bytes(16)
                let (_, json) = try await client.verify(stranger.sign(factors: [.possession]), basic: basic)
                #expect(json["signatureValid"] as? Bool == false)
                #expect(json["registrationStatus"] as? String == "ACTIVE" && json["remainingAttempts"] as? Int == 5)
            }
            // The phone's own possession signature is refused unchecked while the window lasts.
            let (_, throttled) = try await client.verify(phone.sign(factors: [.possession]), basic: basic)
            #expect(throttled["signatureValid"] as? Bool == false && throttled["registrationStatus"] as? String == "ACTIVE")
            // Knowledge is not throttled (and the user was not locked out).
            let (_, pin) = try await client.verify(phone.sign(), basic: basic)
            #expect(pin["signatureValid"] as? Bool == true && pin["remainingAttempts"] as? Int == 5)
            // Through the phone's own endpoint too: 401.
            let validate = try await Self.validateSignature(client, header: phone.sign(uriID: "/pa/signature/validate", factors: [.possession]))
            #expect(validate.status == .unauthorized)

            server.time.advance(by: 901)
            let after = try await Self.validateSignature(client, header: phone.sign(uriID: "/pa/signature/validate", factors: [.possession]))
            #expect(after.status == .ok)
            #expect(try await client.verify(phone.sign(factors: [.possession]), basic: basic).1["signatureValid"] as? Bool == true)
        }
    }

    @Test("concurrent garbage possession signatures cannot pass the limit together; valid ones give their attempt back")
    func possessionThrottleUnderConcurrency() async throws {
        try await PowerAuthTests.withActive(["powerauth.possessionAttemptLimit": .int(3)]) { _, client, basic, phone in
            var phone = phone
            // Many valid possession-only signatures in a row: never throttled (attempts are given back).
            for _ in 0..<10 {
                #expect(try await client.verify(phone.sign(factors: [.possession]), basic: basic).1["signatureValid"] as? Bool == true)
            }
            let headers = (0..<20).map { _ -> String in
                var stranger = phone
                stranger.counterData = SecureRandom.bytes(16)
                return stranger.sign(factors: [.possession])
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for header in headers { group.addTask { _ = try await client.verify(header, basic: basic) } }
                try await group.waitForAll()
            }
            let (_, json) = try await client.verify(phone.sign(factors: [.possession]), basic: basic)
            #expect(json["signatureValid"] as? Bool == false && json["registrationStatus"] as? String == "ACTIVE")
        }
    }

    @Test("integration calls with wrong credentials do not use up an activation's possession attempts")
    func unauthenticatedCallsDoNotThrottle() async throws {
        try await PowerAuthTests.withActive { _, client, basic, phone in
            var phone = phone
            let wrong = HTTP.basic("integration-my-application", "not-the-password")
            for _ in 0..<15 {
                let (response, _) = try await client.verify(phone.sign(factors: [.possession]), basic: wrong)
                #expect(response.status == .unauthorized)
            }
            // 15 values ahead is inside the lookahead window of 20: valid, and not throttled.
            let (_, json) = try await client.verify(phone.sign(factors: [.possession]), basic: basic)
            #expect(json["signatureValid"] as? Bool == true)
        }
    }

    static func validateSignature(_ client: any TestClientProtocol, header: String) async throws -> TestResponse {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[HTTPField.Name("X-PowerAuth-Authorization")!] = header
        return try await client.executeRequest(
            uri: "/enrollment-server/pa/v3/signature/validate", method: .post, headers: headers, body: ByteBuffer(string: "{}"))
    }

    // MARK: ECIES freshness

    /// Sets the server's manual clock to the real time (which the phone's ECIES timestamps use)
    /// plus `offset`, so that the tests do not depend on how long the machine took to get here.
    static func setClock(_ server: TestServer, toRealTimePlus offset: TimeInterval) {
        server.time.advance(by: Date().addingTimeInterval(offset).timeIntervalSince(server.time.now()))
    }

    /// A new CREATED registration: its activation code and id.
    static func createdCode(_ client: any TestClientProtocol, basic: String) async throws -> (code: String, id: String) {
        let (_, created) = try await client.integration(
            .post, "/powerauth-cloud/v2/registrations", basic: basic, ["userId": "end-user-1234", "appId": "my-application"])
        return (try #require(created["activationCode"] as? String), try #require(created["registrationId"] as? String))
    }

    @Test("an ECIES request (3.2) replayed is refused with ERR_ENCRYPTION, whether it was refused or accepted the first time")
    func eciesReplayIsRefused() async throws {
        let version = PowerAuthProtocolVersion.v3_2
        try await TestServer.with { server in
            let (application, basic) = try await server.powerAuthSetup()
            try await server.test { client in
                Self.setClock(server, toRealTimePlus: 0)
                // Refused for its content (no such code), but received: its nonce is used.
                let prepared = try PowerAuthEnrollmentTests.prepare(code: "AAAAA-AAAAA-AAAAA-AAAAA", application: application, version: version)
                let headers = ["X-PowerAuth-Encryption": prepared.header]
                let (first, firstJSON) = try await PowerAuthEnrollmentTests.post(client, "/activation/create", body: prepared.body, headers: headers)
                expectPowerAuthError(first, firstJSON, status: .badRequest, code: "ERR_ACTIVATION")
                let (again, againJSON) = try await PowerAuthEnrollmentTests.post(client, "/activation/create", body: prepared.body, headers: headers)
                expectPowerAuthError(again, againJSON, status: .badRequest, code: "ERR_ENCRYPTION")

                // A request that succeeded, replayed: refused for being a replay, not for its code.
                let (code, _) = try await Self.createdCode(client, basic: basic)
                let valid = try PowerAuthEnrollmentTests.prepare(code: code, application: application, version: version)
                let validHeaders = ["X-PowerAuth-Encryption": valid.header]
                let (ok, _) = try await PowerAuthEnrollmentTests.post(client, "/activation/create", body: valid.body, headers: validHeaders)
                #expect(ok.status == .ok)
                let (replay, replayJSON) = try await PowerAuthEnrollmentTests.post(
                    client, "/activation/create", body: valid.body, headers: validHeaders)
                expectPowerAuthError(replay, replayJSON, status: .badRequest, code: "ERR_ENCRYPTION")
                #expect(
                    (replayJSON["responseObject"] as? [String: Any])?["message"] as? String
                        == "The encrypted request is refused: it was already received.")
            }
        }
    }

    @Test("an ECIES request with a timestamp more than 60 s old (or ahead) is refused and changes nothing")
    func eciesOldTimestampIsRefused() async throws {
        try await TestServer.with { server in
            let (application, basic) = try await server.powerAuthSetup()
            try await server.test { client in
                let (code, id) = try await Self.createdCode(client, basic: basic)
                let prepared = try PowerAuthEnrollmentTests.prepare(code: code, application: application, version: .v3_2)
                Self.setClock(server, toRealTimePlus: 65)
                let (old, oldJSON) = try await PowerAuthEnrollmentTests.post(
                    client, "/activation/create", body: prepared.body, headers: ["X-PowerAuth-Encryption": prepared.header])
                expectPowerAuthError(old, oldJSON, status: .badRequest, code: "ERR_ENCRYPTION")
                let (_, detail) = try await client.integration(.get, "/powerauth-cloud/v2/registrations/\(id)", basic: basic)
                #expect(detail["registrationStatus"] as? String == "CREATED")

                // Ahead of the server's clock by more than the window: refused as well.
                Self.setClock(server, toRealTimePlus: -65)
                let ahead = try PowerAuthEnrollmentTests.prepare(code: code, application: application, version: .v3_2)
                let (future, futureJSON) = try await PowerAuthEnrollmentTests.post(
                    client, "/activation/create", body: ahead.body, headers: ["X-PowerAuth-Encryption": ahead.header])
                expectPowerAuthError(future, futureJSON, status: .badRequest, code: "ERR_ENCRYPTION")

                // Within the window it goes through.
                Self.setClock(server, toRealTimePlus: 0)
                let fresh = try PowerAuthEnrollmentTests.prepare(code: code, application: application, version: .v3_2)
                let (ok, _) = try await PowerAuthEnrollmentTests.post(
                    client, "/activation/create", body: fresh.body, headers: ["X-PowerAuth-Encryption": fresh.header])
                #expect(ok.status == .ok)
            }
        }
    }
}
