import Foundation

/// A realm: a tenant that owns its users, OAuth clients, PowerAuth applications and integration
/// users, operators and login identities (as Keycloak's realms do).
///
/// Usernames are unique per realm, and every lookup by an external name (a username, PowerAuth's
/// `userId`, an action request's `uid`) happens within the caller's realm, which comes from its
/// principal: the client, the integration user, the operator, the user token's `realm` claim.
/// Across realms nothing is shared, found or told apart: another realm's user answers exactly as
/// an unknown one. Objects that hang off a user id (devices, approvals, tokens, sessions) belong to
/// the realm of their user. See docs/security-model.md, "Realms".
public enum Realm {
    /// The realm of a one-bank installation and of everything created before realms existed.
    public static let defaultID = "default"

    /// 1–64 characters of `a–z`, `0–9`, `-` and `_`: realm ids appear in URLs, claims and CLI flags.
    public static func isValid(id: String) -> Bool {
        (1...64).contains(id.utf8.count)
            && id.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" }
    }
}

/// The realms themselves.
public protocol RealmRepository: Sendable {
    /// Creates the realm; `StoreError.conflict` when it exists.
    func insertRealm(id: String, at now: Date) async throws
    func realmExists(id: String) async throws -> Bool
}
