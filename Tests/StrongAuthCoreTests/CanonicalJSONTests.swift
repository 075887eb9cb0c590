import Foundation
import PropertyBased
import StrongAuthProtocol
import Testing

@testable import StrongAuthCore

/// The canonical form payloads are bound in must not change by a byte (tokens in flight were
/// bound to it): `CanonicalJSON.write`, from the bytes parser's tree, must write exactly what
/// `JSONSerialization` with sorted keys wrote, or leave the document to it.
@Suite("Canonical JSON: the bytes writer agrees with JSONSerialization")
struct CanonicalJSONTests {
    /// PropertyBased's xoshiro256**, seeded, so that a failure can be replayed.
    typealias Generator = Xoshiro

    /// Keys mostly of letters (mixed case: the writer's case), sometimes with what only the
    /// collation orders (digits, `_`, `-`, non-ASCII) or equal but for case.
    static func key(_ random: inout Generator) -> String {
        let letters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        var key = String((0..<(1 + random.below(9))).map { _ in random.pick(letters) })
        switch random.below(12) {
        case 0: key += String(random.below(120))
        case 1: key = "_" + key
        case 2: key += "-x"
        case 3: key += "é"
        case 4: key = key.uppercased()
        default: break
        }
        return key
    }

    /// A JSON string literal: plain text, escapes of every kind, non-ASCII, control characters.
    static func stringLiteral(_ random: inout Generator) -> String {
        let pieces = [
            "a", "Z", " ", "0", "/", "\\/", "\\\"", "\\\\", "\\n", "\\t", "\\b", "\\f", "\\r", "\\u0001", "\\u001f", "\\u00e9", "é", "😀",
            "\\ud83d\\ude00", "\u{7f}", "\u{2028}", "€", "BANK_TRANSFER", "Invoice 12",
        ]
        return "\"" + (0..<random.below(8)).map { _ in random.pick(pieces) }.joined() + "\""
    }

    static func number(_ random: inout Generator) -> String {
        switch random.below(10) {
        case 0: return "9223372036854775807"
        case 1: return "-9223372036854775808"
        case 2: return "1.5"
        case 3: return "1e3"
        case 4: return "-0"
        case 5: return "18446744073709551616"
        default: return String(Int64(bitPattern: random.next()) >> Int64(random.below(63)))
        }
    }

    static func value(_ random: inout Generator, depth: Int) -> String {
        switch depth > 3 ? random.below(4) : random.below(7) {
        case 0: return stringLiteral(&random)
        case 1: return number(&random)
        case 2: return random.pick(["true", "false", "null"])
        case 3: return stringLiteral(&random)
        case 4, 5:
            var keys: [String] = []
            for _ in 0..<random.below(6) {
                let key = key(&random)
                if !keys.contains(key) { keys.append(key) }
            }
            return "{" + keys.map { "\"\($0)\":" + value(&random, depth: depth + 1) }.joined(separator: ",") + "}"
        default:
            return "[" + (0..<random.below(4)).map { _ in value(&random, depth: depth + 1) }.joined(separator: ", ") + "]"
        }
    }

    @Test("on 5,000 generated documents, every one the writer takes is byte for byte JSONSerialization's; most are taken")
    func agreesWithFoundation() throws {
        var random = Generator(seed: (0x5EED, 1, 2, 3))
        var written = 0
        for _ in 0..<5000 {
            let text = Self.value(&random, depth: 0)
            let bytes = Array(text.utf8)
            let parsed = bytes.withUnsafeBufferPointer { buffer in
                var parser = JSONBytesParser(bytes: buffer)
                return parser.document()
            }
            let foundation = try CanonicalJSON.foundation(try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]))
            guard let parsed, let fast = CanonicalJSON.write(parsed) else { continue }
            written += 1
            #expect(fast == foundation, "\(text)")
        }
        // The writer's share: documents without a fraction, an exponent or a key it leaves.
        #expect(written > 2000)
    }

    @Test("Shine's payload: written by the bytes writer, as JSONSerialization did")
    func shinePayload() throws {
        let text = #"{"uid":"alice","amount":234,"bankTransferRecipientId":"BANK_TRANSFER_RECIPIENT_ID","note":"a\/b \u00e9"}"#
        let expected = #"{"amount":234,"bankTransferRecipientId":"BANK_TRANSFER_RECIPIENT_ID","note":"a/b é","uid":"alice"}"#
        let parsed = try #require(
            Array(text.utf8).withUnsafeBufferPointer { buffer in
                var parser = JSONBytesParser(bytes: buffer)
                return parser.document()
            })
        #expect(CanonicalJSON.write(parsed) == expected)
        #expect(try CanonicalJSON.foundation(try JSONSerialization.jsonObject(with: Data(text.utf8))) == expected)
        // Keys the collation orders (digits: `item2` before `item10`) are left to JSONSerialization.
        let numbered = try #require(
            Array(#"{"item10":1,"item2":2}"#.utf8).withUnsafeBufferPointer { buffer in
                var parser = JSONBytesParser(bytes: buffer)
                return parser.document()
            })
        #expect(CanonicalJSON.write(numbered) == nil)
    }
}

extension Xoshiro {
    /// A number in `0..<bound`.
    fileprivate mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    fileprivate mutating func pick<T>(_ choices: [T]) -> T { choices[below(choices.count)] }
}
