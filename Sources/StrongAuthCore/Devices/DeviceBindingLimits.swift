import Foundation

/// What a new device binding is checked against in the store, in the transaction that stores it
/// (SECURITY.md): the number of the user's unfinished devices and the OTP SMS budgets.
public struct DeviceBindingLimits: Sendable, Equatable {
    /// Devices in CREATED or PENDING_COMMIT per user, counting only those created after
    /// `pendingSince` (older ones can no longer be finished).
    public var maxPending: Int
    public var pendingSince: Date
    /// How long a device counts: `retryAt` is its creation plus this.
    public var pendingLifetime: TimeInterval
    public var sms: [SMSBudget]
    public var smsWindow: TimeInterval

    public init(maxPending: Int, pendingSince: Date, pendingLifetime: TimeInterval, sms: [SMSBudget], smsWindow: TimeInterval) {
        self.maxPending = maxPending
        self.pendingSince = pendingSince
        self.pendingLifetime = pendingLifetime
        self.sms = sms
        self.smsWindow = smsWindow
    }
}

/// What `insertDeviceBinding` did.
public enum DeviceBindingOutcome: Sendable, Equatable {
    case inserted
    /// Nothing stored or counted: the user has `maxPending` unfinished devices.
    case tooManyPending(retryAt: Date)
    /// Nothing stored or counted: an SMS budget is spent.
    case smsExhausted(retryAt: Date)
}
