import Foundation
import StrongAuthProtocol
import Testing

/// `HTTPBasic.parse` reads `Authorization: Basic` from its bytes as the Foundation code it
/// replaced did: base64 as `Data(base64Encoded:)` decodes it (never a different answer; only
/// Foundation's odd acceptance of a character after padding is refused), UTF-8 as
/// `String(data:encoding:)` validates it, and the user-id before the first `:` (RFC 7617).
@Suite("HTTP Basic header")
struct HTTPBasicTests {
    @Test("standard padded base64, decoded as Foundation decodes it, for random bytes and random text")
    func base64AgreesWithFoundation() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<64 {
            for _ in 0..<20 {
                let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let encoded = Data(bytes).base64EncodedString()
                #expect(Base64Standard.decode(Array(encoded.utf8)) == bytes, "\(encoded)")
            }
        }
        let alphabet = Array("AQgw+/=Z9a -_\n".utf8)
        for _ in 0..<20_000 {
            let text = String(
                decoding: (0..<Int.random(in: 0...12, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }, as: UTF8.self)
            if let ours = Base64Standard.decode(Array(text.utf8)) {
                #expect(Data(base64Encoded: text).map(Array.init) == ours, "\(text.debugDescription)")
            }
        }
        for refused in ["Q", "QQ", "QQ=", "=", "==", "Q===", "QQ==QQ==", "QQ=A", " QUJD", "QUJD\n", "QU JD", "QUJ-", "QUJ_"] {
            #expect(Base64Standard.decode(Array(refused.utf8)) == nil, "\(refused.debugDescription)")
        }
        #expect(Base64Standard.decode(Array("QR==".utf8)) == [65])  // unused bits are not checked, as Foundation does not
    }

    @Test("the scheme in any case, whitespace around the token, the first colon, UTF-8 only")
    func header() {
        func basic(_ text: String) -> String { Data(text.utf8).base64EncodedString() }
        #expect(HTTPBasic.parse("Basic " + basic("app:secret")) == .credentials(user: "app", password: "secret"))
        #expect(HTTPBasic.parse("bAsIc  \t" + basic("a:b:c") + " ") == .credentials(user: "a", password: "b:c"))
        #expect(HTTPBasic.parse("Basic " + basic(":")) == .credentials(user: "", password: ""))
        #expect(HTTPBasic.parse("Basic " + basic("é😀:\u{301}x")) == .credentials(user: "é😀", password: "\u{301}x"))
        for other in ["Bearer abc", "Basic", "Basicabc", "Basic\tabc", "DPoP abc", "", "Básic abc"] {
            #expect(HTTPBasic.parse(other) == .otherScheme, "\(other)")
        }
        for malformed in [
            "Basic ", "Basic " + basic("no colon"), "Basic !!!!", "Basic " + Data([0x61, 0x3A, 0xFF]).base64EncodedString(), "Basic QQ=",
        ] {
            #expect(HTTPBasic.parse(malformed) == .malformed, "\(malformed)")
        }
    }
}
