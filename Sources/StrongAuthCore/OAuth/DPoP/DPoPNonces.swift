import Crypto
import Foundation
import StrongAuthProtocol

/// Server-provided DPoP nonces (RFC 9449 §8) without state: a nonce is a time step and an HMAC
/// of it under a key every node derives from the hash root, so a nonce one node hands out is
/// accepted by every node until the step after next begins, and nothing is stored.
public struct DPoPNonces: Sendable {
    private let key: SymmetricKey
    /// The length of a time step; a nonce is valid in its step and the next.
    public let step: TimeInterval

    public init(key: SymmetricKey, step: TimeInterval = 300) {
        self.key = key
        self.step = step
    }

    /// The nonce of the step `now` falls in.
    public func current(at now: Date) -> String {
        nonce(forStep: stepNumber(at: now))
    }

    /// Whether `nonce` is this server's nonce of the current or the previous step.
    public func isValid(_ nonce: String, at now: Date) -> Bool {
        guard nonce.utf8.count <= 64, let bytes = Base64URL.decode(nonce), bytes.count == 8 + 16 else { return false }
        let number = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let current = stepNumber(at: now)
        guard number == current || number &+ 1 == current else { return false }
        return ConstantTime.equals(Array(bytes[8...]), mac(forStep: number))
    }

    private func stepNumber(at now: Date) -> UInt64 {
        UInt64(max(0, now.timeIntervalSince1970 / step))
    }

    private func nonce(forStep number: UInt64) -> String {
        Base64URL.encode(bigEndian(number) + mac(forStep: number))
    }

    private func mac(forStep number: UInt64) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array("dpop-nonce:".utf8) + bigEndian(number), using: key).prefix(16))
    }

    private func bigEndian(_ number: UInt64) -> [UInt8] {
        (0..<8).reversed().map { UInt8(truncatingIfNeeded: number >> (UInt64($0) * 8)) }
    }
}
