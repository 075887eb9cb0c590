import Crypto
import Foundation
import Testing

@testable import StrongAuthProtocol

/// A missing vector field: the test fails with which one.
struct MissingVectorField: Error, CustomStringConvertible {
    var description: String
}

/// Unwraps a vector field (a function rather than `#require`, which cannot nest).
func need<T>(_ value: T?, _ location: SourceLocation = #_sourceLocation) throws -> T {
    guard let value else { throw MissingVectorField(description: "missing value at \(location)") }
    return value
}

/// Every PowerAuth 3.x reference vector in `shared/vectors/powerauth/` (wultra/powerauth-crypto).
@Suite("PowerAuth vectors")
struct PowerAuthVectorTests {
    static func cases(_ file: String) throws -> [(input: [String: String], output: [String: String])] {
        let loaded = try TestVectors.load("powerauth/\(file)")
        let json = try need(loaded as? [String: Any])
        let data = try need(json["data"] as? [[String: Any]])
        return try data.map { entry in
            (try need(entry["input"] as? [String: String]), try need(entry["output"] as? [String: String]))
        }
    }

    static func bytes(_ base64: String?) throws -> [UInt8] {
        [UInt8](try need(Data(base64Encoded: try need(base64))))
    }

    /// Java's BigInteger bytes (a sign byte may lead) as a 32-byte scalar.
    static func scalar(_ base64: String?) throws -> [UInt8] {
        let raw = try bytes(base64).drop(while: { $0 == 0 })
        return [UInt8](repeating: 0, count: 32 - raw.count) + raw
    }

    @Test("KDF: master secret → possession, knowledge, biometry, transport, vault keys (20 cases)")
    func derivedKeys() throws {
        let cases = try Self.cases("compute-derived-keys.json")
        #expect(cases.count == 20)
        for (input, output) in cases {
            let keys = try PowerAuthDerivedKeys(masterSecret: try Self.bytes(input["masterSecretKey"]))
            #expect(keys.possession == (try Self.bytes(output["signaturePossessionKey"])))
            #expect(keys.knowledge == (try Self.bytes(output["signatureKnowledgeKey"])))
            #expect(keys.biometry == (try Self.bytes(output["signatureBiometryKey"])))
            #expect(keys.transport == (try Self.bytes(output["transportKey"])))
            #expect(keys.vault == (try Self.bytes(output["vaultEncryptionKey"])))
        }
    }

    @Test("master secret from ECDH, the same from both sides (20 cases)")
    func masterSecret() throws {
        let cases = try Self.cases("compute-master-secret-key.json")
        #expect(cases.count == 20)
        for (input, output) in cases {
            let device = try P256.KeyAgreement.PrivateKey(rawRepresentation: try Self.scalar(input["devicePrivateKey"]))
            let server = try P256.KeyAgreement.PrivateKey(rawRepresentation: try Self.scalar(input["serverPrivateKey"]))
            let serverPublic = try P256.KeyAgreement.PublicKey(x963Representation: try Self.bytes(input["serverPublicKey"]))
            let devicePublic = try P256.KeyAgreement.PublicKey(x963Representation: try Self.bytes(input["devicePublicKey"]))
            let expected = try Self.bytes(output["masterSecretKey"])
            #expect(try PowerAuthDerivedKeys.masterSecret(privateKey: device, publicKey: serverPublic) == expected)
            #expect(try PowerAuthDerivedKeys.masterSecret(privateKey: server, publicKey: devicePublic) == expected)
        }
    }

    func checkSignatures(_ file: String, count: Int, format: (String?) -> PowerAuthSignature.Format) throws {
        let cases = try Self.cases(file)
        #expect(cases.count == count)
        for (input, output) in cases {
            let factors = try need(PowerAuthSignature.factors(of: try need(input["signatureType"])))
            let keys = try factors.map { factor -> [UInt8] in
                switch factor {
                case .possession: try Self.bytes(input["signaturePossessionKey"])
                case .knowledge: try Self.bytes(input["signatureKnowledgeKey"])
                case .biometry: try Self.bytes(input["signatureBiometryKey"])
                }
            }
            let signature = PowerAuthSignature.compute(
                data: try Self.bytes(input["data"]), counterData: try Self.bytes(input["counterData"]), keys: keys,
                format: format(input["signatureComponentLength"]))
            #expect(signature == output["signature"], "\(input["signatureType"] ?? "")")
        }
    }

    @Test("online signatures 3.1+, Base64 (300 cases)")
    func signaturesV31() throws {
        try checkSignatures("signatures-v31.json", count: 300) { _ in .base64 }
    }

    @Test("online signatures 3.0, decimal (300 cases)")
    func signaturesV3() throws {
        try checkSignatures("signatures-v3.json", count: 300) { _ in .decimal(componentLength: 8) }
    }

    @Test("offline signatures, 4–8 digit components (200 cases)")
    func signaturesOffline() throws {
        try checkSignatures("signatures-offline.json", count: 200) { .decimal(componentLength: Int($0 ?? "8") ?? 8) }
    }

    @Test("activation fingerprint (100 cases)")
    func fingerprint() throws {
        let cases = try Self.cases("public-key-fingerprint-v3.json")
        #expect(cases.count == 100)
        for (input, output) in cases {
            let fingerprint = PowerAuthFingerprint.compute(
                devicePublicKey: try P256.KeyAgreement.PublicKey(x963Representation: try Self.bytes(input["devicePublicKey"])),
                activationID: try need(output["activationId"]),
                serverPublicKey: try P256.KeyAgreement.PublicKey(x963Representation: try Self.bytes(input["serverPublicKey"])))
            #expect(fingerprint == output["fingerprint"])
        }
    }

    @Test("status blob IV (32 cases)")
    func statusBlobIV() throws {
        let cases = try Self.cases("activation-status-blob-iv.json")
        #expect(cases.count == 32)
        for (input, output) in cases {
            let iv = try PowerAuthStatusBlob.iv(
                transportKey: try Self.bytes(input["transportKey"]), challenge: try Self.bytes(input["challenge"]),
                nonce: try Self.bytes(input["nonce"]))
            #expect(iv == (try Self.bytes(output["iv"])))
        }
    }

    @Test("status blob content, counter distance and counter-data hash (8 cases); and it round-trips")
    func statusBlobData() throws {
        let cases = try Self.cases("activation-status-blob-data.json")
        #expect(cases.count == 8)
        for (input, output) in cases {
            let transportKey = try Self.bytes(input["transportKey"])
            let challenge = try Self.bytes(input["challenge"])
            let nonce = try Self.bytes(input["nonce"])
            let blob = try PowerAuthStatusBlob.decrypt(
                try Self.bytes(input["encryptedStatusBlob"]), transportKey: transportKey, challenge: challenge, nonce: nonce)
            #expect(String(blob.status) == output["activationStatus"])
            #expect(String(blob.currentVersion) == output["currentVersion"])
            #expect(String(blob.upgradeVersion) == output["upgradeVersion"])
            #expect(String(blob.failedAttempts) == output["failedAttempts"])
            #expect(String(blob.maxFailedAttempts) == output["maxFailedAttempts"])
            #expect(String(blob.counterLookAhead) == output["ctrLookAhead"])
            #expect(String(blob.counterByte) == output["ctrByte"])
            #expect(blob.counterDataHash == (try Self.bytes(output["ctrDataHash"])))
            // The device finds how far the server's counter is ahead of its own.
            var counter = try Self.bytes(input["ctrData"])
            var distance = 0
            while try PowerAuthStatusBlob.counterDataHash(transportKey: transportKey, counterData: counter) != blob.counterDataHash {
                counter = PowerAuthStatusBlob.nextCounterData(counter)
                distance += 1
                if distance > 100 { throw MissingVectorField(description: "no counter within 100 steps matches the hash") }
            }
            #expect(String(distance) == output["counterDistance"])

            let again = try PowerAuthStatusBlob.decrypt(
                try blob.encrypt(transportKey: transportKey, challenge: challenge, nonce: nonce), transportKey: transportKey,
                challenge: challenge, nonce: nonce)
            #expect(again == blob)
        }
    }

    @Test("activation codes: the reference codes' CRC and master-key signatures (20 cases); generated codes are valid")
    func activationCodes() throws {
        let cases = try Self.cases("verify-activation-data-signature-v3.json")
        #expect(cases.count == 20)
        for (input, output) in cases {
            let code = try need(input["activationCode"])
            #expect(PowerAuthActivationCode.isValid(code))
            let masterPublic = try P256.Signing.PublicKey(x963Representation: try Self.bytes(input["masterPublicKey"]))
            #expect(PowerAuthActivationCode.verify(code, signatureBase64: try need(output["activationSignature"]), masterPublicKey: masterPublic))
            #expect(
                !PowerAuthActivationCode.verify(
                    code.lowercased(), signatureBase64: try need(output["activationSignature"]), masterPublicKey: masterPublic))
            // Our own signature with the same master private key verifies too.
            let masterPrivate = try P256.Signing.PrivateKey(rawRepresentation: try Self.scalar(input["masterPrivateKey"]))
            #expect(
                PowerAuthActivationCode.verify(
                    code, signatureBase64: try PowerAuthActivationCode.sign(code, masterKey: masterPrivate), masterPublicKey: masterPublic))
        }
        for _ in 0..<200 {
            let code = PowerAuthActivationCode.generate()
            #expect(PowerAuthActivationCode.isValid(code), "\(code)")
            #expect(code.count == 23)
        }
        #expect(!PowerAuthActivationCode.isValid("GYA4L-D4C7K-OP2NV-USYYA"), "a changed character breaks the checksum")
        #expect(!PowerAuthActivationCode.isValid("GYA4L-D4C7K-OP2NV"))
        #expect(!PowerAuthActivationCode.isValid("GYA4L-D4C7K-OP2NV-USYY1"))
    }

    @Test("CRC-16/ARC check value")
    func crcCheckValue() {
        #expect(PowerAuthActivationCode.crc16ARC(Array("123456789".utf8)) == 0xBB3D)
    }

    @Test("signature types: only possession-led combinations (and single knowledge/biometry) parse")
    func signatureTypes() {
        #expect(PowerAuthSignature.factors(of: "possession_knowledge_biometry") == [.possession, .knowledge, .biometry])
        #expect(PowerAuthSignature.factors(of: "POSSESSION") == [.possession])
        #expect(PowerAuthSignature.factors(of: "knowledge_possession") == nil)
        #expect(PowerAuthSignature.factors(of: "possession_possession") == nil)
        #expect(PowerAuthSignature.factors(of: "password") == nil)
        // Every arrangement of up to three names agrees with the rule the switch spells out.
        func byRule(_ type: String) -> [PowerAuthSignature.Factor]? {
            let names = type.lowercased().split(separator: "_", omittingEmptySubsequences: false).map(String.init)
            let factors = names.compactMap(PowerAuthSignature.Factor.init(rawValue:))
            guard !factors.isEmpty, factors.count == names.count, factors == factors.sorted(), Set(factors).count == factors.count,
                factors.first == .possession || factors == [.knowledge] || factors == [.biometry]
            else { return nil }
            return factors
        }
        let names = ["possession", "knowledge", "biometry", "Knowledge", "password", ""]
        var types = names
        for first in names { for second in names { types.append("\(first)_\(second)") } }
        for first in names { for second in names { for third in names { types.append("\(first)_\(second)_\(third)") } } }
        for type in types {
            #expect(PowerAuthSignature.factors(of: type) == byRule(type), "\(type)")
        }
    }
}
