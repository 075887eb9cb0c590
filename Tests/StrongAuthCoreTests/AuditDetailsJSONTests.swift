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
