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
