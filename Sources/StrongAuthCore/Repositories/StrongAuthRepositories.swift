import Foundation

/// Storage errors the core reacts to. Everything else is an infrastructure failure (a 503).
public enum StoreError: Error, Equatable, CustomStringConvertible {
    /// A unique key (client id, username, …) is already taken.
    case conflict(String)

    public var description: String {
        switch self {
        case .conflict(let what): "\(what) already exists"
        }
    }
}

/// Everything the core needs from storage.
public typealias StrongAuthRepositories = ClientRepository & UserRepository & TokenRepository
    & SigningKeyRepository & AuditLog & DeviceRepository & NotificationOutbox & PowerAuthRepository & WebhookOutbox
    & ApprovalRepository & SessionRepository & RealmRepository & PasskeyRepository & RetentionRepository
