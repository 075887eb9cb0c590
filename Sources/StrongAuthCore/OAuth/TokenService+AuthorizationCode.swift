import Foundation
import StrongAuthProtocol

extension AssuranceLevel {
    /// The assurance of a user token: two factors when a bound device confirmed it (`cnf`) or the
    /// login had a second factor beside the password (`amr` `pwd` plus `hwk` or `sms`).
    public static func of(amr: [String], confirmed: Bool) -> AssuranceLevel {
        confirmed || amr.count > 1 ? .twoFactor : .oneFactor
    }
}

extension TokenService {
    /// The authorization code grant (RFC 6749 §4.1.3) with PKCE (RFC 7636 §4.6). The code is used
    /// up by its first presentation, whatever else is wrong with it; a code presented a second
    /// time revokes the refresh-token family and the access token its first use issued (§4.1.2,
    /// RFC 9700 §4.5.3).
    func authorizationCodeGrant(_ request: TokenRequest, client: OAuthClient, source: String?) async throws -> IssuedTokens {
        guard let code = request.code, !code.isEmpty, code.utf8.count <= 256 else {
            throw OAuthError.invalidRequest("The code parameter is missing.")
        }
        guard let verifier = request.codeVerifier else { throw OAuthError.invalidRequest("The code_verifier parameter is missing (PKCE).") }
        guard PKCE.isValidVerifier(verifier) else {
            throw OAuthError.invalidRequest("The code_verifier must be 43–128 characters of [A-Za-z0-9-._~] (RFC 7636 §4.1).")
        }
        let invalid = OAuthError.invalidGrant("The authorization code is invalid, expired, used or was issued to another client.")
        let now = time.now()
        let codeHash = secretHasher.hash(code)
        let record: AuthorizationCodeRecord
        switch try await store.redeemAuthorizationCode(hash: codeHash, clientID: client.id, at: now) {
        case .unknown:
            throw invalid
        case .reused(let used):
            try await revokeIssued(by: used, client: client, source: source, at: now)
            throw invalid
        case .redeemed(let redeemed):
            record = redeemed
        }
        guard record.expiresAt > now else { throw invalid }
        // §4.1.3: the same redirect_uri as the authorization request, when that named one.
        if record.request.redirectURIWasSent || request.redirectURI != nil {
            guard request.redirectURI == record.request.redirectURI else {
                throw OAuthError.invalidGrant("The redirect_uri differs from the one of the authorization request.")
            }
        }
        guard PKCE.verify(verifier, against: record.request.codeChallenge) else {
            throw OAuthError.invalidGrant("The code_verifier does not match the code_challenge.")
        }
        // RFC 8707: the token request may narrow the resources of the authorization request.
        let resources = request.resources.isEmpty ? record.request.resources : request.resources
        guard record.request.resources.isEmpty || Set(resources).isSubset(of: Set(record.request.resources)) else {
            throw OAuthError(.invalidTarget, "The resources exceed those of the authorization request.")
        }
        guard let user = try await store.user(id: record.userID), user.status == .active else { throw invalid }
        let issued = try await issueUserTokens(
            userID: user.id, client: client, scopes: (Scopes(parsing: record.request.scope) ?? Scopes([])).intersection(client.scopes),
            amr: record.amr,
            withRefreshToken: client.grants.contains(.refreshToken), authenticatedAt: record.authTime, resources: resources,
            dpopKeyThumbprint: request.dpopKeyThumbprint)
        if let accessTokenID = issued.accessTokenID, let expiresAt = issued.accessTokenExpiresAt,
            try await store.recordAuthorizationCodeTokens(
                hash: codeHash, familyID: issued.familyID, accessTokenID: accessTokenID, accessTokenExpiresAt: expiresAt)
        {
            // Presented again while these were issued: they go at once, and so does the answer.
            var revoked = record
            (revoked.familyID, revoked.accessTokenID, revoked.accessTokenExpiresAt) = (issued.familyID, accessTokenID, expiresAt)
            try await revokeIssued(by: revoked, client: client, source: source, at: now)
            throw invalid
        }
        return issued
    }

    /// Revokes what the first redemption of a reused code issued, and audits the reuse.
    private func revokeIssued(by record: AuthorizationCodeRecord, client: OAuthClient, source: String?, at now: Date) async throws {
        if let familyID = record.familyID { try await store.revokeFamily(id: familyID, at: now) }
        if let jti = record.accessTokenID, let expiresAt = record.accessTokenExpiresAt {
            try await store.revokeAccessToken(jti: jti, expiresAt: expiresAt, at: now)
        }
        logger.warning("authorization code reuse detected; its tokens revoked", metadata: ["client": "\(client.id)"])
        var details = ["user": record.userID]
        if let familyID = record.familyID { details["family"] = familyID }
        if let jti = record.accessTokenID { details["jti"] = jti }
        try await store.append(
            AuditRecord(
                actor: "client:\(client.id)", action: .authorizationCodeReuseDetected, subject: "user:\(record.userID)", sourceAddress: source,
                outcome: .failure, details: details),
            at: now)
    }
}
