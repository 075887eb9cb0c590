import Foundation

/// An end user: the resource owner of the password grant, the owner of devices.
public struct User: Sendable, Equatable {
    /// ```
    /// active ──(5 failures)──▶ locked(until) ──(time passes)──▶ active
    ///   │  ▲
    ///   ▼  │ (operator)
    /// disabled           DELETE /api/v2/users removes the user and everything bound to it
    /// ```
    /// `locked` is not stored as a status: it is `lockedUntil > now`, so it ends by itself.
    /// Deletion is not a status either: the row and its tokens are gone (data minimisation).
    public enum Status: String, Sendable {
        case active
        case disabled
    }

    public var id: String
    public var username: String
    public var passwordHash: String
    public var phone: String?
    public var email: String?
    /// The tenant client that created the user through `/api/v2/users`, if any.
    public var ownerClientId: String?
    public var status: Status
    public var failedLoginAttempts: Int
    public var lockedUntil: Date?
    /// Set while device binding is blocked after too many wrong binding answers.
    public var bindingLockedUntil: Date?
    public var createdAt: Date
    /// The realm that owns the user; the username is unique within it.
    public var realmID: String

    public init(
        id: String, username: String, passwordHash: String, phone: String? = nil, email: String? = nil,
        ownerClientId: String? = nil, status: Status = .active, failedLoginAttempts: Int = 0,
        lockedUntil: Date? = nil, bindingLockedUntil: Date? = nil, createdAt: Date, realmID: String = Realm.defaultID
    ) {
        self.realmID = realmID
        self.id = id
        self.username = username
        self.passwordHash = passwordHash
        self.phone = phone
        self.email = email
        self.ownerClientId = ownerClientId
        self.status = status
        self.failedLoginAttempts = failedLoginAttempts
        self.lockedUntil = lockedUntil
        self.bindingLockedUntil = bindingLockedUntil
        self.createdAt = createdAt
    }

    /// Whether the password factor is locked at `now`.
    public func isLocked(at now: Date) -> Bool {
        guard let lockedUntil else { return false }
        return lockedUntil > now
    }
}
