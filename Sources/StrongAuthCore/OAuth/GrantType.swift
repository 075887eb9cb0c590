/// The OAuth 2.0 grants StrongAuth issues tokens for (RFC 6749 §4.1, §4.3, §4.4, §6).
public enum GrantType: String, Sendable, Codable, CaseIterable {
    case authorizationCode = "authorization_code"
    case clientCredentials = "client_credentials"
    case password = "password"
    case refreshToken = "refresh_token"
}
