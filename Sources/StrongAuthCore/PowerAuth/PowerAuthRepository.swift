import Foundation

/// What the PowerAuth face needs from storage: applications, integration users, registrations
/// (devices of kind `.powerauth` with their activation row), MAC tokens and the webhook outbox.
///
/// Every method that decides security (accept a counter value, count a failure, block, change a
/// status) is one conditional update of the device row, so several nodes on one PostgreSQL can
/// never both accept a counter value or both miss a block.
public protocol PowerAuthRepository: AttemptRepository {
    // MARK: Applications and integration users

    /// Stores a new application; `StoreError.conflict` when the id is taken.
    func insertApplication(_ application: PowerAuthApplication) async throws
    func application(id: String) async throws -> PowerAuthApplication?
    func application(key: String) async throws -> PowerAuthApplication?
    /// Stores a new integration user; `StoreError.conflict` when the name is taken.
    func insertIntegrationUser(_ user: IntegrationUser) async throws
    func integrationUser(name: String) async throws -> IntegrationUser?

    // MARK: Registrations

    /// The id of the user whose username is `externalUserID`, created on first use (PowerAuth's
    /// `userId` is the integrator's own identifier; such a user has no password), in `realm`:
    /// the same `userId` in another realm is another user.
    func ensureUser(realm: String, externalUserID: String, at now: Date) async throws -> String
    /// Stores a CREATED registration (device + activation row + counter) and its webhook, in one
    /// transaction; `StoreError.conflict` when the activation code is already live.
    func insertRegistration(
        device: Device, activation: PowerAuthActivation, counter: PowerAuthCounter, webhooks: [WebhookDelivery]
    ) async throws
    func registration(id: String) async throws -> Registration?
    /// Everything a signature check needs, in one read: the registration, its application and
    /// (for the integration API) the integration user named in the request.
    func signatureContext(registrationID: String, integrationUserName: String?) async throws -> SignatureContext

    /// The registration holding the live activation code `code` of `applicationID`.
    func registration(activationCode: String, applicationID: String) async throws -> Registration?
    /// The registrations of `realm`'s user `externalUserID`, newest first; REMOVED ones only with `includeRemoved`.
    func registrations(realm: String, externalUserID: String, includeRemoved: Bool) async throws -> [Registration]

    /// The key exchange: `CREATED → to` (PENDING_COMMIT or ACTIVE) in one conditional update,
    /// only while unexpired; stores the keys and device facts, frees the activation code.
    /// `false` when the registration was no longer CREATED (a second phone lost the race).
    func completeKeyExchange(
        id: String, to: Device.Status, devicePublicKeyHex: String, name: String, activation: PowerAuthActivation,
        counterData: [UInt8], webhooks: [WebhookDelivery], at now: Date
    ) async throws -> Bool

    /// Moves a registration between statuses in one conditional update (`from` → `to`), with
    /// the reason for a block, optionally resetting the failure count (unblock), freeing the
    /// activation code when it leaves CREATED, and queueing `webhooks` only if it moved.
    func transitionRegistration(
        id: String, from: Set<Device.Status>, to: Device.Status, reason: String?, resetFailures: Bool,
        webhooks: [WebhookDelivery], at now: Date
    ) async throws -> Bool

    /// Accepts a signature: the counter moves from `expected` to `next` (advanced by `steps`)
    /// only if it still is `expected` and the registration is ACTIVE, remembering `history` (the
    /// values it moved past, newest first); a knowledge or biometry factor also resets the
    /// failure count. `false` when another request moved it first.
    func acceptSignature(
        id: String, expected: [UInt8], next: [UInt8], steps: Int, history: [[UInt8]], resetFailures: Bool, at now: Date
    ) async throws -> Bool

    /// The fast path of `acceptSignature` for the integration API, without a prior read: it moves
    /// the counter only if, at that moment, the registration is ACTIVE with counter data
    /// `expected`, its application is active, and an active integration user `caller` with that
    /// password hash may use the application — and, with `possessionThrottle`, the activation's
    /// possession window (as `takePossessionAttempt` keeps it) is over or has room, so that a
    /// throttled signature is accepted without taking an attempt. Returns the failure count after
    /// the update, `nil` when any condition failed (the caller then takes the full path).
    func acceptSignatureIfCurrent(
        id: String, expected: [UInt8], next: [UInt8], steps: Int, history: [[UInt8]], resetFailures: Bool, applicationID: String,
        caller: (name: String, passwordHash: String), possessionThrottle: (limit: Int, window: TimeInterval)?, at now: Date
    ) async throws -> (failedAttempts: Int, maxFailedAttempts: Int)?

    /// Takes one possession-only signature attempt of a registration, in one conditional update:
    /// the attempts of the current fixed window (`window` long, restarted when it is over) + 1,
    /// only while fewer than `limit`. `false` when the limit is reached (throttled) or there is
    /// no such registration. Taken before the check, so concurrent guesses cannot all pass it.
    func takePossessionAttempt(id: String, limit: Int, window: TimeInterval, at now: Date) async throws -> Bool

    /// Gives back an attempt taken by `takePossessionAttempt` when the signature was valid: only
    /// failures stay counted.
    func returnPossessionAttempt(id: String) async throws

    // MARK: MAC tokens

    func insertToken(_ token: PowerAuthToken) async throws
    func token(id: String) async throws -> PowerAuthToken?
    /// Deletes the token if it belongs to `deviceID`; `false` otherwise.
    func deleteToken(id: String, deviceID: String) async throws -> Bool

    // MARK: Temporary encryption keys (protocol 3.3)

    func insertTemporaryKey(_ key: PowerAuthTemporaryKeyRecord) async throws
    func temporaryKey(id: String) async throws -> PowerAuthTemporaryKeyRecord?
}

/// What `signatureContext` reads; each part `nil` when absent.
public struct SignatureContext: Sendable {
    public var registration: Registration?
    public var application: PowerAuthApplication?
    public var integrationUser: IntegrationUser?

    public init(registration: Registration?, application: PowerAuthApplication?, integrationUser: IntegrationUser?) {
        self.registration = registration
        self.application = application
        self.integrationUser = integrationUser
    }
}

/// A MAC token (PowerAuth "token-based authentication"): the phone proves possession of
/// `tokenSecret` with a digest over a nonce and a timestamp, without a counter.
public struct PowerAuthToken: Sendable, Equatable {
    public var id: String
    public var deviceID: String
    /// The 16-byte secret, sealed under the master key (the digest check needs it in clear).
    public var sealedSecret: String
    /// The factors of the signature that created it, e.g. `possession_knowledge`.
    public var signatureType: String
    public var createdAt: Date

    public init(id: String, deviceID: String, sealedSecret: String, signatureType: String, createdAt: Date) {
        self.id = id
        self.deviceID = deviceID
        self.sealedSecret = sealedSecret
        self.signatureType = signatureType
        self.createdAt = createdAt
    }
}

/// A protocol 3.3 temporary ECIES key pair, handed out by `/pa/v3/keystore/create` and named
/// by later requests in `temporaryKeyId`. Stored (sealed) so that any node can decrypt.
public struct PowerAuthTemporaryKeyRecord: Sendable, Equatable {
    public var id: String
    public var applicationID: String
    /// Set for an activation-scoped key.
    public var activationID: String?
    /// The raw private scalar, sealed under the master key with the key id as associated data.
    public var sealedPrivateKey: String
    public var expiresAt: Date

    public init(id: String, applicationID: String, activationID: String?, sealedPrivateKey: String, expiresAt: Date) {
        self.id = id
        self.applicationID = applicationID
        self.activationID = activationID
        self.sealedPrivateKey = sealedPrivateKey
        self.expiresAt = expiresAt
    }
}
