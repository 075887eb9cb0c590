import Crypto
import Foundation
import Testing

@testable import StrongAuthCore

/// The audit chain's hash is in every stored event: a change to how it is computed would break
/// every existing log's verification. These values were computed by the first implementation
/// (length-prefixed fields, absent as one NUL byte, details by sorted key).
@Suite("Audit chain hash")
struct AuditChainHashTests {
    static let occurredAt = Date(timeIntervalSince1970: 1_764_950_400.123)

    @Test("pinned values: fields, absent fields, details in key order, non-ASCII text")
    func pinned() {
        let full = AuditRecord(
            actor: "user:ü-1", action: .init(rawValue: "approval.approved"), subject: "approval:a/b", sourceAddress: "203.0.113.7", outcome: .success,
            details: ["zeta": "last", "alpha": "first", "": "empty key", "emoji": "😀"])
        let bare = AuditRecord(actor: "anonymous", action: .loginPassword, outcome: .failure)
        #expect(
            AuditChain.hash(sequence: 1, occurredAt: Self.occurredAt, record: full, previousHash: AuditChain.genesisHash)
                == "a6d3faceafc8a4b4503ace61b9939a851bf5def6f63a3a82f02310b72958c9cd")
        #expect(
            AuditChain.hash(sequence: 9_007_199_254_740_993, occurredAt: Date(timeIntervalSince1970: -1), record: bare, previousHash: "x")
                == "378137f4bdd547a3e3db336806649ed0865c8ab26e0dd83d6dcb8ce7b015b364")
    }

    @Test("the hash is SHA-256 over the length-prefixed fields, as documented")
    func construction() {
        let record = AuditRecord(actor: "a", action: .loginPassword, outcome: .success, details: ["k": "v"])
        var reference = SHA256()
        for field in ["p", "2", "1764950400123", "a", "login.password", nil, nil, "success", "k", "v"] as [String?] {
            let bytes = Array((field ?? "\u{0}").utf8)
            reference.update(data: withUnsafeBytes(of: UInt32(bytes.count).bigEndian) { Array($0) })
            reference.update(data: bytes)
        }
        let expected = reference.finalize().map { String(format: "%02x", $0) }.joined()
        #expect(AuditChain.hash(sequence: 2, occurredAt: Self.occurredAt, record: record, previousHash: "p") == expected)
    }
}
