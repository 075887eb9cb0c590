import Foundation
import Logging
import ServiceLifecycle
import StrongAuthCore

/// Deletes retired signing keys once no unexpired token can carry them
/// (`keys.retiredRetentionSeconds`, docs/keys.md), audits each deletion and reloads this node's
/// keys so the JWKS stops listing them; other nodes drop them at their next key refresh. Every
/// node runs it: the store deletes each key once (one conditional DELETE), and only the node
/// that deleted a key audits it.
struct SigningKeyPruner: Service {
    let keys: KeyManagement
    let signer: AccessTokenSigner
    let audit: any AuditLog
    let time: any TimeSource
    let retention: TimeInterval
    let logger: Logger
    var interval: Duration = .seconds(3600)

    func run() async throws {
        try await PeriodicJob(name: "signing key pruning", interval: interval, logger: logger, pass: pass).run()
    }

    func pass() async throws -> PassOutcome {
        let pruned = try await keys.pruneRetiredKeys(retention: retention)
        guard !pruned.isEmpty else { return .idle }
        for kid in pruned {
            try await audit.append(
                AuditRecord(
                    actor: "system:key-pruning", action: .signingKeyPruned, subject: "signing-key:\(kid)", outcome: .success,
                    details: ["retentionSeconds": "\(Int(retention))"]),
                at: time.now())
        }
        _ = try await signer.refresh()
        logger.notice("retired signing keys deleted", metadata: ["kids": "\(pruned)"])
        return .idle
    }
}
