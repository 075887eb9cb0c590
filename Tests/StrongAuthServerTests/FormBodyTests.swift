import NIOCore
import StrongAuthCore
import Testing

@testable import StrongAuthServer

/// `application/x-www-form-urlencoded` parsing (RFC 6749 Appendix B), byte by byte.
@Suite("Form bodies")
struct FormBodyTests {
    private func parse(_ text: String) throws -> [String: String] {
        try FormBody.parse(ByteBuffer(string: text))
    }

    @Test("percent escapes, + as space, raw UTF-8, empty values and a JWT pass through as sent")
    func decodes() throws {
        let jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln-_"
        #expect(
            try parse("grant_type=password&username=J%C3%BCrgen+M%c3%bcller&password=a%2Bb%26c%3Dd%25&scope=&token=\(jwt)&raw=Grüße\tok")
                == [
                    "grant_type": "password", "username": "Jürgen Müller", "password": "a+b&c=d%", "scope": "",
                    "token": jwt, "raw": "Grüße\tok",
                ])
        #expect(try parse("a=1&&b&c=x=y") == ["a": "1", "b": "", "c": "x=y"])
        #expect(try parse("") == [:])
    }

    @Test(
        "bad escapes, invalid UTF-8, control characters, empty names and repeats are refused",
        arguments: [
            "a=%", "a=%4", "a=%zz", "a=%C3", "a=%FF", "a=%00", "a=x%0Ay", "a=x\ny", "=v", "a=1&a=2", "%41=1&A=2",
        ])
    func refuses(_ body: String) {
        #expect(throws: OAuthError.self) { try parse(body) }
    }

    @Test("a body that is not UTF-8 is refused before any parameter is read")
    func notUTF8() {
        #expect(throws: OAuthError.self) { try FormBody.parse(ByteBuffer(bytes: [0x61, 0x3D, 0xC3, 0x28])) }
    }

    @Test("Basic credentials' components decode the same way, and undecodable ones are kept as sent")
    func components() {
        #expect(FormBody.decode("my%20client") == "my client")
        #expect(FormBody.decode("s3cr%3At") == "s3cr:t")
        #expect(FormBody.decode("100%") == nil)
    }

    @Test("a component decodes the same whether it is taken as it is or byte by byte")
    func plainAndEscapedAgree() {
        let alphabet: [String] = ["a", "Z", "0", "-", "_", ".", "~", "=", "%", "%2", "%2B", "%C3%BC", "%zz", "+", "\t", "\n", "ü", "€", "😀", " "]
        var components: [String] = ["", "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln-_", "client_credentials"]
        for _ in 0..<3_000 { components.append((0..<Int.random(in: 0...8)).map { _ in alphabet.randomElement()! }.joined()) }
        for component in components {
            let substring = Substring(component).utf8
            #expect(FormBody.decode(substring) == FormBody.decodeEscaped(substring), "\(component)")
            #expect(FormBody.decode(Array(component.utf8)) == FormBody.decodeEscaped(Array(component.utf8)), "\(component)")
        }
        // Invalid UTF-8 as it is (no escape) is refused on both paths.
        #expect(FormBody.decode([0x61, 0xC3, 0x28]) == nil && FormBody.decodeEscaped([0x61, 0xC3, 0x28]) == nil)
    }
}
