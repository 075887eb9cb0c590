import Foundation

/// An OAuth 2.0 client of one tenant application: confidential (a secret, or `private_key_jwt`
/// with its registered JWK Set) or public (`isPublic`: no credential, PKCE carries the proof).
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
    /// The redirect URIs registered for the authorization endpoint, matched exactly (RFC 9700
    /// §4.1.3: no patterns, no prefix matching).
    public var redirectURIs: [String]
    /// A public client (a native or browser app, RFC 6749 §2.1): it has no secret and
    /// authenticates nowhere; it may use only `authorization_code` (PKCE mandatory) and
    /// `refresh_token` (sender-constrained with DPoP, RFC 9449 §5).
    public var isPublic: Bool
    /// The client's public keys (a JWK Set, JSON) for `private_key_jwt` (RFC 7523 §2.2).
    public var jwks: String?
    /// Every token request of this client must carry a DPoP proof (RFC 9449); its tokens are
    /// bound to the proof's key.
    public var requiresDPoP: Bool
    /// Authorization requests must come through `/oauth/par` (RFC 9126 §5
    /// `require_pushed_authorization_requests`).
    public var requiresPushedAuthorizationRequests: Bool
    /// The assurance its logins get when the request names none (`acr_values`): one of
    /// `AssuranceLevel`'s values; `nil` is one factor.
    public var defaultACR: String?

    public init(
        id: String, name: String, secretHash: String, grants: Set<GrantType>, scopes: Scopes,
        status: Status = .active, createdAt: Date, webhookURL: String? = nil, sealedWebhookSecret: String? = nil,
        isResourceServer: Bool = false, realmID: String = Realm.defaultID, redirectURIs: [String] = [], isPublic: Bool = false,
        jwks: String? = nil, requiresDPoP: Bool = false, requiresPushedAuthorizationRequests: Bool = false, defaultACR: String? = nil
    ) {
        self.redirectURIs = redirectURIs
        self.isPublic = isPublic
        self.jwks = jwks
        self.requiresDPoP = requiresDPoP
        self.requiresPushedAuthorizationRequests = requiresPushedAuthorizationRequests
        self.defaultACR = defaultACR
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
