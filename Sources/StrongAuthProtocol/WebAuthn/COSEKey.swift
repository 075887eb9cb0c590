import Crypto
import CryptoExtras

/// The COSE signature algorithms a passkey may use here (IANA COSE Algorithms registry).
public enum COSEAlgorithm: Int, Sendable, CaseIterable {
    /// ECDSA with SHA-256 on P-256; WebAuthn carries the signature DER-encoded.
    case es256 = -7
    /// Ed25519 (RFC 9053 "EdDSA" with crv Ed25519).
    case edDSA = -8
    /// RSASSA-PKCS1-v1_5 with SHA-256 (Windows Hello, some security keys).
    case rs256 = -257
}

/// Why a COSE_Key was refused.
public enum COSEKeyError: Error, Equatable, CustomStringConvertible {
    case notCBOR(CBORError)
    case notAMap
    case missingMember(label: Int)
    case unsupportedKeyType(Int?)
    case unsupportedAlgorithm(Int?)
    /// kty, alg and crv do not describe one of the supported combinations.
    case mismatchedParameters
    /// A private-key member (`d`) is present: a public key must never carry one.
    case containsPrivateKey
    /// Coordinates of the wrong size, a point not on the curve, a malformed modulus.
    case invalidKey
    /// RSA moduli must be 2048–4096 bits.
    case unsupportedRSAKeySize(Int)

    public var description: String {
        switch self {
        case .notCBOR(let error): "credential public key is not valid CBOR (\(error))"
        case .notAMap: "credential public key is not a COSE_Key map"
        case .missingMember(let label): "COSE_Key lacks member \(label)"
        case .unsupportedKeyType(let kty): "unsupported COSE key type \(kty.map(String.init) ?? "?")"
        case .unsupportedAlgorithm(let alg): "unsupported COSE algorithm \(alg.map(String.init) ?? "?")"
        case .mismatchedParameters: "COSE_Key kty, alg and crv do not match"
        case .containsPrivateKey: "COSE_Key carries a private key"
        case .invalidKey: "COSE_Key is not a valid public key"
        case .unsupportedRSAKeySize(let bits): "RSA key of \(bits) bits (2048–4096 accepted)"
        }
    }
}

/// A credential public key decoded from COSE_Key (RFC 9052 §7, RFC 9053) and ready to verify.
///
/// Exactly three shapes are accepted: EC2 P-256 with ES256, RSA with RS256, OKP Ed25519 with
/// EdDSA. A key whose kty, alg and crv disagree is refused rather than guessed at, so a credential
/// registered for one algorithm can never be verified with another.
public struct COSEKey: Sendable {
    enum Verifier: Sendable {
        case p256(P256.Signing.PublicKey)
        case rsa(_RSA.Signing.PublicKey)
        case ed25519(Curve25519.Signing.PublicKey)
    }

    public let algorithm: COSEAlgorithm
    let verifier: Verifier

    // COSE labels (RFC 9052 §7.1, RFC 9053 §7).
    static let ktyLabel = 1
    static let algLabel = 3
    static let crvLabel = -1
    static let xLabel = -2
    static let yLabel = -3
    static let dLabel = -4
    static let rsaNLabel = -1
    static let rsaELabel = -2

    /// Decodes a COSE_Key that must span all of `bytes`.
    public init(bytes: [UInt8]) throws(COSEKeyError) {
        let value: CBORValue
        do {
            value = try CBOR.decode(bytes)
        } catch {
            throw .notCBOR(error)
        }
        try self.init(value: value)
    }

    public init(value: CBORValue) throws(COSEKeyError) {
        guard value.mapEntries != nil else { throw .notAMap }
        guard let ktyValue = value[Self.ktyLabel] else { throw .missingMember(label: Self.ktyLabel) }
        guard let algValue = value[Self.algLabel] else { throw .missingMember(label: Self.algLabel) }
        guard let alg = algValue.integer, let algorithm = COSEAlgorithm(rawValue: alg) else {
            throw .unsupportedAlgorithm(algValue.integer)
        }
        func bytes(_ label: Int) throws(COSEKeyError) -> [UInt8] {
            guard let member = value[label] else { throw .missingMember(label: label) }
            guard let bytes = member.byteString else { throw .invalidKey }
            return bytes
        }
        func integer(_ label: Int) throws(COSEKeyError) -> Int {
            guard let member = value[label] else { throw .missingMember(label: label) }
            guard let integer = member.integer else { throw .mismatchedParameters }
            return integer
        }
        switch ktyValue.integer {
        case 2:  // EC2
            guard algorithm == .es256, try integer(Self.crvLabel) == 1 else { throw .mismatchedParameters }
            guard value[Self.dLabel] == nil else { throw .containsPrivateKey }
            let x = try bytes(Self.xLabel)
            let y = try bytes(Self.yLabel)
            guard x.count == 32, y.count == 32 else { throw .invalidKey }
            // The x9.63 initializer checks that the point lies on the curve.
            guard let key = try? P256.Signing.PublicKey(x963Representation: [0x04] + x + y) else { throw .invalidKey }
            self.algorithm = algorithm
            self.verifier = .p256(key)
        case 1:  // OKP
            guard algorithm == .edDSA, try integer(Self.crvLabel) == 6 else { throw .mismatchedParameters }
            guard value[Self.dLabel] == nil else { throw .containsPrivateKey }
            let x = try bytes(Self.xLabel)
            guard x.count == 32, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: x) else { throw .invalidKey }
            self.algorithm = algorithm
            self.verifier = .ed25519(key)
        case 3:  // RSA
            guard algorithm == .rs256 else { throw .mismatchedParameters }
            // Private members of an RSA COSE_Key start at -4 (d); none may be present.
            guard value[Self.dLabel] == nil else { throw .containsPrivateKey }
            let modulus = try bytes(Self.rsaNLabel)
            let exponent = try bytes(Self.rsaELabel)
            guard let first = modulus.first, first != 0, let firstE = exponent.first, firstE != 0, exponent.count <= 8 else {
                throw .invalidKey
            }
            let bits = modulus.count * 8 - first.leadingZeroBitCount
            guard (2048...4096).contains(bits) else { throw .unsupportedRSAKeySize(bits) }
            guard let key = try? _RSA.Signing.PublicKey(n: modulus, e: exponent) else { throw .invalidKey }
            self.algorithm = algorithm
            self.verifier = .rsa(key)
        default:
            throw .unsupportedKeyType(ktyValue.integer)
        }
    }

    /// `true` when `signature` is this key's valid signature over `data`. Malformed signatures
    /// are simply invalid: the caller cannot tell "malformed" from "wrong".
    public func verify(signature: [UInt8], data: [UInt8]) -> Bool {
        switch verifier {
        case .p256(let key):
            // WebAuthn ES256 signatures are ASN.1 DER (WebAuthn §6.5.5), never raw r‖s.
            guard signature.count <= 72, let parsed = try? P256.Signing.ECDSASignature(derRepresentation: signature) else {
                return false
            }
            return key.isValidSignature(parsed, for: data)
        case .ed25519(let key):
            return key.isValidSignature(signature, for: data)
        case .rsa(let key):
            return key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: data, padding: .insecurePKCS1v1_5)
        }
    }
}
