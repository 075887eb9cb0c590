// libFuzzer entry point for the WebAuthn decoders and verifiers. Built by fuzz/run.sh together with
// the StrongAuthProtocol WebAuthn sources (one module, so the internal synchronous
// `WebAuthnVerifier.checkRegistration` is reachable); never part of the package build.

import X509

/// The ceremony the vectors were made for (Tests/StrongAuthProtocolTests/WebAuthnVectors.swift).
private let challenge: [UInt8] = Array(0..<32)
private let rpID = "bank.example"
private let origins: Set<String> = ["https://bank.example"]
private let registrationClientData =
    "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoiQUFFQ0F3UUZCZ2NJQ1FvTERBME9EeEFSRWhNVUZSWVhHQmthR3h3ZEhoOC"
    + "IsIm9yaWdpbiI6Imh0dHBzOi8vYmFuay5leGFtcGxlIiwiY3Jvc3NPcmlnaW4iOmZhbHNlfQ"
private let assertionClientData =
    "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoiQUFFQ0F3UUZCZ2NJQ1FvTERBME9EeEFSRWhNVUZSWVhHQmthR3h3ZEhoOCIsIm"
    + "9yaWdpbiI6Imh0dHBzOi8vYmFuay5leGFtcGxlIiwiY3Jvc3NPcmlnaW4iOmZhbHNlfQ"
private let assertionSignature = "MEYCIQDNKWf8Sd72FsZM4dRHs6fWVQyR9kyMbInRf3ln9eiJmwIhANNWhdZn3l-n7UMog9KoisxANLAnUTbyA3b3MMfCO9l-"
/// The AAGUID of PackedAttestationVectors' authenticator and attestation certificates.
private let attestedAAGUID = Array("StrongAuth-Test1".utf8)
private let credentialPublicKey =
    Base64URL.decode(
        "pQECAyYgASFYIL2fAiPis3-_oUhlF-NGnQPPOAGCA7n2mUgTZaZ5vB5_IlggxCerkylyboLODrpPkwVNXtYCEr3nuAG14XBszf7dOmQ") ?? []

/// The first byte chooses the target, the rest is its input (fuzz/run.sh writes the seeds that way):
/// 0 CBOR, 1 authenticator data, 2 COSE key, 3 a registration's attestation object, 4 an assertion's
/// authenticator data, 5 an attestation certificate (DER) against §8.2.1 — edited certificates never get
/// past the attestation signature in 3, so their parsing and requirements are fuzzed here directly. Refusals are the expected outcome; only a crash or a sanitizer report is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func webAuthnFuzzTarget(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let selector = bytes.first else { return 0 }
    let input = Array(bytes.dropFirst())
    switch selector % 6 {
    case 0:
        _ = try? CBOR.decode(input)
        _ = try? CBOR.decodePrefix(input)
    case 1:
        _ = try? AuthenticatorData(bytes: input)
    case 2:
        if let key = try? COSEKey(bytes: input) { _ = key.verify(signature: input, data: input) }
    case 3:
        _ = try? WebAuthnVerifier.checkRegistration(
            attestationObject: Base64URL.encode(input), clientDataJSON: registrationClientData, expectedChallenge: challenge, rpID: rpID,
            origins: origins, requireUserVerification: false)
    case 4:
        _ = try? WebAuthnVerifier.verifyAssertion(
            credentialPublicKey: credentialPublicKey, storedSignCount: 0, authenticatorData: Base64URL.encode(input),
            clientDataJSON: assertionClientData, signature: assertionSignature, expectedChallenge: challenge, rpID: rpID, origins: origins,
            requireUserVerification: false)
    default:
        if let certificate = try? Certificate(derEncoded: input) {
            try? PackedAttestation.checkRequirements(certificate, aaguid: attestedAAGUID)
        }
    }
    return 0
}
