import Crypto
import CryptoExtras
import Foundation
@_spi(FixedExpiryValidationTime) import X509

/// The attestation roots a registration is checked against, and the time the check runs at.
///
/// With no roots, a packed attestation with a certificate chain is still verified (signature,
/// WebAuthn §8.2.1) but never certified: nothing vouches for the authenticator's maker.
public struct AttestationTrust: Sendable {
    public var roots: [Certificate]
    /// Certificates must be valid at this time; the caller passes its clock's now.
    public var verificationTime: Date

    /// No roots: attestation is verified, never certified. (Its time is the epoch, so roots added
    /// later without a time certify nothing: every certificate is not yet valid.)
    public init() {
        self.init(roots: [], verificationTime: Date(timeIntervalSince1970: 0))
    }

    public init(roots: [Certificate], verificationTime: Date) {
        self.roots = roots
        self.verificationTime = verificationTime
    }

    /// Roots as DER certificates, for callers that keep them as bytes and do not import X509.
    public init(derEncodedRoots: [[UInt8]], verificationTime: Date) throws(AttestationTrustError) {
        var roots: [Certificate] = []
        for (index, der) in derEncodedRoots.enumerated() {
            guard let certificate = try? Certificate(derEncoded: der) else {
                throw AttestationTrustError(description: "attestation root \(index + 1) is not a DER certificate")
            }
            roots.append(certificate)
        }
        self.init(roots: roots, verificationTime: verificationTime)
    }

    /// Roots from a PEM bundle (one or more `CERTIFICATE` blocks), as in `webauthn.attestationRootsFile`.
    public init(pemEncodedRoots pem: String, verificationTime: Date) throws(AttestationTrustError) {
        let endMarker = "-----END CERTIFICATE-----"
        let blocks = pem.components(separatedBy: endMarker).dropLast().map { $0 + endMarker }
        var roots: [Certificate] = []
        for (index, block) in blocks.enumerated() {
            guard let begin = block.range(of: "-----BEGIN CERTIFICATE-----"),
                let certificate = try? Certificate(pemEncoded: String(block[begin.lowerBound...]))
            else { throw AttestationTrustError(description: "attestation root \(index + 1) is not a PEM certificate") }
            roots.append(certificate)
        }
        guard !roots.isEmpty else { throw AttestationTrustError(description: "no PEM certificate in the attestation roots") }
        self.init(roots: roots, verificationTime: verificationTime)
    }
}

/// Why configured attestation roots could not be loaded.
public struct AttestationTrustError: Error, Equatable, CustomStringConvertible {
    public var description: String
}

/// Packed attestation with a certificate chain ("full" attestation, WebAuthn L3 §8.2) and the
/// requirements on its attestation certificate (§8.2.1).
///
/// Two steps, because swift-certificates' chain building is async: `check` runs every
/// synchronous test (statement shape, the signature by the certificate's key, §8.2.1), `certify`
/// then builds the chain to the caller's roots.
enum PackedAttestation {
    /// The only Subject OU §8.2.1 allows.
    static let organizationalUnit = "Authenticator Attestation"
    /// Real authenticators send a leaf and at most a couple of intermediates; this bounds the parsing.
    static let maximumCertificates = 8

    /// An attestation whose statement verified, waiting for its chain to be built.
    struct Chain: Sendable {
        var leaf: Certificate
        /// `x5c[1...]`: candidates for the path to a root, never trusted themselves.
        var intermediates: [Certificate]
    }

    /// Verifies a `packed` statement with `x5c` over `signedData` (authenticator data ‖ SHA-256 of
    /// clientDataJSON) and the attestation certificate's §8.2.1 requirements.
    static func check(statement: CBORValue, aaguid: [UInt8], signedData: [UInt8]) throws(WebAuthnError) -> Chain {
        guard statement.mapEntries?.count == 3, let algValue = statement["alg"]?.integer, let signature = statement["sig"]?.byteString,
            case .array(let x5c)? = statement["x5c"], (1...maximumCertificates).contains(x5c.count)
        else { throw .malformedAttestationStatement }
        var certificates: [Certificate] = []
        for element in x5c {
            guard let der = element.byteString, let certificate = try? Certificate(derEncoded: der) else {
                throw .malformedAttestationStatement
            }
            certificates.append(certificate)
        }
        let leaf = certificates[0]
        guard let algorithm = COSEAlgorithm(rawValue: algValue) else { throw .unsupportedAttestationAlgorithm(algValue) }
        guard let verified = verify(signature: signature, data: signedData, algorithm: algorithm, key: leaf.publicKey) else {
            throw .attestationAlgorithmMismatch
        }
        guard verified else { throw .invalidSignature }
        try checkRequirements(leaf, aaguid: aaguid)
        return Chain(leaf: leaf, intermediates: Array(certificates.dropFirst()))
    }

    /// `true` when the chain reaches one of `trust.roots` (RFC 5280 path validation at
    /// `trust.verificationTime`); `false` when no roots were given.
    static func certify(_ chain: Chain, trust: AttestationTrust) async throws(WebAuthnError) -> Bool {
        guard !trust.roots.isEmpty else { return false }
        var verifier = Verifier(rootCertificates: CertificateStore(trust.roots)) {
            RFC5280Policy(fixedExpiryValidationTime: trust.verificationTime)
        }
        let result = await verifier.validate(leaf: chain.leaf, intermediates: CertificateStore(chain.intermediates))
        guard case .validCertificate = result else { throw .untrustedAttestation }
        return true
    }

    /// `nil` when the certificate's key cannot make `algorithm`'s signatures.
    private static func verify(signature: [UInt8], data: [UInt8], algorithm: COSEAlgorithm, key: Certificate.PublicKey) -> Bool? {
        switch algorithm {
        case .es256:
            guard let key = P256.Signing.PublicKey(key) else { return nil }
            // DER, as in every WebAuthn ES256 signature (§6.5.5).
            guard let parsed = try? P256.Signing.ECDSASignature(derRepresentation: signature) else { return false }
            return key.isValidSignature(parsed, for: data)
        case .rs256:
            guard let key = _RSA.Signing.PublicKey(key) else { return nil }
            return key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: data, padding: .insecurePKCS1v1_5)
        case .edDSA:
            guard let key = Curve25519.Signing.PublicKey(key) else { return nil }
            return key.isValidSignature(signature, for: data)
        }
    }

    /// WebAuthn §8.2.1: version 3; Subject C, O, OU "Authenticator Attestation" and CN; Basic
    /// Constraints with CA false; the aaguid extension, when present, not critical and naming the
    /// authenticator data's AAGUID.
    static func checkRequirements(_ leaf: Certificate, aaguid: [UInt8]) throws(WebAuthnError) {
        guard leaf.version == .v3 else { throw .attestationCertificate("is not version 3") }
        let subject = Dictionary(grouping: leaf.subject.flatMap { $0 }, by: \.type).mapValues { $0.map { String($0.value) ?? "" } }
        func present(_ values: [String]?) -> Bool { values?.count == 1 && values?.first?.isEmpty == false }
        guard present(subject[.RDNAttributeType.countryName]) else { throw .attestationCertificate("subject needs exactly one C") }
        guard present(subject[.RDNAttributeType.organizationName]) else { throw .attestationCertificate("subject needs exactly one O") }
        guard present(subject[.RDNAttributeType.commonName]) else { throw .attestationCertificate("subject needs exactly one CN") }
        guard subject[.RDNAttributeType.organizationalUnitName] == [organizationalUnit] else {
            throw .attestationCertificate("subject OU is not \"\(organizationalUnit)\"")
        }
        guard case .notCertificateAuthority = try? leaf.extensions.basicConstraints else {
            throw .attestationCertificate("must carry Basic Constraints with CA false")
        }
        // id-fido-gen-ce-aaguid: the authenticator model (AAGUID) the certificate attests.
        if let aaguidExtension = leaf.extensions[oid: [1, 3, 6, 1, 4, 1, 45724, 1, 1, 4]] {
            guard !aaguidExtension.critical else { throw .attestationCertificate("aaguid extension is critical") }
            // The value is a DER OCTET STRING of the 16 bytes; DER allows exactly one encoding.
            guard Array(aaguidExtension.value) == [0x04, 0x10] + aaguid else {
                throw .attestationCertificate("aaguid extension does not match the authenticator")
            }
        }
    }
}
