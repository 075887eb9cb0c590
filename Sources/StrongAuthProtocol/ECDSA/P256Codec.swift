import Crypto
import Foundation

/// Parsing of the P-256 public keys and ECDSA-SHA256 signatures that phones send.
///
/// Keys arrive as hex in every form a mobile platform produces: the uncompressed point
/// `04‖X‖Y` (Kontist's "without header"), the compressed point, the bare `X‖Y`, or the SPKI DER
/// (Android `getEncoded()`, iOS with header). Signatures arrive as DER (what iOS and Android
/// produce) or raw `r‖s` (IEEE P1363, WebCrypto). Everything that is not exactly one of these —
/// an invalid point, trailing bytes, a non-minimal DER length — is refused before any verification.
public enum P256Codec {
    /// Why a key or signature was refused; `description` is safe to show a client.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case notHex
        case invalidPublicKey
        case invalidSignature

        public var description: String {
            switch self {
            case .notHex: "not hex"
            case .invalidPublicKey: "not a P-256 public key (hex of 04‖X‖Y, a compressed point, or SPKI DER)"
            case .invalidSignature: "not an ECDSA P-256 signature (hex of DER or of raw r‖s)"
            }
        }
    }

    /// Parses a hex public key in any accepted form.
    public static func publicKey(hex: String) throws(Failure) -> P256.Signing.PublicKey {
        guard let bytes = Hex.decode(hex.trimmingHTTPWhitespace()) else { throw .notHex }
        return try publicKey(bytes: bytes)
    }

    /// Parses public-key bytes in any accepted form.
    public static func publicKey(bytes: [UInt8]) throws(Failure) -> P256.Signing.PublicKey {
        do {
            switch (bytes.count, bytes.first) {
            case (65, 0x04): return try P256.Signing.PublicKey(x963Representation: bytes)
            case (33, 0x02), (33, 0x03): return try P256.Signing.PublicKey(compressedRepresentation: bytes)
            case (64, _): return try P256.Signing.PublicKey(rawRepresentation: bytes)
            case (_, 0x30): return try P256.Signing.PublicKey(derRepresentation: bytes)
            default: throw Failure.invalidPublicKey
            }
        } catch {
            throw .invalidPublicKey
        }
    }

    /// Parses a hex signature: raw `r‖s` when it is exactly 64 bytes, DER otherwise.
    public static func signature(hex: String) throws(Failure) -> P256.Signing.ECDSASignature {
        guard let bytes = Hex.decode(hex.trimmingHTTPWhitespace()) else { throw .notHex }
        return try signature(bytes: bytes)
    }

    /// Parses signature bytes: raw `r‖s` when exactly 64 bytes, strict DER otherwise.
    public static func signature(bytes: [UInt8]) throws(Failure) -> P256.Signing.ECDSASignature {
        // A DER signature of P-256 is 8–72 bytes; 64 bytes of DER would need r and s of ~29 bytes,
        // possible but vanishingly rare, and the raw form is the one clients send at that length.
        guard bytes.count <= 72 else { throw .invalidSignature }
        do {
            if bytes.count == 64 { return try P256.Signing.ECDSASignature(rawRepresentation: bytes) }
            return try P256.Signing.ECDSASignature(derRepresentation: bytes)
        } catch {
            throw .invalidSignature
        }
    }

    /// Verifies an ECDSA-SHA256 signature over `message` (hex signature in either encoding).
    /// `false` for any malformed signature: the caller cannot tell "malformed" from "wrong".
    public static func verify(signatureHex: String, message: some DataProtocol, publicKey: P256.Signing.PublicKey) -> Bool {
        guard let signature = try? signature(hex: signatureHex) else { return false }
        return publicKey.isValidSignature(signature, for: message)
    }
}
