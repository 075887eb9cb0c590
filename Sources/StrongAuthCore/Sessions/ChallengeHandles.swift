import Crypto
import CryptoExtras
import Foundation
import StrongAuthProtocol

/// Challenge handles, and the decoy challenges that need no row (SECURITY.md).
///
/// Every handle is `1` followed by 39 decimal digits: a 128-bit number. A real challenge's is
/// random; its row is what makes it answerable. A decoy's (the challenge an unknown account/card,
/// or a known user without the access tool, is given) is the encryption of what it was issued
/// for — the second, the account, the card, the access tool usage, 19 random bits — with a 32-bit tag that
/// binds it to the session that asked. So nothing is stored for a decoy (the number of decoys is
/// not bounded by a table, only by the rate limit, and costs no row), yet its answer is checked
/// as a real one's is: the session, the numbers, the tool, the lifetime. Any node with the same
/// master key opens it. The cipher is one AES-256 block (swift-crypto's AES block function: the
/// handle is exactly 128 bits), a pseudorandom permutation, so without the key a decoy's handle
/// cannot be told from a random one.
struct ChallengeHandles: Sendable {
    /// What a decoy challenge was issued for.
    struct Decoy: Equatable {
        /// Seconds since 1970 (fits 32 bits until 2106); a handle carries its low 24 bits.
        var issuedAt: UInt32
        /// Ten digits, zero-padded.
        var accountNumber: String
        /// Without leading zeros.
        var cardNumber: String
        var usage: AccessToolUsage
    }

    private let key: SymmetricKey

    init(key: SymmetricKey) { self.key = key }

    /// A real challenge's handle: 128 random bits.
    static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        return format(UInt128(generator.next() as UInt64) << 64 | UInt128(generator.next() as UInt64))
    }

    /// The handle of a decoy challenge issued to `sessionID`. The 96 bits under the tag are the
    /// second of issue (mod 2²⁴, about 194 days), the account (34 bits), the card (17), the usage
    /// (2) and 19 random bits, so two decoys for the same account in the same second differ.
    func seal(_ decoy: Decoy, sessionID: String) -> String? {
        guard let account = UInt64(decoy.accountNumber), account < 1 << 34, let card = UInt64(decoy.cardNumber), card < 1 << 17,
            let usage = AccessToolUsage.allCases.firstIndex(of: decoy.usage)
        else { return nil }
        var generator = SystemRandomNumberGenerator()
        let random: UInt64 = generator.next() & 0x7_FFFF
        var fields = UInt128(decoy.issuedAt & 0xFF_FFFF) << 72
        fields |= UInt128(account) << 38
        fields |= UInt128(card) << 21
        fields |= UInt128(usage) << 19 | UInt128(random)
        let upper = Self.bytes(fields)[4..<16]
        let value = Self.number(Array(upper) + tag(Array(upper), sessionID: sessionID))
        guard let sealed = encrypt(value) else { return nil }
        return Self.format(sealed)
    }

    /// The decoy a handle names for `sessionID`, its second of issue the latest one at or before
    /// `now` (+2 s for clocks of other nodes) with those low 24 bits; `nil` for any other handle (a
    /// real one, one of another session, a made-up one: its tag does not match but with
    /// probability 2⁻³²).
    func open(_ handle: String, sessionID: String, now: UInt32) -> Decoy? {
        let digits = handle.utf8
        guard digits.count == 40, digits.first == UInt8(ascii: "1"), let value = UInt128(handle.dropFirst()) else { return nil }
        guard let decrypted = decrypt(value) else { return nil }
        let payload = Self.bytes(decrypted)
        guard ConstantTime.equals(Array(payload[12..<16]), tag(Array(payload[0..<12]), sessionID: sessionID)) else { return nil }
        let fields = Self.number(Array(payload[0..<12]))
        let usage = Int(fields >> 19 & 3)
        guard usage < AccessToolUsage.allCases.count else { return nil }
        let low = UInt32(truncatingIfNeeded: fields >> 72) & 0xFF_FFFF
        let ahead = (low &- now) & 0xFF_FFFF
        let issuedAt = ahead <= 2 ? now &+ ahead : now &- ((now &- low) & 0xFF_FFFF)
        let account = String(UInt64(truncatingIfNeeded: fields >> 38) & (1 << 34 - 1))
        return Decoy(
            issuedAt: issuedAt, accountNumber: String(repeating: "0", count: max(0, 10 - account.count)) + account,
            cardNumber: String(UInt64(truncatingIfNeeded: fields >> 21) & (1 << 17 - 1)), usage: AccessToolUsage.allCases[usage])
    }

    // MARK: The cipher

    private func tag(_ payload: [UInt8], sessionID: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array("tag:\(sessionID):".utf8) + payload, using: key).prefix(4))
    }

    /// One AES block over the 128-bit number (the key is 256 bits); `nil` only if the library
    /// refused the block, which a 16-byte block and a 32-byte key never are.
    private func encrypt(_ value: UInt128) -> UInt128? {
        var block = Self.bytes(value)
        guard (try? AES.permute(&block, key: key)) != nil else { return nil }
        return Self.number(block)
    }

    private func decrypt(_ value: UInt128) -> UInt128? {
        var block = Self.bytes(value)
        guard (try? AES.inversePermute(&block, key: key)) != nil else { return nil }
        return Self.number(block)
    }

    // MARK: Numbers and bytes

    private static func format(_ value: UInt128) -> String {
        let digits = String(value)
        return "1" + String(repeating: "0", count: 39 - digits.count) + digits
    }

    private static func bytes(_ value: UInt64, count: Int) -> [UInt8] {
        (0..<count).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
    }

    private static func bytes(_ value: UInt128) -> [UInt8] {
        bytes(UInt64(truncatingIfNeeded: value >> 64), count: 8) + bytes(UInt64(truncatingIfNeeded: value), count: 8)
    }

    private static func number(_ bytes: [UInt8]) -> UInt128 {
        bytes.reduce(UInt128(0)) { $0 << 8 | UInt128($1) }
    }
}
