import Foundation
import StrongAuthProtocol

/// Why the process controller refused a request (validation failures are `ValidationError`s).
public enum ProcessError: Error, Sendable, Equatable {
    /// The client may not create processes (it lacks the `client_credentials` grant).
    case clientNotAllowed
    /// The process token is unknown, or its process is expired, invalidated or used up. One
    /// case on purpose: see `ProcessService.exchange`.
    case notExchangeable
}

/// finAPI's process controller (finAPI's API documentation, docs/processes.md): a client creates processes, each with a
/// transparently created identity; whoever holds a process token exchanges it for that
/// identity's access token a limited number of times; the retention job deletes the identities.
public struct ProcessService: Sendable {
    public typealias Repositories = ProcessRepository & UserRepository & AuditLog

    let store: any Repositories
    let tokens: TokenService
    /// Hashes process tokens for storage (its own key, derived from the master key).
    let tokenHasher: KeyedHash
    let time: any TimeSource
    public let configuration: ProcessConfiguration

    public init(store: any Repositories, tokens: TokenService, tokenHasher: KeyedHash, time: any TimeSource, configuration: ProcessConfiguration) {
        self.store = store
        self.tokens = tokens
        self.tokenHasher = tokenHasher
        self.time = time
        self.configuration = configuration
    }

    /// A created process as the client sees it, once: its reference and its token.
    public struct Created: Sendable, Equatable {
        public var clientReference: String
        public var processToken: String
    }

    /// `POST /api/v1/processes`: one process, token and identity per client reference, all or none.
    ///
    /// Who may: an active client with the `client_credentials` grant — the grant that already lets
    /// it create users of its own through `/api/v2/users` (finAPI's "prerequisite: client
    /// credentials"); a process gives it nothing more than such a user would.
    public func create(client: OAuthClient, processType: String, clientReferences: [String], source: String?) async throws -> [Created] {
        guard client.status == .active, client.grants.contains(.clientCredentials) else { throw ProcessError.clientNotAllowed }
        try Validate.identifier(processType, field: "processId")
        guard !clientReferences.isEmpty else {
            throw ValidationError(field: "clientReferences", message: "at least one client reference is required")
        }
        guard clientReferences.count <= configuration.maxReferencesPerRequest else {
            throw ValidationError(field: "clientReferences", message: "at most \(configuration.maxReferencesPerRequest) per request")
        }
        var seen = Set<String>()
        for (index, reference) in clientReferences.enumerated() {
            let field = "clientReferences[\(index)].clientReference"
            guard (1...256).contains(reference.utf8.count), !reference.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) })
            else { throw ValidationError(field: field, message: "must be 1–256 bytes without control characters") }
            guard seen.insert(reference).inserted else { throw ValidationError(field: field, message: "is a duplicate") }
        }

        let now = time.now()
        var created: [Created] = []
        var processes: [IdentityProcess] = []
        var identities: [User] = []
        for reference in clientReferences {
            let token = SecureRandom.token(prefix: SecretPrefix.processToken)
            let userID = SecureRandom.uuid()
            // '!' is no bcrypt hash: the identity can never log in with a password, only by its process.
            identities.append(
                User(
                    id: userID, username: "process:\(userID)", passwordHash: "!", ownerClientId: client.id, createdAt: now,
                    realmID: client.realmID))
            let process = IdentityProcess(
                id: SecureRandom.uuid(), tokenHash: tokenHasher.hash(token), clientID: client.id, processType: processType,
                clientReference: reference, userID: userID, maxExchanges: configuration.maxExchanges, createdAt: now,
                expiresAt: now.addingTimeInterval(configuration.lifetime), deleteAfter: now.addingTimeInterval(configuration.retention))
            processes.append(process)
            created.append(Created(clientReference: reference, processToken: token))
        }
        // The identities, their processes and a record of each, in one transaction.
        let audits = processes.map { process in
            AuditRecord(
                actor: "client:\(client.id)", action: .processCreated, subject: "user:\(process.userID)", sourceAddress: source,
                outcome: .success, details: ["process": process.id, "process_type": processType])
        }
        try await store.insertProcesses(processes, identities: identities, audits: audits, at: now)
        return created
    }

    /// `GET /api/v1/processes/{processToken}[?invalidate=true]`: an access token of the process's
    /// identity, from the OAuth core (ES256 JWT, `amr: ["process"]`, the client's scopes, no
    /// refresh token). `invalidate` makes this exchange the last one.
    ///
    /// Every refusal is the same `notExchangeable`: whoever presents a token learns only that it
    /// no longer yields access tokens — not whether it ever existed, nor whether the real client
    /// already used it up or ended it (a token leaked through a log or a browser history would
    /// otherwise tell its finder about the process). The audit log records the actual reason for
    /// known processes; unknown tokens are not audited, so random guesses cannot flood the log.
    public func exchange(processToken: String, invalidate: Bool, source: String?) async throws -> IssuedTokens {
        // 32 random bytes are 43 base64url characters: anything else cannot be a process token.
        guard processToken.hasPrefix(SecretPrefix.processToken), processToken.utf8.count == SecretPrefix.processToken.utf8.count + 43
        else { throw ProcessError.notExchangeable }
        let hash = tokenHasher.hash(processToken)
        let now = time.now()
        // The exchange (one conditional update), its audit record and the read of the client the
        // token is issued for: one unit of work.
        guard let (process, client) = try await store.exchangeProcess(tokenHash: hash, invalidate: invalidate, source: source, at: now) else {
            if let known = try await store.process(tokenHash: hash) {
                let state = known.state(at: now)
                try await store.append(
                    AuditRecord(
                        actor: "process:\(known.id)", action: .processExchangeRefused, subject: "user:\(known.userID)",
                        sourceAddress: source, outcome: .failure,
                        details: ["process": known.id, "reason": state == .live ? "identity_or_client_inactive" : state.rawValue]),
                    at: now)
            }
            throw ProcessError.notExchangeable
        }
        return try await tokens.issueUserTokens(
            userID: process.userID, client: client, scopes: client.scopes, amr: ["process"], withRefreshToken: false)
    }

    /// The retention job's pass: every process whose retention has passed loses its identity and
    /// everything bound to it (tokens, devices, challenges, approvals), then its own row.
    /// Idempotent and safe on every node at once: the deletes of a row another node already
    /// deleted do nothing, and only the node whose delete removed the process row audits it.
    /// Returns how many processes this call deleted.
    @discardableResult
    public func deleteExpired(limit: Int = 100) async throws -> Int {
        let now = time.now()
        var deleted = 0
        for process in try await store.processesDueForDeletion(at: now, limit: limit) {
            // Read before the identity is gone: the record then still belongs to its realm.
            let realm = try await store.user(id: process.userID)?.realmID
            _ = try await store.deleteUser(id: process.userID)
            guard try await store.deleteProcess(id: process.id, at: now) else { continue }
            deleted += 1
            try await store.append(
                AuditRecord(
                    actor: "system:retention", action: .processDeleted, subject: "user:\(process.userID)", outcome: .success,
                    details: ["process": process.id, "client": process.clientID], realm: realm),
                at: now)
        }
        return deleted
    }
}
