import Crypto
import Foundation
import Logging
import StrongAuthProtocol

/// The OAuth 2.0 core: client authentication, the three grants, introspection and revocation.
///
/// Faces (`/oauth/token`, `/api/v2/oauth/token`, …) parse HTTP and call in here; every decision
/// is made here and every security-relevant state change is one atomic update in the store.
public struct TokenService: Sendable {
    public typealias Repositories =
        ClientRepository & UserRepository & TokenRepository & AuditLog & ReplayGuardRepository & AuthorizationCodeRepository

    let store: any Repositories
    private let signer: AccessTokenSigner
    let secretHasher: KeyedHash
    private let passwordHasher: any PasswordHasher
    let time: any TimeSource
    public let configuration: OAuthConfiguration
    let logger: Logger
    /// A real bcrypt hash of a random password: verified against when the user is unknown, so
    /// that "no such user" and "wrong password" take the same time.
    private let decoyPasswordHash: String
    /// Checks DPoP proofs for the token endpoint and the resource faces (RFC 9449).
    public let dpop: DPoPVerifier

    /// `dpopNonceKey` must be the same on every node (derived from the hash root), so that a
    /// nonce one node offers is accepted by all.
    public init(
        store: any Repositories, signer: AccessTokenSigner, secretHasher: KeyedHash,
        passwordHasher: any PasswordHasher, time: any TimeSource, configuration: OAuthConfiguration,
        dpopNonceKey: SymmetricKey, logger: Logger
    ) async throws {
        dpop = DPoPVerifier(configuration: configuration.dpop, nonces: DPoPNonces(key: dpopNonceKey), replay: store, audit: store, time: time)
        self.store = store
        self.signer = signer
        self.secretHasher = secretHasher
        self.passwordHasher = passwordHasher
        self.time = time
        self.configuration = configuration
        self.logger = logger
        decoyPasswordHash = try await passwordHasher.hash(SecureRandom.token(prefix: "decoy-"))
    }

    // MARK: Client authentication (RFC 6749 §2.3, RFC 7523 §2.2)

    /// Where a client authenticates: the URL it was sent to is one of the audiences a
    /// `private_key_jwt` assertion may name, and only some endpoints serve public clients.
    public enum ClientEndpoint: String, Sendable {
        case token = "/oauth/token"
        case pushedAuthorization = "/oauth/par"
        case introspection = "/oauth/introspect"
        case revocation = "/oauth/revoke"
        /// A JSON face outside the OAuth endpoints (action requests, processes): secrets only.
        case api = ""

        /// A public client holds no credential: it may ask for tokens (its grants carry the proof),
        /// push its own authorization requests and revoke its own tokens (RFC 7009 §2.1) — never
        /// introspect or call a client API.
        var servesPublicClients: Bool { self == .token || self == .pushedAuthorization || self == .revocation }
    }

    /// The client, if its credentials prove it and it is active; otherwise `invalid_client`.
    public func authenticateClient(_ credentials: ClientCredentials, source: String?, at endpoint: ClientEndpoint = .api) async throws
        -> OAuthClient
    {
        try await checkClient(credentials, against: try await store.client(id: credentials.clientID), source: source, at: endpoint)
    }

    /// The decision of client authentication, on a client record already read (or `nil`). Every
    /// refusal is the same `invalid_client`; the reason goes to the audit only.
    private func checkClient(_ credentials: ClientCredentials, against client: OAuthClient?, source: String?, at endpoint: ClientEndpoint)
        async throws -> OAuthClient
    {
        var refusal: String?
        switch credentials.proof {
        case .secret(let secret):
            // Hash even for unknown clients so the two cases cost the same. A public client's or a
            // private_key_jwt client's stored hash is empty, which no secret's hash matches.
            let matches = secretHasher.matches(secret, storedHash: client?.secretHash ?? "")
            if client == nil { refusal = "unknown_client" } else if !matches { refusal = "wrong_secret" }
        case .assertion(let assertion):
            if let client {
                refusal = try await checkAssertion(assertion, of: client, at: endpoint)
            } else {
                refusal = "unknown_client"
            }
        case .none:
            if client == nil {
                refusal = "unknown_client"
            } else if client?.isPublic != true {
                refusal = "authentication_required"
            } else if !endpoint.servesPublicClients {
                refusal = "public_client_not_allowed"
            }
        }
        if refusal == nil, client?.status != .active { refusal = "client_disabled" }
        guard let client, refusal == nil else {
            // Counted per window and source, not a chained row each (SECURITY.md): anyone can send
            // wrong secrets, and every chained row is kept forever.
            try await store.recordFailure(
                AuditRecord(
                    actor: "anonymous", action: .clientAuthentication, subject: "client:\(credentials.clientID)",
                    sourceAddress: source, outcome: .failure, details: ["reason": refusal ?? "unknown_client"]),
                at: time.now())
            throw OAuthError.invalidClient
        }
        return client
    }

    /// `nil` when `assertion` proves `client` (signature by a registered key, `iss`/`sub`, `aud`,
    /// lifetime) and its `jti` is used for the first time on any node; otherwise the reason.
    private func checkAssertion(_ assertion: String, of client: OAuthClient, at endpoint: ClientEndpoint) async throws -> String? {
        let issuer = configuration.issuer
        var audiences: Set<String> = [issuer, issuer + ClientEndpoint.token.rawValue]
        if endpoint != .api { audiences.insert(issuer + endpoint.rawValue) }
        let now = time.now()
        do {
            let verified = try await ClientAssertion.verify(
                assertion, clientID: client.id, jwks: client.jwks, audiences: audiences, now: now)
            // After the signature: nobody but the key holder can burn a jti.
            let key = Hex.encode(SHA256.hash(data: Array("\(client.id)\n\(verified.jti)".utf8)))
            guard try await store.rememberOnce(scope: "client-assertion", keyHash: key, until: verified.expiresAt, at: now) else {
                return ClientAssertion.Refusal.replayed.rawValue
            }
            return nil
        } catch let refusal as ClientAssertion.Refusal {
            return refusal.rawValue
        }
    }

    // MARK: Token endpoint (RFC 6749 §4.3, §4.4, §6)

    /// Issues tokens for an authenticated client.
    public func issueTokens(for request: TokenRequest, client: OAuthClient, source: String?) async throws -> IssuedTokens {
        guard let grant = GrantType(rawValue: request.grantType) else {
            throw OAuthError(.unsupportedGrantType, "The grant type is not supported by this server.")
        }
        guard client.grants.contains(grant) else {
            throw OAuthError(.unauthorizedClient, "The client is not allowed to use this grant type.")
        }
        try Self.validateResources(request.resources)
        // RFC 9449 §5: a client registered with `--dpop-required` gets sender-constrained tokens only.
        if client.requiresDPoP, request.dpopKeyThumbprint == nil {
            throw OAuthError(.invalidDPoPProof, "This client must send a DPoP proof with every token request.")
        }
        switch grant {
        case .authorizationCode:
            return try await authorizationCodeGrant(request, client: client, source: source)
        case .clientCredentials:
            return try await clientCredentialsGrant(request, client: client)
        case .password:
            return try await passwordGrant(request, client: client, source: source)
        case .refreshToken:
            return try await refreshTokenGrant(request, client: client, source: source)
        }
    }

    /// RFC 8707 §2: each `resource` is an absolute URI without a fragment. At most 5 per request.
    static func validateResources(_ resources: [String]) throws {
        guard resources.count <= 5 else { throw OAuthError(.invalidTarget, "At most 5 resource parameters are accepted.") }
        for resource in resources {
            guard resource.utf8.count <= 2048, !resource.contains(where: \.isWhitespace),
                let url = URL(string: resource), let scheme = url.scheme, !scheme.isEmpty, url.host != nil, url.fragment == nil
            else {
                throw OAuthError(.invalidTarget, "Each resource must be an absolute URI without a fragment (RFC 8707).")
            }
        }
    }

    /// The scopes to grant: the request's (must be within `allowed`) or, if none, all of `allowed`.
    private func grantedScopes(requested: String?, allowed: Scopes) throws -> Scopes {
        guard let requested else { return allowed }
        guard let scopes = Scopes(parsing: requested) else {
            throw OAuthError(.invalidScope, "The scope parameter is malformed.")
        }
        if scopes.isEmpty { return allowed }
        guard scopes.isSubset(of: allowed) else {
            throw OAuthError(.invalidScope, "The requested scope exceeds what this client may be granted.")
        }
        return scopes
    }

    private func clientCredentialsGrant(_ request: TokenRequest, client: OAuthClient) async throws -> IssuedTokens {
        // The wire form sorts and joins: once, for the token and the answer.
        let scope = try grantedScopes(requested: request.scope, allowed: client.scopes).wire
        let now = time.now()
        let claims = AccessTokenClaims(
            issuer: configuration.issuer, subject: client.id, clientID: client.id, scope: scope,
            subjectType: .client, issuedAt: now, expiresAt: now.addingTimeInterval(configuration.accessTokenLifetime),
            id: SecureRandom.uuid(), resources: request.resources, realm: client.realmID,
            dpopKeyThumbprint: request.dpopKeyThumbprint)
        return IssuedTokens(
            accessToken: try await signer.sign(claims), expiresIn: Int(configuration.accessTokenLifetime),
            refreshToken: nil, scope: scope, dpopKeyThumbprint: request.dpopKeyThumbprint)
    }

    private func passwordGrant(_ request: TokenRequest, client: OAuthClient, source: String?) async throws -> IssuedTokens {
        guard let username = request.username, !username.isEmpty, let password = request.password else {
            throw OAuthError.invalidRequest("The password grant needs username and password.")
        }
        let scopes = try grantedScopes(requested: request.scope, allowed: client.scopes)
        let user = try await authenticateUser(username: username, password: password, client: client, source: source)
        return try await issueUserTokens(
            userID: user.id, client: client, scopes: scopes, amr: ["pwd"], withRefreshToken: client.grants.contains(.refreshToken),
            resources: request.resources, dpopKeyThumbprint: request.dpopKeyThumbprint)
    }

    /// The password check of the password grant and the hosted login: the user of the client's
    /// realm (and, for a tenant's user, of that client), the lockout counted before the
    /// password is checked, every outcome audited as `login.password`. `invalid_grant` for
    /// every failure, in the same time whether the user exists or not.
    public func authenticateUser(username: String, password: String, client: OAuthClient, source: String?) async throws -> User {
        let invalid = OAuthError.invalidGrant("The resource owner credentials are invalid or the account is temporarily locked.")

        // Only the client's realm is searched; a user created by one tenant client is invisible
        // to every other client.
        guard let user = try await store.user(realm: client.realmID, username: username),
            user.ownerClientId == nil || user.ownerClientId == client.id
        else {
            _ = try await passwordHasher.verify(password, hash: decoyPasswordHash)
            throw invalid
        }
        func audit(_ outcome: AuditRecord.Outcome, _ details: [String: String]) async throws {
            try await store.append(
                AuditRecord(
                    actor: "client:\(client.id)", action: .loginPassword, subject: "user:\(user.id)",
                    sourceAddress: source, outcome: outcome, details: details),
                at: time.now())
        }
        // Tries against a disabled user or a locked factor are not bounded by the lockout (it
        // is what refuses them): they are counted per window and source (SECURITY.md). Wrong
        // passwords stay one record each — at most `AttemptLimits.password.maxFailures` per lock.
        func countFailure(_ reason: String) async throws {
            try await store.recordFailure(
                AuditRecord(
                    actor: "client:\(client.id)", action: .loginPassword, subject: "user:\(user.id)",
                    sourceAddress: source, outcome: .failure, details: ["reason": reason]),
                at: time.now())
        }
        guard user.status == .active else {
            try await countFailure("user_disabled")
            throw invalid
        }
        // The attempt is counted before the password is checked; a locked factor is not checked at all.
        guard let attempt = try await store.reserveAttempt(.password, subject: .user(id: user.id), at: time.now()) else {
            try await countFailure("locked")
            throw invalid
        }
        guard try await passwordHasher.verify(password, hash: user.passwordHash) else {
            try await audit(.failure, attempt.lockDetails.merging(["reason": "wrong_password"]) { $1 })
            throw invalid
        }
        try await store.resetAttempts(.password, subject: .user(id: user.id))
        try await audit(.success, [:])
        return user
    }

    private func refreshTokenGrant(_ request: TokenRequest, client: OAuthClient, source: String?) async throws -> IssuedTokens {
        guard let presented = request.refreshToken, !presented.isEmpty else {
            throw OAuthError.invalidRequest("The refresh_token parameter is missing.")
        }
        let invalid = OAuthError.invalidGrant("The refresh token is invalid, expired or revoked.")
        let presentedHash = secretHasher.hash(presented)
        // Read first so that an invalid scope does not consume the token.
        guard let current = try await store.refreshToken(hash: presentedHash), current.clientID == client.id else {
            throw invalid
        }
        // RFC 9449 §5: a bound refresh token (a public client's) is refreshed only by its key;
        // checked before rotation, so a thief without the key cannot even spend it.
        if let boundKey = current.dpopKeyThumbprint {
            guard let presentedKey = request.dpopKeyThumbprint else {
                throw OAuthError(.invalidDPoPProof, "This refresh token is bound to a DPoP key: send a proof signed with it.")
            }
            guard ConstantTime.equals(presentedKey, boundKey) else {
                throw OAuthError.invalidGrant("The refresh token is bound to another DPoP key.")
            }
        }
        let scopes = try grantedScopes(requested: request.scope, allowed: current.scopes)
        let now = time.now()
        let successor = SecureRandom.token(prefix: SecretPrefix.refreshToken)
        let outcome = try await store.rotateRefreshToken(
            hash: presentedHash, clientID: client.id, at: now, successorID: SecureRandom.timeOrderedUUID(at: now),
            successorHash: secretHasher.hash(successor),
            successorExpiresAt: now.addingTimeInterval(configuration.refreshTokenLifetime))
        switch outcome {
        case .rotated(let record):
            let accessToken = try await signAccessToken(
                userID: record.userID, client: client, scopes: scopes, amr: record.amr, familyID: record.familyID,
                confirmationDeviceID: record.deviceID, authTime: record.authTime, resources: request.resources,
                dpopKeyThumbprint: request.dpopKeyThumbprint, now: now)
            return IssuedTokens(
                accessToken: accessToken, expiresIn: Int(configuration.accessTokenLifetime), refreshToken: successor,
                scope: scopes.wire, dpopKeyThumbprint: request.dpopKeyThumbprint)
        case .reused(let familyID):
            logger.warning("refresh token reuse detected; family revoked", metadata: ["family": "\(familyID)", "client": "\(client.id)"])
            try await store.append(
                AuditRecord(
                    actor: "client:\(client.id)", action: .refreshReuseDetected, subject: "family:\(familyID)",
                    sourceAddress: source, outcome: .failure, details: ["user": current.userID]),
                at: now)
            throw invalid
        case .unknown, .inactive:
            throw invalid
        }
    }

    /// Starts a new refresh-token family (when asked) and signs the access token bound to it.
    /// With `confirmationDeviceID`, the tokens are confirmed (RFC 7800 `cnf.kid`, two-factor
    /// `acr`), and so is every access token the refresh-token family yields later. The user has
    /// just authenticated (password or device signature), so `auth_time` is now, kept by the
    /// family for its refreshes. `authenticatedAt` overrides it when the authentication happened
    /// earlier (a push answered before its token is redeemed). With `dpopKeyThumbprint` (the
    /// key of a verified DPoP proof) the access token is bound to that key (`cnf.jkt`), and so is
    /// a public client's refresh-token family (RFC 9449 §5).
    public func issueUserTokens(
        userID: String, client: OAuthClient, scopes: Scopes, amr: [String], withRefreshToken: Bool,
        confirmationDeviceID: String? = nil, authenticatedAt: Date? = nil, resources: [String] = [],
        dpopKeyThumbprint: String? = nil
    ) async throws -> IssuedTokens {
        let pending = prepareUserTokens(
            userID: userID, client: client, scopes: scopes, amr: amr, withRefreshToken: withRefreshToken,
            confirmationDeviceID: confirmationDeviceID, authenticatedAt: authenticatedAt, resources: resources,
            dpopKeyThumbprint: dpopKeyThumbprint)
        if let record = pending.refreshTokenRecord { try await store.insertRefreshToken(record) }
        return try await signUserTokens(pending)
    }

    /// The first half of `issueUserTokens`, touching no store: the refresh token and the record
    /// of its new family. A caller that stores the record in its own unit of work (a device
    /// challenge's answer, with its audit) then calls `signUserTokens`.
    public func prepareUserTokens(
        userID: String, client: OAuthClient, scopes: Scopes, amr: [String], withRefreshToken: Bool,
        confirmationDeviceID: String? = nil, authenticatedAt: Date? = nil, resources: [String] = [],
        dpopKeyThumbprint: String? = nil
    ) -> PendingUserTokens {
        let now = time.now()
        let authTime = min(authenticatedAt ?? now, now).wholeSeconds
        var pending = PendingUserTokens(
            userID: userID, client: client, scopes: scopes, amr: amr, confirmationDeviceID: confirmationDeviceID, authTime: authTime,
            resources: resources, dpopKeyThumbprint: dpopKeyThumbprint, issuedAt: now)
        if withRefreshToken {
            let token = SecureRandom.token(prefix: SecretPrefix.refreshToken)
            pending.refreshToken = token
            pending.refreshTokenRecord = RefreshTokenRecord(
                id: SecureRandom.timeOrderedUUID(at: now), tokenHash: secretHasher.hash(token), familyID: SecureRandom.timeOrderedUUID(at: now),
                clientID: client.id, userID: userID, scopes: scopes, amr: amr, deviceID: confirmationDeviceID,
                authTime: authTime, dpopKeyThumbprint: client.isPublic ? dpopKeyThumbprint : nil, issuedAt: now,
                expiresAt: now.addingTimeInterval(configuration.refreshTokenLifetime))
        }
        return pending
    }

    /// The second half of `issueUserTokens`: signs the access token once the refresh token's
    /// family (if any) is stored.
    public func signUserTokens(_ pending: PendingUserTokens) async throws -> IssuedTokens {
        let now = pending.issuedAt
        let familyID = pending.refreshTokenRecord?.familyID
        let accessTokenID = SecureRandom.uuid()
        let accessToken = try await signAccessToken(
            userID: pending.userID, client: pending.client, scopes: pending.scopes, amr: pending.amr, familyID: familyID,
            confirmationDeviceID: pending.confirmationDeviceID, authTime: pending.authTime, resources: pending.resources,
            dpopKeyThumbprint: pending.dpopKeyThumbprint, now: now, id: accessTokenID)
        return IssuedTokens(
            accessToken: accessToken, expiresIn: Int(configuration.accessTokenLifetime), refreshToken: pending.refreshToken,
            scope: pending.scopes.wire, familyID: familyID, accessTokenID: accessTokenID,
            accessTokenExpiresAt: now.addingTimeInterval(configuration.accessTokenLifetime), dpopKeyThumbprint: pending.dpopKeyThumbprint)
    }

    /// Every user token says how (`acr`: 2fa when a device confirmed it or the login had a
    /// second factor, else 1fa) and when (`auth_time`) the user authenticated, which is what
    /// `AssurancePolicy` checks.
    private func signAccessToken(
        userID: String, client: OAuthClient, scopes: Scopes, amr: [String], familyID: String?,
        confirmationDeviceID: String?, authTime: Date?, resources: [String], dpopKeyThumbprint: String?, now: Date,
        id: String = SecureRandom.uuid()
    ) async throws -> String {
        var claims = AccessTokenClaims(
            issuer: configuration.issuer, subject: userID, clientID: client.id, scope: scopes.wire,
            subjectType: .user, issuedAt: now, expiresAt: now.addingTimeInterval(configuration.accessTokenLifetime),
            id: id, familyID: familyID, amr: amr,
            confirmationDeviceID: confirmationDeviceID, authTime: authTime, resources: resources, realm: client.realmID,
            dpopKeyThumbprint: dpopKeyThumbprint)
        claims.acr = AssuranceLevel.of(amr: amr, confirmed: confirmationDeviceID != nil).rawValue
        return try await signer.sign(claims)
    }

    // MARK: Bearer tokens, introspection (RFC 7662) and revocation (RFC 7009)

    /// The claims of a live access token: signature, issuer and expiry valid, not revoked, its
    /// subject and client still active. `nil` for anything else.
    public func validateAccessToken(_ token: String) async throws -> AccessTokenClaims? {
        guard let claims = try await signedAccessTokenClaims(token) else { return nil }
        return try await store.accessTokenLiveness(AccessTokenLivenessQuery(claims: claims)).isLive ? claims : nil
    }

    /// The claims of an access token this issuer signed that has not expired — its liveness not
    /// yet read: only for a route that reads it with its own first read
    /// (`AccessTokenLivenessQuery`); every other caller wants `validateAccessToken`.
    public func signedAccessTokenClaims(_ token: String) async throws -> AccessTokenClaims? {
        guard token.utf8.count < 8192, let claims = try? await signer.verify(token) else { return nil }
        guard claims.iss.value == configuration.issuer, claims.exp.value > time.now() else { return nil }
        return claims
    }

    /// Whether `client` may learn about a token issued to `issuedTo` in `realm` (RFC 7662 §4):
    /// the client the token was issued to, or a resource server (`clients create --introspect`)
    /// of the same realm. Anyone else is told `active: false`, exactly as for an unknown token.
    static func mayIntrospect(_ client: OAuthClient, tokenOf issuedTo: String, realm: String?) -> Bool {
        client.id == issuedTo || (client.isResourceServer && client.realmID == (realm ?? Realm.defaultID))
    }

    /// RFC 7662 for a client presenting `credentials`: authenticates the client and answers for
    /// an access token with ONE database read (the client's record and the token's liveness in
    /// one statement) — introspection is the hottest read path of a resource server.
    public func introspect(_ token: String, authenticating credentials: ClientCredentials, source: String?) async throws
        -> IntrospectionResult
    {
        guard !token.hasPrefix(SecretPrefix.refreshToken), token.utf8.count < 8192,
            let claims = try? await signer.verify(token),
            claims.iss.value == configuration.issuer, claims.exp.value > time.now()
        else {
            let client = try await authenticateClient(credentials, source: source, at: .introspection)
            return token.hasPrefix(SecretPrefix.refreshToken) ? try await introspectRefreshToken(token, by: client) : .inactive
        }
        let (client, liveness) = try await store.introspectionContext(
            introspectingClientID: credentials.clientID, token: AccessTokenLivenessQuery(claims: claims))
        let introspecting = try await checkClient(credentials, against: client, source: source, at: .introspection)
        guard liveness.isLive, Self.mayIntrospect(introspecting, tokenOf: claims.clientID, realm: claims.realm) else {
            return .inactive
        }
        return IntrospectionResult(active: true, claims: claims, refreshToken: nil)
    }

    private func introspectRefreshToken(_ token: String, by client: OAuthClient) async throws -> IntrospectionResult {
        do {
            guard let record = try await store.refreshToken(hash: secretHasher.hash(token)),
                record.usedAt == nil, record.revokedAt == nil, record.expiresAt > time.now()
            else { return .inactive }
            if record.clientID == client.id { return IntrospectionResult(active: true, claims: nil, refreshToken: record) }
            // A refresh token names its client, not its realm: only a resource server, which may
            // see other clients' tokens of its realm, needs the issuing client's read.
            guard client.isResourceServer, let realm = try await store.client(id: record.clientID)?.realmID,
                Self.mayIntrospect(client, tokenOf: record.clientID, realm: realm)
            else { return .inactive }
            return IntrospectionResult(active: true, claims: nil, refreshToken: record)
        }
    }

    /// RFC 7009: revokes `token` if it was issued to `client`. Unknown or foreign tokens are
    /// ignored (the response is the same, §2.2), so revocation cannot probe for tokens.
    public func revoke(_ token: String, by client: OAuthClient, source: String?) async throws {
        let now = time.now()
        if token.hasPrefix(SecretPrefix.refreshToken) {
            guard let record = try await store.refreshToken(hash: secretHasher.hash(token)), record.clientID == client.id
            else { return }
            try await store.revokeFamily(id: record.familyID, at: now)
            try await store.append(
                AuditRecord(
                    actor: "client:\(client.id)", action: .tokenRevoked, subject: "family:\(record.familyID)",
                    sourceAddress: source, outcome: .success, details: ["token_type": "refresh_token"]),
                at: now)
            return
        }
        guard token.utf8.count < 8192, let claims = try? await signer.verify(token), claims.clientID == client.id else {
            return
        }
        try await store.revokeAccessToken(jti: claims.jti.value, expiresAt: claims.exp.value, at: now)
        try await store.append(
            AuditRecord(
                actor: "client:\(client.id)", action: .tokenRevoked, subject: "jti:\(claims.jti.value)",
                sourceAddress: source, outcome: .success, details: ["token_type": "access_token"]),
            at: now)
    }
}
