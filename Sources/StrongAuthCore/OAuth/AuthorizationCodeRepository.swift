import Foundation

/// A login at the hosted login page, from the authorization request to the code.
///
/// ```
/// started ──(password right)──▶ password ──(client or acr_values ask for 2fa)──▶ second factor
///    │                             │                                                 │
///    │                             └──(one factor asked)──────┐   (device approved, or SMS OTP right)
///    │                                                        ▼                      │
///    └──(expiresAt passes)──▶ gone              finished: a code issued ◀────────────┘
/// ```
/// Each arrow is one conditional update of its row, which also names the browser (the keyed
/// hash of its cookie): another browser, or a second request racing this one, changes nothing.
public struct AuthorizationLogin: Sendable, Equatable {
    /// The keyed hash of the login's handle (the `login` field of its forms).
    public var id: String
    public var request: AuthorizationRequest
    /// The keyed hash of the cookie of the browser that started it.
    public var browserHash: String
    /// Set once the password was right.
    public var userID: String?
    public var passwordAt: Date?
    /// The second factor the login waits for: how, and the approval or SMS challenge id.
    public var secondFactor: StepUpMethod?
    public var secondFactorID: String?
    public var createdAt: Date
    public var expiresAt: Date
    /// When the code was issued (or the pushed request taken): never again after it.
    public var finishedAt: Date?

    public init(
        id: String, request: AuthorizationRequest, browserHash: String, userID: String? = nil, passwordAt: Date? = nil,
        secondFactor: StepUpMethod? = nil, secondFactorID: String? = nil, createdAt: Date, expiresAt: Date, finishedAt: Date? = nil
    ) {
        self.id = id
        self.request = request
        self.browserHash = browserHash
        self.userID = userID
        self.passwordAt = passwordAt
        self.secondFactor = secondFactor
        self.secondFactorID = secondFactorID
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.finishedAt = finishedAt
    }
}

/// An issued authorization code: only its keyed hash is stored. Bound to the client, the
/// redirect URI and the PKCE challenge; it remembers what it issued so that a second
/// presentation can revoke it (RFC 6749 §4.1.2).
public struct AuthorizationCodeRecord: Sendable, Equatable {
    public var codeHash: String
    public var clientID: String
    public var userID: String
    public var request: AuthorizationRequest
    /// How the user authenticated: `acr`, `amr` (`pwd`, then `hwk` or `sms`) and when.
    public var acr: String
    public var amr: [String]
    public var authTime: Date
    public var createdAt: Date
    public var expiresAt: Date
    public var usedAt: Date?
    /// The refresh-token family and the access token's id the redemption issued.
    public var familyID: String?
    public var accessTokenID: String?
    public var accessTokenExpiresAt: Date?

    public init(
        codeHash: String, clientID: String, userID: String, request: AuthorizationRequest, acr: String, amr: [String], authTime: Date,
        createdAt: Date, expiresAt: Date, usedAt: Date? = nil, familyID: String? = nil, accessTokenID: String? = nil,
        accessTokenExpiresAt: Date? = nil
    ) {
        self.codeHash = codeHash
        self.clientID = clientID
        self.userID = userID
        self.request = request
        self.acr = acr
        self.amr = amr
        self.authTime = authTime
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.usedAt = usedAt
        self.familyID = familyID
        self.accessTokenID = accessTokenID
        self.accessTokenExpiresAt = accessTokenExpiresAt
    }
}

/// What presenting a code did.
public enum AuthorizationCodeRedemption: Sendable, Equatable {
    /// This presentation used it (the one that won, if several raced).
    case redeemed(AuthorizationCodeRecord)
    /// It was used before: what that use issued is in the record, to be revoked.
    case reused(AuthorizationCodeRecord)
    /// No such code for this client.
    case unknown
}

/// Pushed authorization requests, logins in progress and authorization codes (RFC 6749 §4.1,
/// RFC 9126). Every transition is one conditional statement: correct with several nodes.
public protocol AuthorizationCodeRepository: Sendable {
    /// Stores a pushed request under the keyed hash of its `request_uri`, until `expiresAt`.
    func insertPushedAuthorizationRequest(id: String, request: AuthorizationRequest, at now: Date, expiresAt: Date) async throws
    /// Takes a pushed request once: `UPDATE … SET finished_at WHERE finished_at IS NULL AND
    /// expires_at > now AND client_id = …`. `nil` for unknown, expired, used or another client's.
    func takePushedAuthorizationRequest(id: String, clientID: String, at now: Date) async throws -> AuthorizationRequest?
    func insertAuthorizationLogin(_ login: AuthorizationLogin) async throws
    /// The login if it is unfinished, unexpired and started by the browser `browserHash`.
    func authorizationLogin(id: String, browserHash: String, at now: Date) async throws -> AuthorizationLogin?
    /// Records the user whose password was right (only on an unfinished login of that browser
    /// that has no user yet).
    func recordLoginPassword(id: String, browserHash: String, userID: String, at now: Date) async throws -> Bool
    /// Records the second factor started for the login's user.
    func recordLoginSecondFactor(id: String, browserHash: String, method: StepUpMethod, factorID: String, at now: Date) async throws -> Bool
    /// Finishes the login and stores its code, in one transaction: the conditional update of
    /// the login decides (exactly one of racing requests issues a code), the insert follows.
    func finishLogin(id: String, browserHash: String, issuing code: AuthorizationCodeRecord, at now: Date) async throws -> Bool
    /// Presents a code of `clientID`: `UPDATE … SET used_at = now WHERE used_at IS NULL` decides
    /// which of concurrent presentations redeems it; a later one reads it as reused and marks it
    /// so (`reuse_detected_at`), so tokens recorded afterwards are revoked too.
    func redeemAuthorizationCode(hash: String, clientID: String, at now: Date) async throws -> AuthorizationCodeRedemption
    /// Records what the redemption issued; `true` when a reuse was detected meanwhile (the
    /// caller revokes them at once).
    func recordAuthorizationCodeTokens(hash: String, familyID: String?, accessTokenID: String, accessTokenExpiresAt: Date) async throws -> Bool
    /// Deletes logins, pushed requests and codes past their expiry (codes a while after it, so
    /// that a late reuse is still recognised); returns how many rows went.
    func sweepAuthorizationCodes(at now: Date) async throws -> Int
}
