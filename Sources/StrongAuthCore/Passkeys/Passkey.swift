import Foundation
import StrongAuthProtocol

/// The WebAuthn side of a `passkey` device (docs/passkeys.md): what the relying party keeps to
/// verify the credential's later assertions. The device row holds what every kind has (user,
/// name, status); this holds the credential.
public struct PasskeyCredential: Sendable, Equatable {
    public var deviceID: String
    public var userID: String
    /// The credential ID the authenticator chose (≤ 1023 bytes); unique across the server.
    public var credentialID: [UInt8]
    /// The COSE_Key, verified at registration.
    public var publicKey: [UInt8]
    public var algorithm: COSEAlgorithm
    /// The authenticator's signature counter as last seen; 0 forever for authenticators without one.
    public var signCount: UInt32
    public var aaguid: [UInt8]
    public var attestationFormat: String
    /// The attestation chained to a configured root (`webauthn.attestationRootsFile`).
    public var attestationCertified: Bool
    /// Backup eligibility (BE) is fixed for a credential; backup state (BS) may change (a synced
    /// passkey): recorded so a bank can tell device-bound keys from synced ones.
    public var backupEligible: Bool
    public var backupState: Bool
    public var transports: [String]

    public init(
        deviceID: String, userID: String, credentialID: [UInt8], publicKey: [UInt8], algorithm: COSEAlgorithm, signCount: UInt32,
        aaguid: [UInt8], attestationFormat: String, attestationCertified: Bool, backupEligible: Bool, backupState: Bool,
        transports: [String]
    ) {
        self.deviceID = deviceID
        self.userID = userID
        self.credentialID = credentialID
        self.publicKey = publicKey
        self.algorithm = algorithm
        self.signCount = signCount
        self.aaguid = aaguid
        self.attestationFormat = attestationFormat
        self.attestationCertified = attestationCertified
        self.backupEligible = backupEligible
        self.backupState = backupState
        self.transports = transports
    }
}

/// One WebAuthn ceremony the server started: the challenge it issued and what the answer may
/// do. Single use: the answer consumes it in one conditional update (`consumePasskeyCeremony`),
/// so a captured response can never be replayed, on any node.
public struct PasskeyCeremony: Sendable, Equatable {
    public enum Purpose: String, Sendable, CaseIterable {
        /// Add a passkey to `userID`.
        case registration
        /// A second factor for an API token of `userID` (confirmed tokens).
        case stepUp = "step_up"
        /// Self-service sign-in with a discoverable credential: any user of the realm.
        case signIn = "sign_in"
        /// The hosted login's second factor for authorization request `target`.
        case authorization
        /// Approve approval `target` (dynamic linking: the challenge commits to its data).
        case approval
    }

    public var id: String
    public var purpose: Purpose
    /// The user it is for; nil for a sign-in (the credential names the user).
    public var userID: String?
    public var realmID: String
    /// The approval or authorization request it is bound to.
    public var target: String?
    public var challenge: [UInt8]
    /// An approval ceremony's server nonce: the challenge is SHA-256(message ‖ nonce).
    public var nonce: [UInt8]?
    /// A first passkey's SMS OTP (registration with a one-factor token), sealed.
    public var sealedOTP: String?
    /// The passkey's name (registration).
    public var name: String?
    /// Wrong OTPs so far.
    public var attempts: Int
    public var createdAt: Date
    public var expiresAt: Date

    public init(
        id: String, purpose: Purpose, userID: String?, realmID: String, target: String? = nil, challenge: [UInt8], nonce: [UInt8]? = nil,
        sealedOTP: String? = nil, name: String? = nil, attempts: Int = 0, createdAt: Date, expiresAt: Date
    ) {
        self.id = id
        self.purpose = purpose
        self.userID = userID
        self.realmID = realmID
        self.target = target
        self.challenge = challenge
        self.nonce = nonce
        self.sealedOTP = sealedOTP
        self.name = name
        self.attempts = attempts
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

/// What came of storing a new passkey.
public enum PasskeyInsertOutcome: Sendable, Equatable {
    case inserted
    /// The ceremony was used, expired, or never existed.
    case ceremonyClosed
    /// Registered with the first-device rule (SMS OTP instead of two factors), but meanwhile
    /// the user got an ACTIVE device: two factors are needed now.
    case activeDeviceExists
    /// The credential ID is registered already (to this or another user).
    case duplicateCredential
}

/// What came of recording an assertion's signature counter.
public enum PasskeyCounterOutcome: Sendable, Equatable {
    case recorded
    /// Another assertion stored an equal or higher counter first: two authenticators share the key.
    case regressed
}
