import Foundation
import Hummingbird
import StrongAuthCore
import StrongAuthProtocol

/// Extracts client credentials from a request: HTTP Basic, with id and secret form-urlencoded
/// inside it, or `client_id`/`client_secret` in the form body (RFC 6749 §2.3.1); a signed
/// `client_assertion` (`private_key_jwt`, RFC 7523 §2.2); or `client_id` alone (a public client,
/// §2.1) — one method only (§2.3).
enum ClientAuthentication {
    static func credentials(from request: Request, form: [String: String]) throws -> ClientCredentials {
        let basic = try basicCredentials(request)
        let formSecret = form["client_secret"]
        if form["client_assertion"] != nil || form["client_assertion_type"] != nil {
            guard basic == nil, formSecret == nil else {
                throw OAuthError.invalidRequest("Use one client authentication method, not a client assertion and a secret together.")
            }
            return try assertionCredentials(form)
        }
        switch (basic, formSecret) {
        case (.some, .some):
            throw OAuthError.invalidRequest("Use one client authentication method, not HTTP Basic and client_secret together.")
        case (.some(let credentials), .none):
            if let formID = form["client_id"], formID != credentials.clientID {
                throw OAuthError.invalidRequest("client_id in the body does not match the authenticated client.")
            }
            return credentials
        case (.none, .some(let secret)):
            guard let id = form["client_id"], !id.isEmpty else {
                throw OAuthError.invalidRequest("client_secret was sent without client_id.")
            }
            return ClientCredentials(clientID: id, clientSecret: secret)
        case (.none, .none):
            // Only a public client may stop here; TokenService refuses every other client.
            guard let id = form["client_id"], !id.isEmpty else {
                throw OAuthError(.invalidClient, "Client authentication is required (HTTP Basic, client_secret or private_key_jwt).")
            }
            return ClientCredentials(clientID: id, proof: .none)
        }
    }

    /// RFC 7523 §2.2: the assertion type, the assertion, and the client it is about — `client_id`
    /// if sent (RFC 7521 §4.2: then it must name the assertion's subject), else the `sub`.
    private static func assertionCredentials(_ form: [String: String]) throws -> ClientCredentials {
        guard form["client_assertion_type"] == ClientAssertion.type else {
            throw OAuthError.invalidRequest("client_assertion_type must be \(ClientAssertion.type) (client_secret_jwt is not supported).")
        }
        guard let assertion = form["client_assertion"], !assertion.isEmpty else {
            throw OAuthError.invalidRequest("The client_assertion parameter is missing.")
        }
        let subject = ClientAssertion.unverifiedClientID(assertion)
        if let formID = form["client_id"], formID != subject {
            throw OAuthError(.invalidClient, "client_id does not match the client assertion's subject.")
        }
        guard let id = subject, !id.isEmpty else { throw OAuthError(.invalidClient, "The client assertion names no client (sub).") }
        return ClientCredentials(clientID: id, proof: .assertion(assertion))
    }

    /// The Basic credentials, `nil` when there is no `Authorization: Basic` header.
    private static func basicCredentials(_ request: Request) throws -> ClientCredentials? {
        guard let header = request.headers.value(.authorization) else { return nil }
        let rawID: Substring
        let rawSecret: Substring
        switch HTTPBasic.parse(header) {
        case .otherScheme:
            throw OAuthError(.invalidClient, "Only HTTP Basic client authentication is supported in the Authorization header.")
        case .malformed:
            throw OAuthError(.invalidClient, "The HTTP Basic credentials are malformed.")
        case .credentials(let user, let password):
            (rawID, rawSecret) = (user, password)
        }
        // RFC 6749 §2.3.1 form-encodes id and secret inside Basic; clients that do not are read as-is.
        let id = FormBody.decode(rawID) ?? String(rawID)
        let secret = FormBody.decode(rawSecret) ?? String(rawSecret)
        guard !id.isEmpty else { throw OAuthError(.invalidClient, "The HTTP Basic credentials are malformed.") }
        return ClientCredentials(clientID: id, clientSecret: secret)
    }
}

extension ClientAuthentication {
    /// The authenticated client of a JSON API outside the token endpoint (action requests, the
    /// delivery log), authenticated exactly as the token endpoint does it: HTTP Basic, or
    /// `client_id`/`client_secret` — here from the JSON body or the query. Refusals are a 401
    /// problem that does not say which part was wrong.
    static func client(of request: Request, body: [String: Any] = [:], context: AppRequestContext, tokens: TokenService)
        async throws -> OAuthClient
    {
        var form: [String: String] = [:]
        for name in ["client_id", "client_secret"] {
            if let value = body[name] as? String ?? request.uri.queryParameters.get(name) { form[name] = value }
        }
        do {
            let credentials = try credentials(from: request, form: form)
            return try await tokens.authenticateClient(credentials, source: context.remoteAddress, at: .api)
        } catch is OAuthError {
            throw ProblemDetails(.unauthorized, "Unauthorized", detail: "Valid client_id and client_secret are required.")
        }
    }
}
