import Foundation

/// A mobile application in PowerAuth's sense (`appId`): the app key and secret baked into the
/// app, and the master P-256 key pair whose private half signs activation codes and decrypts the
/// application-scope ECIES of activation requests (docs/architecture.md, docs/powerauth.md).
public struct PowerAuthApplication: Sendable, Equatable {
    /// `active ⇄ disabled`, and `→ deleted`: a tombstone, so the id (which registrations and
    /// integration users name) is never given to another application (docs/admin-api.md).
    public enum Status: String, Sendable {
        case active
        case disabled
        case deleted
    }

    /// The application id integrators use (`appId`, e.g. `my-application`).
    public var id: String
    public var name: String
    /// Base64 of 16 random bytes: public, sent by the app in every PowerAuth header.
    public var applicationKey: String
    /// The app secret (Base64 of 16 random bytes), sealed under the master key. Not a password:
    /// every copy of the app carries it, and the server needs it in clear for signatures and ECIES.
    public var sealedApplicationSecret: String
    /// The master private key (raw 32-byte scalar), sealed under the master key.
    public var sealedMasterPrivateKey: String
    /// Base64 of the master public key as an uncompressed point (`04‖X‖Y`), as the SDKs take it.
    public var masterPublicKey: String
    /// Where registration status changes are POSTed (docs/architecture.md), if anywhere.
    public var callbackURL: String?
    /// The HMAC key for callbacks, sealed under the master key.
    public var sealedCallbackSecret: String?
    public var status: Status
    public var createdAt: Date
    /// The realm whose users the application's registrations and operations belong to.
    public var realmID: String

    public init(
        id: String, name: String, applicationKey: String, sealedApplicationSecret: String, sealedMasterPrivateKey: String,
        masterPublicKey: String, callbackURL: String? = nil, sealedCallbackSecret: String? = nil, status: Status = .active,
        createdAt: Date, realmID: String = Realm.defaultID
    ) {
        self.realmID = realmID
        self.id = id
        self.name = name
        self.applicationKey = applicationKey
        self.sealedApplicationSecret = sealedApplicationSecret
        self.sealedMasterPrivateKey = sealedMasterPrivateKey
        self.masterPublicKey = masterPublicKey
        self.callbackURL = callbackURL
        self.sealedCallbackSecret = sealedCallbackSecret
        self.status = status
        self.createdAt = createdAt
    }
}

/// Basic-auth credentials for the private integration API (`/powerauth-cloud`), limited to
/// some applications.
public struct IntegrationUser: Sendable, Equatable {
    public enum Status: String, Sendable {
        case active
        case disabled
    }

    public var name: String
    /// Keyed hash of the generated password (256 random bits, so a fast keyed hash suffices).
    public var passwordHash: String
    /// The applications this user may act on.
    public var applicationIDs: [String]
    public var status: Status
    public var createdAt: Date
    /// The realm of the integration user and of all its applications: PowerAuth `userId`s are
    /// that realm's usernames.
    public var realmID: String

    public init(
        name: String, passwordHash: String, applicationIDs: [String], status: Status = .active, createdAt: Date,
        realmID: String = Realm.defaultID
    ) {
        self.realmID = realmID
        self.name = name
        self.passwordHash = passwordHash
        self.applicationIDs = applicationIDs
        self.status = status
        self.createdAt = createdAt
    }

    /// Whether the user may act on `applicationID`: exact, case-sensitive membership. The signature
    /// fast path decides the same in SQL (`SQLStore.integrationUserMayUse`), held to this by
    /// the store suite (`IntegrationUserScopeStoreTests`).
    public func mayUse(applicationID: String) -> Bool { applicationIDs.contains(applicationID) }
}

/// How the activation OTP of a registration is checked (PowerAuth's `otpValidation`).
public enum ActivationOTPValidation: String, Sendable, CaseIterable {
    /// No activation OTP.
    case none = "NONE"
    /// The phone sends the OTP with the key exchange; a correct one commits the registration at once.
    case onKeyExchange = "ON_KEY_EXCHANGE"
    /// The integrator sends the OTP with the commit.
    case onCommit = "ON_COMMIT"
}

/// When a registration becomes ACTIVE (PowerAuth's `commitPhase`).
public enum ActivationCommitPhase: String, Sendable, CaseIterable {
    /// Right after a successful key exchange.
    case onKeyExchange = "ON_KEY_EXCHANGE"
    /// Only when the integrator commits it (the default).
    case onCommit = "ON_COMMIT"
}

/// The PowerAuth side of a device: everything of an activation that the `devices` row does not hold.
///
/// A registration *is* a `Device` of kind `.powerauth` (one device model, docs/architecture.md): its id is the
/// `registrationId`/`activationId`, its status is the device status, its public key the device's.
public struct PowerAuthActivation: Sendable, Equatable {
    public var deviceID: String
    public var applicationID: String
    /// The activation code while the registration is CREATED; `nil` once used or removed, which
    /// frees the code (codes are unique among live registrations).
    public var activationCode: String?
    public var activationCodeSignature: String?
    /// When an unfinished registration (CREATED, PENDING_COMMIT) expires.
    public var expiresAt: Date
    /// Keyed hash of the activation OTP, if one was set.
    public var otpHash: String?
    public var otpValidation: ActivationOTPValidation
    public var commitPhase: ActivationCommitPhase
    public var flags: [String]
    public var platform: String?
    public var deviceInfo: String?
    public var extras: String?
    /// Base64 of the server's activation public key (uncompressed point), after the key exchange.
    public var serverPublicKey: String?
    /// The server's activation private key and the derived signature/transport keys, sealed under
    /// the master key with the device id as associated data, after the key exchange.
    public var sealedServerPrivateKey: String?
    public var sealedDerivedKeys: String?
    /// The protocol version the phone activated with (`3.1`, `3.2`, `3.3`).
    public var protocolVersion: String?

    public init(
        deviceID: String, applicationID: String, activationCode: String?, activationCodeSignature: String?, expiresAt: Date,
        otpHash: String? = nil, otpValidation: ActivationOTPValidation = .none, commitPhase: ActivationCommitPhase = .onCommit,
        flags: [String] = [], platform: String? = nil, deviceInfo: String? = nil, extras: String? = nil,
        serverPublicKey: String? = nil, sealedServerPrivateKey: String? = nil, sealedDerivedKeys: String? = nil,
        protocolVersion: String? = nil
    ) {
        self.deviceID = deviceID
        self.applicationID = applicationID
        self.activationCode = activationCode
        self.activationCodeSignature = activationCodeSignature
        self.expiresAt = expiresAt
        self.otpHash = otpHash
        self.otpValidation = otpValidation
        self.commitPhase = commitPhase
        self.flags = flags
        self.platform = platform
        self.deviceInfo = deviceInfo
        self.extras = extras
        self.serverPublicKey = serverPublicKey
        self.sealedServerPrivateKey = sealedServerPrivateKey
        self.sealedDerivedKeys = sealedDerivedKeys
        self.protocolVersion = protocolVersion
    }
}

/// The hash-based counter and failure count of an activation. They live on the device row, so
/// that every decision about them (accept a counter, count a failure, block) is one conditional
/// update of one row, together with the status.
public struct PowerAuthCounter: Sendable, Equatable {
    /// The next expected counter data (16 bytes).
    public var counterData: [UInt8]
    /// How many counter values have been consumed (the numeric counter).
    public var counter: Int
    public var failedAttempts: Int
    public var maxFailedAttempts: Int
    /// The counter data values most recently moved past, newest first: a signature made with
    /// one of them is a replay (its factors were right once), not a guess, and is not counted.
    public var recentCounterData: [[UInt8]]

    public init(counterData: [UInt8], counter: Int, failedAttempts: Int, maxFailedAttempts: Int, recentCounterData: [[UInt8]] = []) {
        self.counterData = counterData
        self.counter = counter
        self.failedAttempts = failedAttempts
        self.maxFailedAttempts = maxFailedAttempts
        self.recentCounterData = recentCounterData
    }

    public var remainingAttempts: Int { max(0, maxFailedAttempts - failedAttempts) }
}

/// A registration as the integration API shows it: the device, its PowerAuth part, its counter
/// and the integrator's user id.
public struct Registration: Sendable, Equatable {
    public var device: Device
    public var activation: PowerAuthActivation
    public var counter: PowerAuthCounter
    /// The integrator's user id (the user's username).
    public var externalUserID: String

    public init(device: Device, activation: PowerAuthActivation, counter: PowerAuthCounter, externalUserID: String) {
        self.device = device
        self.activation = activation
        self.counter = counter
        self.externalUserID = externalUserID
    }

    public var id: String { device.id }

    /// The status the outside world sees at `now`: an unfinished registration past its expiry
    /// is REMOVED ("expired or non-existing") even before anything rewrote the row.
    public func status(at now: Date) -> Device.Status {
        if [.created, .pendingCommit].contains(device.status), activation.expiresAt <= now { return .removed }
        return device.status
    }
}

/// Why `BLOCKED`: the reason PowerAuth reports when too many signatures failed.
public enum BlockedReason {
    public static let maxFailedAttempts = "MAX_FAILED_ATTEMPTS"
    public static let notSpecified = "NOT_SPECIFIED"
}
