import Foundation
import StrongAuthProtocol

/// The integrator's side of webhooks (docs/webhooks.md): the secrets that sign them, the delivery log
/// and retrying a delivery that was given up. Deliveries themselves are written by the services
/// whose state changes they report, in the same transaction.
public struct WebhookService: Sendable {
    public typealias Repositories = WebhookOutbox & ClientRepository & PowerAuthRepository & AuditLog

    let store: any Repositories
    let masterKey: MasterKey
    let time: any TimeSource

    public init(store: any Repositories, masterKey: MasterKey, time: any TimeSource) {
        self.store = store
        self.masterKey = masterKey
        self.time = time
    }

    /// A callback URL must be an absolute http(s) URL with a host.
    public static func validate(url: String, field: String) throws {
        guard url.utf8.count <= 2048, let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""),
            parsed.host?.isEmpty == false
        else { throw ValidationError(field: field, message: "must be an absolute http(s) URL") }
    }

    /// A new webhook secret (256 random bits, shown once) and its sealed form for storage.
    static func newSecret(for subscriber: WebhookSubscriber, masterKey: MasterKey) throws -> (secret: String, sealed: String) {
        let secret = SecureRandom.token(prefix: "sa_whs_")
        return (secret, try masterKey.seal(Array(secret.utf8), purpose: purpose(of: subscriber), associatedData: subscriber.id))
    }

    /// Sealed under a purpose per kind of subscriber and bound to its id, so one subscriber's
    /// sealed secret can never be opened as another's.
    static func purpose(of subscriber: WebhookSubscriber) -> String {
        switch subscriber {
        case .application: PowerAuthService.callbackSecretPurpose
        case .client: "client-webhook-secret"
        }
    }

    /// The secret that signs `subscriber`'s webhooks; `nil` when it has none (any more).
    public func secret(of subscriber: WebhookSubscriber) async throws -> [UInt8]? {
        let sealed: String?
        switch subscriber {
        case .application(let id): sealed = try await store.application(id: id)?.sealedCallbackSecret
        case .client(let id): sealed = try await store.client(id: id)?.sealedWebhookSecret
        }
        return try sealed.map { try masterKey.open($0, purpose: Self.purpose(of: subscriber), associatedData: subscriber.id) }
    }

    /// The delivery log of one subscriber (several, for an integration user of several
    /// applications), newest first.
    public func deliveries(of subscribers: [WebhookSubscriber], limit: Int) async throws -> [WebhookDelivery] {
        var all: [WebhookDelivery] = []
        for subscriber in subscribers {
            all += try await store.webhookDeliveries(subscriber: subscriber, limit: limit)
        }
        return Array(all.sorted { ($0.createdAt, $0.id) > ($1.createdAt, $1.id) }.prefix(limit))
    }

    /// Sends a dead delivery again (attempts start over). `nil` when it is not one of
    /// `subscribers`' deliveries; the delivery unchanged when it was not dead.
    public func retry(id: String, by subscribers: [WebhookSubscriber], actor: String, source: String?) async throws -> WebhookDelivery? {
        guard let delivery = try await store.webhookDelivery(id: id), subscribers.contains(delivery.subscriber) else { return nil }
        let now = time.now()
        if try await store.retryWebhook(id: id, subscriber: delivery.subscriber, at: now) {
            try await store.append(
                AuditRecord(
                    actor: actor, action: .webhookRetried, subject: "webhook:\(id)", sourceAddress: source, outcome: .success,
                    details: ["subscriber": delivery.subscriber.description]),
                at: now)
        }
        return try await store.webhookDelivery(id: id)
    }
}
