import Foundation
import NIOCore
import StrongAuthStore

/// NIO's singleton event loops — the server's, and every HTTP client's of the process — one per
/// processor the process may use (`UsableProcessors`) rather than per processor NIO counts, which
/// ignores the affinity mask: on a server pinned to one CPU, a second loop only added context
/// switches (docs/benchmarks.md, twenty-third pass).
public enum EventLoopSizing {
    /// Called once, first thing in `strongauth`'s `main`, before anything uses NIO (NIO refuses a
    /// change afterwards). `NIO_SINGLETON_GROUP_LOOP_COUNT`, NIO's own setting, wins when set.
    public static func apply() {
        let environment = ProcessInfo.processInfo.environment
        guard let loops = loopCount(environment: environment, usable: UsableProcessors.count, counted: UsableProcessors.counted) else {
            return
        }
        NIOSingletons.groupLoopCountSuggestion = loops
    }

    /// The loop count to suggest, or `nil` to leave NIO's own choice.
    static func loopCount(environment: [String: String], usable: Int, counted: Int) -> Int? {
        guard environment["NIO_SINGLETON_GROUP_LOOP_COUNT"] == nil, usable < counted else { return nil }
        return usable
    }
}
