import Crypto

/// StrongAuth's `BOUNDDEVICE_*` login and scenario challenges (docs/sessions.md). ABN AMRO does not
/// publish this scheme, so it is ours, in the same field-list encoding as `SOFTTOKEN`:
///
/// `{1: purpose ("1" login, "2" scenario), 2: 8 random bytes, 3: 4 random bytes, 8: userId,
///   10: SHA-256 of the scenario (scenarios only), 0: ""}`
///
/// A device bound with a P-256 key (docs/devices.md) answers with its ECDSA-SHA256 signature over the
/// challenge bytes (hex, DER or raw r‖s). The purpose, the user and the scenario's hash are
/// inside what is signed, so a login signature can never sign a scenario, and a scenario
/// signature covers exactly the data shown (dynamic linking, PSD2 RTS art. 5).
public enum BoundDeviceScheme {
    /// What a challenge is for.
    public enum Purpose: UInt8, Sendable {
        case login = 1
        case scenario = 2

        var wire: [UInt8] { Array(String(rawValue).utf8) }
    }

    /// Field id of the scenario hash.
    public static let scenarioHashField: UInt8 = 10

    /// The challenge device details of the bound-device tools (kinnay/ABN-Amro wiki).
    public static let userPINDetails = "/schemes/ATT_9_62/CH_1"
    public static let touchIDPINDetails = "/schemes/ATT_9_66/CH_1"

    /// The challenge bytes a device signs.
    public static func challenge(
        purpose: Purpose, nonce8: [UInt8], nonce4: [UInt8], userID: String, scenarioHash: [UInt8]? = nil
    ) throws -> [UInt8] {
        var fields: [(id: UInt8, value: [UInt8])] = [
            (SoftTokenScheme.Field.version, purpose.wire), (SoftTokenScheme.Field.nonce8, nonce8),
            (SoftTokenScheme.Field.nonce4, nonce4), (SoftTokenScheme.Field.userID, Array(userID.utf8)),
        ]
        if let scenarioHash { fields.append((scenarioHashField, scenarioHash)) }
        return try LoginTLV.encode(fields)
    }

    /// Whether `signatureHex` is the device's signature over `challenge`.
    public static func verify(signatureHex: String, challenge: [UInt8], publicKey: P256.Signing.PublicKey) -> Bool {
        P256Codec.verify(signatureHex: signatureHex, message: challenge, publicKey: publicKey)
    }
}
