import CSQLiteSetup
import GRDB

/// SQLite's process-wide options, set once before the first connection opens
/// (`strongauth_sqlite_setup`): no allocation statistics, whose one mutex every connection's
/// allocations share — taken and released around each of SQLite's mallocs and frees (−2.5 to
/// −4 % of a device challenge's CPU, docs/benchmarks.md). GRDB already opens each connection
/// without a mutex of its own (multi-thread mode: one thread at a time uses it).
enum SQLiteLibrary {
    /// `SQLITE_OK` once set; `SQLITE_MISUSE` if SQLite had already initialized, and the
    /// statistics stay on (as correct, a little slower).
    static let setUp: CInt = strongauth_sqlite_setup()

    /// Every connection the store opens comes from here, so none can open before the options are set.
    static func queue(path: String, configuration: Configuration) throws -> DatabaseQueue {
        _ = setUp
        return try DatabaseQueue(path: path, configuration: configuration)
    }
}
