import Foundation

/// What may be done to a device, by anyone: the user (`DELETE /api/user/devices/{id}`, the
/// self-service pages), an operator (the back office), the integrator (PowerAuth's
/// `/v2/registrations`), or the phone itself (`/pa/v3/activation/remove`).
public enum DeviceAction: String, Sendable, CaseIterable {
    /// PENDING_COMMIT → ACTIVE: the integrator commits a PowerAuth registration; a Kontist
    /// device is committed by a bound device's approval (see `DeviceLifecycle.apply`).
    case commit
    /// ACTIVE → BLOCKED, with a reason.
    case block
    /// BLOCKED → ACTIVE (a PowerAuth registration's failure count starts over).
    case unblock
    /// Any status but REMOVED → REMOVED, for good.
    case remove

    /// The statuses the action leaves from: the one definition every face and every store
    /// update uses (`UPDATE devices … WHERE id = ? AND status IN (from)`).
    public var from: Set<Device.Status> {
        switch self {
        case .commit: [.pendingCommit]
        case .block: [.active]
        case .unblock: [.blocked]
        case .remove: [.created, .pendingCommit, .active, .blocked]
        }
    }

    /// `from` as stored (`devices.status`), in a stable order for SQL binds.
    public var fromRawValues: [String] { from.map(\.rawValue).sorted() }

    /// The status the action leads to.
    public var to: Device.Status {
        switch self {
        case .commit, .unblock: .active
        case .block: .blocked
        case .remove: .removed
        }
    }

    /// Whether the action may start from `status` (what the screens offer, what the faces check
    /// before the conditional update decides).
    public func allows(from status: Device.Status) -> Bool { from.contains(status) }

    /// The verb of the audit record: `device.<past>` or `powerauth.registration.<past>`.
    public var pastTense: String {
        switch self {
        case .commit: "committed"
        case .block: "blocked"
        case .unblock: "unblocked"
        case .remove: "removed"
        }
    }
}

/// Why the lifecycle refused an action.
public enum DeviceLifecycleError: Error, Equatable, Sendable {
    /// The device is in `status` (at this moment; an unfinished PowerAuth registration past its
    /// expiry reads REMOVED), which the action does not leave from — also when another request
    /// moved it between the read and the conditional update.
    case state(Device.Status)
    /// A Kontist device leaves PENDING_COMMIT only by a bound device's approval (PSD2 RTS
    /// art. 24), in the approval's own transaction (`DeviceRepository.approvePendingDevice`,
    /// `decidePendingDeviceApproval`), never by a bare commit.
    case approvalRequired
}

/// The one owner of device status changes after binding, for every kind of device: which
/// transitions are legal (`DeviceAction.from`/`to`, a pure table) and what each does besides the
/// status — dispatching on the device's kind in one place:
///
/// - `ecdsa-p256` (Kontist): one conditional update of the device row, then the audit record
///   `device.<past>`.
/// - `powerauth` (Wultra PowerAuth "Activation Lifecycle"): one transaction that moves the row
///   (only while unexpired, unless removing), frees the activation code, resets the failure count
///   when it becomes ACTIVE, deletes the MAC tokens when REMOVED and queues the application's
///   `REGISTRATION_STATUS_CHANGED` callback; then the audit record `powerauth.registration.<past>`.
///
/// For both kinds the database itself revokes the device's confirmed refresh-token families when
/// it leaves ACTIVE (trigger `devices_leave_active_revoke_families`, see
/// `docs/security-model.md`), so every path ends them whoever moved the row. Who may act on which
/// device (owner, realm, integration user's applications) is the face's check before calling this.
public struct DeviceLifecycle: Sendable {
    public typealias Repositories = DeviceRepository & PowerAuthRepository & AuditLog

    let store: any Repositories
    let time: any TimeSource

    public init(store: any Repositories, time: any TimeSource) {
        self.store = store
        self.time = time
    }

    /// The status that decides what may be done to `device` now: a PowerAuth registration's
    /// (which reads REMOVED once its activation expired unfinished), else the row's.
    public func status(of device: Device) async throws -> Device.Status {
        guard device.kind == .powerauth, let registration = try await store.registration(id: device.id) else { return device.status }
        return registration.status(at: time.now())
    }

    /// Applies `action` to any device; returns its new status.
    @discardableResult
    public func apply(_ action: DeviceAction, to device: Device, reason: String? = nil, actor: String, source: String?) async throws
        -> Device.Status
    {
        switch device.kind {
        case .powerauth:
            guard let registration = try await store.registration(id: device.id) else { throw DeviceLifecycleError.state(.removed) }
            return try await apply(action, to: registration, reason: reason, actor: actor, source: source).device.status
        case .ecdsaP256, .passkey:
            return try await applyToKey(action, device: device, reason: reason, actor: actor, source: source)
        }
    }

    /// Applies `action` to a PowerAuth registration; returns it as it is now.
    public func apply(_ action: DeviceAction, to registration: Registration, reason: String? = nil, actor: String, source: String?)
        async throws -> Registration
    {
        let now = time.now()
        let current = registration.status(at: now)
        guard action.allows(from: current) else { throw DeviceLifecycleError.state(current) }
        var changed = registration
        changed.device.status = action.to
        changed.device.blockedReason = reason
        if action.to == .active { changed.counter.failedAttempts = 0 }
        if action.to != .created { changed.activation.activationCode = nil }
        let moved = try await store.transitionRegistration(
            id: registration.id, from: action.from, to: action.to, reason: reason, resetFailures: action.to == .active,
            webhooks: try await PowerAuthService.registrationWebhooks(changed, status: action.to, store: store, at: now), at: now)
        guard moved else {
            let latest = try await store.registration(id: registration.id)
            throw DeviceLifecycleError.state(latest?.status(at: now) ?? .removed)
        }
        try await store.append(
            PowerAuthService.auditRecord(
                changed, action: .registration(action), actor: actor, source: source,
                details: reason.map { ["reason": $0] } ?? [:]),
            at: time.now())
        return changed
    }

    /// A Kontist (ECDSA P-256) device or a passkey: one conditional update, then its audit record.
    private func applyToKey(_ action: DeviceAction, device: Device, reason: String?, actor: String, source: String?) async throws
        -> Device.Status
    {
        guard action.allows(from: device.status) else { throw DeviceLifecycleError.state(device.status) }
        guard action != .commit else { throw DeviceLifecycleError.approvalRequired }
        guard try await store.transitionDevice(id: device.id, from: action.from, to: action.to, reason: reason, at: time.now()) else {
            throw DeviceLifecycleError.state(try await store.device(id: device.id)?.status ?? .removed)
        }
        try await store.append(
            AuditRecord(
                actor: actor, action: .device(action), subject: "device:\(device.id)", sourceAddress: source, outcome: .success,
                details: reason.map { ["reason": $0] } ?? [:]),
            at: time.now())
        return action.to
    }
}

extension BlockedReason {
    /// A reason for a block, as PowerAuth's integration API and the back office accept it: 1–64
    /// ASCII letters, digits, `_` and `-` (it is shown on screens and sent in callbacks).
    public static func isValid(_ reason: String) -> Bool {
        (1...64).contains(reason.utf8.count) && reason.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }
    }
}
