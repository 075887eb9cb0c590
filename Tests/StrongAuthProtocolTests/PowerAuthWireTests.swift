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

    /// Java's `URLEncoder.encode(_, UTF_8)` leaves only ASCII letters and digits as they are:
    /// every other character is its UTF-8 bytes percent-encoded, whatever Unicode calls it.
    /// And `String.compareTo` orders by UTF-16 code units, so a character outside the Basic
    /// Multilingual Plane (a surrogate pair, D800–DFFF) sorts before U+E000–U+FFFF.
    @Test("non-ASCII letters and digits are percent-encoded as UTF-8, and sorted as Java sorts (UTF-16 code units)")
    func canonicalQueryBeyondASCII() {
        #expect(PowerAuthSignature.canonicalQuery(["k": "é"]) == "k=%C3%A9")
        #expect(PowerAuthSignature.canonicalQuery(["ü": "٣"]) == "%C3%BC=%D9%A3")
        #expect(PowerAuthSignature.canonicalQuery(["k": "Ａ"]) == "k=%EF%BC%A1")
        #expect(PowerAuthSignature.canonicalQuery(["\u{FF61}": "1", "\u{1F600}": "2"]) == "%F0%9F%98%80=2&%EF%BD%A1=1")
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
