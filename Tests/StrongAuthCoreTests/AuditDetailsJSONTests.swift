import Foundation
import Testing

@testable import StrongAuthCore

@Suite("Audit details JSON without JSONSerialization")
struct AuditDetailsJSONTests {
    private func reference(_ details: [String: String]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: details, options: [.sortedKeys]), as: UTF8.self)
    }

    private func record(_ details: [String: String]) -> AuditRecord {
        AuditRecord(actor: "user:1", action: .loginPassword, outcome: .failure, details: details)
    }

    @Test("the stored details are byte for byte what JSONSerialization with sorted keys wrote")
    func matchesJSONSerialization() throws {
        let fixed: [[String: String]] = [
            [:], ["consecutive_failures": "3", "locked_until": "2026-12-04T23:04:31Z"],
            ["url": "https://bank.example/callback?a=1&b=2", "reason": "line\nbreak\t\"quoted\" \\ back"],
            ["ümlaut": "Zahlung über 10 €", "emoji": "😀", "control": "\u{1}\u{1F}\u{7F}"],
        ]
        for details in fixed {
            #expect(record(details).detailsJSON == (try reference(details)), "\(details)")
        }
        // Keys that order differently by case, digits, punctuation and length.
        let alphabet = Array("aAbB_-.09zZ/ é")
        for _ in 0..<500 {
            var details: [String: String] = [:]
            for _ in 0..<Int.random(in: 1...6) {
                let key = String((0..<Int.random(in: 1...5)).map { _ in alphabet.randomElement()! })
                details[key] = String((0..<Int.random(in: 0...5)).map { _ in alphabet.randomElement()! })
            }
            #expect(record(details).detailsJSON == (try reference(details)), "\(details)")
        }
    }

    @Test("keys of lowercase letters and underscores, sorted by their bytes, sort as JSONSerialization sorts them")
    func snakeCaseKeysByBytes() throws {
        // Every key up to four characters over letters on both sides of the underscore, and the
        // underscore itself in every position: each pair ordered by bytes as by the collation.
        let alphabet = Array("a_mz")
        var keys: [String] = [""]
        var length = [""]
        for _ in 0..<4 {
            length = length.flatMap { prefix in alphabet.map { prefix + String($0) } }
            keys += length
        }
        keys.removeFirst()
        #expect(keys.allSatisfy(JSONObjectWriter.collatesByBytes))
        for first in keys {
            for second in keys where first != second {
                let collated =
                    first.compare(
                        second, options: [.numeric, .caseInsensitive, .forcedOrdering], range: first.startIndex..<first.endIndex,
                        locale: Locale(identifier: "")) == .orderedAscending
                if collated != first.utf8.lexicographicallyPrecedes(second.utf8) {
                    Issue.record("\(first) and \(second) collate in another order than their bytes")
                }
            }
        }
        // And whole objects of such keys, against JSONSerialization itself.
        for _ in 0..<300 {
            var details: [String: String] = [:]
            for _ in 0..<Int.random(in: 2...8) { details[keys.randomElement()!] = keys.randomElement()! }
            #expect(record(details).detailsJSON == (try reference(details)), "\(details)")
        }
        #expect(!JSONObjectWriter.collatesByBytes("a1") && !JSONObjectWriter.collatesByBytes("aB") && !JSONObjectWriter.collatesByBytes("a-b"))
    }
}

@Suite("Flat JSON string objects read without JSONSerialization")
struct JSONStringObjectReaderTests {
    private func reference(_ text: String) -> [String: String]? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: String]
    }

    @Test("reads what sortedStringObject writes, and what JSONSerialization reads")
    func roundTrip() {
        let alphabet = Array("aZ_09 /\\\"\n\t\u{1}é€😀")
        for _ in 0..<500 {
            var members: [String: String] = [:]
            for _ in 0..<Int.random(in: 0...5) {
                members[String((0..<Int.random(in: 0...4)).map { _ in alphabet.randomElement()! })] =
                    String((0..<Int.random(in: 0...6)).map { _ in alphabet.randomElement()! })
            }
            let text = JSONObjectWriter.sortedStringObject(members)
            #expect(JSONStringObjectReader.read(text) == members, "\(text)")
            #expect(reference(text) == members)
        }
        let texts = [
            #" { "a" : "b" , "c":"\u00e9\ud83d\ude00\/\b\f\n\r\t\"\\" } "#, "{}", " {\n}\n", #"{"a":"1","a":"2"}"#, #"{"k":"\u0000"}"#,
        ]
        for text in texts {
            #expect(JSONStringObjectReader.read(text) != nil, "\(text)")
            #expect(JSONStringObjectReader.read(text) == reference(text), "\(text)")
        }
    }

    @Test("anything but a flat object of strings is nil (the caller asks JSONSerialization)")
    func refusals() {
        for text in [
            "", "[]", #"{"a":1}"#, #"{"a":null}"#, #"{"a":{"b":"c"}}"#, #"{"a":"b",}"#, #"{"a":"b"} x"#, #"{"a":"\ud800"}"#,
            #"{"a":"\udc00x"}"#, #"{"a":"\x"}"#, #"{"a":"\u12"}"#, "{\"a\":\"line\nbreak\"}", #"{"a" "b"}"#, #"{'a':'b'}"#,
        ] {
            #expect(JSONStringObjectReader.read(text) == nil, "\(text)")
        }
    }
}
