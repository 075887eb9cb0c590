import Logging
import ServiceLifecycle
import StrongAuthCore

/// Picks up rotated signing keys (`strongauth keys rotate`, run against the same database) while
/// the node runs: new tokens are signed with the new key within `interval`, and the JWKS shows
/// it. A token signed with a key this node does not know yet triggers a refresh at once
/// (`AccessTokenSigner.verify`), so verification never waits for this.
public struct SigningKeyRefresher: Service {
    let signer: AccessTokenSigner
    let logger: Logger
    var interval: Duration = .seconds(5)

    /// The keys were loaded when the runtime started: the first refresh is one interval later.
    public func run() async throws {
        try await PeriodicJob(name: "signing key refresh", interval: interval, waitsBeforeFirstPass: true, logger: logger, pass: pass).run()
    }

    func pass() async throws -> PassOutcome {
        if try await signer.refresh() {
            logger.notice("signing keys changed", metadata: ["activeKid": "\(signer.activeKID)"])
        }
        return .idle
    }
}
