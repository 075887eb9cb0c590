import Foundation
import StrongAuthProtocol
import Synchronization

/// What one node remembers about ACTIVE activations so that a verification in step with the
/// phone needs no database read: only what never changes for an activation (its keys, its
/// application's key and secret, its user) plus the counter data last seen, as a *guess*.
///
/// Nothing here decides anything. A verification that uses a hint succeeds only through the
/// conditional update `… WHERE status = 'ACTIVE' AND ctr_data = <hint> AND <the integration user
/// and the application are still valid>`, in the database, on every node; a stale or wrong hint
/// just fails that update and the verification takes the full path (docs/architecture.md).
final class SignatureHints: Sendable {
    struct Hint: Sendable {
        var applicationID: String
        var applicationKey: String
        var applicationSecret: String
        var secrets: PowerAuthDerivedKeys
        var externalUserID: String
        var counterData: [UInt8]
        var recentCounterData: [[UInt8]]
        /// The version the activation was made with: an older signature takes the full path (refused).
        var protocolVersion: PowerAuthProtocolVersion?
    }

    private let hints = Mutex<[String: Hint]>([:])
    private let capacity: Int

    init(capacity: Int = 50_000) {
        self.capacity = capacity
    }

    subscript(id: String) -> Hint? {
        hints.withLock { $0[id] }
    }

    func remember(_ hint: Hint, for id: String) {
        hints.withLock { hints in
            // Bounded: when full, start over (hints are only ever a shortcut).
            if hints.count >= capacity, hints[id] == nil { hints.removeAll(keepingCapacity: true) }
            hints[id] = hint
        }
    }

    func forget(_ id: String) {
        _ = hints.withLock { $0.removeValue(forKey: id) }
    }
}
