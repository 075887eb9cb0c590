import Crypto
import Foundation
import StrongAuthProtocol

/// What is about to be written to the audit log: who did what to what, from where, and how it ended.
public struct AuditRecord: Sendable, Equatable {
    /// How the act ended.
    public enum Outcome: String, Sendable, Codable {
        case success
        case failure
    }

    /// `client:<id>`, `user:<id>`, `operator:cli`, `anonymous`.
    public var actor: String
    /// A dotted verb: `client.created`, `login.password`, `refresh.reuse_detected`, …
    public var action: AuditAction
    /// The thing acted on (`user:<id>`, `client:<id>`, `family:<id>`), if any.
    public var subject: String?
    public var sourceAddress: String?
    public var outcome: Outcome
    /// Non-secret details. Never put secrets, OTPs or tokens here.
    public var details: [String: String]
    /// The realm the record concerns, which decides whose back office shows it. `nil` lets the
    /// store derive it from the subject, else the actor (`user:`, `device:`, `client:`, …);
    /// records of no realm are installation-wide. Stored beside the chain, not hashed into it,
    /// so that the one chain and its existing links are unchanged.
    public var realm: String?

    public init(
        actor: String, action: AuditAction, subject: String? = nil, sourceAddress: String? = nil,
        outcome: Outcome, details: [String: String] = [:], realm: String? = nil
    ) {
        self.realm = realm
        self.actor = actor
        self.action = action
        self.subject = subject
        self.sourceAddress = sourceAddress
        self.outcome = outcome
        self.details = details
    }

    /// The details as the journal stores them: one JSON object with sorted keys, byte for byte
    /// what `JSONSerialization` with `.sortedKeys` wrote (`AuditDetailsJSONTests` compares them),
    /// written without it: it cost ~2 % of a request that journals a record.
    public var detailsJSON: String { JSONObjectWriter.sortedStringObject(details) }
}

/// An appended audit event: the record, its position, time and its link in the hash chain.
public struct AuditEvent: Sendable, Equatable {
    public var sequence: Int64
    public var occurredAt: Date
    public var record: AuditRecord
    public var previousHash: String
    public var hash: String

    public init(sequence: Int64, occurredAt: Date, record: AuditRecord, previousHash: String, hash: String) {
        self.sequence = sequence
        self.occurredAt = occurredAt
        self.record = record
        self.previousHash = previousHash
        self.hash = hash
    }
}

/// The hash chain over the audit log: each event's hash covers its content and the previous hash,
/// so changing, removing or reordering any stored event breaks every later link.
public enum AuditChain {
    /// The `previousHash` of the first event.
    public static let genesisHash = String(repeating: "0", count: 64)

    /// SHA-256 over the length-prefixed fields (unambiguous: no separator can be forged).
    public static func hash(
        sequence: Int64, occurredAt: Date, record: AuditRecord, previousHash: String
    ) -> String {
        var hasher = SHA256()
        // Each field's bytes straight from the string's storage: the sealer hashes every event.
        func field(_ value: String?) {
            var text = value ?? "\u{0}"
            text.withUTF8 { bytes in
                withUnsafeBytes(of: UInt32(bytes.count).bigEndian) { hasher.update(bufferPointer: $0) }
                hasher.update(bufferPointer: UnsafeRawBufferPointer(bytes))
            }
        }
        field(previousHash)
        field(String(sequence))
        field(String(occurredAt.epochMilliseconds))
        field(record.actor)
        field(record.action.rawValue)
        field(record.subject)
        field(record.sourceAddress)
        field(record.outcome.rawValue)
        for key in record.details.keys.sorted() {
            field(key)
            field(record.details[key])
        }
        return hasher.finalize().withUnsafeBytes { Hex.encode($0) }
    }

    /// Where a chain first fails to verify, if anywhere.
    public enum Verification: Sendable, Equatable {
        case intact(events: Int)
        case broken(atSequence: Int64, reason: String)
    }

    /// Verifies a contiguous run of events in ascending order: by default the whole log from
    /// event 1; with `previousHash`/`firstSequence`, a page that continues a verified prefix.
    public static func verify(
        _ events: [AuditEvent], previousHash: String = genesisHash, firstSequence: Int64 = 1
    ) -> Verification {
        var expectedPrevious = previousHash
        var expectedSequence = firstSequence
        for event in events {
            if event.sequence != expectedSequence {
                return .broken(atSequence: expectedSequence, reason: "event \(expectedSequence) is missing")
            }
            if event.previousHash != expectedPrevious {
                return .broken(atSequence: event.sequence, reason: "previous-hash link does not match")
            }
            let recomputed = hash(
                sequence: event.sequence, occurredAt: event.occurredAt, record: event.record,
                previousHash: event.previousHash)
            if !ConstantTime.equals(recomputed, event.hash) {
                return .broken(atSequence: event.sequence, reason: "content does not match its hash")
            }
            expectedPrevious = event.hash
            expectedSequence += 1
        }
        return .intact(events: events.count)
    }
}

/// How the installation's chain verifies as told to one realm's auditor (docs/security-model.md): the chain
/// numbers every event of every realm, so its sequence numbers would count other realms' events.
/// A realm is told a break at one of its own events by that event's position among the realm's
/// events (1 = its first) and time; a break anywhere else only that there is one.
public enum RealmAuditVerification: Sendable, Equatable {
    /// Every event of the installation verifies; `realmEvents` of them are the realm's.
    case intact(realmEvents: Int)
    /// The chain first fails at the realm's own event number `position` (counted in the realm).
    case brokenAtRealmEvent(position: Int, occurredAt: Date, reason: String)
    /// The chain first fails outside the realm's records (another realm's event, an
    /// installation-wide one or a missing one): no number, no time — the realm's later records
    /// are unproven all the same, and the installation's operator locates the break.
    case brokenOutsideRealm
}

/// Verifies a whole stored audit log, page by page.
public enum AuditVerification {
    /// The whole chain verified as `verifyAll` does, told in `realm`'s view.
    public static func verifyAll(_ log: any AuditLog, realm: String, pageSize: Int = 1000) async throws -> RealmAuditVerification {
        var previousHash = AuditChain.genesisHash
        var lastSequence: Int64 = 0
        var realmEvents = 0
        while true {
            let page = try await log.auditEvents(after: lastSequence, limit: pageSize)
            if page.isEmpty { return .intact(realmEvents: realmEvents) }
            if case .broken(let at, let reason) = AuditChain.verify(page, previousHash: previousHash, firstSequence: lastSequence + 1) {
                // A missing event has no stored realm: it is outside.
                guard let event = page.first(where: { $0.sequence == at }), event.record.realm == realm else { return .brokenOutsideRealm }
                let before = page.prefix { $0.sequence < at }.filter { $0.record.realm == realm }.count
                return .brokenAtRealmEvent(position: realmEvents + before + 1, occurredAt: event.occurredAt, reason: reason)
            }
            realmEvents += page.filter { $0.record.realm == realm }.count
            previousHash = page[page.count - 1].hash
            lastSequence = page[page.count - 1].sequence
        }
    }

    public static func verifyAll(_ log: any AuditLog, pageSize: Int = 1000) async throws -> AuditChain.Verification {
        var previousHash = AuditChain.genesisHash
        var lastSequence: Int64 = 0
        var count = 0
        while true {
            let page = try await log.auditEvents(after: lastSequence, limit: pageSize)
            if page.isEmpty { return .intact(events: count) }
            if case .broken(let at, let reason) = AuditChain.verify(page, previousHash: previousHash, firstSequence: lastSequence + 1) {
                return .broken(atSequence: at, reason: reason)
            }
            previousHash = page[page.count - 1].hash
            lastSequence = page[page.count - 1].sequence
            count += page.count
        }
    }
}
