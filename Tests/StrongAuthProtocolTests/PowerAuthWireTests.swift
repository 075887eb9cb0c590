import Foundation
import Testing

@testable import StrongAuthProtocol

/// The wire rules server and SDK share: the GET canonical form and the ECIES plaintexts.
@Suite("PowerAuth wire: canonical query, encrypted payloads")
struct PowerAuthWireTests {
    @Test("GET parameters: sorted by name then value, form-encoded (space as +, - . _ * kept), joined by &")
    func canonicalQuery() {
        #expect(PowerAuthSignature.canonicalQuery([:]) == "")
        #expect(PowerAuthSignature.canonicalQuery(["b": "2", "a": "1"]) == "a=1&b=2")
        #expect(PowerAuthSignature.canonicalQuery(["q": "a b&c=d"]) == "q=a+b%26c%3Dd")
        #expect(PowerAuthSignature.canonicalQuery(["k": "-._*~/"]) == "k=-._*%7E%2F")
        #expect(PowerAuthSignature.canonicalQuery(["a b": "x"]) == "a+b=x")
    }

    @Test("absent optionals are omitted, as the reference omits nulls; the document's level 1 example decodes")
    func payloads() throws {
        let encoded = try JSONEncoder().encode(PowerAuthPayloads.ActivationLayer2Response(activationId: "a", serverPublicKey: "b", ctrData: "c"))
        let object = try JSONSerialization.jsonObject(with: encoded) as? [String: Any]
        #expect(Set(object?.keys.map { $0 } ?? []) == ["activationId", "serverPublicKey", "ctrData"])

        let level1 = Data(
            #"{"type": "CODE", "identityAttributes": {"code": "VVVVV-VVVVV-VVVVV-VTFVA"}, "customAttributes": {"n": 1, "s": "x", "o": {"l": [true, null]}}, "activationData": {"encryptedData": "AA==", "mac": "AA=="}}"#
                .utf8)
        let decoded = try JSONDecoder().decode(PowerAuthPayloads.ActivationLayer1Request.self, from: level1)
        #expect(decoded.identityAttributes?["code"] == "VVVVV-VVVVV-VVVVV-VTFVA")
        #expect(decoded.customAttributes?["o"] == .object(["l": .array([.bool(true), .null])]))
        #expect(decoded.activationData?.encryptedData == "AA==")
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(PowerAuthPayloads.ActivationLayer2Request.self, from: Data(#"{"activationName": "x"}"#.utf8))
        }
    }
}
