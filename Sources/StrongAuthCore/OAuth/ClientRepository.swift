import Foundation

/// OAuth clients.
public protocol ClientRepository: Sendable {
    /// Stores a new client; `StoreError.conflict` when the id is taken.
    func insertClient(_ client: OAuthClient) async throws
    func client(id: String) async throws -> OAuthClient?
}
