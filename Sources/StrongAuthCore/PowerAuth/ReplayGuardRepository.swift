import Crypto
import Foundation
import StrongAuthProtocol

/// Values that may be presented once while they are fresh: ECIES request nonces today, MAC-token
/// digests next. One generic store shared by every node, so a value seen by one node is refused
/// by all of them.
public protocol ReplayGuardRepository: Sendable {
    /// Remembers `keyHash` in `scope` until `expiresAt`, in one atomic statement: `true` when it
    /// was not remembered (or only by an entry expired at `now`), `false` when it was — a replay.
    /// Of several concurrent calls with the same scope and key, on any nodes, exactly one is `true`.
    func rememberOnce(scope: String, keyHash: String, until expiresAt: Date, at now: Date) async throws -> Bool

    /// Deletes the entries expired at `now`; returns how many. Correctness never depends on it
    /// (an expired entry is overwritten by `rememberOnce`); it only keeps the table small.
    @discardableResult
    func sweepReplayGuard(at now: Date) async throws -> Int
}

/// The replay guard over its store: hashes the presented value (the table never holds it) and
/// sweeps expired entries.
public struct ReplayGuard: Sendable {
    let store: any ReplayGuardRepository
    let time: any TimeSource

    public init(store: any ReplayGuardRepository, time: any TimeSource) {
        self.store = store
        self.time = time
    }

    /// `true` the first time `value` is presented in `scope` before `expiresAt`; `false` for
    /// every later presentation until then. `value` should be everything that makes the request
    /// unique (e.g. the ECIES ephemeral key and nonce).
    public func firstUse(scope: String, value: [UInt8], until expiresAt: Date) async throws -> Bool {
        try await store.rememberOnce(scope: scope, keyHash: Hex.encode(SHA256.hash(data: value)), until: expiresAt, at: time.now())
    }

    /// Deletes expired entries (the sweeper calls this once a minute).
    @discardableResult
    public func sweep() async throws -> Int {
        try await store.sweepReplayGuard(at: time.now())
    }
}
