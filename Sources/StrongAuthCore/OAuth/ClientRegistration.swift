import Foundation

/// What a client registers beyond its grants and scopes: where the authorization endpoint may
/// send its users back, how it authenticates, and what its logins and tokens must be
/// (`strongauth clients create --redirect-uri … --public --jwks … --dpop-required --require-par --acr …`).
public struct ClientRegistration: Sendable, Equatable {
    public var redirectURIs: [String]
    public var isPublic: Bool
    /// A JWK Set (JSON) for `private_key_jwt`.
    public var jwks: String?
    public var requiresDPoP: Bool
    public var requiresPushedAuthorizationRequests: Bool
    public var defaultACR: String?

    public init(
        redirectURIs: [String] = [], isPublic: Bool = false, jwks: String? = nil, requiresDPoP: Bool = false,
        requiresPushedAuthorizationRequests: Bool = false, defaultACR: String? = nil
    ) {
        self.redirectURIs = redirectURIs
        self.isPublic = isPublic
        self.jwks = jwks
        self.requiresDPoP = requiresDPoP
        self.requiresPushedAuthorizationRequests = requiresPushedAuthorizationRequests
        self.defaultACR = defaultACR
    }

    /// Refuses a registration the server could not serve safely, naming the field.
    func validate(grants: Set<GrantType>) throws {
        for uri in redirectURIs { try Self.validateRedirectURI(uri) }
        guard Set(redirectURIs).count == redirectURIs.count else {
            throw ValidationError(field: "redirectUris", message: "each redirect URI once")
        }
        if grants.contains(.authorizationCode), redirectURIs.isEmpty {
            throw ValidationError(field: "redirectUris", message: "the authorization_code grant needs at least one redirect URI")
        }
        if isPublic {
            // RFC 9700 §2.4 / RFC 6749 §4.4: a public client holds no credential, so it may use
            // only the grants that carry their own proof (PKCE, a DPoP-bound refresh token).
            guard grants.isSubset(of: [.authorizationCode, .refreshToken]), grants.contains(.authorizationCode) else {
                throw ValidationError(field: "grants", message: "a public client may use only authorization_code and refresh_token")
            }
            guard jwks == nil else { throw ValidationError(field: "jwks", message: "a public client has no keys to authenticate with") }
        }
        if let jwks {
            guard let data = jwks.data(using: .utf8), jwks.utf8.count <= 65_536,
                let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                let keys = object["keys"] as? [[String: Any]], !keys.isEmpty,
                keys.allSatisfy({ $0["kty"] is String })
            else {
                throw ValidationError(field: "jwks", message: "a JWK Set: {\"keys\": [ … ]} with at least one key, at most 64 KiB")
            }
            // Public keys only: a private member means the client sent us its private key, and a
            // symmetric ("oct") key would be a shared secret again (client_secret_jwt).
            let privateMembers: Set<String> = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]
            guard keys.allSatisfy({ key in key["kty"] as? String != "oct" && privateMembers.isDisjoint(with: key.keys) }) else {
                throw ValidationError(field: "jwks", message: "public keys only (no private members, no symmetric keys)")
            }
            guard keys.allSatisfy(Self.isUsablePublicKey) else {
                throw ValidationError(
                    field: "jwks", message: "each key an EC (P-256, P-384, P-521), RSA or OKP (Ed25519) public key with its members")
            }
        }
        if let defaultACR, AssuranceLevel(rawValue: defaultACR) == nil {
            throw ValidationError(
                field: "acr", message: "one of \(AssuranceLevel.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    /// The members RFC 7518 §6 and RFC 8037 §2 require for a public key of each type jwt-kit verifies with.
    static func isUsablePublicKey(_ key: [String: Any]) -> Bool {
        func has(_ names: String...) -> Bool { names.allSatisfy { (key[$0] as? String)?.isEmpty == false } }
        switch key["kty"] as? String {
        case "EC": return has("crv", "x", "y") && ["P-256", "P-384", "P-521"].contains(key["crv"] as? String ?? "")
        case "RSA": return has("n", "e")
        case "OKP": return has("x") && key["crv"] as? String == "Ed25519"
        default: return false
        }
    }

    /// RFC 9700 §4.1 and RFC 8252 §7: an absolute URI without a fragment, on `https`, on
    /// `http` only for a loopback host (a native app's local listener), or on a private-use
    /// scheme in reverse-domain form (`com.example.app:/callback`).
    static func validateRedirectURI(_ uri: String) throws {
        let invalid = ValidationError(
            field: "redirectUris",
            message:
                "'\(uri.prefix(100))': an absolute https URI without a fragment, http on 127.0.0.1/[::1]/localhost, or a private-use scheme like com.example.app:/cb"
        )
        guard uri.utf8.count <= 2000, !uri.contains(where: { $0.isWhitespace || $0 == "#" }),
            let components = URLComponents(string: uri), let scheme = components.scheme?.lowercased()
        else { throw invalid }
        switch scheme {
        case "https":
            guard let host = components.host, !host.isEmpty else { throw invalid }
        case "http":
            guard let host = components.host?.lowercased(), ["127.0.0.1", "[::1]", "::1", "localhost"].contains(host) else { throw invalid }
        default:
            guard scheme.contains("."), !["javascript", "data", "file", "vbscript"].contains(scheme) else { throw invalid }
        }
    }
}
