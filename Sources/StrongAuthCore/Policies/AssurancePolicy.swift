import Foundation

/// How strongly the user behind a token authenticated: the token's `acr` claim (RFC 9470, OIDC
/// Core 2). Password-only tokens say `1fa` explicitly rather than carrying no `acr`, so "no acr"
/// never has to be read as a level: a token without one (issued before `acr` existed, or a client
/// token) is below every requirement.
public enum AssuranceLevel: String, Sendable, CaseIterable, Comparable {
    /// One factor: the password grant.
    case oneFactor = "urn:strongauth:acr:1fa"
    /// Two factors: a bound device signed a challenge (possession) after the password grant
    /// (knowledge), or a PowerAuth two-factor signature.
    case twoFactor = "urn:strongauth:acr:2fa"

    var rank: Int {
        switch self {
        case .oneFactor: 1
        case .twoFactor: 2
        }
    }

    public static func < (lhs: AssuranceLevel, rhs: AssuranceLevel) -> Bool { lhs.rank < rhs.rank }
}

/// The security-sensitive actions whose required assurance the policy names. Every face that
/// offers one of them asks `AssurancePolicy.requirement(for:)` instead of deciding on its own, so
/// the Kontist devices face, the finAPI users face and the self-service pages refuse the same
/// things.
public enum SensitiveAction: String, Sendable, CaseIterable {
    /// Remove a bound device (`DELETE /api/user/devices/{id}`, self-service "remove").
    case removeDevice
    /// Approve a new device while another one is bound (RTS art. 24).
    case approveDevice
    /// Bind the user's first device: Kontist's flow, where the SMS OTP signed by the new key is
    /// the second factor, so a one-factor token is enough to start it.
    case bindFirstDevice
    /// Delete the account (`DELETE /api/v2/users`).
    case deleteAccount
    /// Change the phone number that receives the binding OTPs.
    case changePhoneNumber
    /// Change the password.
    case changePassword
    /// Block a device: possible with one factor, since the user who lost the phone must be able
    /// to stop it.
    case blockDevice
}

/// What one action needs: at least `level`, authenticated at most `maxAge` ago (when set).
public struct AssuranceRequirement: Sendable, Equatable {
    public var level: AssuranceLevel
    /// How old the authentication (`auth_time`) may be; nil: any age.
    public var maxAge: TimeInterval?

    public init(level: AssuranceLevel, maxAge: TimeInterval? = nil) {
        self.level = level
        self.maxAge = maxAge
    }

    /// Clock skew tolerated for an `auth_time` slightly in the future (another node's clock).
    static let futureSkew: TimeInterval = 60

    /// Whether a token with this `acr` and `auth_time` satisfies the requirement at `now`. An
    /// unknown `acr`, or a missing `auth_time` where an age limit applies, never does.
    public func isSatisfied(acr: String?, authTime: Date?, now: Date) -> Bool {
        guard let acr, let presented = AssuranceLevel(rawValue: acr), presented >= level else { return false }
        guard let maxAge else { return true }
        guard let authTime else { return false }
        let age = now.timeIntervalSince(authTime)
        return age <= maxAge && age >= -Self.futureSkew
    }

    /// The RFC 9470 `WWW-Authenticate` challenge for a token that does not satisfy the
    /// requirement, e.g. `Bearer error="insufficient_user_authentication",
    /// error_description="…", acr_values="urn:strongauth:acr:2fa", max_age=300`.
    public var challenge: String {
        var parts = [
            #"error="insufficient_user_authentication""#,
            #"error_description="\#(description)""#,
            #"acr_values="\#(level.rawValue)""#,
        ]
        if let maxAge { parts.append("max_age=\(Int(maxAge))") }
        return "Bearer " + parts.joined(separator: ", ")
    }

    /// A human sentence for error bodies.
    public var description: String {
        let factors = level == .twoFactor ? "two-factor authentication" : "authentication"
        guard let maxAge else { return "This action needs \(factors)." }
        return "This action needs \(factors) within the last \(Int(maxAge)) seconds."
    }
}

/// The one table of sensitive actions and the assurance each needs (docs/security-model.md). The age limit
/// is configurable (`assurance.maxAgeSeconds`, default 300); the levels are not, since lowering
/// them would undo RTS art. 24 (a one-factor token could remove the devices that approve new
/// ones and then bind its own).
public struct AssurancePolicy: Sendable, Equatable {
    /// How recent a two-factor authentication must be for the actions that need one.
    public var maxAge: TimeInterval

    public static let defaultMaxAge: TimeInterval = 300

    public init(maxAge: TimeInterval = AssurancePolicy.defaultMaxAge) {
        self.maxAge = max(1, maxAge)
    }

    public static let `default` = AssurancePolicy()

    public func requirement(for action: SensitiveAction) -> AssuranceRequirement {
        switch action {
        case .removeDevice, .approveDevice, .deleteAccount, .changePhoneNumber, .changePassword:
            freshTwoFactor
        case .bindFirstDevice, .blockDevice:
            AssuranceRequirement(level: .oneFactor)
        }
    }

    /// The strongest requirement in the table: two factors within `maxAge`. A route that demands
    /// it (`TwoFactorContext`) satisfies every action.
    public var freshTwoFactor: AssuranceRequirement { AssuranceRequirement(level: .twoFactor, maxAge: maxAge) }
}
