import Foundation
import StrongAuthProtocol

extension PowerAuthService {
    /// The reason recorded when the phone gives none (the reference's `NOT_SPECIFIED`).
    public static let vaultUnlockDefaultReason = "NOT_SPECIFIED"

    /// `/pa/v3/vault/unlock`, after the face verified the signature: `KEY_ENCRYPTION_VAULT` under
    /// `KEY_TRANSPORT` (``PowerAuthVault``), audited with the phone's reason.
    ///
    /// Only a two-factor signature (possession and knowledge or biometry) unlocks the vault, as
    /// the reference requires: the vault guards what possession alone must not open (the device
    /// private key, the biometry key being added). The face refuses weaker signatures before
    /// verifying them; this check keeps the rule where the decision is made. Nothing is stored:
    /// the signature check already moved the counter (one conditional update), so a replay of
    /// the request is refused there.
    public func unlockVault(_ registration: Registration, signatureType: String, reason: String?, source: String?) async throws
        -> [UInt8]
    {
        guard let factors = PowerAuthSignature.factors(of: signatureType), factors.count >= 2, factors.first == .possession else {
            throw PowerAuthServiceError.authenticationFailed
        }
        let reason = reason ?? Self.vaultUnlockDefaultReason
        guard Self.isVaultUnlockReason(reason) else {
            throw PowerAuthServiceError.validation(field: "reason", message: "3 to 255 of A-Z, a-z, 0-9, '_', '-', '.'")
        }
        let secrets = try openSecrets(of: registration)
        let encrypted = try PowerAuthVault.encryptVaultKey(secrets.vault, transportKey: secrets.transport)
        try await audit(
            registration, action: .powerAuthVaultUnlocked, actor: "device:\(registration.id)", source: source,
            details: ["reason": reason, "type": signatureType])
        return encrypted
    }

    /// The reference server's rule for a reason (`[A-Za-z0-9_\-.]{3,255}`), checked byte by byte
    /// (it lands in the audit log, so no control characters or markup).
    static func isVaultUnlockReason(_ reason: String) -> Bool {
        let bytes = Array(reason.utf8)
        guard (3...255).contains(bytes.count) else { return false }
        return bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."):
                true
            default: false
            }
        }
    }
}
