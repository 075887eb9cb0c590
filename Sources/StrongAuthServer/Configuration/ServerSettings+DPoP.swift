import Configuration
import Foundation
import StrongAuthCore

extension ServerSettings {
    /// Reads how DPoP proofs are judged: `oauth.dpop.requireNonce` (default false) and
    /// `oauth.dpop.proofMaxAgeSeconds` (60).
    mutating func readDPoP(_ config: ConfigReader) throws {
        let maxAge = config.int(forKey: "oauth.dpop.proofMaxAgeSeconds", default: 60)
        guard (1...600).contains(maxAge) else { throw SettingsError("oauth.dpop.proofMaxAgeSeconds must be 1–600") }
        dpop = DPoPConfiguration(
            proofMaxAge: TimeInterval(maxAge), requireNonce: config.bool(forKey: "oauth.dpop.requireNonce", default: false))
    }
}
