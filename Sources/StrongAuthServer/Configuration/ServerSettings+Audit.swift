import Configuration
import Foundation
import StrongAuthCore

extension ServerSettings {
    /// How failed authentications of unauthenticated callers are aggregated before they reach the
    /// append-only audit chain (SECURITY.md): `audit.failureWindowSeconds` (60, 1–3600), the window
    /// whose failures become one chained record with a count; `audit.failureKeysPerWindow`
    /// (1000, 10–100000), the distinct (action, client or user name, address, reason) counted
    /// per window before the rest goes to one overflow record per action.
    mutating func readAuditFailures(_ config: ConfigReader) throws {
        let window = config.int(forKey: "audit.failureWindowSeconds", default: 60)
        guard (1...3600).contains(window) else { throw SettingsError("audit.failureWindowSeconds must be 1–3600") }
        let keys = config.int(forKey: "audit.failureKeysPerWindow", default: 1000)
        guard (10...100_000).contains(keys) else { throw SettingsError("audit.failureKeysPerWindow must be 10–100000") }
        auditFailures = AuditFailurePolicy(windowSeconds: Int64(window), maxKeysPerWindow: keys)
    }
}
