import Foundation

/// A message to a user (SMS OTP, push) waiting in the durable outbox.
///
/// It is written in the same transaction as the thing that promised it (a device-binding
/// challenge), so a promised OTP is sent even if the process dies right after answering; the
/// dispatcher delivers it through the configured channel and marks it sent.
///
/// ```
/// pending ──(delivered)──▶ sent
///    └──(delivery failed)──▶ pending again at nextAttemptAt (exponential backoff) … ──▶ dead
/// ```
public struct OutboxNotification: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case smsOTP = "sms_otp"
        /// An SMS that only informs (the phone number was changed): no code in it.
        case smsNotice = "sms_notice"
        /// A push to one device (recipient = device id).
        case push
    }

    public enum Status: String, Sendable {
        case pending
        case sent
        case dead
    }

    public var id: String
    public var kind: Kind
    public var userID: String
    /// Where it goes: the phone number for SMS.
    public var recipient: String
    /// The message body sealed under the master key (it carries an OTP).
    public var sealedBody: String
    public var status: Status
    public var attempts: Int
    public var nextAttemptAt: Date
    public var createdAt: Date
    public var sentAt: Date?

    public init(
        id: String, kind: Kind, userID: String, recipient: String, sealedBody: String, status: Status = .pending,
        attempts: Int = 0, nextAttemptAt: Date, createdAt: Date, sentAt: Date? = nil
    ) {
        self.id = id
        self.kind = kind
        self.userID = userID
        self.recipient = recipient
        self.sealedBody = sealedBody
        self.status = status
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.createdAt = createdAt
        self.sentAt = sentAt
    }
}
