/// An RFC 6749 §5.2 error. `description` goes to the client as `error_description`;
/// `detail` is only ever logged (panva's split between public and private detail).
public struct OAuthError: Error, Sendable, Equatable {
    /// The error codes of RFC 6749 §5.2 and RFC 7009 §2.2.1.
    public enum Code: String, Sendable {
        case invalidRequest = "invalid_request"
        case invalidClient = "invalid_client"
        case invalidGrant = "invalid_grant"
        case unauthorizedClient = "unauthorized_client"
        case unsupportedGrantType = "unsupported_grant_type"
        case invalidScope = "invalid_scope"
        case unsupportedTokenType = "unsupported_token_type"
        /// RFC 8707 §2: a `resource` that is not an absolute URI (or is refused).
        case invalidTarget = "invalid_target"
        /// RFC 9449 §5: the DPoP proof at the token endpoint is missing (where required) or invalid.
        case invalidDPoPProof = "invalid_dpop_proof"
        /// RFC 9449 §8: retry with the nonce in the `DPoP-Nonce` response header.
        case useDPoPNonce = "use_dpop_nonce"
        /// Not an RFC 6749 code: the server could not answer (storage down). Always a 503.
        case temporarilyUnavailable = "temporarily_unavailable"
        /// RFC 6749 §4.1.2.1: the authorization endpoint serves `response_type=code` only.
        case unsupportedResponseType = "unsupported_response_type"
        /// RFC 6749 §4.1.2.1: the user (or the login) refused the request.
        case accessDenied = "access_denied"
        /// RFC 9126 §2.2, RFC 9101 §10.2: the `request_uri` is unknown, expired or used.
        case invalidRequestURI = "invalid_request_uri"
    }

    public var code: Code
    public var description: String
    public var detail: String?

    public init(_ code: Code, _ description: String, detail: String? = nil) {
        self.code = code
        self.description = description
        self.detail = detail
    }

    public static func invalidRequest(_ description: String) -> OAuthError { .init(.invalidRequest, description) }
    public static let invalidClient = OAuthError(.invalidClient, "Client authentication failed.")
    public static func invalidGrant(_ description: String) -> OAuthError { .init(.invalidGrant, description) }
}
