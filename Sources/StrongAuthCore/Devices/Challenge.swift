import Foundation

/// A one-time challenge a device must answer with a signature.
///
/// ```
/// open ──(correct signature)──▶ answered ──(push: token fetched once)──▶ redeemed
///   │──(push: device says no)──▶ denied
///   │──(5th wrong answer)─────▶ failed
///   └──(expiresAt passes)─────▶ expired   (decided on read: an expired open challenge is dead)
/// ```
/// Every answer first reserves an attempt in one conditional update, so concurrent answers can
/// never exceed `maxAttempts`, and only one answer can move `open → answered`.
public struct Challenge: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// Device binding: the device signs the SMS OTP (the payload is the sealed OTP).
        case deviceBinding = "device_binding"
        /// MFA: the device signs `stringToSign` and receives confirmed tokens.
        case deviceSignature = "device_signature"
        /// MFA by push: any of the user's ACTIVE devices approves or denies with a signature over
        /// `"<challengeId>:<VERIFIED|DENIED>"`; the requester then fetches confirmed tokens once.
        case mfaPush = "mfa_push"
        /// Self-service step-up of a user without an ACTIVE device: the SMS OTP (sealed, as for
        /// binding) typed into the browser; `deviceID` is empty.
        case webStepUp = "web_step_up"
    }

    public enum Status: String, Sendable {
        case open
        case answered
        case denied
        case redeemed
        case failed
        case expired
    }

    public var id: String
    public var kind: Kind
    public var userID: String
    /// The device that must answer; for `mfaPush` empty until a device answers.
    public var deviceID: String
    /// For `deviceBinding` the OTP sealed under the master key; for `deviceSignature` the
    /// `stringToSign` (not secret: the device is told it).
    public var payload: String
    public var status: Status
    public var attempts: Int
    public var maxAttempts: Int
    public var createdAt: Date
    public var expiresAt: Date

    public init(
        id: String, kind: Kind, userID: String, deviceID: String, payload: String, status: Status = .open,
        attempts: Int = 0, maxAttempts: Int, createdAt: Date, expiresAt: Date
    ) {
        self.id = id
        self.kind = kind
        self.userID = userID
        self.deviceID = deviceID
        self.payload = payload
        self.status = status
        self.attempts = attempts
        self.maxAttempts = maxAttempts
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }

    /// Whether an answer may still be tried at `now`.
    public func isOpen(at now: Date) -> Bool {
        status == .open && expiresAt > now && attempts < maxAttempts
    }
}
