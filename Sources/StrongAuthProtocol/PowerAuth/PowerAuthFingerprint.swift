import Crypto
import Foundation

/// The 8-digit activation fingerprint both sides show the user to confirm an untampered key
/// exchange: SHA-256(X(devicePub) ‖ UTF8(activationId) ‖ X(serverPub)), X as an unsigned big
/// integer without leading zero bytes; last 4 bytes big-endian & 0x7FFFFFFF mod 10^8.
public enum PowerAuthFingerprint {
    public static func compute(devicePublicKey: P256.KeyAgreement.PublicKey, activationID: String, serverPublicKey: P256.KeyAgreement.PublicKey)
        -> String
    {
        func x(_ key: P256.KeyAgreement.PublicKey) -> [UInt8] {
            Array(Array(key.rawRepresentation.prefix(32)).drop(while: { $0 == 0 }))
        }
        let digest = Array(SHA256.hash(data: x(devicePublicKey) + Array(activationID.utf8) + x(serverPublicKey)))
        let tail = digest.suffix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) } & 0x7FFF_FFFF
        let number = String(tail % 100_000_000)
        return String(repeating: "0", count: 8 - number.count) + number
    }
}
