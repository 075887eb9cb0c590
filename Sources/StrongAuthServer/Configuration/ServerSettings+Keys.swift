import Configuration
import Foundation
import StrongAuthCore

extension ServerSettings {
    /// The signing-key lifecycle (docs/keys.md). `keys.retiredRetentionSeconds` (default: the
    /// access-token lifetime plus one day): a retired key is deleted, and leaves the JWKS, this
    /// long after its retirement. Every token a key signed expires within the access-token
    /// lifetime of its issue, and a node may sign with a just-retired key until its next key
    /// refresh (seconds), so less than the lifetime plus a minute is refused: resource servers
    /// would meet live tokens whose key the JWKS no longer lists (RFC 7517 §5 key sets).
    mutating func readKeys(_ config: ConfigReader) throws {
        let minimum = Int(accessTokenLifetime) + 60
        let retention = config.int(forKey: "keys.retiredRetentionSeconds", default: Int(accessTokenLifetime) + 86_400)
        guard retention >= minimum else {
            throw SettingsError("keys.retiredRetentionSeconds must be at least tokens.accessLifetimeSeconds + 60 (\(minimum))")
        }
        retiredSigningKeyRetention = TimeInterval(retention)
        previousMasterKeys = (config.string(forKey: "master.previousKeys", isSecret: true) ?? "")
            .split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" }).map(String.init)
        for key in previousMasterKeys {
            guard (try? MasterKey(base64: key)) != nil else { throw SettingsError("master.previousKeys: each key must be base64 of 32 bytes") }
        }
    }
}
