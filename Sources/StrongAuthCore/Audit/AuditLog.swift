import Foundation

/// The append-only, hash-chained audit log.
///
/// Appending is two steps, so that the one chain does not serialise every request of every node:
/// `append` writes the record to a journal (durable when it returns, no lock), and
/// `sealAuditJournal` moves journaled records into the chain in batches (a background service on
/// every node, and every read first). The chain's order is the journal's (time, id) order within
/// a batch.
public protocol AuditLog: Sendable {
    /// Journals one record; it is in the chain after the next seal.
    func append(_ record: AuditRecord, at now: Date) async throws
    /// Links up to `limit` journaled records into the chain, in one transaction; returns how
    /// many. Several nodes may call it at once: the database serialises them.
    @discardableResult
    func sealAuditJournal(limit: Int) async throws -> Int
    /// Events in ascending order, starting after `sequence` (the journal is sealed first, so
    /// everything appended before the call is there).
    func auditEvents(after sequence: Int64, limit: Int) async throws -> [AuditEvent]
    /// Counts one failed authentication of an unauthenticated caller in its window (one atomic
    /// upsert, correct on several nodes), instead of journaling a record per failure; `record`'s
    /// `details["reason"]` is part of the key, its other details are dropped (see
    /// `AuditFailurePolicy`).
    func recordFailure(_ record: AuditRecord, at now: Date, policy: AuditFailurePolicy) async throws
    /// Journals every window that is over by `now` as ONE audit record with its count, and removes
    /// it, in one transaction: a window is written exactly once, whichever node gets there first.
    @discardableResult
    func sealFailureWindows(closedBy now: Date) async throws -> Int
    /// The counts of windows not yet sealed, newest first; `realm` `nil`: all of them.
    func openFailureWindows(realm: String?, limit: Int) async throws -> [AuditFailureCount]
    /// The window and key cap of this installation (`audit.failureWindowSeconds`,
    /// `audit.failureKeysPerWindow`).
    var failurePolicy: AuditFailurePolicy { get }
}

extension AuditLog {
    /// `recordFailure` with the installation's window and key cap.
    public func recordFailure(_ record: AuditRecord, at now: Date) async throws {
        try await recordFailure(record, at: now, policy: failurePolicy)
    }
}
