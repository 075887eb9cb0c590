import Crypto

/// Why a WebAuthn registration or assertion was refused. `description` is safe to show a client.
public enum WebAuthnError: Error, Equatable, CustomStringConvertible {
    /// A field is not base64url.
    case notBase64URL(field: String)
    case malformedClientData
    case wrongType(String)
    case challengeMismatch
    case originNotAllowed(String)
    /// `crossOrigin: true` or a `topOrigin`: the ceremony ran in a frame of another site.
    case crossOrigin
    case malformedAttestationObject
    case authenticatorData(AuthenticatorDataError)
    case rpIDMismatch
    case userNotPresent
    case userNotVerified
    /// Registration without attested credential data, or an assertion with it.
    case unexpectedAttestedCredentialData(present: Bool)
    case credentialPublicKey(COSEKeyError)
    case unsupportedAttestationFormat(String)
    case malformedAttestationStatement
    /// The attestation statement's `alg` is not one of `COSEAlgorithm`'s.
    case unsupportedAttestationAlgorithm(Int)
    /// The attestation statement's `alg` differs from the algorithm of the key that signs it
    /// (the credential key in self attestation, the certificate's key in full attestation).
    case attestationAlgorithmMismatch
    /// The attestation certificate breaks a requirement of WebAuthn §8.2.1.
    case attestationCertificate(String)
    /// Roots were given and the attestation certificate chain reaches none of them at the verification time.
    case untrustedAttestation
    case invalidSignature
    /// The signature counter did not increase: the authenticator may have been cloned.
    case counterRegression(stored: UInt32, received: UInt32)

    public var description: String {
        switch self {
        case .notBase64URL(let field): "\(field) is not base64url"
        case .malformedClientData: "clientDataJSON is malformed"
        case .wrongType(let type): "clientDataJSON type \(type) does not match the ceremony"
        case .challengeMismatch: "challenge does not match"
        case .originNotAllowed(let origin): "origin \(origin) is not allowed"
        case .crossOrigin: "cross-origin ceremonies are not allowed"
        case .malformedAttestationObject: "attestationObject is malformed"
        case .authenticatorData(let error): error.description
        case .rpIDMismatch: "rpIdHash does not match the relying party"
        case .userNotPresent: "user presence flag not set"
        case .userNotVerified: "user verification required"
        case .unexpectedAttestedCredentialData(let present):
            present ? "assertion carries attested credential data" : "registration lacks attested credential data"
        case .credentialPublicKey(let error): error.description
        case .unsupportedAttestationFormat(let format): "attestation format \(format) is not supported"
        case .malformedAttestationStatement: "attestation statement is malformed"
        case .unsupportedAttestationAlgorithm(let alg): "attestation alg \(alg) is not supported"
        case .attestationAlgorithmMismatch: "attestation alg does not match the signing key"
        case .attestationCertificate(let requirement): "attestation certificate \(requirement)"
        case .untrustedAttestation: "attestation certificate does not chain to a trusted root"
        case .invalidSignature: "signature is invalid"
        case .counterRegression(let stored, let received): "signature counter \(received) does not exceed \(stored)"
        }
    }
}

/// The attestation formats accepted at registration.
public enum AttestationFormat: String, Sendable {
    case none
    /// `packed` self attestation: signed by the credential key itself.
    case packedSelf = "packed"
    /// `packed` full attestation: signed by an attestation certificate's key, with its chain in `x5c`.
    case packedFull = "packed-x5c"
}

/// A verified registration: what the relying party stores for the new credential.
public struct VerifiedRegistration: Sendable, Equatable {
    public var credentialID: [UInt8]
    /// The COSE_Key bytes, for `COSEKey(bytes:)` at every later assertion.
    public var credentialPublicKey: [UInt8]
    public var algorithm: COSEAlgorithm
    public var signCount: UInt32
    public var userVerified: Bool
    public var backupEligible: Bool
    public var backupState: Bool
    public var aaguid: [UInt8]
    public var attestationFormat: AttestationFormat
    /// `true` only when a full attestation's chain reached one of the given roots.
    public var attestationCertified: Bool
}

/// A verified assertion: the counter to store and the flags seen.
public struct VerifiedAssertion: Sendable, Equatable {
    public var signCount: UInt32
    public var userVerified: Bool
    public var backupEligible: Bool
    public var backupState: Bool
}

/// The relying-party checks of WebAuthn Level 3 §7.1 (registration) and §7.2 (authentication)
/// as pure functions over the base64url fields of `RegistrationResponseJSON` and
/// `AuthenticationResponseJSON`. No state: the caller supplies the challenge it issued and the
/// stored credential, and persists what comes back.
public enum WebAuthnVerifier {
    /// Verifies a registration. A full attestation (packed with `x5c`) is certified when its chain
    /// reaches one of `attestationTrust.roots`, refused as `untrustedAttestation` when roots were
    /// given and it reaches none; `none` and self attestation pass uncertified whatever the roots.
    public static func verifyRegistration(
        attestationObject: String, clientDataJSON: String, expectedChallenge: [UInt8], rpID: String, origins: Set<String>,
        requireUserVerification: Bool, attestationTrust: AttestationTrust = AttestationTrust()
    ) async throws(WebAuthnError) -> VerifiedRegistration {
        let checked = try checkRegistration(
            attestationObject: attestationObject, clientDataJSON: clientDataJSON, expectedChallenge: expectedChallenge, rpID: rpID,
            origins: origins, requireUserVerification: requireUserVerification)
        var registration = checked.registration
        if let chain = checked.chain {
            registration.attestationCertified = try await PackedAttestation.certify(chain, trust: attestationTrust)
        }
        return registration
    }

    /// Every check of `verifyRegistration` but the certificate chain, which swift-certificates
    /// builds asynchronously; a full attestation's chain comes back for `PackedAttestation.certify`.
    static func checkRegistration(
        attestationObject: String, clientDataJSON: String, expectedChallenge: [UInt8], rpID: String, origins: Set<String>,
        requireUserVerification: Bool
    ) throws(WebAuthnError) -> (registration: VerifiedRegistration, chain: PackedAttestation.Chain?) {
        let clientDataBytes = try decode(clientDataJSON, field: "clientDataJSON")
        let attestationBytes = try decode(attestationObject, field: "attestationObject")
        let clientData = try ClientData.verify(clientDataBytes, type: .create, challenge: expectedChallenge, origins: origins)

        guard let attestation = try? CBOR.decode(attestationBytes), attestation.mapEntries != nil,
            let format = attestation["fmt"]?.textString, let statement = attestation["attStmt"], statement.mapEntries != nil,
            let authDataBytes = attestation["authData"]?.byteString
        else { throw .malformedAttestationObject }

        let authData = try parse(authDataBytes)
        try checkCommon(authData, rpID: rpID, requireUserVerification: requireUserVerification)
        guard let credential = authData.attestedCredential else { throw .unexpectedAttestedCredentialData(present: false) }
        let key: COSEKey
        do {
            key = try COSEKey(bytes: credential.publicKeyBytes)
        } catch {
            throw .credentialPublicKey(error)
        }

        let attestationFormat: AttestationFormat
        var chain: PackedAttestation.Chain?
        let signedData = authDataBytes + SHA256.hash(data: clientData.bytes)
        switch format {
        case "none":
            guard statement.mapEntries?.isEmpty == true else { throw .malformedAttestationStatement }
            attestationFormat = .none
        case "packed" where statement["x5c"] != nil:
            chain = try PackedAttestation.check(statement: statement, aaguid: credential.aaguid, signedData: signedData)
            attestationFormat = .packedFull
        case "packed":
            guard statement["ecdaaKeyId"] == nil, statement.mapEntries?.count == 2, let alg = statement["alg"]?.integer,
                let signature = statement["sig"]?.byteString
            else { throw .malformedAttestationStatement }
            guard alg == key.algorithm.rawValue else { throw .attestationAlgorithmMismatch }
            guard key.verify(signature: signature, data: signedData) else { throw .invalidSignature }
            attestationFormat = .packedSelf
        default:
            throw .unsupportedAttestationFormat(format)
        }

        let registration = VerifiedRegistration(
            credentialID: credential.credentialID, credentialPublicKey: credential.publicKeyBytes, algorithm: key.algorithm,
            signCount: authData.signCount, userVerified: authData.flags.contains(.userVerified),
            backupEligible: authData.flags.contains(.backupEligible), backupState: authData.flags.contains(.backupState),
            aaguid: credential.aaguid, attestationFormat: attestationFormat, attestationCertified: false)
        return (registration, chain)
    }

    /// Verifies an assertion by a stored credential. The counter check runs only after the
    /// signature verified, so `counterRegression` always means a genuine key signed: a clone.
    public static func verifyAssertion(
        credentialPublicKey: [UInt8], storedSignCount: UInt32, authenticatorData: String, clientDataJSON: String, signature: String,
        expectedChallenge: [UInt8], rpID: String, origins: Set<String>, requireUserVerification: Bool
    ) throws(WebAuthnError) -> VerifiedAssertion {
        let clientDataBytes = try decode(clientDataJSON, field: "clientDataJSON")
        let authDataBytes = try decode(authenticatorData, field: "authenticatorData")
        let signatureBytes = try decode(signature, field: "signature")
        let clientData = try ClientData.verify(clientDataBytes, type: .get, challenge: expectedChallenge, origins: origins)
        let key: COSEKey
        do {
            key = try COSEKey(bytes: credentialPublicKey)
        } catch {
            throw .credentialPublicKey(error)
        }
        let authData = try parse(authDataBytes)
        try checkCommon(authData, rpID: rpID, requireUserVerification: requireUserVerification)
        guard authData.attestedCredential == nil else { throw .unexpectedAttestedCredentialData(present: true) }
        guard key.verify(signature: signatureBytes, data: authDataBytes + SHA256.hash(data: clientData.bytes)) else {
            throw .invalidSignature
        }
        // WebAuthn §7.2 step 22: authenticators without a counter send 0 forever; otherwise it must grow.
        if authData.signCount != 0 || storedSignCount != 0, authData.signCount <= storedSignCount {
            throw .counterRegression(stored: storedSignCount, received: authData.signCount)
        }
        return VerifiedAssertion(
            signCount: authData.signCount, userVerified: authData.flags.contains(.userVerified),
            backupEligible: authData.flags.contains(.backupEligible), backupState: authData.flags.contains(.backupState))
    }

    private static func decode(_ value: String, field: String) throws(WebAuthnError) -> [UInt8] {
        guard !value.contains("="), let bytes = Base64URL.decode(value) else { throw .notBase64URL(field: field) }
        return bytes
    }

    private static func parse(_ bytes: [UInt8]) throws(WebAuthnError) -> AuthenticatorData {
        do {
            return try AuthenticatorData(bytes: bytes)
        } catch {
            throw .authenticatorData(error)
        }
    }

    private static func checkCommon(_ authData: AuthenticatorData, rpID: String, requireUserVerification: Bool) throws(WebAuthnError) {
        guard ConstantTime.equals(authData.rpIDHash, Array(SHA256.hash(data: Array(rpID.utf8)))) else { throw .rpIDMismatch }
        guard authData.flags.contains(.userPresent) else { throw .userNotPresent }
        guard !requireUserVerification || authData.flags.contains(.userVerified) else { throw .userNotVerified }
    }
}
