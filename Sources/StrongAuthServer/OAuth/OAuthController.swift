import Foundation
import HTTPTypes
import Hummingbird
import Logging
import StrongAuthAPI
import StrongAuthCore
import StrongAuthProtocol
import StrongAuthStore

/// The OAuth 2.0 face: token (two paths), introspection, revocation, JWKS and metadata.
///
/// Thin by design: parse and check the HTTP, call `TokenService`, render RFC 6749 JSON.
struct OAuthController {
    let tokens: TokenService
    /// Pushed authorization requests (RFC 9126).
    let authorization: AuthorizationService
    /// The public keys published at the JWKS endpoint.
    let signer: AccessTokenSigner
    let rateLimiter: RateLimiter
    /// Rate limits, the issuer and the body limit.
    let settings: ServerSettings

    func addRoutes(to router: Router<AppRequestContext>) {
        // The `token` bucket per address; the per-client limits are in `token` itself.
        let limited = router.group().add(
            middleware: RateLimitMiddleware(bucket: "token", face: .oauth, limiter: rateLimiter, settings: settings.rateLimits))
        limited.post("/oauth/token", use: token)
        limited.post("/api/v2/oauth/token", use: token)
        limited.post("/oauth/par", use: pushedAuthorizationRequest)
        router.post("/oauth/introspect", use: introspect)
        router.post("/oauth/revoke", use: revoke)
        router.get("/.well-known/jwks.json", use: jwks)
        router.get("/.well-known/oauth-authorization-server", use: metadata)
    }

    // MARK: Handlers

    @Sendable func token(_ request: Request, context: AppRequestContext) async throws -> Response {
        var response = await respond(request, context) { form in
            guard let grantType = form["grant_type"], !grantType.isEmpty else {
                throw OAuthError.invalidRequest("The grant_type parameter is missing.")
            }
            let client: OAuthClient
            switch try await authenticatedClient(request, form: form, context: context, at: .token) {
            case .success(let authenticated): client = authenticated
            case .failure(let refusal): return refusal.response
            }
            // Checked before the grant, so that a proof refused for its nonce costs no password attempt.
            let dpopKey = try await verifyDPoPProof(of: request, source: context.remoteAddress)
            let issued = try await tokens.issueTokens(
                for: TokenRequest(
                    grantType: grantType, scope: form["scope"], username: form["username"], password: form["password"],
                    refreshToken: form["refresh_token"], resources: FormBody.values("resource", in: form), code: form["code"],
                    redirectURI: form["redirect_uri"], codeVerifier: form["code_verifier"], dpopKeyThumbprint: dpopKey),
                client: client, source: context.remoteAddress)
            return try OAuthResponses.json(
                object: Components.Schemas.TokenResponse(
                    accessToken: issued.accessToken, tokenType: issued.dpopKeyThumbprint == nil ? .bearer : .dPoP,
                    expiresIn: issued.expiresIn, refreshToken: issued.refreshToken, scope: issued.scope))
        }
        // RFC 9449 §8: every answer to a proof offers a fresh nonce.
        if DPoPHTTP.isPresent(in: request) { response.headers[DPoPHTTP.nonceHeader] = tokens.dpop.freshNonce() }
        return response
    }

    /// The thumbprint of the key of the request's DPoP proof (RFC 9449 §4.3: `htm` POST, `htu`
    /// the token endpoint called), `nil` without one.
    private func verifyDPoPProof(of request: Request, source: String?) async throws -> String? {
        guard DPoPHTTP.isPresent(in: request) else { return nil }
        guard let proof = DPoPHTTP.proof(in: request) else {
            throw OAuthError(.invalidDPoPProof, "Send exactly one DPoP header.")
        }
        do {
            let uri = DPoPHTTP.uri(of: request, issuer: settings.issuer)
            return try await tokens.dpop.verify(proof, method: "POST", uri: uri, source: source).keyThumbprint
        } catch let error as DPoPError {
            throw OAuthError(error.kind == .useNonce ? .useDPoPNonce : .invalidDPoPProof, error.description)
        }
    }

    /// RFC 9126: the client authenticates as at the token endpoint, the request is validated as
    /// the authorization endpoint would, and a single-use `request_uri` comes back (201).
    @Sendable func pushedAuthorizationRequest(_ request: Request, context: AppRequestContext) async throws -> Response {
        await respond(request, context) { form in
            let client: OAuthClient
            switch try await authenticatedClient(request, form: form, context: context, at: .pushedAuthorization) {
            case .success(let authenticated): client = authenticated
            case .failure(let refusal): return refusal.response
            }
            var parameters = form
            for name in ["client_secret", "client_assertion", "client_assertion_type", "resource"] { parameters[name] = nil }
            let requestURI = try await authorization.push(parameters, resources: FormBody.values("resource", in: form), client: client)
            return try OAuthResponses.json(
                Components.Schemas.PushedAuthorizationResponse(
                    requestUri: requestURI, expiresIn: Int(AuthorizationService.pushedRequestLifetime)),
                status: .created)
        }
    }

    /// A 429 already rendered, as the failure of `authenticatedClient`.
    struct RateLimited: Error {
        var response: Response
    }

    /// Client authentication of the token and PAR endpoints. Failed authentications are limited
    /// per (client id, address), checked before the hash and charged only on failure; the
    /// client's own bucket is charged only once it has proved its secret, so nobody else can
    /// spend it.
    private func authenticatedClient(
        _ request: Request, form: [String: String], context: AppRequestContext, at endpoint: TokenService.ClientEndpoint
    ) async throws
        -> Result<OAuthClient, RateLimited>
    {
        let credentials = try ClientAuthentication.credentials(from: request, form: form)
        let limits = settings.rateLimits
        let failureKey = "client-failure:\(credentials.clientID):\(context.remoteAddress ?? "unknown")"
        if limits.enabled, let retryAfter = rateLimiter.wait(failureKey, limit: limits.perClientFailure) {
            return .failure(RateLimited(response: try RateLimitMiddleware.refusal(.oauth, retryAfter: retryAfter)))
        }
        let client: OAuthClient
        do {
            client = try await tokens.authenticateClient(credentials, source: context.remoteAddress, at: endpoint)
        } catch let error as OAuthError where error.code == .invalidClient {
            if limits.enabled { _ = rateLimiter.take(failureKey, limit: limits.perClientFailure) }
            throw error
        }
        if limits.enabled, let retryAfter = rateLimiter.take("client:\(client.id)", limit: limits.perClient) {
            return .failure(RateLimited(response: try RateLimitMiddleware.refusal(.oauth, retryAfter: retryAfter)))
        }
        return .success(client)
    }

    @Sendable func introspect(_ request: Request, context: AppRequestContext) async throws -> Response {
        await respond(request, context) { form in
            let credentials = try ClientAuthentication.credentials(from: request, form: form)
            guard let token = form["token"], !token.isEmpty else {
                _ = try await tokens.authenticateClient(credentials, source: context.remoteAddress, at: .introspection)
                throw OAuthError.invalidRequest("The token parameter is missing.")
            }
            let result = try await tokens.introspect(token, authenticating: credentials, source: context.remoteAddress)
            return try OAuthResponses.json(object: Self.introspectionBody(result))
        }
    }

    @Sendable func revoke(_ request: Request, context: AppRequestContext) async throws -> Response {
        await respond(request, context) { form in
            let client = try await tokens.authenticateClient(
                try ClientAuthentication.credentials(from: request, form: form), source: context.remoteAddress, at: .revocation)
            guard let token = form["token"], !token.isEmpty else {
                throw OAuthError.invalidRequest("The token parameter is missing.")
            }
            if let hint = form["token_type_hint"], hint != "access_token", hint != "refresh_token" {
                throw OAuthError(.unsupportedTokenType, "token_type_hint must be access_token or refresh_token.")
            }
            try await tokens.revoke(token, by: client, source: context.remoteAddress)
            var response = Response(status: .ok)
            response.headers[.cacheControl] = "no-store"
            return response
        }
    }

    @Sendable func jwks(_ request: Request, context: AppRequestContext) async throws -> Response {
        let keys = signer.publicJWKs.map { jwk in
            Components.Schemas.Jwk(
                kty: jwk["kty"] ?? "EC", crv: jwk["crv"], alg: jwk["alg"], use: jwk["use"], kid: jwk["kid"] ?? "",
                x: jwk["x"], y: jwk["y"])
        }
        var response = try OAuthResponses.json(Components.Schemas.Jwks(keys: keys))
        response.headers[.cacheControl] = "public, max-age=300"
        response.headers[OAuthResponses.pragma] = nil
        return response
    }

    @Sendable func metadata(_ request: Request, context: AppRequestContext) async throws -> Response {
        let issuer = settings.issuer
        // A public client authenticates nowhere ("none"): it may ask for tokens and revoke them,
        // never introspect.
        let methods = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
        var response = try OAuthResponses.json(
            Components.Schemas.AuthorizationServerMetadata(
                issuer: issuer, tokenEndpoint: issuer + "/oauth/token", jwksUri: issuer + "/.well-known/jwks.json",
                introspectionEndpoint: issuer + "/oauth/introspect", revocationEndpoint: issuer + "/oauth/revoke",
                grantTypesSupported: GrantType.allCases.map(\.rawValue), tokenEndpointAuthMethodsSupported: methods + ["none"],
                tokenEndpointAuthSigningAlgValuesSupported: ClientAssertion.algorithms,
                introspectionEndpointAuthMethodsSupported: methods, revocationEndpointAuthMethodsSupported: methods + ["none"],
                responseTypesSupported: ["code"], authorizationEndpoint: issuer + "/oauth/authorize",
                pushedAuthorizationRequestEndpoint: issuer + "/oauth/par", codeChallengeMethodsSupported: [PKCE.method],
                authorizationResponseIssParameterSupported: true, acrValuesSupported: AssuranceLevel.allCases.map(\.rawValue),
                dpopSigningAlgValuesSupported: DPoPVerifier.supportedAlgorithms))
        response.headers[.cacheControl] = "public, max-age=300"
        response.headers[OAuthResponses.pragma] = nil
        return response
    }

    // MARK: Shared request handling

    /// Reads and parses the form body, runs `body`, and turns every failure into an RFC 6749
    /// error: bad input is a 4xx, an unreachable database a 503, nothing is a 500.
    private func respond(
        _ request: Request, _ context: AppRequestContext, _ body: ([String: String]) async throws -> Response
    ) async -> Response {
        let contentType = request.headers.value(.contentType)?.split(separator: ";").first?
            .trimmingHTTPWhitespace().lowercased()
        guard contentType == FormBody.mediaType else {
            return OAuthResponses.error(.invalidRequest("The request body must be application/x-www-form-urlencoded."))
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: settings.maxBodyBytes)
        } catch {
            return OAuthResponses.error(
                .invalidRequest("The request body exceeds \(settings.maxBodyBytes) bytes."), bodyTooLarge: true)
        }
        do {
            return try await body(try FormBody.parse(buffer))
        } catch let error as OAuthError {
            if let detail = error.detail { context.logger.info("oauth error", metadata: ["error": "\(error.code.rawValue)", "detail": "\(detail)"]) }
            return OAuthResponses.error(error)
        } catch is DatabaseInputError {
            return OAuthResponses.error(.invalidRequest(ProblemDetails.unstorableInput))
        } catch is DatabaseUnavailableError {
            // The pool has logged the outage once; every request during it need not.
            return OAuthResponses.error(OAuthError(.temporarilyUnavailable, "The server cannot answer right now; try again."))
        } catch {
            context.logger.error("oauth request failed", metadata: ["error": "\(String(reflecting: error))"])
            return OAuthResponses.error(OAuthError(.temporarilyUnavailable, "The server cannot answer right now; try again."))
        }
    }

    /// RFC 7662 §2.2 response body.
    static func introspectionBody(_ result: IntrospectionResult) -> Components.Schemas.IntrospectionResponse {
        if let claims = result.claims {
            return .init(
                active: true, scope: claims.scope, clientId: claims.clientID, sub: claims.sub.value,
                subjectType: .init(rawValue: claims.subjectType.rawValue), tokenType: claims.cnf?.jkt == nil ? .bearer : .dPoP,
                exp: Int(claims.exp.value.timeIntervalSince1970), iat: Int(claims.iat.value.timeIntervalSince1970),
                aud: claims.aud?.value, iss: claims.iss.value, jti: claims.jti.value, amr: claims.amr, acr: claims.acr,
                authTime: claims.authTime.map { Int($0.timeIntervalSince1970) }, cnf: claims.cnf.map { .init(kid: $0.kid, jkt: $0.jkt) })
        }
        if let refresh = result.refreshToken {
            return .init(
                active: true, scope: refresh.scopes.wire, clientId: refresh.clientID, sub: refresh.userID, subjectType: .user,
                tokenType: .refreshToken, exp: Int(refresh.expiresAt.timeIntervalSince1970),
                iat: Int(refresh.issuedAt.timeIntervalSince1970), aud: [refresh.clientID], amr: refresh.amr,
                acr: AssuranceLevel.of(amr: refresh.amr, confirmed: refresh.deviceID != nil).rawValue,
                authTime: refresh.authTime.map { Int($0.timeIntervalSince1970) },
                cnf: refresh.deviceID == nil && refresh.dpopKeyThumbprint == nil
                    ? nil : .init(kid: refresh.deviceID, jkt: refresh.dpopKeyThumbprint))
        }
        return .init(active: false)
    }
}
