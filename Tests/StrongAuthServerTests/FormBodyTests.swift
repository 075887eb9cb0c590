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

    /// The parser as it was, over the text's UTF-8 view: the byte-level one must answer exactly as it did.
    private static func parsedByTextSplit(_ body: [UInt8]) throws -> [String: String] {
        guard let text = String(validating: body, as: UTF8.self) else { throw OAuthError.invalidRequest("not UTF-8") }
        var parameters: [String: String] = [:]
        for pair in text.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = FormBody.decodeEscaped(parts[0]), !name.isEmpty,
                let value = parts.count == 2 ? FormBody.decodeEscaped(parts[1]) : ""
            else { throw OAuthError.invalidRequest("malformed") }
            if FormBody.repeatable.contains(name), let earlier = parameters[name] {
                parameters[name] = earlier + "\u{0}" + value
                continue
            }
            guard parameters.updateValue(value, forKey: name) == nil else { throw OAuthError.invalidRequest("repeated") }
        }
        return parameters
    }

    @Test("random bodies parse exactly as splitting the text did: the same parameters, or refused by both")
    func byteParserAgreesWithTextSplit() {
        let pieces: [[UInt8]] = [
            Array("a".utf8), Array("b".utf8), Array("resource".utf8), Array("=".utf8), Array("&".utf8), Array("%".utf8),
            Array("%41".utf8), Array("%C3%BC".utf8), Array("+".utf8), Array("ü".utf8), Array("😀".utf8), [0x09], [0x0A], [0xC3], [0xFF],
            Array("eyJhbGciOiJFUzI1NiJ9".utf8),
        ]
        var bodies: [[UInt8]] = [[], Array("&".utf8), Array("&&a=1&".utf8), Array("=".utf8), Array("a==".utf8)]
        for _ in 0..<5_000 { bodies.append((0..<Int.random(in: 0...10)).flatMap { _ in pieces.randomElement()! }) }
        var parsed = 0
        for body in bodies {
            let expected = try? Self.parsedByTextSplit(body)
            let actual = try? FormBody.parse(ByteBuffer(bytes: body))
            #expect(actual == expected, "\(body)")
            if expected != nil { parsed += 1 }
        }
        // Both kinds of body are drawn: some parse, some are refused.
        #expect(parsed > 100 && parsed < bodies.count - 100)
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
