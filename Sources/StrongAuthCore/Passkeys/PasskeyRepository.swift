import Foundation

/// Passkey credentials and WebAuthn ceremonies (docs/passkeys.md).
public protocol PasskeyRepository: Sendable {
    func insertPasskeyCeremony(_ ceremony: PasskeyCeremony) async throws
    /// Stores a ceremony and the SMS that carries its OTP in one transaction, with the SMS counted
    /// on `budgets` (the same budgets as device binding); false when a budget is spent (nothing stored).
    func insertPasskeyCeremony(_ ceremony: PasskeyCeremony, notification: OutboxNotification, budgets: [SMSBudget], window: TimeInterval)
        async throws -> Date?
    func passkeyCeremony(id: String) async throws -> PasskeyCeremony?
    /// Uses the ceremony up: one conditional update (unused and unexpired), `false` otherwise.
    func consumePasskeyCeremony(id: String, at now: Date) async throws -> Bool
    /// Counts a wrong OTP on a registration ceremony; at `maxAttempts` the ceremony is used up.
    /// `false` when it was no longer open.
    func countPasskeyCeremonyAttempt(id: String, maxAttempts: Int, at now: Date) async throws -> Bool

    /// In one transaction: consumes the ceremony, (with `requireNoActiveDevice`) checks under the
    /// user's lock that the user has no ACTIVE device, and stores the ACTIVE device and its credential.
    func insertPasskey(device: Device, credential: PasskeyCredential, ceremonyID: String, requireNoActiveDevice: Bool, at now: Date)
        async throws -> PasskeyInsertOutcome
    func passkey(credentialID: [UInt8]) async throws -> PasskeyCredential?
    /// The user's credentials whose device is not REMOVED.
    func passkeys(userID: String) async throws -> [PasskeyCredential]
    /// Stores the counter and backup state of a verified assertion, only if the counter grew
    /// (or both are 0: an authenticator without a counter) — one conditional update, so two
    /// assertions with the same counter on two nodes cannot both pass — and touches the device.
    func recordPasskeyAssertion(deviceID: String, signCount: UInt32, backupState: Bool, at now: Date) async throws -> PasskeyCounterOutcome
    /// Deletes ceremonies that expired before `before`.
    func deleteExpiredPasskeyCeremonies(before: Date) async throws -> Int
}
