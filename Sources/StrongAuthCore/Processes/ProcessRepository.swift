import Foundation

/// Processes of the finAPI process controller and their identities.
public protocol ProcessRepository: Sendable {
    /// Stores the identities (flagged as process identities), their processes and the records
    /// of their creation (`audits`, journaled at `now`) in one transaction: either every process
    /// of a request exists, with its record, or none does.
    func insertProcesses(_ processes: [IdentityProcess], identities: [User], audits: [AuditRecord], at now: Date) async throws

    /// One exchange, as ONE conditional update: `exchanges + 1` (and, with `invalidate`, the end
    /// of the process) only while the process is live at `now` — not invalidated, under its
    /// maximum, unexpired — and its identity and client are still active. Exact across any number
    /// of nodes. One unit of work with it: the exchange's audit record
    /// (`IdentityProcess.exchangeRecord`, from `source`) and the read of the process's client, which
    /// the access token is issued for. Returns the process after the exchange and its client,
    /// `nil` when the exchange was refused (nothing written then).
    func exchangeProcess(tokenHash: String, invalidate: Bool, source: String?, at now: Date) async throws
        -> (process: IdentityProcess, client: OAuthClient)?

    /// The process stored under `tokenHash`, if any (to say why an exchange was refused).
    func process(tokenHash: String) async throws -> IdentityProcess?

    /// Processes whose retention has passed at `now`, oldest first.
    func processesDueForDeletion(at now: Date, limit: Int) async throws -> [IdentityProcess]

    /// Deletes the process row and the approvals of its identity, once its retention has
    /// passed; `true` only for the call that deleted the row (so one node audits it). Call it
    /// after `UserRepository.deleteUser` of the identity: the row is the job's to-do marker, so a
    /// crash in between is finished by the next pass.
    func deleteProcess(id: String, at now: Date) async throws -> Bool
}

extension ProcessRepository {
    /// Processes and identities without records of their creation (store tests).
    public func insertProcesses(_ processes: [IdentityProcess], identities: [User]) async throws {
        try await insertProcesses(processes, identities: identities, audits: [], at: Date())
    }

    /// An exchange from no address, returning only the process (tests of the decision alone).
    public func exchangeProcess(tokenHash: String, invalidate: Bool, at now: Date) async throws -> IdentityProcess? {
        try await exchangeProcess(tokenHash: tokenHash, invalidate: invalidate, source: nil, at: now)?.process
    }
}
