import Foundation
import PropertyBased
import Testing

@testable import StrongAuthProtocol

/// The PowerAuth header parser is a linear scanner. It must give exactly the reference
/// expression's matches (checked against a regex engine running that expression on many random
/// small inputs), refuse an oversized value before reading it, and read 64 KB of any adversarial
/// shape in one pass (the old backtracking expression needed over ten seconds for one of them;
/// this file runs dozens, so it would take many minutes on the old parser; nothing is timed).
@Suite("PowerAuth header scanner")
struct PowerAuthHeaderScannerTests {
    /// The reference's parse as the regex engine runs it (the old implementation): the oracle.
    static func oracle(_ header: String) -> [String: String]? {
        let trimmed = PowerAuthHeaderSyntax.javaTrim(header)
        guard trimmed.hasPrefix(PowerAuthHeaderSyntax.prefix) else { return nil }
        let body = PowerAuthHeaderSyntax.javaTrim(String(trimmed.dropFirst(PowerAuthHeaderSyntax.prefix.count)))
        let regex = try! NSRegularExpression(pattern: PowerAuthHeaderSyntax.pattern)
        let string = body as NSString
        var result: [String: String] = [:]
        for match in regex.matches(in: body, range: NSRange(location: 0, length: string.length)) {
            result[string.substring(with: match.range(at: 1))] = string.substring(with: match.range(at: 2))
        }
        return result
    }

    /// PropertyBased's xoshiro256**, seeded, so a failure names an input that can be replayed.
    typealias SeededGenerator = Xoshiro

    @Test("the scanner finds exactly the reference expression's fields on 30 000 random headers of its syntax's characters")
    func scannerEqualsTheExpression() {
        // Every character class the expression distinguishes: word characters, `=`, quotes, commas,
        // each of Java's `\s`, control characters trimmed but not `\s`, other ASCII, and
        // multi-byte characters (two-byte, and outside the BMP: two UTF-16 units, four UTF-8 bytes).
        let alphabet: [String] = ["a", "b", "Z", "_", "7", "=", "\"", ",", " ", "\t", "\n", "\u{0B}", "\u{0C}", "\r", "\u{01}", "-", "é", "😀"]
        var generator = SeededGenerator(seed: (15, 1, 2, 3))
        var mismatches: [String] = []
        for _ in 0..<30_000 {
            let length = Int.random(in: 0...24, using: &generator)
            let body = (0..<length).map { _ in alphabet.randomElement(using: &generator)! }.joined()
            let header = "PowerAuth " + body
            if PowerAuthHeaderSyntax.fields(of: header) != Self.oracle(header) { mismatches.append(header) }
        }
        #expect(mismatches.isEmpty, "first mismatches: \(mismatches.prefix(5).map { $0.debugDescription })")
    }

    @Test(
        "the tolerant forms and the edge cases of the expression, one by one, as the regex engine reads them",
        arguments: [
            #"PowerAuth a="b" c="d""#, #"PowerAuth a=b,c=d"#, #"PowerAuth a="" b="c""#, #"PowerAuth a="""#, #"PowerAuth a=""#, "PowerAuth a=\" b",
            #"PowerAuth a="b c="d""#, #"PowerAuth a=""b"" c=d"#, #"PowerAuth x a==b =c= d="e"#, "PowerAuth a=\"b\nc\" d=e\u{01}",
            "  PowerAuth \t a=b \u{02}", "PowerAuth", "PowerAuth ", "powerauth a=b", "Bearer a=b", #"PowerAuth é=1 aé=2 a=é"😀" b=😀"#,
        ])
    func edgeCases(header: String) {
        #expect(PowerAuthHeaderSyntax.fields(of: header) == Self.oracle(header))
    }

    // MARK: 64 KB

    static let size = 64 * 1024

    /// 64 KB built by repeating `unit`.
    static func repeated(_ unit: String) -> String {
        String(repeating: unit, count: size / unit.utf8.count + 1)
    }

    /// The shapes that make a backtracking engine retry: long word runs (every start rescans the
    /// run), unclosed quotes (the lookahead rescans to the end), quote runs, separators only,
    /// multi-byte text, and keys without values.
    static let shapes: [String] = [
        "a", "=", "\"", ",", "\t", "a=", "a=\"", "a=\"b ", "a=\"b,", "a=a", "a==\"", "a=\"\" ", "\"a", "é", "😀", "a\t", "a,", "_1",
    ]

    @Test("64 KB of each adversarial shape in each of the three headers is refused as too long, naming the header", arguments: shapes)
    func oversizedHeadersAreRefusedUnread(unit: String) {
        let value = "PowerAuth " + Self.repeated(unit)
        #expect(throws: PowerAuthHeaderError(kind: .tooLong, field: "X-PowerAuth-Authorization", code: "POWER_AUTH_SIGNATURE_INVALID_EMPTY")) {
            try PowerAuthAuthorizationHeader.parse(value)
        }
        #expect(throws: PowerAuthHeaderError(kind: .tooLong, field: "X-PowerAuth-Token", code: "POWER_AUTH_TOKEN_INVALID_EMPTY")) {
            try PowerAuthTokenHeader.parse(value)
        }
        for scope in [PowerAuthEncryptorScope.application, .activation] {
            #expect(throws: PowerAuthHeaderError(kind: .tooLong, field: "X-PowerAuth-Encryption", code: "POWER_AUTH_ENCRYPTION_INVALID_EMPTY")) {
                try PowerAuthEncryptionHeader.parse(value, scope: scope)
            }
        }
        // The cap counts bytes, not characters: without the prefix it is still refused as too long.
        #expect(throws: PowerAuthHeaderError.self) { try PowerAuthTokenHeader.parse(Self.repeated(unit)) }
    }

    @Test("a header of exactly the cap is read; one byte more is refused")
    func capBoundary() throws {
        let token = PowerAuthTokenHeader(
            tokenID: "7a24c6e9-48e9-43c2-ab4a-aed6270e924d", tokenDigest: Array(repeating: 1, count: 32), nonce: Array(repeating: 2, count: 16),
            timestamp: 1_700_000_000_000, version: .v3_2)
        let padded = token.headerValue + String(repeating: " ", count: PowerAuthHeaderSyntax.maxHeaderBytes - token.headerValue.utf8.count)
        #expect(try PowerAuthTokenHeader.parse(padded) == token)
        #expect(throws: PowerAuthHeaderError(kind: .tooLong, field: "X-PowerAuth-Token", code: "POWER_AUTH_TOKEN_INVALID_EMPTY")) {
            try PowerAuthTokenHeader.parse(padded + " ")
        }
    }

    @Test("the uncapped scanner reads 64 KB of each adversarial shape in one pass, with the expression's result", arguments: shapes)
    func scannerIsLinear(unit: String) {
        let junk = Self.repeated(unit)
        let fields = PowerAuthHeaderSyntax.fields(of: "PowerAuth " + junk)
        switch unit {
        case "a", "=", "\"", ",", "\"a", "é", "😀", "a\t", "a,", "_1": #expect(fields == [:])
        case "\t": #expect(fields == nil)  // trimmed to `PowerAuth`, which lacks the prefix's space
        case "a=": #expect(fields == ["a": String(junk.dropFirst(2))])
        case "a=\"": #expect(fields == ["a": "a="])  // `a="a="a=…`: each value runs between two quotes
        case "a=\"b ": #expect(fields?["a"] == "b" || fields?["a"] == "b a=")
        case "a=\"b,": #expect(fields?["a"] == "b," || fields?["a"] == "b,a=")
        case "a=a": #expect(fields == ["a": String(junk.dropFirst(2))])
        case "a==\"": #expect(fields == ["a": String(junk.dropFirst(2))])
        case "a=\"\" ": #expect(fields?["a"] == "\"" || fields?["a"] == " a=")
        default: Issue.record("no expectation for \(unit.debugDescription)")
        }
        // A genuine header followed by the junk keeps its fields (the junk's keys are not its).
        let token = PowerAuthTokenHeader(
            tokenID: "7a24c6e9-48e9-43c2-ab4a-aed6270e924d", tokenDigest: Array(repeating: 1, count: 32), nonce: Array(repeating: 2, count: 16),
            timestamp: 1_700_000_000_000, version: .v3_2)
        let combined = PowerAuthHeaderSyntax.fields(of: token.headerValue + " " + junk)
        #expect(combined?["token_id"] == token.tokenID && combined?["version"] == "3.2" && combined?["timestamp"] == "1700000000000")
    }
}
