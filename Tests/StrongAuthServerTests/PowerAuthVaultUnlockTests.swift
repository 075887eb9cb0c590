import Crypto
import CryptoExtras
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import StrongAuthCore
import StrongAuthProtocol
import Testing

/// `/pa/v3/vault/unlock` through the router, as the official SDKs call it (to add
/// biometry after activation, to use the device private key): activation-scope ECIES
/// (`/pa/vault/unlock`) around `{"reason"}`, signed over the encrypted body with two factors;
/// the answer carries `KEY_ENCRYPTION_VAULT` under `KEY_TRANSPORT` (AES-128-CBC, zero IV,
/// PKCS#7 — powerauth-crypto's `PowerAuthServerVault`), which the phone checks against the key
/// it derived itself at activation.
@Suite("PowerAuth vault unlock")
struct PowerAuthVaultUnlockTests {
    /// One vault unlock request: the encrypted body, its header, and the response decryptor.
    struct Prepared {
        var body: [UInt8]
        var header: String
        var decryptor: PowerAuthECIES.ResponseDecryptor
    }

    /// The phone's request: `{"reason"}` (or `plaintext`) under activation-scope ECIES, then
    /// signed over the encrypted body (encrypt-then-sign).
    static func prepare(
        _ server: TestServer, _ phone: inout PowerAuthTestPhone, reason: String? = "ADD_BIOMETRY", plaintext: [UInt8]? = nil,
        factors: [PowerAuthSignature.Factor] = [.possession, .knowledge], wrongKnowledge: Bool = false
    ) async throws -> Prepared {
        // The phone keeps KEY_SERVER_PUBLIC from the key exchange; the test phone does not, so
        // it is read from the server (only its public half is used).
        let registration = try #require(try await server.runtime.store.registration(id: phone.registrationID))
        let serverPublicKey = try server.runtime.powerAuth.openServerPrivateKey(of: registration).publicKey
        let encryptor = PowerAuthECIES.ClientEncryptor(
            publicKey: serverPublicKey,
            parameters: .init(
                version: .v3_1, sharedInfo1: PowerAuthECIES.SharedInfo1.vaultUnlock, applicationKey: phone.applicationKey,
                applicationSecret: phone.applicationSecret,
                scope: .activation(activationID: phone.registrationID, transportKey: phone.keys.transport)))
        let plain = try plaintext ?? Array(JSONSerialization.data(withJSONObject: reason.map { ["reason": $0] } ?? [String: String]()))
        let (request, decryptor) = try encryptor.encryptRequest(plain)
        let body = Array(try JSONEncoder().encode(PowerAuthECIES.EncryptedRequestBody(request)))
        let header = phone.sign(uriID: "/pa/vault/unlock", body: body, factors: factors, wrongKnowledge: wrongKnowledge)
        return Prepared(body: body, header: header, decryptor: decryptor)
    }

    static func post(_ client: any TestClientProtocol, _ prepared: Prepared) async throws -> (TestResponse, [String: Any]) {
        try await post(client, body: prepared.body, header: prepared.header)
    }

    static func post(_ client: any TestClientProtocol, body: [UInt8], header: String) async throws -> (TestResponse, [String: Any]) {
        let response = try await client.executeRequest(
            uri: "/enrollment-server/pa/v3/vault/unlock", method: .post,
            headers: [.contentType: "application/json", try #require(HTTPField.Name("X-PowerAuth-Authorization")): header],
            body: ByteBuffer(bytes: body))
        return (response, try HTTP.json(response.body))
    }

    /// The decrypted answer of a 200.
    static func answer(_ json: [String: Any], _ prepared: Prepared) throws -> [String: Any] {
        let body = try JSONDecoder().decode(PowerAuthECIES.EncryptedResponseBody.self, from: JSONSerialization.data(withJSONObject: json))
        let plain = try prepared.decryptor.decryptResponse(try body.cryptogram())
        return try #require(try JSONSerialization.jsonObject(with: Data(plain)) as? [String: Any])
    }

    static func failedAttempts(_ server: TestServer, _ phone: PowerAuthTestPhone) async throws -> Int? {
        try await server.runtime.store.registration(id: phone.registrationID)?.counter.failedAttempts
    }

    @Test(
        "a valid 2FA signature: the phone decrypts KEY_ENCRYPTION_VAULT (AES-CBC, zero IV, under KEY_TRANSPORT) and it is the key it derived itself; audited with the reason"
    )
    func unlocks() async throws {
        try await PowerAuthTests.withActive { server, client, _, phone in
            var phone = phone
            for factors: [PowerAuthSignature.Factor] in [[.possession, .knowledge], [.possession, .biometry]] {
                let prepared = try await Self.prepare(server, &phone, factors: factors)
                let (response, json) = try await Self.post(client, prepared)
                #expect(response.status == .ok)
                let answer = try Self.answer(json, prepared)
                #expect(answer["signatureValid"] as? Bool == true)
                let encrypted = try PowerAuthEnrollmentTests.bytes(answer["encryptedVaultEncryptionKey"])
                // One 16-byte key plus a full PKCS#7 padding block, decrypted here independently.
                #expect(encrypted.count == 32)
                let vaultKey = try AES._CBC.decrypt(
                    encrypted, using: SymmetricKey(data: phone.keys.transport), iv: AES._CBC.IV(ivBytes: [UInt8](repeating: 0, count: 16)))
                #expect(Array(vaultKey) == phone.keys.vault)
                #expect(try PowerAuthVault.decryptVaultKey(encrypted, transportKey: phone.keys.transport) == phone.keys.vault)
            }
            // No reason: the reference's NOT_SPECIFIED.
            let unspecified = try await Self.prepare(server, &phone, reason: nil)
            let (plain, plainJSON) = try await Self.post(client, unspecified)
            #expect(plain.status == .ok)
            #expect(try Self.answer(plainJSON, unspecified)["signatureValid"] as? Bool == true)

            let events = try await server.runtime.store.auditEvents(after: 0, limit: 1000).filter {
                $0.record.action.rawValue == "powerauth.vault.unlocked"
            }
            // The test clock stands still, so the three records share a timestamp: compare as sets.
            #expect(events.compactMap { $0.record.details["reason"] }.sorted() == ["ADD_BIOMETRY", "ADD_BIOMETRY", "NOT_SPECIFIED"])
            #expect(
                events.compactMap { $0.record.details["type"] }.sorted() == ["possession_biometry", "possession_knowledge", "possession_knowledge"])
            #expect(events.allSatisfy { $0.record.subject == "device:\(phone.registrationID)" && $0.record.outcome == .success })
            #expect(try await Self.failedAttempts(server, phone) == 0)
        }
    }

    @Test("a wrong PIN is refused (401 ERR_AUTHENTICATION) and counted like any signed call; 5 block the activation")
    func wrongPINIsCounted() async throws {
        try await PowerAuthTests.withActive { server, client, _, phone in
            var phone = phone
            for attempt in 1...5 {
                let prepared = try await Self.prepare(server, &phone, wrongKnowledge: true)
                let (response, json) = try await Self.post(client, prepared)
                expectPowerAuthError(response, json, status: .unauthorized, code: "ERR_AUTHENTICATION")
                #expect(try await Self.failedAttempts(server, phone) == (attempt == 5 ? 5 : attempt))
            }
            #expect(try await server.runtime.store.registration(id: phone.registrationID)?.device.status == .blocked)
            let right = try await Self.prepare(server, &phone)
            let (blocked, blockedJSON) = try await Self.post(client, right)
            expectPowerAuthError(blocked, blockedJSON, status: .unauthorized, code: "ERR_AUTHENTICATION")
            let unlocked = try await server.runtime.store.auditEvents(after: 0, limit: 1000).filter {
                $0.record.action.rawValue == "powerauth.vault.unlocked"
            }
            #expect(unlocked.isEmpty)
        }
    }

    @Test("a possession-only signature (the device without its PIN) is refused and counts nothing; so is no signature")
    func possessionOnlyIsRefused() async throws {
        try await PowerAuthTests.withActive { server, client, _, phone in
            var phone = phone
            let single = try await Self.prepare(server, &phone, factors: [.possession])
            let (response, json) = try await Self.post(client, single)
            expectPowerAuthError(response, json, status: .unauthorized, code: "ERR_AUTHENTICATION")
            var unsigned = single
            unsigned.header = ""
            let noHeader = try await client.executeRequest(
                uri: "/enrollment-server/pa/v3/vault/unlock", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(bytes: unsigned.body))
            expectPowerAuthError(noHeader, try HTTP.json(noHeader.body), status: .unauthorized, code: "ERR_AUTHENTICATION")
            #expect(try await Self.failedAttempts(server, phone) == 0)
            // The phone's next 2FA signature (the refused one used a counter value) still works.
            let good = try await Self.prepare(server, &phone)
            #expect(try await Self.post(client, good).0.status == .ok)
        }
    }

    @Test("a replayed request (same body and header) is refused the second time and not counted; a signature for another uriId is refused")
    func replayIsRefused() async throws {
        try await PowerAuthTests.withActive { server, client, _, phone in
            var phone = phone
            let prepared = try await Self.prepare(server, &phone)
            #expect(try await Self.post(client, prepared).0.status == .ok)
            let (replay, replayJSON) = try await Self.post(client, prepared)
            expectPowerAuthError(replay, replayJSON, status: .unauthorized, code: "ERR_AUTHENTICATION")
            #expect(try await Self.failedAttempts(server, phone) == 0)

            // Signed for /pa/signature/validate, sent to vault/unlock.
            var other = try await Self.prepare(server, &phone)
            other.header = phone.sign(uriID: "/pa/signature/validate", body: other.body)
            let (wrongURI, wrongURIJSON) = try await Self.post(client, other)
            expectPowerAuthError(wrongURI, wrongURIJSON, status: .unauthorized, code: "ERR_AUTHENTICATION")
        }
    }

    @Test("a malformed reason or request is a 400 in PowerAuth's shape, never a 5xx; nothing is unlocked")
    func malformedIsRefused() async throws {
        try await PowerAuthTests.withActive { server, client, _, phone in
            var phone = phone
            for prepared in [
                try await Self.prepare(server, &phone, reason: "x"),
                try await Self.prepare(server, &phone, reason: String(repeating: "A", count: 256)),
                try await Self.prepare(server, &phone, reason: "ADD BIOMETRY\n"),
                try await Self.prepare(server, &phone, plaintext: Array("not json".utf8)),
                try await Self.prepare(server, &phone, plaintext: Array(#"{"reason": 5}"#.utf8)),
            ] {
                let (response, json) = try await Self.post(client, prepared)
                expectPowerAuthError(response, json, status: .badRequest)
            }
            // A body that is no ECIES envelope at all, correctly signed.
            let raw = Array(#"{"encryptedData": "AAAA"}"#.utf8)
            let header = phone.sign(uriID: "/pa/vault/unlock", body: raw)
            let (garbage, garbageJSON) = try await Self.post(client, body: raw, header: header)
            expectPowerAuthError(garbage, garbageJSON, status: .badRequest)
            let unlocked = try await server.runtime.store.auditEvents(after: 0, limit: 1000).filter {
                $0.record.action.rawValue == "powerauth.vault.unlocked"
            }
            #expect(unlocked.isEmpty)
        }
    }
}
