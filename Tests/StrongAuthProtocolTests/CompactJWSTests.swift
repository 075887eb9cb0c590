import StrongAuthProtocol
import Testing

@Suite("Compact JWS syntax (RFC 7515 §7.1)")
struct CompactJWSTests {
    @Test("three base64url segments are split and decoded once; the signing input is the first two as sent")
    func splits() throws {
        // RFC 7515 Appendix A.1's header and payload, and a made-up signature.
        let compact =
            "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.AQID"
        let jws = try #require(CompactJWS(compact))
        #expect(String(decoding: jws.header, as: UTF8.self) == "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}")
        #expect(String(decoding: jws.payload, as: UTF8.self).hasPrefix("{\"iss\":\"joe\""))
        #expect(jws.signature == [1, 2, 3])
        #expect(jws.signingInput == Array(compact.split(separator: ".").prefix(2).joined(separator: ".").utf8))
    }

    @Test("anything but three base64url segments is refused", arguments: ["", "a.b", "a.b.c.d", "a.b.c!", "a+.b.c", "e30.e30.e30.", "....."])
    func refuses(_ compact: String) {
        #expect(CompactJWS(compact) == nil)
    }

    @Test("empty segments are syntax (an unsecured JWS's empty signature); the callers refuse them")
    func emptySegments() {
        #expect(CompactJWS("e30.e30.")?.signature == [])
    }
}
