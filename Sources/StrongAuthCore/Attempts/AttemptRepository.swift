import Foundation
import StrongAuthProtocol

/// Whose counter an attempt counts on: the row the store updates.
public enum AttemptSubject: Sendable, Equatable {
    case user(id: String)
    case `operator`(id: String)
    case challenge(id: String)
    case accessTool(userID: String, tool: AccessTool)
    /// A PowerAuth activation; `webhooksAtLimit` are queued in the same transaction as the count
    /// when it reaches the limit (the registration's new status is announced exactly once).
    case activation(id: String, webhooksAtLimit: [WebhookDelivery])
    /// A pending approval; `webhooksAtLimit` as for an activation (`PENDING → FAILED`).
    case approval(id: String, webhooksAtLimit: [WebhookDelivery])

    /// The kinds of subject, for `Factor.subjectKind`.
    public enum Kind: String, Sendable {
        case user, `operator`, challenge, accessTool, activation, approval
    }

    public var kind: Kind {
        switch self {
        case .user: .user
        case .operator: .operator
        case .challenge: .challenge
        case .accessTool: .accessTool
        case .activation: .activation
        case .approval: .approval
        }
    }
}

/// One counted attempt.
public struct AttemptReservation: Sendable, Equatable {
    /// The attempt's number in the running count, this one included (consecutive for the timed
    /// locks: reset to 0 by a success, restarted after a lock). `nil` for an access tool, whose
    /// row keeps only what is left (ABN AMRO login protocol: `attemptsLeft`).
    public var attempts: Int?
    /// Attempts left after this one; 0: this one reached the limit (`Factor.atLimit` applies if
    /// it is wrong, or has applied already for the factors counted after a failed check).
    public var remaining: Int
    /// For the factors that lock for a while: set when this attempt reached the limit, the lock
    /// that applies if the secret is wrong.
    public var lockedUntil: Date?

    public init(attempts: Int?, remaining: Int, lockedUntil: Date? = nil) {
        self.attempts = attempts
        self.remaining = remaining
        self.lockedUntil = lockedUntil
    }

    /// Whether this attempt reached the factor's limit.
    public var limitReached: Bool { remaining == 0 }

    /// The audit details of a wrong secret of a factor that locks for a while: the consecutive
    /// failures and, when this one set it, the lock.
    public var lockDetails: [String: String] {
        var details = ["consecutive_failures": String(attempts ?? 0)]
        if let lockedUntil { details["locked_until"] = InternetTimestamp.string(from: lockedUntil) }
        return details
    }
}

/// A factor asked of a subject it has no counter on (`Factor.subjectKind`): a programming error.
public struct AttemptSubjectMismatch: Error, Equatable, CustomStringConvertible {
    public var factor: Factor
    public var subject: AttemptSubject.Kind

    public init(factor: Factor, subject: AttemptSubject.Kind) {
        self.factor = factor
        self.subject = subject
    }

    public var description: String { "factor \(factor.rawValue) has no counter on a \(subject.rawValue)" }
}

/// The one entry point that counts attempts of every `Factor`.
public protocol AttemptRepository: Sendable {
    /// The timed locks this store applies (`AttemptLimits.lockout(for:)`).
    var attemptLimits: AttemptLimits { get }

    /// Counts one attempt of `factor` on `subject`'s counter in ONE atomic conditional update, so
    /// that the limit holds with any number of nodes on one database. `nil` when no attempt may
    /// be made: the factor is locked or blocked, the challenge or approval is closed or expired,
    /// the activation is not in a status the factor applies to.
    ///
    /// For the factors counted before the check (`Factor.countsBeforeCheck`) a successful check
    /// then calls `resetAttempts` (or the face's own reset); for the others this is called after
    /// a failed check and, when the count reaches the limit, also moves the subject to its
    /// `Factor.atLimit` status and queues the subject's `webhooksAtLimit`, in the same transaction.
    /// Throws `AttemptSubjectMismatch` when `subject` is not of `factor.subjectKind`.
    func reserveAttempt(_ factor: Factor, subject: AttemptSubject, at now: Date) async throws -> AttemptReservation?

    /// Ends a timed lock and its count (after a success, or an operator's unlock). Only for the
    /// factors with a `lockout(for:)`; throws `AttemptSubjectMismatch` for others.
    func resetAttempts(_ factor: Factor, subject: AttemptSubject) async throws
}
