import Foundation

/// Client credentials as presented: a secret (HTTP Basic or form body, RFC 6749 §2.3.1), a
/// signed assertion (`private_key_jwt`, RFC 7523 §2.2), or only the client id (a public client,
/// RFC 6749 §2.1, whose proof is PKCE or DPoP).
public struct ClientCredentials: Sendable, Equatable {
    public enum Proof: Sendable, Equatable {
        case secret(String)
        case assertion(String)
        case none
    }

    public var clientID: String
    public var proof: Proof

    public init(clientID: String, proof: Proof) {
        self.clientID = clientID
        self.proof = proof
    }

    public init(clientID: String, clientSecret: String) {
        self.init(clientID: clientID, proof: .secret(clientSecret))
    }
}

/// A parsed token request; the face has already checked the form is well-formed.
public struct TokenRequest: Sendable, Equatable {
    public var grantType: String
    public var scope: String?
    public var username: String?
    public var password: String?
    public var refreshToken: String?
    /// RFC 8707 resource indicators: absolute URIs of the resource servers the token is for;
    /// they join the client id in the access token's `aud`.
    public var resources: [String]
    /// The authorization code grant (RFC 6749 §4.1.3, RFC 7636 §4.5).
    public var code: String?
    public var redirectURI: String?
    public var codeVerifier: String?
    /// The thumbprint of the key of the DPoP proof the face verified (RFC 9449): the tokens are
    /// bound to it. `nil` without a proof.
    public var dpopKeyThumbprint: String?

    public init(
        grantType: String, scope: String? = nil, username: String? = nil, password: String? = nil, refreshToken: String? = nil,
        resources: [String] = [], code: String? = nil, redirectURI: String? = nil, codeVerifier: String? = nil,
        dpopKeyThumbprint: String? = nil
    ) {
        self.code = code
        self.redirectURI = redirectURI
        self.codeVerifier = codeVerifier
        self.grantType = grantType
        self.dpopKeyThumbprint = dpopKeyThumbprint
        self.resources = resources
        self.scope = scope
        self.username = username
        self.password = password
        self.refreshToken = refreshToken
    }
}

/// A successful token response (RFC 6749 §5.1).
public struct IssuedTokens: Sendable, Equatable {
    public var accessToken: String
    public var expiresIn: Int
    public var refreshToken: String?
    public var scope: String
    /// What was issued, for revoking it later (an authorization code presented twice).
    public var familyID: String? = nil
    public var accessTokenID: String? = nil
    public var accessTokenExpiresAt: Date? = nil
    /// The DPoP key the access token is bound to (`token_type: DPoP`), `nil` for a bearer token.
    public var dpopKeyThumbprint: String? = nil
}

/// User tokens decided but not yet issued (`TokenService.prepareUserTokens`): the refresh token
/// and its record, to be stored in the caller's unit of work, and what the access token will say.
public struct PendingUserTokens: Sendable {
    public var userID: String
    public var client: OAuthClient
    public var scopes: Scopes
    public var amr: [String]
    public var confirmationDeviceID: String?
    public var authTime: Date
    public var resources: [String]
    public var dpopKeyThumbprint: String?
    public var issuedAt: Date
    /// The refresh token handed out, and the record (by hash, new family) that must be stored first.
    public var refreshToken: String? = nil
    public var refreshTokenRecord: RefreshTokenRecord? = nil
}

/// The answer of RFC 7662 introspection: `active` and, when active, what the token says.
public struct IntrospectionResult: Sendable, Equatable {
    public var active: Bool
    public var claims: AccessTokenClaims?
    /// For refresh tokens, which carry no JWT claims.
    public var refreshToken: RefreshTokenRecord?

    public static let inactive = IntrospectionResult(active: false, claims: nil, refreshToken: nil)
}

/// Lifetimes and issuer of the OAuth core (the password's lockout: `AttemptLimits`).
public struct OAuthConfiguration: Sendable, Equatable {
    public var issuer: String
    public var accessTokenLifetime: TimeInterval
    public var refreshTokenLifetime: TimeInterval
    /// How DPoP proofs are judged.
    public var dpop: DPoPConfiguration

    public init(
        issuer: String, accessTokenLifetime: TimeInterval = 900, refreshTokenLifetime: TimeInterval = 30 * 86_400,
        dpop: DPoPConfiguration = DPoPConfiguration()
    ) {
        self.issuer = issuer
        self.dpop = dpop
        self.accessTokenLifetime = accessTokenLifetime
        self.refreshTokenLifetime = refreshTokenLifetime
    }
}

/// Prefixes of StrongAuth's opaque secrets.
public enum SecretPrefix {
    public static let clientSecret = "sa_cs_"
    public static let refreshToken = "sa_rt_"
}
