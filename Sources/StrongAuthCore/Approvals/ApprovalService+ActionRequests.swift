import Crypto
import Foundation
import StrongAuthProtocol

/// Lifetimes of action requests (docs/approvals.md).
public struct ApprovalConfiguration: Sendable, Equatable {
    /// How long an action request may be confirmed (Shine's API documentation: three minutes).
    public var actionRequestLifetime: TimeInterval
    /// How long a confirmed request's short-lived token lives (Shine's API documentation: one minute).
    public var actionTokenLifetime: TimeInterval

    public init(actionRequestLifetime: TimeInterval = 180, actionTokenLifetime: TimeInterval = 60) {
        self.actionRequestLifetime = actionRequestLifetime
        self.actionTokenLifetime = actionTokenLifetime
    }
}

/// Shine's SCA action requests (Shine's API documentation, docs/approvals.md) on the one approval engine: the client asks,
/// the user confirms on a device what was shown (action and exact payload), the client polls and
/// gets a short-lived token that works once, for that action and that payload only.
extension ApprovalService {
    /// `POST /v2/authentication/oauth2/action_request` by an authenticated client for user `uid`
    /// (the user's id or username). The data a device shows and signs is `action` and the
    /// payload in its canonical form (`CanonicalJSON`, which the token's use must match).
    public func createActionRequest(client: OAuthClient, uid: String, action: String, canonicalPayload canonical: String, source: String?)
        async throws -> Approval
    {
        guard (1...128).contains(action.utf8.count), action.allSatisfy({ !$0.isWhitespace && !$0.isNewline }) else {
            throw ApprovalError.validation(field: "action", message: "1–128 characters without spaces")
        }
        // Only a user of the client's realm, and not one another client of that realm owns: any
        // other user answers exactly as one that does not exist.
        guard let (user, devices) = try await store.actionRequestRecipient(uid: uid, realm: client.realmID), user.realmID == client.realmID,
            user.ownerClientId == nil || user.ownerClientId == client.id
        else {
            throw ApprovalError.validation(field: "uid", message: "no such user")
        }
        guard canonical.utf8.count <= 16_384 else { throw ApprovalError.validation(field: "payload", message: "at most 16 KiB") }
        let now = time.now()
        let approval = Approval(
            id: SecureRandom.uuid(), kind: .actionRequest, userID: user.id, externalUserID: uid, applicationID: nil,
            template: action, operationType: action, parameters: [:], data: "\(action)\n\(canonical)",
            maxFailureCount: AttemptLimits.standard.approvalAnswer,
            signatureTypes: ["possession_knowledge", "possession_biometry"], createdAt: now,
            expiresAt: now.addingTimeInterval(configuration.actionRequestLifetime), updatedAt: now, clientID: client.id, payload: canonical)
        try await insert(
            approval, webhooks: try await webhooks(for: approval, status: .pending, at: now, client: .read(client)), devices: devices,
            actor: "client:\(client.id)",
            source: source)
        return approval
    }

    /// The client's own action request (poll).
    public func actionRequest(id: String, client: OAuthClient) async throws -> Approval {
        guard let approval = try await store.approval(id: id), approval.kind == .actionRequest, approval.clientID == client.id else {
            throw ApprovalError.notFound
        }
        return approval
    }

    /// The short-lived token of a confirmed action request: derived from its id under a server key
    /// (so every poll answers the same token) and stored only as a keyed hash.
    public func actionRequestToken(for id: String) -> String {
        "sa_st_" + tokenKey.hash("action-token:\(id)")
    }

    /// Uses a short-lived token once, for `action` and exactly the payload whose canonical form
    /// (`CanonicalJSON`) is `canonicalPayload`, presented by the client whose action request it
    /// confirmed: one unit of work (`useActionToken`). Returns that action request; `nil` when
    /// unknown, used, expired, for another action or payload, or presented by another client
    /// (which leaves the token unused for its owner).
    public func consumeActionToken(_ token: String, action: String, canonicalPayload canonical: String, clientID: String, source: String?)
        async throws -> Approval?
    {
        guard token.hasPrefix("sa_st_"), token.utf8.count < 200 else { return nil }
        let now = time.now()
        let used = try await store.useActionToken(
            tokenHash: secretHasher.hash(token), action: action, payloadHash: Self.payloadHash(canonical), clientID: clientID,
            audit: AuditRecord(
                actor: "client:\(clientID)", action: .actionTokenUsed, sourceAddress: source, outcome: .success, details: ["template": action]),
            at: now)
        guard let used else {
            try await store.append(
                AuditRecord(actor: "anonymous", action: .actionTokenUse, sourceAddress: source, outcome: .failure), at: now)
            return nil
        }
        return used
    }

    static func payloadHash(_ canonical: String) -> String {
        Hex.encode(SHA256.hash(data: Array(canonical.utf8)))
    }
}
