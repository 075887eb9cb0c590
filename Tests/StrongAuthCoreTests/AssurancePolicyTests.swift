import Foundation
import Testing

@testable import StrongAuthCore

/// The one table of sensitive actions (RFC 9470 step-up): which need fresh two factors, what a
/// token's `acr` and `auth_time` must say, and the `WWW-Authenticate` challenge when they do not.
@Suite("Assurance policy")
struct AssurancePolicyTests {
    static let now = Date(timeIntervalSince1970: 1_796_000_000)
    static let oneFactor = AssuranceLevel.oneFactor.rawValue
    static let twoFactor = AssuranceLevel.twoFactor.rawValue

    @Test("every sensitive action has a requirement; only binding the first device and blocking accept one factor")
    func table() {
        let policy = AssurancePolicy(maxAge: 120)
        for action in SensitiveAction.allCases {
            let requirement = policy.requirement(for: action)
            switch action {
            case .bindFirstDevice, .blockDevice:
                #expect(requirement == AssuranceRequirement(level: .oneFactor), "\(action)")
            case .removeDevice, .approveDevice, .deleteAccount, .changePhoneNumber, .changePassword:
                #expect(requirement == AssuranceRequirement(level: .twoFactor, maxAge: 120), "\(action)")
            }
        }
        #expect(policy.freshTwoFactor == AssuranceRequirement(level: .twoFactor, maxAge: 120))
        #expect(AssurancePolicy(maxAge: 0).maxAge == 1, "an age limit of 0 or less would refuse every token")
    }

    @Test(
        "a requirement is met only by a known acr at least as strong, authenticated within maxAge (60 s of future skew)",
        arguments: [
            (twoFactor, -10.0, true),
            (twoFactor, -300.0, true),
            (twoFactor, -301.0, false),
            (twoFactor, 60.0, true),
            (twoFactor, 61.0, false),
            (oneFactor, -10.0, false),
            ("urn:other:acr", -10.0, false),
            ("", -10.0, false),
        ])
    func freshTwoFactor(acr: String, age: Double, satisfied: Bool) {
        let requirement = AssuranceRequirement(level: .twoFactor, maxAge: 300)
        #expect(requirement.isSatisfied(acr: acr, authTime: Self.now.addingTimeInterval(age), now: Self.now) == satisfied)
    }

    @Test("no acr never satisfies; a missing auth_time fails only where an age limit applies")
    func missingClaims() {
        let anyAge = AssuranceRequirement(level: .oneFactor)
        #expect(!anyAge.isSatisfied(acr: nil, authTime: Self.now, now: Self.now))
        #expect(anyAge.isSatisfied(acr: Self.oneFactor, authTime: nil, now: Self.now))
        #expect(anyAge.isSatisfied(acr: Self.twoFactor, authTime: nil, now: Self.now), "two factors satisfy a one-factor requirement")
        #expect(!AssuranceRequirement(level: .twoFactor, maxAge: 300).isSatisfied(acr: Self.twoFactor, authTime: nil, now: Self.now))
    }

    @Test("the RFC 9470 challenge names the error, the acr and max_age")
    func challenge() {
        #expect(
            AssuranceRequirement(level: .twoFactor, maxAge: 300).challenge
                == #"Bearer error="insufficient_user_authentication", error_description="This action needs two-factor authentication within the last 300 seconds.", acr_values="urn:strongauth:acr:2fa", max_age=300"#
        )
        #expect(!AssuranceRequirement(level: .twoFactor).challenge.contains("max_age"))
        #expect(AssuranceLevel.oneFactor < .twoFactor)
    }
}
