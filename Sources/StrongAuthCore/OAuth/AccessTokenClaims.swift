import Foundation
import JWTKit

/// The claims of a StrongAuth access token (an RFC 9068-style JWT, signed ES256).
///
/// `sub` is the user id for user tokens and the client id for client tokens; `subject_type`
/// says which, so resource servers never have to guess. `sid` names the refresh-token family a
/// user token came from, so that detecting a stolen refresh token also retires its access tokens.
public struct AccessTokenClaims: JWTPayload, Equatable {
    /// Whose token this is.
    public enum SubjectType: String, Codable, Sendable {
        case user
        case client
    }

    public var iss: IssuerClaim
    public var sub: SubjectClaim
    public var aud: AudienceClaim?
    public var exp: ExpirationClaim
    public var iat: IssuedAtClaim
    public var jti: IDClaim
    public var clientID: String
    public var scope: String
    public var subjectType: SubjectType
    public var sid: String?
    /// Authentication methods (RFC 8176): `pwd` for the password grant, `pwd hwk` once a bound
    /// device signed a challenge.
    public var amr: [String]?
    /// Authentication context (RFC 9470): `urn:strongauth:acr:2fa` on confirmed (two-factor)
    /// tokens, `urn:strongauth:acr:1fa` on password-only ones (see `AssuranceLevel`).
    public var acr: String?
    /// When the user last authenticated with the factors `acr` names (RFC 9470 / OIDC
    /// `auth_time`, whole seconds): the password grant, or the device signature of a confirmed
    /// token. A refresh keeps it, so refreshing never makes an old authentication look recent.
    public var authTime: Date?
    /// Confirmation (RFC 7800): `kid` is the id of the device that confirmed the token, `jkt`
    /// the thumbprint of the DPoP key the token is bound to (RFC 9449 §6); either or both.
    public var cnf: Confirmation?
    /// The realm the token acts in (its client's, and its user's); absent on tokens issued
    /// before realms existed, which are of the default realm.
    public var realm: String?

    /// RFC 7800 confirmation claim.
    public struct Confirmation: Codable, Sendable, Equatable {
        public var kid: String?
        public var jkt: String?
        public init(kid: String? = nil, jkt: String? = nil) {
            self.kid = kid
            self.jkt = jkt
        }
    }

    /// The `acr` value of confirmed tokens.
    public static let twoFactorACR = "urn:strongauth:acr:2fa"

    enum CodingKeys: String, CodingKey {
        case iss, sub, aud, exp, iat, jti, scope, sid, amr, acr, cnf, realm
        case authTime = "auth_time"
        case clientID = "client_id"
        case subjectType = "subject_type"
    }

    public init(
        issuer: String, subject: String, clientID: String, scope: String, subjectType: SubjectType,
        issuedAt: Date, expiresAt: Date, id: String, familyID: String? = nil, amr: [String]? = nil,
        confirmationDeviceID: String? = nil, authTime: Date? = nil, resources: [String] = [], realm: String? = nil,
        dpopKeyThumbprint: String? = nil
    ) {
        self.realm = realm
        iss = .init(value: issuer)
        sub = .init(value: subject)
        // RFC 9068 §2.2: the audience is the client the token was issued to, plus the resource
        // servers it asked for (RFC 8707 `resource`).
        aud = .init(value: [clientID] + resources.filter { $0 != clientID })
        exp = .init(value: expiresAt.wholeSeconds)
        iat = .init(value: issuedAt.wholeSeconds)
        jti = .init(value: id)
        self.clientID = clientID
        self.scope = scope
        self.subjectType = subjectType
        sid = familyID
        self.amr = amr
        cnf = confirmationDeviceID == nil && dpopKeyThumbprint == nil ? nil : Confirmation(kid: confirmationDeviceID, jkt: dpopKeyThumbprint)
        acr = confirmationDeviceID == nil ? nil : Self.twoFactorACR
        self.authTime = authTime?.wholeSeconds
    }

    /// Signature checking is jwt-kit's; expiry is checked by `TokenService` against its injected clock.
    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}
