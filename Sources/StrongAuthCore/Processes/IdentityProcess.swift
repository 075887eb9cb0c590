import Foundation

/// A finAPI process (finAPI's API documentation, docs/processes.md): a bearer process token that a client hands to a
/// front end, exchangeable a few times for an access token of an identity created for it.
///
/// ```
///            exchange (exchanges < max)
///              ┌──────┐
///              ▼      │
/// POST ──▶  live ─────┘──(exchange with invalidate=true)──▶ invalidated
///            │  │
///            │  └──(the max-th exchange)──────────────────▶ exhausted
///            └─────(expiresAt passes)──────────────────────▶ expired
///
/// any state ──(deleteAfter passes: the retention job)──▶ gone: process row, identity and its data
/// ```
/// Only `live` is stored as such; the other states are read from the counters and timestamps,
/// so they begin by themselves. Every exchange is one conditional update guarding all of them.
public struct IdentityProcess: Sendable, Equatable {
    /// What a presented process token finds (the face answers all but `live` the same way).
    public enum State: String, Sendable {
        case live
        case invalidated
        case exhausted
        case expired
    }

    /// Our own id (audit events name it; the token itself is never stored).
    public var id: String
    /// HMAC of the process token under the process-token key.
    public var tokenHash: String
    public var clientID: String
    /// finAPI's `processId` (e.g. `USER_ONLY`): what the client says the process is for.
    public var processType: String
    public var clientReference: String
    /// The identity (a user owned by the client, no usable password) the tokens are issued for.
    public var userID: String
    public var exchanges: Int
    public var maxExchanges: Int
    public var invalidatedAt: Date?
    public var createdAt: Date
    /// After this, the token is no longer exchanged.
    public var expiresAt: Date
    /// After this, the retention job deletes the identity and everything bound to it.
    public var deleteAfter: Date

    public init(
        id: String, tokenHash: String, clientID: String, processType: String, clientReference: String, userID: String,
        exchanges: Int = 0, maxExchanges: Int, invalidatedAt: Date? = nil, createdAt: Date, expiresAt: Date, deleteAfter: Date
    ) {
        self.id = id
        self.tokenHash = tokenHash
        self.clientID = clientID
        self.processType = processType
        self.clientReference = clientReference
        self.userID = userID
        self.exchanges = exchanges
        self.maxExchanges = maxExchanges
        self.invalidatedAt = invalidatedAt
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.deleteAfter = deleteAfter
    }

    /// The audit record of a successful exchange, from the process as the exchange left it (its
    /// `exchanges` already counted). The store journals it in the exchange's own unit of work;
    /// PostgreSQL's one-statement exchange writes the same record from SQL (`SQLStore`'s
    /// `exchangeJournalRow`), which the store conformance suite holds equal to this one.
    public func exchangeRecord(invalidating: Bool, source: String?) -> AuditRecord {
        AuditRecord(
            actor: "process:\(id)", action: invalidating ? .processInvalidated : .processExchanged, subject: "user:\(userID)",
            sourceAddress: source, outcome: .success,
            details: ["process": id, "exchanges": String(exchanges), "max_exchanges": String(maxExchanges)])
    }

    /// The state at `now` (for audit and tests; decisions are the store's conditional update).
    public func state(at now: Date) -> State {
        if invalidatedAt != nil { return .invalidated }
        if exchanges >= maxExchanges { return .exhausted }
        if expiresAt <= now { return .expired }
        return .live
    }
}

/// Limits of the process controller (`processes.*` in the configuration).
public struct ProcessConfiguration: Sendable, Equatable {
    /// How often one process token may be exchanged (finAPI: 10).
    public var maxExchanges: Int
    /// How long a process token can be exchanged, from its creation.
    public var lifetime: TimeInterval
    /// How long after its creation a process identity and its data are kept, then deleted.
    /// Never shorter than `lifetime`, so no identity disappears under a live process.
    public var retention: TimeInterval
    /// The most client references one request may create processes for.
    public var maxReferencesPerRequest: Int

    public init(maxExchanges: Int = 10, lifetime: TimeInterval = 86_400, retention: TimeInterval = 7 * 86_400, maxReferencesPerRequest: Int = 100) {
        self.maxExchanges = maxExchanges
        self.lifetime = lifetime
        self.retention = retention
        self.maxReferencesPerRequest = maxReferencesPerRequest
    }
}

extension SecretPrefix {
    /// Process tokens (finAPI process controller): `sa_pt_` + 256 random bits, base64url.
    public static let processToken = "sa_pt_"
}
