import Foundation
import Testing

@testable import StrongAuthProtocol

/// The byte-level routines that replaced Foundation calls on the request path: each gives what
/// the Foundation call gave.
@Suite("Request-path encodings: randomness, identifiers, whitespace, base64url, timestamps")
struct RequestPathEncodingTests {
    @Test("SecureRandom.bytes returns the requested count, and the draws differ")
    func randomBytes() {
        for count in [0, 1, 15, 16, 32, 255, 256, 257, 1000] {
            #expect(SecureRandom.bytes(count).count == count)
        }
        #expect(SecureRandom.bytes(-1).isEmpty)
        let draws = (0..<200).map { _ in SecureRandom.bytes(16) }
        #expect(Set(draws).count == draws.count)
        // Every byte value turns up in 64 KiB (a generator stuck on a few values would not).
        #expect(Set(SecureRandom.bytes(65536)).count == 256)
    }

    @Test("SecureRandom.uuid is lowercase RFC 9562 version 4 text, never repeated")
    func uuids() throws {
        let identifiers = (0..<2000).map { _ in SecureRandom.uuid() }
        #expect(Set(identifiers).count == identifiers.count)
        let pattern = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
        for identifier in identifiers {
            #expect(identifier.wholeMatch(of: pattern) != nil, "\(identifier)")
            // Foundation reads it as the same UUID (what `UUID().uuidString.lowercased()` gave).
            let parsed = try #require(UUID(uuidString: identifier))
            #expect(parsed.uuidString.lowercased() == identifier)
        }
        // Every one of the 122 random bits varies across the draws.
        let hexDigits = identifiers.map { Array($0.replacing("-", with: "")) }
        for position in 0..<32 where position != 12 {
            #expect(Set(hexDigits.map { $0[position] }).count > 1)
        }
    }

    @Test("SecureRandom.timeOrderedUUID is RFC 9562 version 7 text: the time in milliseconds, then 74 random bits")
    func timeOrderedUUIDs() throws {
        // RFC 9562 appendix A.6's time: 2022-02-22 14:22:22 −05:00 is 0x017F22E279B0 ms.
        let milliseconds: UInt64 = 0x017F_22E2_79B0
        let identifiers = (0..<2000).map { _ in SecureRandom.timeOrderedUUID(milliseconds: milliseconds) }
        #expect(Set(identifiers).count == identifiers.count)
        let pattern = /^017f22e2-79b0-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
        for identifier in identifiers {
            #expect(identifier.wholeMatch(of: pattern) != nil, "\(identifier)")
            let parsed = try #require(UUID(uuidString: identifier))
            #expect(parsed.uuidString.lowercased() == identifier)
        }
        // Every random position varies (not the time, the version, or the variant's two bits).
        let hexDigits = identifiers.map { Array($0.replacing("-", with: "")) }
        for position in 13..<32 where position != 16 {
            #expect(Set(hexDigits.map { $0[position] }).count > 1)
        }
        // Later milliseconds sort after earlier ones, as text too (what keeps an index's inserts at its end).
        let earlier = SecureRandom.timeOrderedUUID(milliseconds: milliseconds)
        let later = SecureRandom.timeOrderedUUID(milliseconds: milliseconds + 1)
        #expect(earlier < later)
    }

    @Test("trimmingHTTPWhitespace drops spaces and tabs at both ends only")
    func httpWhitespace() {
        #expect("  Bearer abc \t".trimmingHTTPWhitespace() == "Bearer abc")
        #expect("\tapplication/json".trimmingHTTPWhitespace() == "application/json")
        #expect("a b".trimmingHTTPWhitespace() == "a b")
        #expect(" \t ".trimmingHTTPWhitespace() == "")
        #expect("".trimmingHTTPWhitespace() == "")
        #expect(" é ".trimmingHTTPWhitespace() == "é")
        #expect(" 日本 ".trimmingHTTPWhitespace() == "日本")
        #expect("\nx\r".trimmingHTTPWhitespace() == "\nx\r")  // not HTTP whitespace
        let line = "text/html; charset=utf-8"
        #expect(line.split(separator: ";")[1].trimmingHTTPWhitespace() == "charset=utf-8")
        // The same as Foundation's trimming for every ASCII text made of spaces, tabs and letters.
        let alphabet: [Character] = [" ", "\t", "a", "B"]
        for length in 0...6 {
            for _ in 0..<50 {
                let text = String((0..<length).map { _ in alphabet.randomElement()! })
                #expect(text.trimmingHTTPWhitespace() == Substring(text.trimmingCharacters(in: .whitespaces)), "\(text.debugDescription)")
            }
        }
    }

    @Test("Base64URL encodes and decodes as the Foundation-based version did")
    func base64urlMatchesFoundation() {
        func reference(_ bytes: [UInt8]) -> String {
            Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }
        func referenceDecode(_ string: String) -> [UInt8]? {
            var base64 = string.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            base64 = base64.replacingOccurrences(of: "=", with: "")
            while base64.count % 4 != 0 { base64.append("=") }
            return Data(base64Encoded: base64).map { [UInt8]($0) }
        }
        for length in 0..<100 {
            let bytes = SecureRandom.bytes(length)
            let encoded = Base64URL.encode(bytes)
            #expect(encoded == reference(bytes))
            #expect(Base64URL.decode(encoded) == bytes)
            #expect(Base64URL.decode(encoded + "==") == bytes)
        }
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")
        for _ in 0..<2000 {
            let text = String((0..<Int.random(in: 0...9)).map { _ in alphabet.randomElement()! })
            #expect(Base64URL.decode(text) == referenceDecode(text), "\(text)")
        }
        #expect(Base64URL.decode("a") == nil)
        #expect(Base64URL.decode("abcde") == nil)
        #expect(Base64URL.decode("ab c") == nil)
        #expect(Base64URL.decode("ab+c") == nil)
        #expect(Base64URL.decode("é") == nil)
    }

    @Test("InternetTimestamp writes what ISO8601DateFormatter wrote, with and without fractional seconds")
    func timestampsMatchFormatter() {
        let whole = ISO8601DateFormatter()
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var dates: [Date] = [
            Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: -0.0005), Date(timeIntervalSince1970: -1),
            Date(timeIntervalSince1970: 0.9999), Date(timeIntervalSince1970: 1.001), Date(timeIntervalSince1970: 951_782_400),  // 2000-02-29
            Date(timeIntervalSince1970: 4_107_542_399.999), Date(timeIntervalSince1970: -12_212_553_600),  // 1583-01-01
            Date(timeIntervalSince1970: 253_402_300_799.999), Date(timeIntervalSince1970: 253_402_300_800),  // 10000-01-01
            Date(timeIntervalSince1970: -12_219_292_800), Date(timeIntervalSinceReferenceDate: 0.1), Date(),  // the Gregorian switch
        ]
        for _ in 0..<3000 {
            dates.append(Date(timeIntervalSince1970: Double.random(in: -12_212_553_600...253_402_300_799)))
            dates.append(Date(timeIntervalSince1970: Double.random(in: 1_500_000_000...2_500_000_000)))
            dates.append(Date(timeIntervalSince1970: Double(Int.random(in: 1_500_000_000...2_500_000_000)) + Double(Int.random(in: 0...999)) / 1000))
        }
        for date in dates {
            #expect(InternetTimestamp.string(from: date) == whole.string(from: date), "\(date.timeIntervalSince1970)")
            #expect(InternetTimestamp.string(from: date, fractionalSeconds: true) == fractional.string(from: date), "\(date.timeIntervalSince1970)")
        }
    }
}
