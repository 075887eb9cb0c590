import Foundation

/// Devices and their challenges.
public protocol DeviceRepository: Sendable {
    /// Stores a new device, its binding challenge and the SMS that carries the OTP, in one
    /// transaction: either the OTP is promised and will be sent, or nothing happened.
    func insertDeviceBinding(device: Device, challenge: Challenge, notification: OutboxNotification) async throws
    func device(id: String) async throws -> Device?
    /// The user's devices that are not REMOVED, oldest first.
    func devices(userID: String) async throws -> [Device]
    /// Moves a device from one of `from` to `to` in one conditional update; `false` when it was in another state.
    func transitionDevice(id: String, from: Set<Device.Status>, to: Device.Status, reason: String?, at now: Date) async throws -> Bool
    /// Records that the device was just used.
    func touchDevice(id: String, at now: Date) async throws

    func insertChallenge(_ challenge: Challenge) async throws
    /// Stores a challenge and the pushes that announce it, in one transaction.
    func insertChallenge(_ challenge: Challenge, notifications: [OutboxNotification]) async throws
    /// `open → answered | denied` by `deviceID`, in one conditional update (push MFA).
    func resolveChallenge(id: String, to status: Challenge.Status, deviceID: String, at now: Date) async throws -> Bool
    /// `answered → redeemed` in one conditional update; returns the answering device, `nil` if
    /// the challenge was not answered (or already redeemed).
    func redeemChallenge(id: String) async throws -> String?
    func challenge(id: String) async throws -> Challenge?
    /// Counts one answer before it is checked: `nil` unless the challenge is open, unexpired and
    /// has attempts left. Returns the attempts used including this one.
    func reserveChallengeAttempt(id: String, at now: Date) async throws -> Int?
    /// `open → answered`, and for a binding `CREATED → status` of the device, in one
    /// transaction; `false` when the challenge was no longer open (a replay lost the race).
    func completeChallenge(id: String, at now: Date, activatingDevice: (id: String, status: Device.Status)?) async throws -> Bool
    /// A binding's `open → answered` and its device's `CREATED → ACTIVE` — or `PENDING_COMMIT`
    /// when `approvalRequired` and the user already has another ACTIVE `ecdsa-p256` device — in
    /// one transaction under a per-user lock, so that the "first device" decision and the
    /// activation are one step: any number of concurrent first bindings yield exactly one ACTIVE
    /// device (RTS art. 24). Returns the device's new status, `nil` when the challenge was no
    /// longer open.
    /// RTS art. 24 approval as one step: `PENDING_COMMIT → ACTIVE` for `deviceID` only while
    /// `approverID` (same user, `ecdsa-p256`) is still ACTIVE — the approver's row is locked by
    /// the same transaction (its `last_used_at` is touched), so an approver blocked or removed
    /// at the same moment either waits for it or makes it fail. `false` when either side is no
    /// longer in that state.
    func approvePendingDevice(id deviceID: String, approverID: String, userID: String, at now: Date) async throws -> Bool
        func completeBindingChallenge(id: String, deviceID: String, userID: String, approvalRequired: Bool, at now: Date) async throws
        -> Device.Status?
    /// `open → failed` once the attempts are used up.
    func failChallengeIfExhausted(id: String) async throws
}

/// The durable outbox of notifications to users.
public protocol NotificationOutbox: Sendable {
    /// Leases up to `limit` due notifications for `lease` seconds (several nodes never take the
    /// same one; one that is not marked sent within the lease is retried).
    func claimDueNotifications(at now: Date, limit: Int, lease: TimeInterval) async throws -> [OutboxNotification]
    func markNotificationSent(id: String, at now: Date) async throws
    /// Adds notifications to the outbox.
    func enqueue(_ notifications: [OutboxNotification]) async throws
    /// Schedules another attempt, or gives up (`dead`) after too many.
    func markNotificationFailed(id: String, nextAttemptAt: Date, dead: Bool) async throws
}
