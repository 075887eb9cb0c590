import Crypto
import CryptoExtras
import Foundation

/// ABN AMRO's `SOFTTOKEN` login scheme (`/schemes/ATT_5_55/CH_1`), as publicly documented
/// (kinnay/ABN-Amro wiki "Authorization Challenge"; the clients djc/abna and kinnay/ABN-Amro):
///
/// - challenge: fields 2 (8 random bytes), 3 (4 random bytes), 4 (RSA-2048 modulus, 256 bytes),
///   5 (public exponent 65537), sent as hex;
/// - response: hex of RSA PKCS#1 v1.5 encryption under that key of the fields
///   {1: "1", 2: f2, 3: f3, 8: userId, 9: identification code}.
///
/// PKCS#1 v1.5 encryption is what the published clients do; it is weak against padding oracles,
/// which is why the server answers every failure the same way and limits answers to 3 per tool.
///
/// Scenarios (ours; the public clients only log in): a scenario challenge also carries field 10,
/// the SHA-256 of the scenario's name and canonical data, and the answer must contain the same
/// field 10 inside the encryption — so the answer covers the data the client computed the hash
/// of, not only a link the server keeps (dynamic linking, RTS art. 5). Login
/// challenges and answers are unchanged.
public enum SoftTokenScheme {
    /// The challenge device details the ABN AMRO login protocol names for `SOFTTOKEN`.
    public static let challengeDeviceDetails = "/schemes/ATT_5_55/CH_1"
    /// Field ids of the challenge and the response.
    public enum Field {
        public static let version: UInt8 = 1
        public static let nonce8: UInt8 = 2
        public static let nonce4: UInt8 = 3
        public static let modulus: UInt8 = 4
        public static let exponent: UInt8 = 5
        public static let userID: UInt8 = 8
        public static let identificationCode: UInt8 = 9
        /// Scenarios only: SHA-256 of `"<scenarioName>\n<canonical data>"`, in the challenge and the answer.
        public static let scenarioHash: UInt8 = 10
    }

    /// Why a client refuses to answer a challenge.
    public enum Failure: Error, Equatable, Sendable {
        /// The challenge's scenario hash (field 10) is not the hash of the scenario the client
        /// is about to sign, or one of the two is missing: answering would approve something else.
        case scenarioMismatch
    }

    /// SHA-256 of `"<name>\n<canonical data>"` (canonical JSON: sorted keys, no insignificant
    /// whitespace, slashes unescaped): what a scenario challenge and its answer are bound to.
    public static func scenarioHash(name: String, canonicalData: String) -> [UInt8] {
        Array(SHA256.hash(data: Array("\(name)\n\(canonicalData)".utf8)))
    }
    /// The value of field 1 in a response.
    public static let responseVersion: [UInt8] = Array("1".utf8)

    /// A fresh challenge's two nonces: 8 and 4 random bytes (fields 2 and 3).
    public static func freshNonces() -> (nonce8: [UInt8], nonce4: [UInt8]) {
        (SecureRandom.bytes(8), SecureRandom.bytes(4))
    }

    /// The challenge bytes: fields 2, 3, 4, 5 (and 10 for a scenario) and the terminator.
    public static func challenge(
        nonce8: [UInt8], nonce4: [UInt8], modulus: [UInt8], exponent: [UInt8], scenarioHash: [UInt8]? = nil
    ) throws -> [UInt8] {
        var fields: [(id: UInt8, value: [UInt8])] = [
            (Field.nonce8, nonce8), (Field.nonce4, nonce4), (Field.modulus, modulus), (Field.exponent, exponent),
        ]
        if let scenarioHash { fields.append((Field.scenarioHash, scenarioHash)) }
        return try LoginTLV.encode(fields)
    }

    /// The plaintext a client encrypts: {1: "1", 2: f2, 3: f3, 8: userId, 9: code, (10: scenario hash,) 0: ""}.
    public static func responsePlaintext(
        nonce8: [UInt8], nonce4: [UInt8], userID: String, identificationCode: String, scenarioHash: [UInt8]? = nil
    ) throws -> [UInt8] {
        var fields: [(id: UInt8, value: [UInt8])] = [
            (Field.version, responseVersion), (Field.nonce8, nonce8), (Field.nonce4, nonce4),
            (Field.userID, Array(userID.utf8)), (Field.identificationCode, Array(identificationCode.utf8)),
        ]
        if let scenarioHash { fields.append((Field.scenarioHash, scenarioHash)) }
        return try LoginTLV.encode(fields)
    }

    /// The client's side (the Swift SDK, the demo and the tests): the response bytes for a
    /// challenge, encrypted under the modulus and exponent the challenge carries. To sign a
    /// scenario, pass the hash of the scenario the user was shown (`scenarioHash(name:canonicalData:)`):
    /// the challenge must carry exactly that hash, and the answer then covers it. A login
    /// challenge with a scenario hash, or the reverse, is refused (`Failure.scenarioMismatch`).
    public static func respond(
        toChallenge challenge: [UInt8], userID: String, identificationCode: String, scenarioHash: [UInt8]? = nil
    ) throws -> [UInt8] {
        let fields = try LoginTLV.decode(challenge)
        guard let nonce8 = fields[Field.nonce8], let nonce4 = fields[Field.nonce4], let modulus = fields[Field.modulus],
            let exponent = fields[Field.exponent]
        else { throw LoginTLV.Failure.truncated }
        guard ConstantTime.equals(fields[Field.scenarioHash] ?? [], scenarioHash ?? []) else { throw Failure.scenarioMismatch }
        let key = try _RSA.Encryption.PublicKey(n: modulus, e: exponent)
        let plaintext = try responsePlaintext(
            nonce8: nonce8, nonce4: nonce4, userID: userID, identificationCode: identificationCode, scenarioHash: scenarioHash)
        return [UInt8](try key.encrypt(plaintext, padding: ._WEAK_AND_INSECURE_PKCS_V1_5))
    }
}

/// The server's RSA-2048 key of the `SOFTTOKEN` scheme: one per installation, so that every node
/// of a cluster decrypts what any node challenged.
///
/// `@unchecked Sendable`: swift-crypto's `_RSA.Encryption.PrivateKey` is not marked Sendable, but
/// it is an immutable wrapper around a BoringSSL `RSA` object whose private-key operations are
/// safe to run concurrently (BoringSSL locks its blinding cache). Nothing here is mutable.
public final class SoftTokenKey: @unchecked Sendable {
    private let privateKey: _RSA.Encryption.PrivateKey
    /// The modulus, big-endian, exactly 256 bytes (field 4).
    public let modulus: [UInt8]
    /// The public exponent, big-endian without leading zeros (field 5): `01 00 01`.
    public let exponent: [UInt8]

    /// A fresh RSA-2048 key (takes a noticeable fraction of a second).
    public static func generate() throws -> SoftTokenKey {
        try SoftTokenKey(try _RSA.Encryption.PrivateKey(keySize: .bits2048))
    }

    /// The key from its PKCS#1 DER form (as stored, sealed, in the database).
    public convenience init(derRepresentation: [UInt8]) throws {
        try self.init(try _RSA.Encryption.PrivateKey(derRepresentation: derRepresentation))
    }

    private init(_ privateKey: _RSA.Encryption.PrivateKey) throws {
        guard privateKey.keySizeInBits == 2048 else { throw SoftTokenKeyError.notRSA2048 }
        let primitives = try privateKey.publicKey.getKeyPrimitives()
        var modulus = [UInt8](primitives.modulus)
        while modulus.count > 256, modulus.first == 0 { modulus.removeFirst() }
        guard modulus.count <= 256 else { throw SoftTokenKeyError.notRSA2048 }
        self.modulus = [UInt8](repeating: 0, count: 256 - modulus.count) + modulus
        var exponent = [UInt8](primitives.publicExponent)
        while exponent.count > 1, exponent.first == 0 { exponent.removeFirst() }
        self.exponent = exponent
        self.privateKey = privateKey
    }

    /// The DER form, for sealing at rest.
    public var derRepresentation: [UInt8] { [UInt8](privateKey.derRepresentation) }

    /// The plaintext of a response, or — when the ciphertext has the wrong size or bad padding —
    /// random bytes of a plausible length instead of an error ("implicit rejection", as TLS does
    /// against Bleichenbacher): the caller then fails the field checks exactly as for a wrong
    /// code, so no answer tells a padding error from a wrong code.
    public func openResponse(_ ciphertext: [UInt8]) -> [UInt8] {
        if ciphertext.count == modulus.count,
            let plaintext = try? privateKey.decrypt(ciphertext, padding: ._WEAK_AND_INSECURE_PKCS_V1_5)
        {
            return [UInt8](plaintext)
        }
        return SecureRandom.bytes(48)
    }
}

/// Why a stored soft-token key cannot be used.
public enum SoftTokenKeyError: Error, Equatable, Sendable {
    case notRSA2048
}
