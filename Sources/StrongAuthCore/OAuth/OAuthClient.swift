import Foundation

/// A confidential OAuth 2.0 client of one tenant application.
///
/// The secret is never stored: only its keyed hash (see `KeyedHash`).
public struct OAuthClient: Sendable, Equatable {
    /// Lifecycle of a client. `active ⇄ disabled` (an operator switch; a disabled client
    /// authenticates nowhere and its tokens introspect as inactive) and `→ deleted`, a tombstone:
    /// the id is never given out again, so no token issued to the deleted client can come back to
    /// life under a new client of the same id (docs/admin-api.md).
    public enum Status: String, Sendable {
        case active
        case disabled
        case deleted
    }

    public var id: String
    public var name: String
    public var secretHash: String
    public var grants: Set<GrantType>
    public var scopes: Scopes
    public var status: Status
    public var createdAt: Date
    /// Where action request status changes are POSTed (Shine clients), if anywhere.
    public var webhookURL: String?
    /// The secret signing those webhooks, sealed under the master key (it must be read back to
    /// sign, so it cannot be a hash).
    public var sealedWebhookSecret: String?
    /// A resource server of the realm (`clients create --introspect`): it may introspect tokens
    /// issued to other clients. Every other client learns only about its own tokens (RFC 7662
    /// §4: the server decides which clients may introspect which tokens).
    public var isResourceServer: Bool
    /// The realm the client acts in: it finds, creates and is told about that realm's users only.
    public var realmID: String

    public init(
        id: String, name: String, secretHash: String, grants: Set<GrantType>, scopes: Scopes,
        status: Status = .active, createdAt: Date, webhookURL: String? = nil, sealedWebhookSecret: String? = nil,
        isResourceServer: Bool = false, realmID: String = Realm.defaultID
    ) {
        self.isResourceServer = isResourceServer
        self.realmID = realmID
        self.id = id
        self.name = name
        self.secretHash = secretHash
        self.grants = grants
        self.scopes = scopes
        self.status = status
        self.createdAt = createdAt
        self.webhookURL = webhookURL
        self.sealedWebhookSecret = sealedWebhookSecret
    }
}
