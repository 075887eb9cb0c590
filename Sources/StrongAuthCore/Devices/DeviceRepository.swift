import Foundation

/// Devices and their challenges.
public protocol DeviceRepository: AttemptRepository {
    /// Stores a new device, its binding challenge and the SMS that carries the OTP, in one
    /// transaction: either the OTP is promised and will be sent, or nothing happened. With
    /// `limits` (SECURITY.md) the same transaction first checks the user's unfinished devices and
    /// counts the SMS on its budgets; over either cap nothing is stored or counted.
    func insertDeviceBinding(device: Device, challenge: Challenge, notification: OutboxNotification, limits: DeviceBindingLimits?)
        async throws -> DeviceBindingOutcome
    func device(id: String) async throws -> Device?
    /// The user's devices that are not REMOVED, oldest first.
    func devices(userID: String) async throws -> [Device]
    /// Moves a device from one of `from` to `to` in one conditional update; `false` when it was in another state.
    func transitionDevice(id: String, from: Set<Device.Status>, to: Device.Status, reason: String?, at now: Date) async throws -> Bool
    /// Records that the device was just used.
    func touchDevice(id: String, at now: Date) async throws

    /// Stores a device challenge (`challenge.deviceID`) only while that device is an ACTIVE
    /// `ecdsa-p256` device of `challenge.userID` — and, with `token`, only while that access
    /// token is live — in one statement; `false`, storing nothing, when it is not.
    func insertDeviceChallenge(_ challenge: Challenge, whileLive token: AccessTokenLivenessQuery?) async throws -> Bool
    /// The device and, when it belongs to this device, the challenge `challengeID`, in one read;
    /// `nil` when there is no such device.
    func device(id: String, challengeID: String) async throws -> (Device, Challenge?)?
    /// What answering a device challenge reads, in one read: the device, its challenge
    /// `challengeID` (only when it belongs to that device), the OAuth client `clientID` the
    /// confirmed tokens are issued to (each `nil` when absent) and the liveness of the access
    /// token presented (`token`).
    func challengeAnswerContext(deviceID: String, challengeID: String, clientID: String, token: AccessTokenLivenessQuery) async throws
        -> (device: Device?, challenge: Challenge?, client: OAuthClient?, liveness: AccessTokenLiveness)
    /// A correct answer to a device challenge as one unit of work, in one transaction: the
    /// challenge's `open → answered` with its attempt counted — the decision, one conditional
    /// update that also refuses an expired, exhausted or another device's challenge — then the
    /// device's `last_used_at` (which locks its row, as `TokenRepository.insertRefreshToken` does,
    /// so the confirmed family is born revoked unless the device is still ACTIVE), the family
    /// of `refreshToken` and `audit`. `false`, with nothing written, when the challenge was not open.
    func answerDeviceChallenge(id: String, deviceID: String, refreshToken: RefreshTokenRecord?, audit: AuditRecord, at now: Date)
        async throws -> Bool
    /// Stores a challenge and the pushes that announce it, in one transaction.
    func insertChallenge(_ challenge: Challenge, notifications: [OutboxNotification]) async throws
    /// `open → answered | denied` by `deviceID`, in one conditional update (push MFA).
    func resolveChallenge(id: String, to status: Challenge.Status, deviceID: String, at now: Date) async throws -> Bool
    /// `answered → redeemed` in one conditional update; returns the answering device, `nil` if
    /// the challenge was not answered (or already redeemed).
    func redeemChallenge(id: String) async throws -> String?
    func challenge(id: String) async throws -> Challenge?
    /// `open → answered`, and for a binding `CREATED → status` of the device, in one
    /// transaction; `false` when the challenge was no longer open (a replay lost the race).
    func completeChallenge(id: String, at now: Date, activatingDevice: (id: String, status: Device.Status)?) async throws -> Bool
    /// RTS art. 24 approval as one step: `PENDING_COMMIT → ACTIVE` for `deviceID` only while
    /// `approverID` (same user, `ecdsa-p256`) is still ACTIVE — the approver's row is locked by
    /// the same transaction (its `last_used_at` is touched), so an approver blocked or removed
    /// at the same moment either waits for it or makes it fail. `false` when either side is no
    /// longer in that state. The device's pending approval in the engine (template
    /// `device.approve`) is APPROVED in the same transaction, so no bound device is still asked.
    func approvePendingDevice(id deviceID: String, approverID: String, userID: String, at now: Date) async throws -> Bool
    /// A binding's `open → answered` and its device's `CREATED → ACTIVE` — or `PENDING_COMMIT`
    /// when `approvalRequired` and the user already has another ACTIVE device of any kind (a
    /// PowerAuth registration is a device of the user too) — in one transaction under
    /// a per-user lock, so that the "first device" decision and the activation are one step: any
    /// number of concurrent first bindings yield exactly one ACTIVE device (RTS art. 24). When it
    /// goes to PENDING_COMMIT, `approval` (the engine's approval of this device) is stored in the
    /// same transaction, so a pending device never lacks the approval that can let it in.
    /// Returns the device's new status, `nil` when the challenge was no longer open.
    func completeBindingChallenge(id: String, deviceID: String, userID: String, approvalRequired: Bool, approval: Approval?, at now: Date)
        async throws -> Device.Status?
    /// The decision of a bound device (`approverID`, either kind) on the approval of a new
    /// device, in one transaction: the approver must be ACTIVE (its row is locked, so a block
    /// landing at the same moment either waits or makes this fail), then the approval leaves
    /// PENDING (unexpired) for APPROVED or REJECTED, then the device leaves PENDING_COMMIT for
    /// ACTIVE or REMOVED. When the device was no longer PENDING_COMMIT (removed meanwhile), the
    /// approval is CANCELED instead.
    func decidePendingDeviceApproval(
        approvalID: String, deviceID: String, approverID: String, userID: String, approve: Bool, reason: String?, at now: Date
    ) async throws -> PendingDeviceDecision
    /// `open → failed` once the attempts are used up.
    func failChallengeIfExhausted(id: String) async throws
}

/// The durable outbox of notifications to users.
public protocol NotificationOutbox: Sendable {
    /// Leases up to `limit` due notifications for `lease` seconds (several nodes never take the
    /// same one; one that is not marked sent within the lease is retried).
    func claimDueNotifications(at now: Date, limit: Int, lease: TimeInterval) async throws -> [OutboxNotification]
    /// Marks the notifications of one dispatch pass sent, in one transaction.
    func markNotificationsSent(ids: [String], at now: Date) async throws
    /// Adds notifications to the outbox.
    func enqueue(_ notifications: [OutboxNotification]) async throws
    /// Schedules another attempt, or gives up (`dead`) after too many.
    func markNotificationFailed(id: String, nextAttemptAt: Date, dead: Bool) async throws
}

/// What came of a bound device's decision on a new device's approval.
public enum PendingDeviceDecision: Sendable, Equatable {
    /// The approval and the device moved together.
    case decided
    /// The approver is not an ACTIVE device of the user (blocked, removed, another user's, the new device itself).
    case approverNotActive
    /// The approval is no longer PENDING, or expired.
    case approvalClosed
    /// The new device left PENDING_COMMIT (e.g. removed); the approval is now CANCELED.
    case deviceNotPending
}

extension DeviceRepository {
    /// A binding without an approval to store (approval not required, or tests of the decision alone).
    public func completeBindingChallenge(id: String, deviceID: String, userID: String, approvalRequired: Bool, at now: Date)
        async throws -> Device.Status?
    {
        try await completeBindingChallenge(id: id, deviceID: deviceID, userID: userID, approvalRequired: approvalRequired, approval: nil, at: now)
    }
}

extension DeviceRepository {
    /// A binding without caps (fixtures and tests of other steps).
    public func insertDeviceBinding(device: Device, challenge: Challenge, notification: OutboxNotification) async throws {
        _ = try await insertDeviceBinding(device: device, challenge: challenge, notification: notification, limits: nil)
    }
}
