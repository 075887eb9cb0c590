import Foundation

/// A credential bound to a user. One user, many devices; one model for every face: a Kontist
/// binding (an ECDSA P-256 key) and a PowerAuth activation are both devices.
public struct Device: Sendable, Equatable {
    /// What kind of credential the device holds.
    public enum Kind: String, Sendable {
        /// A hardware-backed P-256 key (Kontist's public JS SDK, docs/devices.md).
        case ecdsaP256 = "ecdsa-p256"
        /// A PowerAuth activation (PowerAuth Cloud REST API, docs/powerauth.md).
        case powerauth
        /// A WebAuthn credential: a security key or a platform passkey (docs/passkeys.md). It
        /// signs in browsers, never receives pushes; its credential lives in `PasskeyCredential`.
        case passkey
    }

    /// Every kind of device goes through the same statuses (`docs/architecture.md`, "Device
    /// lifecycle"). Binding leaves CREATED (a Kontist key signs its SMS OTP, `DeviceService`; a
    /// PowerAuth phone completes the key exchange, `PowerAuthService.exchangeKeys`); everything
    /// after that is a `DeviceAction` of `DeviceLifecycle`, whose table the arrows below are:
    ///
    /// ```
    /// CREATED ──(binding)──────────────────▶ ACTIVE ──(block)──▶ BLOCKED
    ///    │                                   ▲    ▲                 │
    ///    └─(binding)─▶ PENDING_COMMIT ─(commit)   └────(unblock)────┘
    ///
    /// (remove) CREATED, PENDING_COMMIT, ACTIVE, BLOCKED ──▶ REMOVED
    /// ```
    ///
    /// Binding goes to PENDING_COMMIT for a Kontist key while another device of the user is
    /// ACTIVE (PSD2 RTS art. 24), and for a PowerAuth registration committed by the integrator
    /// (`commitPhase` ON_COMMIT). Commit is the integrator's `POST /v2/registrations/{id}/commit`
    /// for PowerAuth, a bound device's approval for a Kontist key (rejecting it removes the key).
    /// Block takes a reason; PowerAuth also blocks at `MAX_FAILED_ATTEMPTS` wrong signatures.
    ///
    /// REMOVED is final. An unfinished PowerAuth registration (CREATED, PENDING_COMMIT) past its
    /// activation's expiry reads REMOVED (`Registration.status(at:)`); too many wrong activation
    /// OTPs remove it. Only ACTIVE devices answer challenges and sign; their confirmed tokens die
    /// when they leave ACTIVE.
    public enum Status: String, Sendable {
        case created = "CREATED"
        case pendingCommit = "PENDING_COMMIT"
        case active = "ACTIVE"
        case blocked = "BLOCKED"
        case removed = "REMOVED"
    }

    public var id: String
    public var userID: String
    public var kind: Kind
    public var name: String
    /// The public key: hex of the uncompressed point `04‖X‖Y` (whatever form the phone sent); for
    /// a passkey, hex of its COSE_Key.
    public var publicKeyHex: String
    public var status: Status
    public var blockedReason: String?
    public var createdAt: Date
    public var activatedAt: Date?
    public var lastUsedAt: Date?

    public init(
        id: String, userID: String, kind: Kind, name: String, publicKeyHex: String, status: Status,
        blockedReason: String? = nil, createdAt: Date, activatedAt: Date? = nil, lastUsedAt: Date? = nil
    ) {
        self.id = id
        self.userID = userID
        self.kind = kind
        self.name = name
        self.publicKeyHex = publicKeyHex
        self.status = status
        self.blockedReason = blockedReason
        self.createdAt = createdAt
        self.activatedAt = activatedAt
        self.lastUsedAt = lastUsedAt
    }
}
