import Foundation
import StrongAuthProtocol

/// A validated authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3): what the login that follows
/// works for, and what the code it ends with is bound to. Stored as JSON while the login runs
/// (or while it waits, pushed, for the browser: RFC 9126).
public struct AuthorizationRequest: Sendable, Equatable, Codable {
    public var clientID: String
    /// The redirect URI the response goes to: one the client registered (a loopback one with the
    /// port the request named, RFC 8252 §7.3).
    public var redirectURI: String
    /// Whether the request named `redirect_uri`: then the token request must name the same one
    /// (RFC 6749 §4.1.3).
    public var redirectURIWasSent: Bool
    public var state: String?
    /// The scopes granted (the wire form): the request's, or the client's when it named none.
    public var scope: String
    /// The S256 challenge the code's redemption must answer.
    public var codeChallenge: String
    /// The assurance the login must reach: the higher of the client's default and `acr_values`.
    public var acr: String
    /// `max_age`: every login here is a fresh one, so it is satisfied by construction.
    public var maxAge: Int?
    /// RFC 8707 resource indicators the tokens may name.
    public var resources: [String]

    public var assurance: AssuranceLevel { AssuranceLevel(rawValue: acr) ?? .oneFactor }

    public init(
        clientID: String, redirectURI: String, redirectURIWasSent: Bool, state: String?, scope: String, codeChallenge: String, acr: String,
        maxAge: Int?, resources: [String]
    ) {
        self.clientID = clientID
        self.redirectURI = redirectURI
        self.redirectURIWasSent = redirectURIWasSent
        self.state = state
        self.scope = scope
        self.codeChallenge = codeChallenge
        self.acr = acr
        self.maxAge = maxAge
        self.resources = resources
    }
}

/// Why an authorization request is refused, and where the refusal may be told (RFC 6749 §4.1.2.1).
public enum AuthorizationRequestError: Error, Sendable, Equatable {
    /// The client or the redirect URI cannot be trusted: the error is shown to the user and the
    /// browser is never sent anywhere (an open redirector otherwise).
    case untrusted(OAuthError)
    /// Told to the client at its verified redirect URI, with the request's `state`.
    case redirect(OAuthError, redirectURI: String, state: String?)

    /// The error itself (for the JSON answer of `/oauth/par`).
    public var error: OAuthError {
        switch self {
        case .untrusted(let error), .redirect(let error, _, _): error
        }
    }
}

extension AuthorizationRequest {
    /// The longest `state` kept (it travels back in a URL).
    static let maxStateLength = 512

    /// The checks of the authorization endpoint, in the order RFC 6749 §4.1.2.1 needs them: first
    /// the client and its redirect URI (failures are shown on a page), then everything else
    /// (failures go back to the redirect URI). `client` is the active client named by
    /// `client_id`, or `nil`. `pushed` is a request arriving at `/oauth/par` (RFC 9126 §2.1).
    public static func validate(
        _ parameters: [String: String], resources: [String], client: OAuthClient?, pushed: Bool
    ) throws(AuthorizationRequestError) -> AuthorizationRequest {
        guard let clientID = parameters["client_id"], !clientID.isEmpty else {
            throw .untrusted(.invalidRequest("The client_id parameter is missing."))
        }
        guard let client, client.id == clientID, client.status == .active else {
            throw .untrusted(OAuthError(.invalidClient, "The client is unknown or disabled."))
        }
        let sent = parameters["redirect_uri"]
        guard let redirectURI = Self.redirectURI(sent, of: client) else {
            throw .untrusted(
                .invalidRequest(
                    sent == nil
                        ? "The redirect_uri parameter is required: the client registered more than one, or none."
                        : "The redirect_uri is not one the client registered."))
        }
        let state = parameters["state"]
        func refuse(_ error: OAuthError) -> AuthorizationRequestError { .redirect(error, redirectURI: redirectURI, state: state) }
        if let state, state.utf8.count > maxStateLength {
            throw .redirect(.invalidRequest("The state parameter is longer than \(maxStateLength) bytes."), redirectURI: redirectURI, state: nil)
        }
        if pushed, parameters["request_uri"] != nil {
            throw refuse(.invalidRequest("A pushed authorization request cannot carry request_uri (RFC 9126 §2.1)."))
        }
        if parameters["request"] != nil { throw refuse(.invalidRequest("Request objects (the request parameter) are not supported.")) }
        guard let responseType = parameters["response_type"] else { throw refuse(.invalidRequest("The response_type parameter is missing.")) }
        guard responseType == "code" else {
            throw refuse(OAuthError(.unsupportedResponseType, "Only response_type=code is supported."))
        }
        guard client.grants.contains(.authorizationCode) else {
            throw refuse(OAuthError(.unauthorizedClient, "The client is not allowed to use the authorization code grant."))
        }
        if client.requiresPushedAuthorizationRequests, !pushed {
            throw refuse(.invalidRequest("This client must push its authorization requests to /oauth/par (RFC 9126 §5)."))
        }
        // RFC 9700 §2.1.1: PKCE is required, and only with S256.
        guard let challenge = parameters["code_challenge"], !challenge.isEmpty else {
            throw refuse(.invalidRequest("PKCE is required: the code_challenge parameter is missing."))
        }
        guard parameters["code_challenge_method"] == PKCE.method else {
            throw refuse(.invalidRequest("code_challenge_method must be S256; plain is not accepted."))
        }
        guard PKCE.isValidChallenge(challenge) else {
            throw refuse(.invalidRequest("The code_challenge is not the base64url of a SHA-256 hash."))
        }
        let scope: Scopes
        if let requested = parameters["scope"] {
            guard let parsed = Scopes(parsing: requested) else { throw refuse(OAuthError(.invalidScope, "The scope parameter is malformed.")) }
            guard parsed.isSubset(of: client.scopes) else {
                throw refuse(OAuthError(.invalidScope, "The requested scope exceeds what this client may be granted."))
            }
            scope = parsed.isEmpty ? client.scopes : parsed
        } else {
            scope = client.scopes
        }
        var maxAge: Int?
        if let text = parameters["max_age"] {
            guard let value = Int(text), value >= 0, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
                throw refuse(.invalidRequest("max_age must be a non-negative integer."))
            }
            maxAge = value
        }
        do {
            try TokenService.validateResources(resources)
        } catch let error as OAuthError {
            throw refuse(error)
        } catch {
            throw refuse(.invalidRequest("The resource parameters are malformed."))
        }
        return AuthorizationRequest(
            clientID: client.id, redirectURI: redirectURI, redirectURIWasSent: sent != nil, state: state, scope: scope.wire,
            codeChallenge: challenge, acr: Self.assurance(requested: parameters["acr_values"], client: client).rawValue, maxAge: maxAge,
            resources: resources)
    }

    /// The higher of the client's default and the highest known level in `acr_values` (unknown
    /// values are voluntary and ignored): a request never lowers what the client registered.
    static func assurance(requested: String?, client: OAuthClient) -> AssuranceLevel {
        let floor = client.defaultACR.flatMap(AssuranceLevel.init(rawValue:)) ?? .oneFactor
        let asked = (requested ?? "").split(separator: " ").compactMap { AssuranceLevel(rawValue: String($0)) }.max() ?? .oneFactor
        return max(floor, asked)
    }

    /// The redirect URI to use: `sent` when it is exactly one the client registered, or differs
    /// from a registered loopback one only in its port (RFC 8252 §7.3); with nothing sent, the
    /// client's only one. `nil` when nothing fits.
    static func redirectURI(_ sent: String?, of client: OAuthClient) -> String? {
        guard let sent else { return client.redirectURIs.count == 1 ? client.redirectURIs[0] : nil }
        if client.redirectURIs.contains(sent) { return sent }
        guard let presented = URLComponents(string: sent), presented.scheme == "http", Self.isLoopback(presented.host) else { return nil }
        for registered in client.redirectURIs {
            guard let candidate = URLComponents(string: registered), candidate.scheme == "http", Self.isLoopback(candidate.host),
                candidate.host == presented.host, candidate.path == presented.path, candidate.query == presented.query,
                presented.fragment == nil, presented.user == nil, presented.password == nil
            else { continue }
            return sent
        }
        return nil
    }

    private static func isLoopback(_ host: String?) -> Bool {
        host == "127.0.0.1" || host == "[::1]" || host == "::1"
    }
}

/// The redirect back to the client (RFC 6749 §4.1.2, RFC 9207): `parameters` added to the
/// redirect URI's query, percent-encoded.
public enum AuthorizationResponse {
    public static func redirect(to redirectURI: String, _ parameters: [(String, String?)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let query = parameters.compactMap { name, value in
            value.map { "\(name)=\($0.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }
        }.joined(separator: "&")
        let separator = redirectURI.contains("?") ? "&" : "?"
        return redirectURI + separator + query
    }

    /// The error redirect of §4.1.2.1 (with `iss`, RFC 9207 §2).
    public static func error(_ error: OAuthError, redirectURI: String, state: String?, issuer: String) -> String {
        redirect(
            to: redirectURI,
            [("error", error.code.rawValue), ("error_description", error.description), ("state", state), ("iss", issuer)])
    }
}
