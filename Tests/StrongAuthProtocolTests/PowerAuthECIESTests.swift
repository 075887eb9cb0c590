import Crypto
import Foundation
import Testing

@testable import StrongAuthProtocol

/// PowerAuth 3.1–3.3 ECIES: reference known-answer vectors first, then client↔server round trips
/// with real ECDH, then everything that must be refused.
@Suite("PowerAuth ECIES")
struct PowerAuthECIESTests {
    // MARK: Reference vectors

    struct Vector {
        var version: PowerAuthProtocolVersion
        var parameters: PowerAuthECIES.Parameters
        var envelopeKey: PowerAuthECIES.EnvelopeKey
        var sharedInfo2Base: [UInt8]
        var request: PowerAuthECIES.Cryptogram
        var response: PowerAuthECIES.Cryptogram
    }

    static func vectors() throws -> [Vector] {
        let list = try need(JSONSerialization.jsonObject(with: Data(PowerAuthECIESVectors.json.utf8)) as? [[String: String]])
        return try list.map { entry in
            func bytes(_ key: String) throws -> [UInt8] { try need(PowerAuthBase64.decode(try need(entry[key]))) }
            let version = try need(PowerAuthProtocolVersion(rawValue: try need(entry["protocolVersion"])))
            let scope: PowerAuthECIES.Scope =
                if let activationID = entry["activationId"] {
                    .activation(activationID: activationID, transportKey: try bytes("transportKey"))
                } else {
                    .application
                }
            let parameters = PowerAuthECIES.Parameters(
                version: version,
                sharedInfo1: entry["activationId"] == nil
                    ? PowerAuthECIES.SharedInfo1.applicationScopeGeneric : PowerAuthECIES.SharedInfo1.activationScopeGeneric,
                applicationKey: try need(entry["applicationKey"]), applicationSecret: try need(entry["applicationSecret"]), scope: scope,
                temporaryKeyID: entry["temporaryKeyId"])
            let request = PowerAuthECIES.Cryptogram(
                temporaryKeyID: entry["temporaryKeyId"], ephemeralPublicKey: try bytes("requestEphemeralPublicKey"),
                encryptedData: try bytes("encryptedDataRequest"), mac: try bytes("requestMac"), nonce: try bytes("requestNonce"),
                timestamp: entry["timestampRequest"].flatMap { UInt64($0) })
            let response = PowerAuthECIES.Cryptogram(
                encryptedData: try bytes("encryptedDataResponse"), mac: try bytes("responseMac"),
                nonce: entry["responseNonce"] == nil ? nil : try bytes("responseNonce"),
                timestamp: entry["timestampResponse"].flatMap { UInt64($0) })
            return Vector(
                version: version, parameters: parameters, envelopeKey: try PowerAuthECIES.EnvelopeKey(bytes: try bytes("envelopeKey")),
                sharedInfo2Base: try bytes("sharedInfo2Base"), request: request, response: response)
        }
    }

    @Test("reference vectors: 3 per version and scope, 18 in all")
    func vectorCoverage() throws {
        let vectors = try Self.vectors()
        #expect(vectors.count == 18)
        for version in [PowerAuthProtocolVersion.v3_1, .v3_2, .v3_3] {
            #expect(vectors.filter { $0.version == version && $0.parameters.scope == .application }.count == 3)
            #expect(vectors.filter { $0.version == version && $0.parameters.scope != .application }.count == 3)
        }
    }

    @Test("KAT: sharedInfo2Base = SHA-256(appSecret text) or HMAC(transportKey, appSecret text)")
    func sharedInfo2Base() throws {
        for vector in try Self.vectors() {
            #expect(vector.parameters.sharedInfo2Base == vector.sharedInfo2Base, "\(vector.version) \(vector.parameters.scope)")
        }
    }

    @Test("KAT: the server decrypts the reference client's request")
    func serverDecryptsReferenceRequest() throws {
        for vector in try Self.vectors() {
            let decrypted = try PowerAuthECIES.decryptRequest(vector.request, envelopeKey: vector.envelopeKey, parameters: vector.parameters)
            #expect(decrypted.plaintext == Array("test_request".utf8), "\(vector.version) \(vector.parameters.scope)")
        }
    }

    @Test("KAT: the client reproduces the reference request bytes and MAC exactly")
    func clientReproducesReferenceRequest() throws {
        for vector in try Self.vectors() {
            let (request, _) = try PowerAuthECIES.encryptRequest(
                Array("test_request".utf8), envelopeKey: vector.envelopeKey, ephemeralPublicKey: try need(vector.request.ephemeralPublicKey),
                nonce: try need(vector.request.nonce), timestamp: vector.request.timestamp, parameters: vector.parameters)
            #expect(request == vector.request, "\(vector.version) \(vector.parameters.scope)")
        }
    }

    @Test("KAT: the server reproduces the reference response (3.1 reuses the request nonce, 3.2+ its own)")
    func serverReproducesReferenceResponse() throws {
        for vector in try Self.vectors() {
            let decrypted = try PowerAuthECIES.decryptRequest(vector.request, envelopeKey: vector.envelopeKey, parameters: vector.parameters)
            let nonce = try need(vector.version == .v3_1 ? vector.request.nonce : vector.response.nonce)
            let response = try decrypted.response.encryptResponse(Array("test_response".utf8), nonce: nonce, timestamp: vector.response.timestamp)
            #expect(response == vector.response, "\(vector.version) \(vector.parameters.scope)")
            if vector.version == .v3_1 {
                #expect(response.nonce == nil && response.timestamp == nil)
            }
        }
    }

    @Test("KAT: the client decrypts the reference server's response")
    func clientDecryptsReferenceResponse() throws {
        for vector in try Self.vectors() {
            let (_, context) = try PowerAuthECIES.encryptRequest(
                Array("test_request".utf8), envelopeKey: vector.envelopeKey, ephemeralPublicKey: try need(vector.request.ephemeralPublicKey),
                nonce: try need(vector.request.nonce), timestamp: vector.request.timestamp, parameters: vector.parameters)
            #expect(try context.decryptResponse(vector.response) == Array("test_response".utf8), "\(vector.version)")
        }
    }

    @Test("KAT: any changed byte or parameter is refused with invalidMAC")
    func referenceTampering() throws {
        for vector in try Self.vectors() {
            func refuse(_ request: PowerAuthECIES.Cryptogram, _ parameters: PowerAuthECIES.Parameters, _ what: String) {
                #expect(throws: PowerAuthECIESError.invalidMAC, "\(vector.version) \(what)") {
                    try PowerAuthECIES.decryptRequest(request, envelopeKey: vector.envelopeKey, parameters: parameters)
                }
            }
            var request = vector.request
            request.mac[0] ^= 1
            refuse(request, vector.parameters, "mac")
            request = vector.request
            request.encryptedData[5] ^= 0x80
            refuse(request, vector.parameters, "encryptedData")
            request = vector.request
            request.nonce?[0] ^= 1
            if vector.version >= .v3_2 {
                refuse(request, vector.parameters, "nonce")
            } else {
                // 3.1 leaves the nonce out of the MAC: another nonce only changes the IV, so the
                // first block decrypts to garbage (here the padding breaks). Never the original.
                let opened = try? PowerAuthECIES.decryptRequest(request, envelopeKey: vector.envelopeKey, parameters: vector.parameters)
                #expect(opened?.plaintext != Array("test_request".utf8))
            }
            var parameters = vector.parameters
            parameters.applicationSecret = "AAAAAAAAAAAAAAAAAAAAAA=="
            refuse(vector.request, parameters, "application secret")
            if vector.version >= .v3_2 {
                request = vector.request
                request.timestamp = (request.timestamp ?? 0) + 1
                refuse(request, vector.parameters, "timestamp")
                request = vector.request
                request.ephemeralPublicKey?[1] ^= 1
                refuse(request, vector.parameters, "ephemeral key in sharedInfo2")
                parameters = vector.parameters
                parameters.applicationKey = "AAAAAAAAAAAAAAAAAAAAAA=="
                refuse(vector.request, parameters, "application key (associated data)")
                if case .activation(_, let transportKey) = vector.parameters.scope {
                    parameters = vector.parameters
                    parameters.scope = .activation(activationID: "00000000-0000-4000-8000-000000000000", transportKey: transportKey)
                    refuse(vector.request, parameters, "activation ID (associated data)")
                }
            }
            if vector.version == .v3_3 {
                parameters = vector.parameters
                parameters.temporaryKeyID = "00000000-0000-4000-8000-000000000000"
                request = vector.request
                request.temporaryKeyID = parameters.temporaryKeyID
                refuse(request, parameters, "temporary key ID (associated data)")
            }
            // The response is bound to its own nonce and timestamp in 3.2+.
            let (_, context) = try PowerAuthECIES.encryptRequest(
                Array("test_request".utf8), envelopeKey: vector.envelopeKey, ephemeralPublicKey: try need(vector.request.ephemeralPublicKey),
                nonce: try need(vector.request.nonce), timestamp: vector.request.timestamp, parameters: vector.parameters)
            var response = vector.response
            response.mac[31] ^= 1
            #expect(throws: PowerAuthECIESError.invalidMAC) { try context.decryptResponse(response) }
            if vector.version >= .v3_2 {
                response = vector.response
                response.timestamp = (response.timestamp ?? 0) - 1
                #expect(throws: PowerAuthECIESError.invalidMAC) { try context.decryptResponse(response) }
            }
        }
    }

    @Test("3.1 does not bind the activation ID or application key: the reference vector still opens with other ones")
    func v31HasNoAssociatedData() throws {
        for vector in try Self.vectors() where vector.version == .v3_1 {
            var parameters = vector.parameters
            parameters.applicationKey = "AAAAAAAAAAAAAAAAAAAAAA=="
            if case .activation(_, let transportKey) = parameters.scope {
                parameters.scope = .activation(activationID: "00000000-0000-4000-8000-000000000000", transportKey: transportKey)
            }
            let decrypted = try PowerAuthECIES.decryptRequest(vector.request, envelopeKey: vector.envelopeKey, parameters: parameters)
            #expect(decrypted.plaintext == Array("test_request".utf8))
        }
    }

    // MARK: KDF

    /// NIST CAVP ANSI X9.63 KDF vectors (SHA-256), as quoted in wultra/powerauth-mobile-sdk
    /// `src/PowerAuthTests/pa2CryptoECDHKDFTests.cpp` (source: csrc.nist.gov, `ansx963_2001.zip`).
    @Test("KAT: X9.63-SHA256 KDF against NIST CAVP")
    func x963NIST() throws {
        let cases: [(secret: String, info: String, expected: String)] = [
            ("96c05619d56c328ab95fe84b18264b08725b85e33fd34f08", "", "443024c3dae66b95e6f5670601558f71"),
            ("96f600b73ad6ac5629577eced51743dd2c24c21b1ac83ee4", "", "b6295162a7804f5667ba9070f82fa522"),
            ("de4ec3f6b2e9b7b5b6160acd5363c1b1f250e17ee731dbd6", "", "c8df626d5caaabf8a1b2a3f9061d2420"),
            (
                "22518b10e70f2a3f243810ae3254139efbee04aa57c7af7d", "75eef81aa3041e33b80971203d2c0c52",
                "c498af77161cc59f2962b9a713e2b215152d139766ce34a776df11866a69bf2e52a13d9c7c6fc878c50c5ea0bc7b00e0da2447cfd874f6cf92f30d0097111485500c90c3af8b487872d04685d14c8d1dc8d7fa08beb0ce0ababc11f0bd496269142d43525a78e5bc79a17f59676a5706dc54d54d4d1f0bd7e386128ec26afc21"
            ),
            (
                "7e335afa4b31d772c0635c7b0e06f26fcd781df947d2990a", "d65a4812733f8cdbcdfb4b2f4c191d87",
                "c0bd9e38a8f9de14c2acd35b2f3410c6988cf02400543631e0d6a4c1d030365acbf398115e51aaddebdc9590664210f9aa9fed770d4c57edeafa0b8c14f93300865251218c262d63dadc47dfa0e0284826793985137e0a544ec80abf2fdf5ab90bdaea66204012efe34971dc431d625cd9a329b8217cc8fd0d9f02b13f2f6b0b"
            ),
        ]
        for (secret, info, expected) in cases {
            let output = try need(Hex.decode(expected))
            #expect(
                PowerAuthECIES.x963KDF(secret: try need(Hex.decode(secret)), sharedInfo: try need(Hex.decode(info)), outputByteCount: output.count)
                    == output)
        }
    }

    @Test("the envelope key equals swift-crypto's own X9.63 derivation over the full 32-byte ECDH secret")
    func envelopeKeyMatchesSwiftCrypto() throws {
        for version in [PowerAuthProtocolVersion.v3_1, .v3_2, .v3_3] {
            let server = P256.KeyAgreement.PrivateKey()
            let ephemeral = P256.KeyAgreement.PrivateKey()
            let ephemeralPublicKey = Array(ephemeral.publicKey.compressedRepresentation)
            let parameters = PowerAuthECIES.Parameters(
                version: version, sharedInfo1: PowerAuthECIES.SharedInfo1.createToken, applicationKey: "k", applicationSecret: "s",
                scope: .application, temporaryKeyID: version == .v3_3 ? "t" : nil)
            let secret = try ephemeral.sharedSecretFromKeyAgreement(with: server.publicKey)
            let info = (version >= .v3_2 ? Array(version.rawValue.utf8) : []) + Array("/pa/token/create".utf8) + ephemeralPublicKey
            let reference = secret.x963DerivedSymmetricKey(using: SHA256.self, sharedInfo: info, outputByteCount: 48).withUnsafeBytes { Array($0) }
            let ours = try PowerAuthECIES.EnvelopeKey.derive(
                sharedSecret: secret.withUnsafeBytes { Array($0) }, sharedInfo1: parameters.kdfSharedInfo1, ephemeralPublicKey: ephemeralPublicKey)
            #expect(ours.bytes == reference)
        }
    }

    // MARK: Round trips

    static let applicationKey = "d6J5L+nc0/72WugcmfetYA=="
    static let applicationSecret = "uBKPNFUtJdVzbuGz2dtGwA=="
    static let activationID = "b602bfa6-eeb1-4661-85f1-571ff4b30bc2"

    static func parameters(_ version: PowerAuthProtocolVersion, activation: Bool, sharedInfo1: String? = nil) -> PowerAuthECIES.Parameters {
        PowerAuthECIES.Parameters(
            version: version,
            sharedInfo1: sharedInfo1
                ?? (activation ? PowerAuthECIES.SharedInfo1.activationScopeGeneric : PowerAuthECIES.SharedInfo1.applicationScopeGeneric),
            applicationKey: applicationKey, applicationSecret: applicationSecret,
            scope: activation ? .activation(activationID: activationID, transportKey: Array(repeating: 7, count: 16)) : .application,
            temporaryKeyID: version == .v3_3 ? "61376bfb-9988-423b-93d7-9678f1915965" : nil)
    }

    static let combinations: [(PowerAuthProtocolVersion, Bool)] = [
        (.v3_1, false), (.v3_1, true), (.v3_2, false), (.v3_2, true), (.v3_3, false), (.v3_3, true),
    ]

    @Test("client → server → client for every version and scope, over JSON bodies", arguments: combinations)
    func roundTrip(version: PowerAuthProtocolVersion, activation: Bool) throws {
        let serverKey = P256.KeyAgreement.PrivateKey()
        let parameters = Self.parameters(version, activation: activation)
        let client = PowerAuthECIES.ClientEncryptor(publicKey: serverKey.publicKey, parameters: parameters)
        let (request, context) = try client.encryptRequest(Array(#"{"activationName":"Phone"}"#.utf8))
        #expect(request.ephemeralPublicKey?.count == 33)
        #expect(request.nonce?.count == 16)
        #expect((request.timestamp != nil) == (version >= .v3_2))
        #expect(request.temporaryKeyID == parameters.temporaryKeyID)

        let requestJSON = try JSONEncoder().encode(PowerAuthECIES.EncryptedRequestBody(request))
        let received = try JSONDecoder().decode(PowerAuthECIES.EncryptedRequestBody.self, from: requestJSON).cryptogram()
        let server = PowerAuthECIES.ServerDecryptor(privateKey: serverKey, parameters: parameters)
        let decrypted = try server.decryptRequest(received)
        #expect(decrypted.plaintext == Array(#"{"activationName":"Phone"}"#.utf8))

        let response = try decrypted.response.encryptResponse(Array(#"{"activationId":"x"}"#.utf8))
        let responseJSON = try JSONEncoder().encode(PowerAuthECIES.EncryptedResponseBody(response))
        let responseObject = try need(try JSONSerialization.jsonObject(with: responseJSON) as? [String: Any])
        #expect(Set(responseObject.keys) == (version >= .v3_2 ? ["encryptedData", "mac", "nonce", "timestamp"] : ["encryptedData", "mac"]))
        if version >= .v3_2 {
            #expect(response.nonce != request.nonce)
        }
        let answer = try JSONDecoder().decode(PowerAuthECIES.EncryptedResponseBody.self, from: responseJSON).cryptogram()
        #expect(try context.decryptResponse(answer) == Array(#"{"activationId":"x"}"#.utf8))
    }

    @Test("the server accepts the uncompressed key form too, but the KDF binds the bytes as sent", arguments: combinations)
    func uncompressedEphemeralKey(version: PowerAuthProtocolVersion, activation: Bool) throws {
        let serverKey = P256.KeyAgreement.PrivateKey()
        let parameters = Self.parameters(version, activation: activation)
        let ephemeral = P256.KeyAgreement.PrivateKey()
        let uncompressed = Array(ephemeral.publicKey.x963Representation)
        let shared = try ephemeral.sharedSecretFromKeyAgreement(with: serverKey.publicKey).withUnsafeBytes { Array($0) }
        let envelope = try PowerAuthECIES.EnvelopeKey.derive(
            sharedSecret: shared, sharedInfo1: parameters.kdfSharedInfo1, ephemeralPublicKey: uncompressed)
        var (request, _) = try PowerAuthECIES.encryptRequest(
            Array("hello".utf8), envelopeKey: envelope, ephemeralPublicKey: uncompressed, nonce: SecureRandom.bytes(16),
            timestamp: version >= .v3_2 ? 1_749_762_293_560 : nil, parameters: parameters)
        let server = PowerAuthECIES.ServerDecryptor(privateKey: serverKey, parameters: parameters)
        #expect(try server.decryptRequest(request).plaintext == Array("hello".utf8))
        // The same point re-encoded compressed gives another KDF info: refused.
        request.ephemeralPublicKey = Array(ephemeral.publicKey.compressedRepresentation)
        #expect(throws: PowerAuthECIESError.invalidMAC) { try server.decryptRequest(request) }
    }

    @Test("wrong sharedInfo1, app secret, server key, scope or version is refused with invalidMAC", arguments: combinations)
    func mismatchedParameters(version: PowerAuthProtocolVersion, activation: Bool) throws {
        let serverKey = P256.KeyAgreement.PrivateKey()
        let parameters = Self.parameters(version, activation: activation)
        let (request, _) = try PowerAuthECIES.ClientEncryptor(publicKey: serverKey.publicKey, parameters: parameters)
            .encryptRequest(Array("{}".utf8))

        var other = parameters
        other.sharedInfo1 = PowerAuthECIES.SharedInfo1.vaultUnlock
        #expect(throws: PowerAuthECIESError.invalidMAC) {
            try PowerAuthECIES.ServerDecryptor(privateKey: serverKey, parameters: other).decryptRequest(request)
        }
        other = parameters
        other.applicationSecret = "QVuNIFhnmHgeLx4Ek/suJw=="
        #expect(throws: PowerAuthECIESError.invalidMAC) {
            try PowerAuthECIES.ServerDecryptor(privateKey: serverKey, parameters: other).decryptRequest(request)
        }
        #expect(throws: PowerAuthECIESError.invalidMAC) {
            try PowerAuthECIES.ServerDecryptor(privateKey: P256.KeyAgreement.PrivateKey(), parameters: parameters).decryptRequest(request)
        }
        other = parameters
        other.scope = activation ? .application : .activation(activationID: Self.activationID, transportKey: Array(repeating: 7, count: 16))
        #expect(throws: PowerAuthECIESError.invalidMAC) {
            try PowerAuthECIES.ServerDecryptor(privateKey: serverKey, parameters: other).decryptRequest(request)
        }
        if activation {
            other = parameters
            other.scope = .activation(activationID: Self.activationID, transportKey: Array(repeating: 8, count: 16))
            #expect(throws: PowerAuthECIESError.invalidMAC, "transport key") {
                try PowerAuthECIES.ServerDecryptor(privateKey: serverKey, parameters: other).decryptRequest(request)
            }
        }
        if version == .v3_2 {
            // Same request fields, other version label: 3.3-only fields aside, 3.2 vs 3.1 differ in shape.
            other = parameters
            other.version = .v3_1
            #expect(throws: PowerAuthECIESError.invalidRequest("timestamp is not used before 3.2")) {
                try PowerAuthECIES.ServerDecryptor(privateKey: serverKey, parameters: other).decryptRequest(request)
            }
        }
    }

    @Test("a forged response (other MAC, data, nonce) is refused by the client", arguments: combinations)
    func forgedResponse(version: PowerAuthProtocolVersion, activation: Bool) throws {
        let serverKey = P256.KeyAgreement.PrivateKey()
        let parameters = Self.parameters(version, activation: activation)
        let (request, context) = try PowerAuthECIES.ClientEncryptor(publicKey: serverKey.publicKey, parameters: parameters)
            .encryptRequest(Array("{}".utf8))
        let response = try PowerAuthECIES.ServerDecryptor(privateKey: serverKey, parameters: parameters).decryptRequest(request).response
            .encryptResponse(Array("{}".utf8))
        var forged = response
        forged.encryptedData[0] ^= 1
        #expect(throws: PowerAuthECIESError.invalidMAC) { try context.decryptResponse(forged) }
        if version >= .v3_2 {
            forged = response
            forged.nonce?[3] ^= 1
            #expect(throws: PowerAuthECIESError.invalidMAC) { try context.decryptResponse(forged) }
            forged = response
            forged.nonce = nil
            #expect(throws: PowerAuthECIESError.invalidResponse("nonce and timestamp are required from 3.2 on")) {
                try context.decryptResponse(forged)
            }
        } else {
            forged = response
            forged.nonce = request.nonce
            #expect(throws: PowerAuthECIESError.invalidResponse("nonce and timestamp are not used before 3.2")) {
                try context.decryptResponse(forged)
            }
        }
        // A response from another exchange does not open.
        let (otherRequest, _) = try PowerAuthECIES.ClientEncryptor(publicKey: serverKey.publicKey, parameters: parameters)
            .encryptRequest(Array("{}".utf8))
        let otherResponse = try PowerAuthECIES.ServerDecryptor(privateKey: serverKey, parameters: parameters).decryptRequest(otherRequest)
            .response.encryptResponse(Array("{}".utf8))
        #expect(throws: PowerAuthECIESError.invalidMAC) { try context.decryptResponse(otherResponse) }
    }

    // MARK: Malformed input

    @Test("malformed requests are refused with typed errors, never a crash")
    func malformedRequests() throws {
        let serverKey = P256.KeyAgreement.PrivateKey()
        for version in [PowerAuthProtocolVersion.v3_1, .v3_2, .v3_3] {
            let parameters = Self.parameters(version, activation: true)
            let server = PowerAuthECIES.ServerDecryptor(privateKey: serverKey, parameters: parameters)
            let (request, _) = try PowerAuthECIES.ClientEncryptor(publicKey: serverKey.publicKey, parameters: parameters)
                .encryptRequest(Array("{}".utf8))

            var bad = request
            bad.ephemeralPublicKey = nil
            #expect(throws: PowerAuthECIESError.invalidRequest("ephemeralPublicKey is missing")) { try server.decryptRequest(bad) }
            bad = request
            bad.nonce = nil
            #expect(throws: PowerAuthECIESError.invalidRequest("nonce is missing")) { try server.decryptRequest(bad) }
            bad = request
            bad.nonce = Array(repeating: 1, count: 15)
            #expect(throws: PowerAuthECIESError.invalidNonce) { try server.decryptRequest(bad) }
            bad = request
            bad.ephemeralPublicKey = Array(repeating: 0, count: 33)
            #expect(throws: PowerAuthECIESError.invalidPublicKey) { try server.decryptRequest(bad) }
            bad = request
            // x = 1 is not the x-coordinate of any P-256 point (x³ − 3x + b is a non-residue mod p).
            bad.ephemeralPublicKey = [0x02] + Array(repeating: 0, count: 31) + [1]
            #expect(throws: PowerAuthECIESError.invalidPublicKey) { try server.decryptRequest(bad) }
            bad = request
            bad.ephemeralPublicKey = [0x04] + Array(repeating: 1, count: 64)
            #expect(throws: PowerAuthECIESError.invalidPublicKey) { try server.decryptRequest(bad) }
            bad = request
            bad.mac = Array(bad.mac.prefix(16))
            #expect(throws: PowerAuthECIESError.invalidMAC) { try server.decryptRequest(bad) }
            bad = request
            bad.encryptedData = []
            #expect(throws: PowerAuthECIESError.invalidMAC) { try server.decryptRequest(bad) }
            if version >= .v3_2 {
                bad = request
                bad.timestamp = nil
                #expect(throws: PowerAuthECIESError.invalidRequest("timestamp is missing")) { try server.decryptRequest(bad) }
            }
            if version == .v3_3 {
                bad = request
                bad.temporaryKeyID = nil
                #expect(throws: PowerAuthECIESError.invalidRequest("temporaryKeyId is missing")) { try server.decryptRequest(bad) }
                bad = request
                bad.temporaryKeyID = "00000000-0000-4000-8000-000000000000"
                #expect(throws: PowerAuthECIESError.temporaryKeyMismatch) { try server.decryptRequest(bad) }
            } else {
                bad = request
                bad.temporaryKeyID = "61376bfb-9988-423b-93d7-9678f1915965"
                #expect(throws: PowerAuthECIESError.invalidRequest("temporaryKeyId is only used from 3.3 on")) { try server.decryptRequest(bad) }
            }
        }
    }

    @Test("a correct MAC over a bad ciphertext (length or padding) gives decryptionFailed, after the MAC")
    func badPaddingBehindValidMAC() throws {
        let vector = try #require(try Self.vectors().first)
        let nonce = try need(vector.request.nonce)
        let sharedInfo2 = vector.parameters.sharedInfo2(nonce: nonce, timestamp: nil, ephemeralPublicKey: vector.request.ephemeralPublicKey)
        for data in [Array(repeating: UInt8(0x41), count: 15), Array(repeating: UInt8(0x41), count: 32)] {
            var forged = vector.request
            forged.encryptedData = data
            forged.mac = Array(HMAC<SHA256>.authenticationCode(for: data + sharedInfo2, using: SymmetricKey(data: vector.envelopeKey.macKey)))
            #expect(throws: PowerAuthECIESError.decryptionFailed) {
                try PowerAuthECIES.decryptRequest(forged, envelopeKey: vector.envelopeKey, parameters: vector.parameters)
            }
        }
    }

    @Test("parameters the reference refuses: 3.0, 3.3 without temporary key, temporary key before 3.3, short transport key")
    func invalidParameters() throws {
        let serverKey = P256.KeyAgreement.PrivateKey()
        func encrypt(_ parameters: PowerAuthECIES.Parameters) throws {
            _ = try PowerAuthECIES.ClientEncryptor(publicKey: serverKey.publicKey, parameters: parameters).encryptRequest([])
        }
        var parameters = Self.parameters(.v3_1, activation: false)
        parameters.version = .v3_0
        #expect(throws: PowerAuthECIESError.unsupportedVersion("3.0")) { try encrypt(parameters) }
        parameters = Self.parameters(.v3_3, activation: false)
        parameters.temporaryKeyID = nil
        #expect(throws: PowerAuthECIESError.invalidParameters("temporary key ID is required in 3.3")) { try encrypt(parameters) }
        parameters = Self.parameters(.v3_2, activation: false)
        parameters.temporaryKeyID = "x"
        #expect(throws: PowerAuthECIESError.invalidParameters("temporary key ID is only used from 3.3 on")) { try encrypt(parameters) }
        parameters = Self.parameters(.v3_2, activation: true)
        parameters.scope = .activation(activationID: Self.activationID, transportKey: [1, 2, 3])
        #expect(throws: PowerAuthECIESError.invalidParameters("transport key must be 16 bytes")) { try encrypt(parameters) }
        #expect(throws: PowerAuthECIESError.invalidParameters("envelope key must be 48 bytes")) { try PowerAuthECIES.EnvelopeKey(bytes: [1]) }
    }

    @Test("JSON bodies: Base64 fields decode like java.util.Base64; garbage is a typed error")
    func jsonBodies() throws {
        let body = try JSONDecoder().decode(
            PowerAuthECIES.EncryptedRequestBody.self,
            from: Data(#"{"ephemeralPublicKey":"AQ","encryptedData":"AAAAAAAAAAAAAAAAAAAAAA","mac":"AA==","nonce":null,"timestamp":5}"#.utf8))
        let cryptogram = try body.cryptogram()
        #expect(cryptogram.ephemeralPublicKey == [1])
        #expect(cryptogram.encryptedData == Array(repeating: 0, count: 16))
        #expect(cryptogram.nonce == nil)
        #expect(cryptogram.timestamp == 5)
        #expect(throws: PowerAuthECIESError.invalidRequest("mac must be Base64")) {
            try PowerAuthECIES.EncryptedRequestBody(encryptedData: "AAAA", mac: "not base64!").cryptogram()
        }
        #expect(throws: PowerAuthECIESError.invalidRequest("encryptedData and mac are required")) {
            try PowerAuthECIES.EncryptedRequestBody(encryptedData: "AAAA").cryptogram()
        }
        #expect(throws: PowerAuthECIESError.invalidResponse("nonce must be Base64")) {
            try PowerAuthECIES.EncryptedResponseBody(encryptedData: "AAAA", mac: "AAAA", nonce: "A").cryptogram()
        }
        #expect(throws: (any Error).self) {
            try JSONDecoder().decode(PowerAuthECIES.EncryptedRequestBody.self, from: Data(#"{"timestamp":-1}"#.utf8))
        }
    }

    @Test("Base64 follows java.util.Base64.getDecoder(): padding optional, nothing after it, no stray characters")
    func javaBase64() {
        #expect(PowerAuthBase64.decode("AAAAAAAAAAAAAAAAAAAAAA") == Array(repeating: 0, count: 16))
        #expect(PowerAuthBase64.decode("AAAAAAAAAAAAAAAAAAAAAA==") == Array(repeating: 0, count: 16))
        #expect(PowerAuthBase64.decode("") == [])
        #expect(PowerAuthBase64.decode("AAA=") == [0, 0])
        #expect(PowerAuthBase64.decode("AAA") == [0, 0])
        #expect(PowerAuthBase64.decode("/w==") == [255])
        for bad in ["A", "AA=", "A===", "AA==A", "AAAA====", " AAAA", "AAAA\n", "AA-_", "AAAA=", "=AAA", "AÀAA"] {
            #expect(PowerAuthBase64.decode(bad) == nil, "\(bad)")
        }
    }
}
