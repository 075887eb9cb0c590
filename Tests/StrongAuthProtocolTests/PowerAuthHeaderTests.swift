import Crypto
import Foundation
import Testing

@testable import StrongAuthProtocol

/// The three PowerAuth headers, the signature base string, MAC-token digests and the 3.3
/// keystore JWTs. Tolerance and refusals follow the reference parser and validators
/// (wultra/powerauth-crypto `powerauth-java-http`).
@Suite("PowerAuth headers")
struct PowerAuthHeaderTests {
    static let activationID = "7a24c6e9-48e9-43c2-ab4a-aed6270e924d"
    static let applicationKey = "Z19gyYaW5kb521fYWN0aXZ=="
    static let nonce = "kYjzVBB8Y0ZFabxSWbWovY=="
    static let signature = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

    // MARK: X-PowerAuth-Authorization

    @Test("the specification's example parses, although it lacks a comma before pa_signature")
    func specificationExample() throws {
        // docs/Computing-and-Validating-Signatures.md, on one line as it travels.
        let value =
            #"PowerAuth pa_activation_id="7a24c6e9-48e9-43c2-ab4a-aed6270e924d", pa_application_key="Z19gyYaW5kb521fYWN0aXZ==", pa_nonce="kYjzVBB8Y0ZFabxSWbWovY==", pa_signature_type="possession_knowledge" pa_signature="MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", pa_version="3.1""#
        let header = try PowerAuthAuthorizationHeader.parse(value)
        #expect(header.activationID == Self.activationID)
        #expect(header.applicationKey == Self.applicationKey)
        #expect(header.nonce == PowerAuthBase64.decode(Self.nonce))
        #expect(header.signatureType == "possession_knowledge")
        #expect(header.factors == [.possession, .knowledge])
        #expect(header.signature == Self.signature)
        #expect(header.version == .v3_1)
    }

    @Test(
        "whitespace, line breaks, missing commas, missing quotes and field order are tolerated as the reference tolerates them",
        arguments: [
            #"PowerAuth pa_activation_id="{A}", pa_application_key="{K}", pa_nonce="{N}", pa_signature_type="{T}", pa_signature="{S}", pa_version="3.3""#,
            #"  PowerAuth   pa_version="3.3"  pa_signature="{S}" pa_signature_type="{T}" pa_nonce="{N}" pa_application_key="{K}" pa_activation_id="{A}"   "#,
            "PowerAuth pa_activation_id=\"{A}\",\n\tpa_application_key=\"{K}\",\n\tpa_nonce=\"{N}\",\n\tpa_signature_type=\"{T}\"\n\tpa_signature=\"{S}\",\n\tpa_version=\"3.3\"",
            #"PowerAuth pa_activation_id={A} pa_application_key={K} pa_nonce={N} pa_signature_type={T} pa_signature={S} pa_version=3.3"#,
            #"PowerAuth pa_activation_id="{A}",pa_application_key="{K}",pa_nonce="{N}",pa_signature_type="{T}",pa_signature="{S}",pa_version="3.3","#,
            #"PowerAuth pa_unknown="x", pa_activation_id="{A}", pa_application_key="{K}", pa_nonce="{N}", pa_signature_type="{T}", pa_signature="{S}", pa_version="3.3""#,
            #"PowerAuth pa_activation_id="0000", pa_activation_id="{A}", pa_application_key="{K}", pa_nonce="{N}", pa_signature_type="{T}", pa_signature="{S}", pa_version="3.3""#,
        ])
    func tolerantSyntax(template: String) throws {
        let header = try PowerAuthAuthorizationHeader.parse(Self.fill(template))
        #expect(header.activationID == Self.activationID)
        #expect(header.nonce == PowerAuthBase64.decode(Self.nonce))
        #expect(header.factors == [.possession, .knowledge])
        #expect(header.signatureType == "POSSESSION_KNOWLEDGE")
        #expect(header.signature == Self.signature)
        #expect(header.version == .v3_3)
    }

    static func fill(_ template: String) -> String {
        template.replacingOccurrences(of: "{A}", with: activationID).replacingOccurrences(of: "{K}", with: applicationKey)
            .replacingOccurrences(of: "{N}", with: nonce).replacingOccurrences(of: "{T}", with: "POSSESSION_KNOWLEDGE")
            .replacingOccurrences(of: "{S}", with: signature)
    }

    @Test("unquoted values followed by a comma keep the comma (the reference's regex does the same) and are refused")
    func unquotedWithCommas() {
        let value = Self.fill(
            #"PowerAuth pa_activation_id={A}, pa_application_key={K}, pa_nonce={N}, pa_signature_type={T}, pa_signature={S}, pa_version=3.3"#)
        #expect(throws: PowerAuthHeaderError(kind: .invalid, field: "pa_activation_id", code: "POWER_AUTH_ACTIVATION_ID_INVALID")) {
            try PowerAuthAuthorizationHeader.parse(value)
        }
        #expect(PowerAuthHeaderSyntax.fields(of: value)?["pa_activation_id"] == Self.activationID + ",")
        #expect(PowerAuthHeaderSyntax.fields(of: value)?["pa_version"] == "3.3")
    }

    @Test("a built header parses back to itself")
    func buildAndParse() throws {
        let header = PowerAuthAuthorizationHeader(
            activationID: Self.activationID, applicationKey: Self.applicationKey, nonce: SecureRandom.bytes(16),
            signatureType: "possession_biometry", signature: "12345678-87654321", version: .v3_0)
        #expect(try PowerAuthAuthorizationHeader.parse(header.headerValue) == header)
    }

    static func authorization(replacing field: String, with value: String?) -> String {
        var fields: [(String, String)] = [
            ("pa_activation_id", activationID), ("pa_application_key", applicationKey), ("pa_nonce", nonce),
            ("pa_signature_type", "possession_knowledge"), ("pa_signature", signature), ("pa_version", "3.2"),
        ]
        if let index = fields.firstIndex(where: { $0.0 == field }) {
            if let value { fields[index].1 = value } else { fields.remove(at: index) }
        }
        return "PowerAuth " + fields.map { "\($0.0)=\"\($0.1)\"" }.joined(separator: ", ")
    }

    @Test(
        "malformed authorization headers are refused with the reference's codes",
        arguments: [
            ("pa_activation_id", nil, PowerAuthHeaderError.Kind.missing, "POWER_AUTH_ACTIVATION_ID_EMPTY"),
            ("pa_activation_id", "not-a-uuid", .invalid, "POWER_AUTH_ACTIVATION_ID_INVALID"),
            ("pa_activation_id", "7a24c6e9-48e9-63c2-ab4a-aed6270e924d", .invalid, "POWER_AUTH_ACTIVATION_ID_INVALID"),
            ("pa_nonce", nil, .missing, "POWER_AUTH_NONCE_EMPTY"),
            ("pa_nonce", "AAAAAAAAAAAAAAAAAAAA", .invalid, "POWER_AUTH_NONCE_INVALID"),
            ("pa_nonce", "AAAAAAAAAAAAAAAAAAAAAAAA", .invalid, "POWER_AUTH_NONCE_INVALID"),
            ("pa_nonce", "kYjzVBB8Y0ZFabxSWbWov!==", .invalid, "POWER_AUTH_NONCE_INVALID"),
            ("pa_signature_type", nil, .missing, "POWER_AUTH_SIGNATURE_TYPE_EMPTY"),
            ("pa_signature_type", "knowledge_biometry", .invalid, "POWER_AUTH_SIGNATURE_TYPE_INVALID"),
            ("pa_signature_type", "possession_possession", .invalid, "POWER_AUTH_SIGNATURE_TYPE_INVALID"),
            ("pa_signature_type", "fido2", .invalid, "POWER_AUTH_SIGNATURE_TYPE_INVALID"),
            ("pa_signature", nil, .missing, "POWER_AUTH_SIGNATURE_EMPTY"),
            ("pa_signature", "1234567", .invalid, "POWER_AUTH_SIGNATURE_INVALID"),
            ("pa_signature", "1234567a", .invalid, "POWER_AUTH_SIGNATURE_INVALID"),
            ("pa_signature", "MDEyMzQ1Njc4OWFiY2RlZg=", .invalid, "POWER_AUTH_SIGNATURE_INVALID"),
            ("pa_application_key", nil, .missing, "POWER_AUTH_APPLICATION_EMPTY"),
            ("pa_application_key", "AAAA", .invalid, "POWER_AUTH_APPLICATION_INVALID"),
            ("pa_version", nil, .missing, "POWER_AUTH_SIGNATURE_VERSION_EMPTY"),
            ("pa_version", "3.4", .invalid, "POWER_AUTH_SIGNATURE_VERSION_INVALID"),
            ("pa_version", "4.0", .invalid, "POWER_AUTH_SIGNATURE_VERSION_INVALID"),
            ("pa_version", "2.1", .invalid, "POWER_AUTH_SIGNATURE_VERSION_INVALID"),
        ] as [(String, String?, PowerAuthHeaderError.Kind, String)])
    func malformedAuthorization(field: String, value: String?, kind: PowerAuthHeaderError.Kind, code: String) {
        let header = Self.authorization(replacing: field, with: value)
        #expect(throws: PowerAuthHeaderError(kind: kind, field: field, code: code)) { try PowerAuthAuthorizationHeader.parse(header) }
    }

    @Test("the first failing field is reported, in the reference's order, and values never reach the description")
    func firstFailureWins() {
        let header = #"PowerAuth pa_activation_id="secret-not-a-uuid", pa_nonce="!", pa_version="9.9""#
        do {
            _ = try PowerAuthAuthorizationHeader.parse(header)
            Issue.record("accepted a malformed header")
        } catch {
            #expect(error.code == "POWER_AUTH_ACTIVATION_ID_INVALID")
            #expect(!error.description.contains("secret"))
        }
    }

    @Test(
        "garbage and other schemes are refused",
        arguments: ["", "   ", "PowerAuth", "Bearer abc", "powerauth pa_version=\"3.1\"", "PowerAuthpa_version=\"3.1\""])
    func garbage(value: String) {
        #expect(throws: PowerAuthHeaderError.self) { try PowerAuthAuthorizationHeader.parse(value) }
        #expect(throws: PowerAuthHeaderError.self) { try PowerAuthTokenHeader.parse(value) }
        #expect(throws: PowerAuthHeaderError.self) { try PowerAuthEncryptionHeader.parse(value, scope: .application) }
    }

    @Test("a value without the PowerAuth prefix is .notPowerAuth")
    func notPowerAuth() {
        #expect(throws: PowerAuthHeaderError(kind: .notPowerAuth, field: "X-PowerAuth-Authorization", code: "POWER_AUTH_SIGNATURE_INVALID_EMPTY")) {
            try PowerAuthAuthorizationHeader.parse("Basic dXNlcjpwYXNz")
        }
    }

    // MARK: X-PowerAuth-Token

    @Test("token header parses, builds and round-trips")
    func tokenHeader() throws {
        let digest = SecureRandom.bytes(32)
        let value =
            #"PowerAuth token_id="d6561669-34d6-4fee-8913-89477687a5cb", token_digest=""#
            + PowerAuthBase64.encode(digest) + #"", nonce="kYjzVBB8Y0ZFabxSWbWovY==", timestamp="1691762307382", version="3.2""#
        let header = try PowerAuthTokenHeader.parse(value)
        #expect(header.tokenID == "d6561669-34d6-4fee-8913-89477687a5cb")
        #expect(header.tokenDigest == digest)
        #expect(header.timestamp == 1_691_762_307_382)
        #expect(header.version == .v3_2)
        #expect(try PowerAuthTokenHeader.parse(header.headerValue) == header)
    }

    @Test(
        "malformed token headers are refused",
        arguments: [
            ("token_id", nil, PowerAuthHeaderError.Kind.missing, "POWER_AUTH_TOKEN_ID_EMPTY"),
            ("token_id", "abc", .invalid, "POWER_AUTH_TOKEN_ID_INVALID"),
            ("token_digest", nil, .missing, "POWER_AUTH_TOKEN_DIGEST_EMPTY"),
            ("token_digest", "kYjzVBB8Y0ZFabxSWbWovY==", .invalid, "POWER_AUTH_TOKEN_DIGEST_INVALID"),
            ("nonce", nil, .missing, "POWER_AUTH_TOKEN_NONCE_EMPTY"),
            ("nonce", "AAAA", .invalid, "POWER_AUTH_TOKEN_NONCE_INVALID"),
            ("timestamp", nil, .missing, "POWER_AUTH_TOKEN_TIMESTAMP_EMPTY"),
            ("timestamp", "12345678", .invalid, "POWER_AUTH_TOKEN_TIMESTAMP_INVALID"),
            ("timestamp", "1234567890123456", .invalid, "POWER_AUTH_TOKEN_TIMESTAMP_INVALID"),
            ("timestamp", "-691762307382", .invalid, "POWER_AUTH_TOKEN_TIMESTAMP_INVALID"),
            ("version", nil, .missing, "POWER_AUTH_TOKEN_VERSION_EMPTY"),
            ("version", "3.9", .invalid, "POWER_AUTH_TOKEN_VERSION_INVALID"),
        ] as [(String, String?, PowerAuthHeaderError.Kind, String)])
    func malformedToken(field: String, value: String?, kind: PowerAuthHeaderError.Kind, code: String) {
        var fields: [(String, String)] = [
            ("token_id", "d6561669-34d6-4fee-8913-89477687a5cb"), ("token_digest", PowerAuthBase64.encode(Array(repeating: 1, count: 32))),
            ("nonce", Self.nonce), ("timestamp", "1691762307382"), ("version", "3.3"),
        ]
        if let index = fields.firstIndex(where: { $0.0 == field }) {
            if let value { fields[index].1 = value } else { fields.remove(at: index) }
        }
        let header = "PowerAuth " + fields.map { "\($0.0)=\"\($0.1)\"" }.joined(separator: ", ")
        #expect(throws: PowerAuthHeaderError(kind: kind, field: field, code: code)) { try PowerAuthTokenHeader.parse(header) }
    }

    // MARK: X-PowerAuth-Encryption

    @Test("encryption header: activation_id required in activation scope, refused in application scope")
    func encryptionHeader() throws {
        let application = #"PowerAuth version="3.2", application_key="UNfS0VZX3JhbmRvbQ==""#
        let activation = #"PowerAuth version="3.2", application_key="UNfS0VZX3JhbmRvbQ==", activation_id="c564e700-7e86-4a87-b6c8-a5a0cc89683f""#
        // The example key in End-To-End-Encryption.md decodes to 13 bytes: the reference validator refuses it too.
        #expect(throws: PowerAuthHeaderError(kind: .invalid, field: "application_key", code: "POWER_AUTH_ENCRYPTION_APPLICATION_KEY_INVALID")) {
            try PowerAuthEncryptionHeader.parse(application, scope: .application)
        }
        let key = PowerAuthBase64.encode(Array(repeating: 9, count: 16))
        let good = application.replacingOccurrences(of: "UNfS0VZX3JhbmRvbQ==", with: key)
        let goodActivation = activation.replacingOccurrences(of: "UNfS0VZX3JhbmRvbQ==", with: key)
        let parsed = try PowerAuthEncryptionHeader.parse(good, scope: .application)
        #expect(parsed == PowerAuthEncryptionHeader(applicationKey: key, version: .v3_2))
        #expect(try PowerAuthEncryptionHeader.parse(parsed.headerValue, scope: .application) == parsed)
        let scoped = try PowerAuthEncryptionHeader.parse(goodActivation, scope: .activation)
        #expect(scoped.activationID == "c564e700-7e86-4a87-b6c8-a5a0cc89683f")
        #expect(try PowerAuthEncryptionHeader.parse(scoped.headerValue, scope: .activation) == scoped)
        #expect(throws: PowerAuthHeaderError(kind: .unexpected, field: "activation_id", code: "POWER_AUTH_ENCRYPTION_ACTIVATION_ID_NOT_EXPECTED")) {
            try PowerAuthEncryptionHeader.parse(goodActivation, scope: .application)
        }
        #expect(throws: PowerAuthHeaderError(kind: .missing, field: "activation_id", code: "POWER_AUTH_ENCRYPTION_ACTIVATION_ID_MISSING")) {
            try PowerAuthEncryptionHeader.parse(good, scope: .activation)
        }
        #expect(throws: PowerAuthHeaderError(kind: .invalid, field: "activation_id", code: "POWER_AUTH_ENCRYPTION_ACTIVATION_ID_INVALID")) {
            try PowerAuthEncryptionHeader.parse(good + #", activation_id="x""#, scope: .activation)
        }
        #expect(throws: PowerAuthHeaderError(kind: .invalid, field: "version", code: "POWER_AUTH_ENCRYPTION_VERSION_INVALID")) {
            try PowerAuthEncryptionHeader.parse(good.replacingOccurrences(of: "3.2", with: "3.5"), scope: .application)
        }
        #expect(throws: PowerAuthHeaderError(kind: .missing, field: "application_key", code: "POWER_AUTH_ENCRYPTION_APPLICATION_KEY_EMPTY")) {
            try PowerAuthEncryptionHeader.parse(#"PowerAuth version="3.2""#, scope: .application)
        }
    }

    // MARK: Base string and token digest

    @Test("signature base string: METHOD&B64(uriId)&B64(nonce)&B64(body)&APP_SECRET (layout of PowerAuthHttpBody, not a KAT)")
    func baseString() {
        let nonce: [UInt8] = Array(0..<16)
        let data = PowerAuthSignature.baseString(
            method: "post", uriID: "/pa/activation/remove", nonce: nonce, body: Array(#"{"a":1}"#.utf8), applicationSecret: "c2VjcmV0")
        #expect(data == "POST&L3BhL2FjdGl2YXRpb24vcmVtb3Zl&AAECAwQFBgcICQoLDA0ODw==&eyJhIjoxfQ==&c2VjcmV0")
        #expect(
            PowerAuthSignature.requestData(method: "GET", uriID: "/x", nonce: nonce, body: [])
                == "GET&L3g=&AAECAwQFBgcICQoLDA0ODw==&")
        #expect(
            PowerAuthSignature.baseString(
                method: "GET", uriID: "/x", nonce: nonce, body: [], applicationSecret: PowerAuthSignature.offlineApplicationSecret
            )
            .hasSuffix("&&offline"))
    }

    @Test("base string feeds the signature: a vector-checked signature of the normalized data verifies")
    func baseStringSignsWithExistingSignature() throws {
        let keys = [Array(repeating: UInt8(1), count: 16), Array(repeating: UInt8(2), count: 16)]
        let counter = Array(repeating: UInt8(3), count: 16)
        let header = try PowerAuthAuthorizationHeader.parse(Self.authorization(replacing: "pa_version", with: "3.2"))
        let data = Array(
            PowerAuthSignature.baseString(method: "POST", uriID: "/pa/token/create", nonce: header.nonce, body: [], applicationSecret: "s").utf8)
        let expected = PowerAuthSignature.compute(data: data, counterData: counter, keys: keys, format: .base64)
        let tampered = Array(
            PowerAuthSignature.baseString(method: "POST", uriID: "/pa/token/remove", nonce: header.nonce, body: [], applicationSecret: "s").utf8)
        #expect(
            !PowerAuthSignature.matches(
                PowerAuthSignature.compute(data: tampered, counterData: counter, keys: keys, format: .base64), expected: expected))
    }

    @Test("token digest: HMAC(secret, nonce&timestamp) for 3.0/3.1, with &version from 3.2 (TokenUtils layout)")
    func tokenDigest() {
        let secret = Array(repeating: UInt8(0x42), count: 16)
        let nonce = Array(repeating: UInt8(0x07), count: 16)
        let timestamp: UInt64 = 1_691_762_307_382
        func hmac(_ data: [UInt8]) -> [UInt8] { Array(HMAC<SHA256>.authenticationCode(for: data, using: SymmetricKey(data: secret))) }
        #expect(
            PowerAuthTokenDigest.compute(tokenSecret: secret, nonce: nonce, timestamp: timestamp, version: .v3_1)
                == hmac(nonce + Array("&1691762307382".utf8)))
        #expect(
            PowerAuthTokenDigest.compute(tokenSecret: secret, nonce: nonce, timestamp: timestamp, version: .v3_2)
                == hmac(nonce + Array("&1691762307382&3.2".utf8)))
        #expect(
            PowerAuthTokenDigest.compute(tokenSecret: secret, nonce: nonce, timestamp: timestamp, version: .v3_3)
                == hmac(nonce + Array("&1691762307382&3.3".utf8)))
        let header = PowerAuthTokenHeader(
            tokenID: "d6561669-34d6-4fee-8913-89477687a5cb",
            tokenDigest: PowerAuthTokenDigest.compute(tokenSecret: secret, nonce: nonce, timestamp: timestamp, version: .v3_3), nonce: nonce,
            timestamp: timestamp, version: .v3_3)
        #expect(PowerAuthTokenDigest.verify(header, tokenSecret: secret))
        var replayedAsOtherVersion = header
        replayedAsOtherVersion.version = .v3_2
        #expect(!PowerAuthTokenDigest.verify(replayedAsOtherVersion, tokenSecret: secret))
        var otherTime = header
        otherTime.timestamp += 1
        #expect(!PowerAuthTokenDigest.verify(otherTime, tokenSecret: secret))
    }

    // MARK: 3.3 keystore JWTs

    @Test("keystore: request JWT (HS256) and response JWT (ES256) round-trip, application and activation scope")
    func temporaryKeyRoundTrip() throws {
        let secret = "uBKPNFUtJdVzbuGz2dtGwA=="
        let transportKey = Array(repeating: UInt8(5), count: 16)
        let serverKey = P256.Signing.PrivateKey()
        for activationID in [nil, "c564e700-7e86-4a87-b6c8-a5a0cc89683f"] as [String?] {
            let signingKey =
                activationID == nil
                ? try PowerAuthTemporaryKey.applicationSigningKey(applicationSecret: secret)
                : try PowerAuthTemporaryKey.activationSigningKey(applicationSecret: secret, transportKey: transportKey)
            let request = PowerAuthTemporaryKey.Request(
                applicationKey: "d6J5L+nc0/72WugcmfetYA==", activationID: activationID, challenge: PowerAuthTemporaryKey.Request.randomChallenge())
            let jwt = try PowerAuthTemporaryKey.makeRequestJWT(request, signingKey: signingKey, issuedAt: 1_700_000_000)

            let unverified = try PowerAuthTemporaryKey.parseRequestJWT(jwt)
            #expect(unverified.request == request)
            #expect(try unverified.verify(signingKey: signingKey) == request)
            #expect(throws: PowerAuthJWTError.invalidSignature) { try unverified.verify(signingKey: Array(repeating: 0, count: 16)) }

            let temporary = P256.KeyAgreement.PrivateKey()
            let grant = PowerAuthTemporaryKey.Grant(
                keyID: "61376bfb-9988-423b-93d7-9678f1915965", applicationKey: request.applicationKey, activationID: activationID,
                challenge: request.challenge, publicKey: Array(temporary.publicKey.x963Representation), issuedAt: 1_700_000_000_123,
                expiresAt: 1_700_000_300_123)
            let response = try PowerAuthTemporaryKey.makeResponseJWT(grant, signingKey: serverKey)
            #expect(try PowerAuthTemporaryKey.verifyResponseJWT(response, publicKey: serverKey.publicKey, request: request) == grant)
            let claims = try need(
                JSONSerialization.jsonObject(with: Data(try need(Base64URL.decode(String(response.split(separator: ".")[1]))))) as? [String: Any])
            #expect(claims["iat"] as? Int == 1_700_000_000 && claims["exp_ms"] as? Int == 1_700_000_300_123)
            #expect((claims["activationId"] != nil) == (activationID != nil))

            var otherRequest = request
            otherRequest.challenge = "other"
            #expect(throws: PowerAuthJWTError.claimMismatch) {
                try PowerAuthTemporaryKey.verifyResponseJWT(response, publicKey: serverKey.publicKey, request: otherRequest)
            }
            #expect(throws: PowerAuthJWTError.invalidSignature) {
                try PowerAuthTemporaryKey.verifyResponseJWT(response, publicKey: P256.Signing.PrivateKey().publicKey, request: request)
            }
        }
    }

    @Test("keystore signing keys: decoded app secret; activation scope KDF_INTERNAL(transportKey, decoded secret)")
    func temporaryKeySigningKeys() throws {
        let secret = "uBKPNFUtJdVzbuGz2dtGwA=="
        let decoded = try need(PowerAuthBase64.decode(secret))
        #expect(try PowerAuthTemporaryKey.applicationSigningKey(applicationSecret: secret) == decoded)
        let transportKey = Array(repeating: UInt8(5), count: 16)
        let mac = Array(HMAC<SHA256>.authenticationCode(for: decoded, using: SymmetricKey(data: transportKey)))
        #expect(
            try PowerAuthTemporaryKey.activationSigningKey(applicationSecret: secret, transportKey: transportKey)
                == (0..<16).map { mac[$0] ^ mac[$0 + 16] })
        #expect(throws: PowerAuthJWTError.invalidKey) { try PowerAuthTemporaryKey.activationSigningKey(applicationSecret: secret, transportKey: [1]) }
        #expect(throws: PowerAuthJWTError.invalidKey) { try PowerAuthTemporaryKey.applicationSigningKey(applicationSecret: "#") }
    }

    @Test("keystore JWTs refuse algorithm confusion, alg none, and garbage")
    func temporaryKeyAlgorithms() throws {
        let key = Array(repeating: UInt8(1), count: 16)
        let request = PowerAuthTemporaryKey.Request(applicationKey: "k", challenge: "c")
        let hs256 = try PowerAuthTemporaryKey.makeRequestJWT(request, signingKey: key, issuedAt: 0)
        // An HS256 token offered where ES256 is expected.
        #expect(throws: PowerAuthJWTError.unexpectedAlgorithm) {
            try PowerAuthTemporaryKey.verifyResponseJWT(hs256, publicKey: P256.Signing.PrivateKey().publicKey, request: request)
        }
        // alg "none" with an empty signature, and an ES256 token where HS256 is expected.
        let parts = hs256.split(separator: ".").map(String.init)
        let none = Base64URL.encode(Array(#"{"alg":"none"}"#.utf8)) + "." + parts[1] + "."
        #expect(throws: PowerAuthJWTError.unexpectedAlgorithm) { try PowerAuthTemporaryKey.parseRequestJWT(none).verify(signingKey: key) }
        let es256 = Base64URL.encode(Array(#"{"alg":"ES256"}"#.utf8)) + "." + parts[1] + "." + parts[2]
        #expect(throws: PowerAuthJWTError.unexpectedAlgorithm) { try PowerAuthTemporaryKey.parseRequestJWT(es256).verify(signingKey: key) }
        for garbage in ["", "a.b", "a.b.c.d", "!!.!!.!!", parts[0] + ".e30." + parts[2]] {
            #expect(throws: PowerAuthJWTError.malformed, "\(garbage)") { try PowerAuthTemporaryKey.parseRequestJWT(garbage) }
        }
    }

    @Test("3.3 end to end: temporary key from the keystore JWT encrypts, the server decrypts with the stored private key")
    func temporaryKeyWithECIES() throws {
        let temporary = P256.KeyAgreement.PrivateKey()
        let master = P256.Signing.PrivateKey()
        let request = PowerAuthTemporaryKey.Request(applicationKey: "d6J5L+nc0/72WugcmfetYA==", challenge: "c")
        let grant = PowerAuthTemporaryKey.Grant(
            keyID: "61376bfb-9988-423b-93d7-9678f1915965", applicationKey: request.applicationKey, activationID: nil, challenge: "c",
            publicKey: Array(temporary.publicKey.x963Representation), issuedAt: 1, expiresAt: 2)
        let received = try PowerAuthTemporaryKey.verifyResponseJWT(
            try PowerAuthTemporaryKey.makeResponseJWT(grant, signingKey: master), publicKey: master.publicKey, request: request)
        let parameters = PowerAuthECIES.Parameters(
            version: .v3_3, sharedInfo1: PowerAuthECIES.SharedInfo1.applicationScopeGeneric, applicationKey: request.applicationKey,
            applicationSecret: "uBKPNFUtJdVzbuGz2dtGwA==", scope: .application, temporaryKeyID: received.keyID)
        let (encrypted, _) = try PowerAuthECIES.ClientEncryptor(
            publicKey: try PowerAuthECIES.publicKey(fromSEC1: received.publicKey), parameters: parameters
        ).encryptRequest(Array("{}".utf8))
        #expect(encrypted.temporaryKeyID == grant.keyID)
        #expect(
            try PowerAuthECIES.ServerDecryptor(privateKey: temporary, parameters: parameters).decryptRequest(encrypted).plaintext == Array("{}".utf8))
    }
}
