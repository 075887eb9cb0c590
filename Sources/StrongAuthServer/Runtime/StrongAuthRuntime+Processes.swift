import StrongAuthCore
import StrongAuthProtocol

extension StrongAuthRuntime {
    /// The finAPI process controller over this runtime's store and OAuth core. Process tokens
    /// are hashed under their own key, derived from the master key like every other secret's.
    /// Built on use: it holds no state of its own (one HKDF per call).
    public var processes: ProcessService {
        ProcessService(
            store: store, tokens: tokens, tokenHasher: KeyedHash(key: masterKey.derive(purpose: "process-token")), time: time,
            configuration: settings.processes)
    }
}
