import Foundation
import StrongAuthProtocol

/// The user's own account changes, each one atomic store step (self-service). The
/// step-up in front of them is `StepUpService`'s; the store steps here never check assurance.
public protocol AccountRepository: Sendable {
    /// Sets the password hash if it is still `oldHash` (a compare-and-set: of two concurrent
    /// changes from the same old password only one wins), revokes every refresh-token family of
    /// the user and ends the user's other self-service sessions (all but `keepingWebSession`), in
    /// one transaction. `false` (nothing changed) when the user is gone or the hash moved on.
    func changePassword(userID: String, from oldHash: String, to newHash: String, keepingWebSession tokenHash: String?, at now: Date)
        async throws -> Bool
    /// Sets the phone number if it is still `oldPhone` (nil: none registered), and queues
    /// `notice` (the SMS to the old number) in the same transaction, so the notice is sent
    /// exactly when the change happened. `false` (nothing changed, nothing queued) otherwise.
    func changePhone(userID: String, from oldPhone: String?, to newPhone: String, notice: OutboxNotification?) async throws -> Bool
}

/// How many step-up SMS OTPs one user may be sent (`web.stepUpSmsPerHour`): each costs the bank
/// money and lands on a phone, so an attacker with the password must not be able to pump them.
public struct SMSSendLimit: Sendable, Equatable {
    public var maxPerWindow: Int
    public var window: TimeInterval

    public init(maxPerWindow: Int = 5, window: TimeInterval = 3600) {
        self.maxPerWindow = max(1, maxPerWindow)
        self.window = max(1, window)
    }
}

/// Why an account change was refused.
public enum AccountError: Error, Equatable, Sendable {
    /// The current password re-entered for a password change is wrong (or the password factor
    /// is locked: the same answer, so the form cannot tell a guesser which).
    case wrongPassword
    /// Something changed the account between reading and writing it: nothing was done.
    case changedConcurrently
    /// The user no longer exists.
    case noSuchUser
}

/// Deleting the account, changing the password and changing the phone number from self-service.
/// The caller (the self-service controller) has made sure the session carries a recent second
/// factor (`AssurancePolicy`: `.deleteAccount`, `.changePassword`, `.changePhoneNumber`).
public struct AccountService: Sendable {
    public typealias Repositories = UserRepository & AccountRepository & AuditLog

    private let store: any Repositories
    private let administration: AdministrationService
    private let passwordHasher: any PasswordHasher
    private let masterKey: MasterKey
    private let time: any TimeSource

    public init(
        store: any Repositories, administration: AdministrationService, passwordHasher: any PasswordHasher, masterKey: MasterKey,
        time: any TimeSource
    ) {
        self.store = store
        self.administration = administration
        self.passwordHasher = passwordHasher
        self.masterKey = masterKey
        self.time = time
    }

    /// Deletes the account: the user's devices (and their PowerAuth activations), refresh tokens,
    /// challenges, login state and web sessions go in one transaction (`deleteUser`), which frees
    /// the username in its realm. The audit record (`user.deleted`, `via=self-service`) stays:
    /// the bank must be able to show who deleted what and when.
    public func deleteAccount(userID: String, source: String?) async throws {
        guard try await administration.deleteUser(id: userID, actor: "user:\(userID)", source: source, via: "self-service") else {
            throw AccountError.noSuchUser
        }
    }

    /// Changes the password: the current one re-entered (counted on the password factor's lockout
    /// before it is checked, like a sign-in, so the form is no guessing oracle), the new one through
    /// the rules every face uses (`Validate.password`) and the configured hasher. Every refresh-token
    /// family of the user is revoked — the apps, and whoever may have learnt the old password,
    /// sign in again — and every other self-service session ends; the session that made the
    /// change (`keepingWebSession`) stays.
    public func changePassword(
        userID: String, current: String, new: String, keepingWebSession tokenHash: String?, source: String?
    ) async throws {
        try Validate.password(new)
        guard let user = try await store.user(id: userID) else { throw AccountError.noSuchUser }
        guard try await store.reserveAttempt(.password, subject: .user(id: userID), at: time.now()) != nil,
            try await passwordHasher.verify(current, hash: user.passwordHash)
        else {
            try await audit(userID, .userPasswordChanged, outcome: .failure, source: source, ["reason": "wrong_password"], realm: user.realmID)
            throw AccountError.wrongPassword
        }
        try await store.resetAttempts(.password, subject: .user(id: userID))
        let newHash = try await passwordHasher.hash(new)
        guard try await store.changePassword(userID: userID, from: user.passwordHash, to: newHash, keepingWebSession: tokenHash, at: time.now())
        else { throw AccountError.changedConcurrently }
        try await audit(userID, .userPasswordChanged, outcome: .success, source: source, ["via": "self-service"], realm: user.realmID)
    }

    /// Changes the phone number to an E.164 number (`Validate.e164Phone`). The old number, if
    /// there was one, gets an SMS saying so through the outbox, queued in the same transaction:
    /// if someone else changed it, its owner learns it on the phone they still hold.
    public func changePhone(userID: String, to newPhone: String, source: String?) async throws {
        try Validate.e164Phone(newPhone)
        guard let user = try await store.user(id: userID) else { throw AccountError.noSuchUser }
        guard user.phone != newPhone else { throw ValidationError(field: "phone", message: "is already your phone number") }
        let now = time.now()
        let notice = try user.phone.map { old in
            let message =
                "Your StrongAuth phone number was changed to \(Self.mask(newPhone)). If this was not you, contact your bank now."
            return OutboxNotification(
                id: SecureRandom.uuid(), kind: .smsNotice, userID: userID, recipient: old,
                sealedBody: try masterKey.seal(Array(message.utf8), purpose: NotificationSealing.purpose, associatedData: "notification"),
                nextAttemptAt: now, createdAt: now)
        }
        guard try await store.changePhone(userID: userID, from: user.phone, to: newPhone, notice: notice) else {
            throw AccountError.changedConcurrently
        }
        try await audit(
            userID, .userPhoneChanged, outcome: .success, source: source,
            ["via": "self-service", "from": user.phone.map(Self.mask) ?? "none", "to": Self.mask(newPhone)], realm: user.realmID)
    }

    /// `+49…78`: enough for the owner to recognise the number, not enough to learn it.
    public static func mask(_ phone: String) -> String {
        guard phone.count > 6 else { return String(repeating: "•", count: phone.count) }
        return "\(phone.prefix(3))…\(phone.suffix(2))"
    }

    private func audit(
        _ userID: String, _ action: AuditAction, outcome: AuditRecord.Outcome, source: String?, _ details: [String: String], realm: String
    ) async throws {
        try await store.append(
            AuditRecord(
                actor: "user:\(userID)", action: action, subject: "user:\(userID)", sourceAddress: source, outcome: outcome,
                details: details, realm: realm),
            at: time.now())
    }
}
