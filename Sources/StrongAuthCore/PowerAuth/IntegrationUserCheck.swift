import Foundation
import StrongAuthProtocol

/// Checks an integration user's presented credentials (HTTP Basic) against the user as read —
/// `nil` when no user has the name — and audits a failure. The keyed hash is computed even for
/// an unknown name, so timing tells nothing. Shared by the services whose routes read the user
/// together with what it acts on (one read instead of two): `PowerAuthService` (signature
/// verification) and `ApprovalService` (operations).
struct IntegrationUserCheck: Sendable {
    let store: any AuditLog & PowerAuthRepository
    let secretHasher: KeyedHash
    let time: any TimeSource

    /// The active user the credentials name; `nil` when they are wrong, the user is unknown or
    /// not active (the failure is counted per window and source, SECURITY.md: anyone can send
    /// wrong passwords).
    func user(_ user: IntegrationUser?, presenting credentials: IntegrationCredentials, source: String?) async throws -> IntegrationUser? {
        let matches = secretHasher.matches(credentials.password, storedHash: user?.passwordHash ?? String(repeating: "0", count: 64))
        guard let user, matches, user.status == .active else {
            try await store.recordFailure(
                AuditRecord(
                    actor: "integration-user:\(credentials.name.prefix(128))", action: .powerAuthIntegrationUserAuthentication,
                    sourceAddress: source, outcome: .failure),
                at: time.now())
            return nil
        }
        return user
    }

    /// The user the credentials name, read alone and checked as `user(_:presenting:source:)` does.
    func authenticate(_ credentials: IntegrationCredentials, source: String?) async throws -> IntegrationUser? {
        try await user(try await store.integrationUser(name: credentials.name), presenting: credentials, source: source)
    }
}
