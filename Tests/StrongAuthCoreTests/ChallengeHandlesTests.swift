import Crypto
import Testing

@testable import StrongAuthCore

/// Decoy challenge handles (ABN AMRO face): what a handle seals opens again only for
/// its session and key, and a handle looks like any other 40-digit one.
@Suite("Decoy challenge handles")
struct ChallengeHandlesTests {
    static let handles = ChallengeHandles(key: SymmetricKey(data: [UInt8](repeating: 7, count: 32)))

    @Test("a decoy opens to what was sealed, for its session only; real, altered and other-key handles open to nothing")
    func sealAndOpen() throws {
        for usage in AccessToolUsage.allCases {
            let decoy = ChallengeHandles.Decoy(issuedAt: 1_796_000_123, accountNumber: "0123456789", cardNumber: "123", usage: usage)
            let handle = try #require(Self.handles.seal(decoy, sessionID: "session-a"))
            #expect(handle.count == 40 && handle.first == "1" && handle.allSatisfy(\.isNumber))
            #expect(Self.handles.open(handle, sessionID: "session-a", now: 1_796_000_125) == decoy)
            #expect(Self.handles.open(handle, sessionID: "session-b", now: 1_796_000_125) == nil, "another session")
            let other = ChallengeHandles(key: SymmetricKey(data: [UInt8](repeating: 8, count: 32)))
            #expect(other.open(handle, sessionID: "session-a", now: 1_796_000_125) == nil, "another key")
            var altered = Array(handle)
            altered[20] = altered[20] == "0" ? "1" : "0"
            #expect(Self.handles.open(String(altered), sessionID: "session-a", now: 1_796_000_125) == nil, "one digit changed")
        }
        #expect(Self.handles.open(ChallengeHandles.random(), sessionID: "session-a", now: 1_796_000_125) == nil, "a real handle")
        #expect(Self.handles.open("123", sessionID: "session-a", now: 1_796_000_125) == nil)
    }

    @Test("two decoys for the same account in the same second differ")
    func decoysDiffer() throws {
        let decoy = ChallengeHandles.Decoy(
            issuedAt: 1_796_000_123, accountNumber: "0123456789", cardNumber: "123", usage: AccessToolUsage.allCases[0])
        let first = try #require(Self.handles.seal(decoy, sessionID: "s"))
        let second = try #require(Self.handles.seal(decoy, sessionID: "s"))
        #expect(first != second)
    }
}
