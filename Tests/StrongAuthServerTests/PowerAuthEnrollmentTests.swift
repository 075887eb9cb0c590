import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import StrongAuthCore
import StrongAuthProtocol
import Testing

/// The phone's `/enrollment-server/pa/v3/…` through the router: both ECIES layers of the key
/// exchange, the status blob, signed endpoints, and what a tampered or malformed request gets.
@Suite("PowerAuth enrollment API (3.1 ECIES through the router)")
struct PowerAuthEnrollmentTests {
    /// One prepared activation request: its body and header, and the layers' response decryptors.
    struct PreparedActivation {
        var body: PowerAuthECIES.EncryptedRequestBody
        var header: String
        var layer1: PowerAuthECIES.ResponseDecryptor
        var layer2: PowerAuthECIES.ResponseDecryptor
        var device: P256.KeyAgreement.PrivateKey
    }

    static func prepare(code: String, application: OpenedApplication, version: PowerAuthProtocolVersion = .v3_1) throws
        -> PreparedActivation
    {
        let master = try P256.KeyAgreement.PublicKey(
            x963Representation: try #require(Data(base64Encoded: application.application.masterPublicKey)))
        func encryptor(_ sharedInfo1: String) -> PowerAuthECIES.ClientEncryptor {
            PowerAuthECIES.ClientEncryptor(
                publicKey: master,
                parameters: .init(
                    version: version, sharedInfo1: sharedInfo1, applicationKey: application.application.applicationKey,
                    applicationSecret: application.applicationSecret, scope: .application))
        }
        let device = P256.KeyAgreement.PrivateKey()
        let layer2Plain = try JSONSerialization.data(withJSONObject: [
            "devicePublicKey": PowerAuthBase64.encode(device.publicKey.compressedRepresentation), "activationName": "Test phone",
            "platform": "ios", "deviceInfo": "iPhone15,2",
        ])
        let (layer2Request, layer2) = try encryptor(PowerAuthECIES.SharedInfo1.activationLayer2).encryptRequest(Array(layer2Plain))
        let layer2JSON = try JSONSerialization.jsonObject(with: JSONEncoder().encode(PowerAuthECIES.EncryptedRequestBody(layer2Request)))
        let layer1Plain = try JSONSerialization.data(withJSONObject: [
            "type": "CODE", "identityAttributes": ["code": code], "customAttributes": ["channel": "test"], "activationData": layer2JSON,
        ])
        let (layer1Request, layer1) = try encryptor(PowerAuthECIES.SharedInfo1.applicationScopeGeneric).encryptRequest(Array(layer1Plain))
        return PreparedActivation(
            body: PowerAuthECIES.EncryptedRequestBody(layer1Request),
            header: #"PowerAuth version="\#(version.rawValue)", application_key="\#(application.application.applicationKey)""#, layer1: layer1,
            layer2: layer2, device: device)
    }

    /// The bytes of a Base64 string field (a function: `#require` cannot nest).
    static func bytes(_ value: Any?, sourceLocation: SourceLocation = #_sourceLocation) throws -> [UInt8] {
        let text = try #require(value as? String, sourceLocation: sourceLocation)
        return try #require(PowerAuthBase64.decode(text), sourceLocation: sourceLocation)
    }

    static func post(
        _ client: any TestClientProtocol, _ path: String, body: some Encodable, headers extra: [String: String] = [:]
    ) async throws -> (TestResponse, [String: Any]) {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        for (name, value) in extra { headers[try #require(HTTPField.Name(name))] = value }
        let response = try await client.executeRequest(
            uri: "/enrollment-server/pa/v3\(path)", method: .post, headers: headers, body: ByteBuffer(data: try JSONEncoder().encode(body)))
        return (response, try HTTP.json(response.body))
    }

    @Test("activation/create: two ECIES layers in, two out; the phone derives the same keys and fingerprint as the server")
    func activationCreate() async throws {
        try await TestServer.with { server in
            let (application, basic) = try await server.powerAuthSetup()
            try await server.test { client in
                let (_, created) = try await client.integration(
                    .post, "/powerauth-cloud/v2/registrations", basic: basic, ["userId": "end-user-1234", "appId": "my-application"])
                let prepared = try Self.prepare(code: try #require(created["activationCode"] as? String), application: application)
                let (response, json) = try await Self.post(
                    client, "/activation/create", body: prepared.body, headers: ["X-PowerAuth-Encryption": prepared.header])
                #expect(response.status == .ok)
                let outer = try JSONDecoder().decode(
                    PowerAuthECIES.EncryptedResponseBody.self, from: JSONSerialization.data(withJSONObject: json))
                let layer1 = try #require(
                    try JSONSerialization.jsonObject(with: Data(try prepared.layer1.decryptResponse(try outer.cryptogram()))) as? [String: Any])
                #expect((layer1["customAttributes"] as? [String: String]) == ["channel": "test"])
                let inner = try JSONDecoder().decode(
                    PowerAuthECIES.EncryptedResponseBody.self,
                    from: JSONSerialization.data(withJSONObject: try #require(layer1["activationData"])))
                let layer2 = try #require(
                    try JSONSerialization.jsonObject(with: Data(try prepared.layer2.decryptResponse(try inner.cryptogram()))) as? [String: Any])
                let activationID = try #require(layer2["activationId"] as? String)
                #expect(activationID == created["registrationId"] as? String)
                let serverKey = try P256.KeyAgreement.PublicKey(
                    x963Representation: try Self.bytes(layer2["serverPublicKey"]))
                #expect(try Self.bytes(layer2["ctrData"]).count == 16)

                let (_, detail) = try await client.integration(.get, "/powerauth-cloud/v2/registrations/\(activationID)", basic: basic)
                let phoneFingerprint = PowerAuthFingerprint.compute(
                    devicePublicKey: prepared.device.publicKey, activationID: activationID, serverPublicKey: serverKey)
                #expect(detail["activationFingerprint"] as? String == phoneFingerprint)

                // The status blob decrypts under the phone's own transport key: PENDING_COMMIT (2).
                let keys = try PowerAuthDerivedKeys(
                    masterSecret: try PowerAuthDerivedKeys.masterSecret(privateKey: prepared.device, publicKey: serverKey))
                let challenge = SecureRandom.bytes(16)
                let (statusResponse, status) = try await Self.post(
                    client, "/activation/status",
                    body: ["requestObject": ["activationId": activationID, "challenge": PowerAuthBase64.encode(challenge)]])
                #expect(statusResponse.status == .ok && status["status"] as? String == "OK")
                let object = try #require(status["responseObject"] as? [String: Any])
                let blob = try PowerAuthStatusBlob.decrypt(
                    try Self.bytes(object["encryptedStatusBlob"]), transportKey: keys.transport, challenge: challenge,
                    nonce: try Self.bytes(object["nonce"]))
                #expect(blob.status == 2 && blob.maxFailedAttempts == 5 && blob.counterLookAhead == 20)
                let ctrData = try Self.bytes(layer2["ctrData"])
                #expect(blob.counterDataHash == (try PowerAuthStatusBlob.counterDataHash(transportKey: keys.transport, counterData: ctrData)))

                // The same request again: the code is used up.
                let (replay, replayJSON) = try await Self.post(
                    client, "/activation/create", body: prepared.body, headers: ["X-PowerAuth-Encryption": prepared.header])
                expectPowerAuthError(replay, replayJSON, status: .badRequest, code: "ERR_ACTIVATION")
            }
        }
    }

    @Test("activation/create refuses a tampered MAC, ciphertext or ephemeral key, a missing header and an unknown app key — nothing changes")
    func activationTampering() async throws {
        try await TestServer.with { server in
            let (application, basic) = try await server.powerAuthSetup()
            try await server.test { client in
                let (_, created) = try await client.integration(
                    .post, "/powerauth-cloud/v2/registrations", basic: basic, ["userId": "u", "appId": "my-application"])
                let id = try #require(created["registrationId"] as? String)
                let prepared = try Self.prepare(code: try #require(created["activationCode"] as? String), application: application)
                func flip(_ base64: String?) -> String? {
                    guard var bytes = base64.flatMap(PowerAuthBase64.decode), !bytes.isEmpty else { return base64 }
                    bytes[bytes.count / 2] ^= 0x01
                    return PowerAuthBase64.encode(bytes)
                }
                var mac = prepared.body
                mac.mac = flip(mac.mac)
                var data = prepared.body
                data.encryptedData = flip(data.encryptedData)
                var key = prepared.body
                key.ephemeralPublicKey = PowerAuthBase64.encode(P256.KeyAgreement.PrivateKey().publicKey.compressedRepresentation)
                var nonce = prepared.body
                nonce.nonce = flip(nonce.nonce)
                for tampered in [mac, data, key] {
                    let (response, json) = try await Self.post(
                        client, "/activation/create", body: tampered, headers: ["X-PowerAuth-Encryption": prepared.header])
                    expectPowerAuthError(response, json, status: .badRequest, code: "ERR_ENCRYPTION")
                }
                // In 3.1 the MAC does not cover the nonce (it only makes the IV): a changed nonce
                // garbles the first block, and the garbage is refused as a malformed request.
                let (garbled, garbledJSON) = try await Self.post(
                    client, "/activation/create", body: nonce, headers: ["X-PowerAuth-Encryption": prepared.header])
                expectPowerAuthError(garbled, garbledJSON, status: .badRequest)
                let (missing, missingJSON) = try await Self.post(client, "/activation/create", body: prepared.body)
                expectPowerAuthError(missing, missingJSON, status: .badRequest)
                let (unknown, unknownJSON) = try await Self.post(
                    client, "/activation/create", body: prepared.body,
                    headers: [
                        "X-PowerAuth-Encryption": #"PowerAuth version="3.1", application_key="\#(PowerAuthBase64.encode(SecureRandom.bytes(16)))""#
                    ])
                expectPowerAuthError(unknown, unknownJSON, status: .badRequest, code: "ERR_ACTIVATION")
                let (version, versionJSON) = try await Self.post(
                    client, "/activation/create", body: prepared.body,
                    headers: ["X-PowerAuth-Encryption": #"PowerAuth version="9.9", application_key="\#(application.application.applicationKey)""#])
                expectPowerAuthError(version, versionJSON, status: .badRequest)
                let (garbage, garbageJSON) = try await Self.post(client, "/activation/create", body: ["encryptedData": 5])
                expectPowerAuthError(garbage, garbageJSON, status: .badRequest)

                let (_, detail) = try await client.integration(.get, "/powerauth-cloud/v2/registrations/\(id)", basic: basic)
                #expect(detail["registrationStatus"] as? String == "CREATED")
            }
        }
    }

    @Test("signed endpoints: no header or a wrong signature is 401 ERR_AUTHENTICATION; a valid one works; unknown status ids answer like known ones")
    func signedEndpoints() async throws {
        try await PowerAuthTests.withActive { server, client, basic, phone in
            var phone = phone
            let (none, noneJSON) = try await Self.post(client, "/signature/validate", body: [String: String]())
            expectPowerAuthError(none, noneJSON, status: .unauthorized, code: "ERR_AUTHENTICATION")
            let wrong = phone.sign(uriID: "/pa/signature/validate", wrongKnowledge: true)
            let (bad, badJSON) = try await Self.post(
                client, "/signature/validate", body: [String: String](), headers: ["X-PowerAuth-Authorization": wrong])
            expectPowerAuthError(bad, badJSON, status: .unauthorized, code: "ERR_AUTHENTICATION")
            let good = phone.sign(uriID: "/pa/signature/validate")
            let (ok, okJSON) = try await Self.post(
                client, "/signature/validate", body: [String: String](), headers: ["X-PowerAuth-Authorization": good])
            #expect(ok.status == .ok && okJSON["status"] as? String == "OK")

            // Removal needs two factors.
            let single = phone.sign(uriID: "/pa/activation/remove", body: Array("{}".utf8), factors: [.possession])
            let (weak, weakJSON) = try await Self.post(
                client, "/activation/remove", body: [String: String](), headers: ["X-PowerAuth-Authorization": single])
            expectPowerAuthError(weak, weakJSON, status: .unauthorized)
            let remove = phone.sign(uriID: "/pa/activation/remove", body: Array("{}".utf8))
            let (removed, removedJSON) = try await Self.post(
                client, "/activation/remove", body: [String: String](), headers: ["X-PowerAuth-Authorization": remove])
            #expect(removed.status == .ok && (removedJSON["responseObject"] as? [String: String])?["activationId"] == phone.registrationID)
            #expect(try await server.runtime.store.registration(id: phone.registrationID)?.device.status == .removed)

            // An unknown id is answered like a known one (PowerAuthParityTests.unknownActivationStatus).
            let (unknown, _) = try await Self.post(
                client, "/activation/status",
                body: ["requestObject": ["activationId": UUID().uuidString, "challenge": PowerAuthBase64.encode(SecureRandom.bytes(16))]])
            #expect(unknown.status == .ok)
            let (short, shortJSON) = try await Self.post(
                client, "/activation/status", body: ["requestObject": ["activationId": phone.registrationID, "challenge": "AAAA"]])
            expectPowerAuthError(short, shortJSON, status: .badRequest, code: "ERR_ACTIVATION")
            // /openapi.yaml requires the challenge (protocol 3.1+ status): without it the body is not the documented shape.
            let (missing, missingJSON) = try await Self.post(
                client, "/activation/status", body: ["requestObject": ["activationId": phone.registrationID]])
            expectPowerAuthError(missing, missingJSON, status: .badRequest, code: "ERROR_REQUEST")
            _ = basic
        }
    }
}
