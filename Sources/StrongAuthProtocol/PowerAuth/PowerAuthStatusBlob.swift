import Crypto
import CryptoExtras
import Foundation

/// The 32-byte activation status blob (protocol 3.1+), AES-128-CBC under the transport key with
/// an IV derived from the request's challenge and the response's nonce.
///
/// Layout: `DEC0DED1` ‖ status ‖ currentVersion ‖ upgradeVersion ‖ 5 random bytes ‖ ctrByte ‖
/// failedAttempts ‖ maxFailedAttempts ‖ ctrLookAhead ‖ ctrDataHash (16).
public struct PowerAuthStatusBlob: Sendable, Equatable {
    public static let magic: [UInt8] = [0xDE, 0xC0, 0xDE, 0xD1]

    public var status: UInt8
    public var currentVersion: UInt8
    public var upgradeVersion: UInt8
    public var counterByte: UInt8
    public var failedAttempts: UInt8
    public var maxFailedAttempts: UInt8
    public var counterLookAhead: UInt8
    public var counterDataHash: [UInt8]

    public init(
        status: UInt8, currentVersion: UInt8, upgradeVersion: UInt8, counterByte: UInt8, failedAttempts: UInt8,
        maxFailedAttempts: UInt8, counterLookAhead: UInt8, counterDataHash: [UInt8]
    ) {
        self.status = status
        self.currentVersion = currentVersion
        self.upgradeVersion = upgradeVersion
        self.counterByte = counterByte
        self.failedAttempts = failedAttempts
        self.maxFailedAttempts = maxFailedAttempts
        self.counterLookAhead = counterLookAhead
        self.counterDataHash = counterDataHash
    }

    /// IV = KDF_INTERNAL(KDF(transportKey, 3000), challenge ‖ nonce).
    public static func iv(transportKey: [UInt8], challenge: [UInt8], nonce: [UInt8]) throws -> [UInt8] {
        PowerAuthKDF.internalKDF(try PowerAuthKDF.derive(transportKey, .statusBlobIV), data: challenge + nonce)
    }

    /// The hash of the server's counter data that lets the device find its counter distance.
    public static func counterDataHash(transportKey: [UInt8], counterData: [UInt8]) throws -> [UInt8] {
        PowerAuthKDF.internalKDF(try PowerAuthKDF.derive(transportKey, .counterDataHash), data: counterData)
    }

    /// The next hash-based counter value: SHA-256 folded to 16 bytes.
    public static func nextCounterData(_ counterData: [UInt8]) -> [UInt8] {
        PowerAuthKDF.fold(Array(SHA256.hash(data: counterData)))
    }

    /// Encrypts the blob (the 5 reserved bytes random).
    public func encrypt(transportKey: [UInt8], challenge: [UInt8], nonce: [UInt8]) throws -> [UInt8] {
        var plain = Self.magic + [status, currentVersion, upgradeVersion] + SecureRandom.bytes(5)
        plain += [counterByte, failedAttempts, maxFailedAttempts, counterLookAhead] + counterDataHash
        let iv = try AES._CBC.IV(ivBytes: try Self.iv(transportKey: transportKey, challenge: challenge, nonce: nonce))
        return Array(try AES._CBC.encrypt(plain, using: SymmetricKey(data: transportKey), iv: iv, noPadding: true))
    }

    /// Decrypts and parses a blob; throws for a wrong key, IV or layout.
    public static func decrypt(_ encrypted: [UInt8], transportKey: [UInt8], challenge: [UInt8], nonce: [UInt8]) throws -> PowerAuthStatusBlob {
        guard encrypted.count == 32 else { throw PowerAuthError.malformedStatusBlob }
        let iv = try AES._CBC.IV(ivBytes: try iv(transportKey: transportKey, challenge: challenge, nonce: nonce))
        let plain = Array(try AES._CBC.decrypt(encrypted, using: SymmetricKey(data: transportKey), iv: iv, noPadding: true))
        guard plain.count == 32, Array(plain.prefix(4)) == magic else { throw PowerAuthError.malformedStatusBlob }
        return PowerAuthStatusBlob(
            status: plain[4], currentVersion: plain[5], upgradeVersion: plain[6], counterByte: plain[12], failedAttempts: plain[13],
            maxFailedAttempts: plain[14], counterLookAhead: plain[15], counterDataHash: Array(plain[16..<32]))
    }
}

/// Malformed PowerAuth structures.
public enum PowerAuthError: Error, Equatable {
    case malformedStatusBlob
    case malformedActivationCode
}
