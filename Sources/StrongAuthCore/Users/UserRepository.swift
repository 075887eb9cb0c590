import Foundation

/// End users (their factors' counters: `AttemptRepository`).
public protocol UserRepository: AttemptRepository {
    /// Stores a new user; `StoreError.conflict` when the username is taken in the user's realm.
    func insertUser(_ user: User) async throws
    func user(id: String) async throws -> User?
    /// The user of that username in that realm only: another realm's user of the same name is
    /// not found (usernames are unique per realm, not per installation).
    func user(realm: String, username: String) async throws -> User?
    /// Deletes the user and everything bound to it (refresh tokens and their families) in one
    /// transaction. `false` when there was no such user.
    func deleteUser(id: String) async throws -> Bool
}
