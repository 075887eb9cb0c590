import CSQLiteSetup

/// SQLite's process-wide options, set once before the first connection opens
/// (`strongauth_sqlite_setup`): no allocation statistics, whose one mutex every connection's
/// allocations share — taken and released around each of SQLite's mallocs and frees (−2 to −3 %
/// of a device challenge's CPU, docs/benchmarks.md). GRDB already opens each connection without
/// a mutex of its own (multi-thread mode: one thread at a time uses it).
enum SQLiteLibrary {
    /// `SQLITE_OK` once set; `SQLITE_MISUSE` if SQLite had already initialized, and the
    /// statistics stay on (as correct, a little slower).
    static let setUp: CInt = strongauth_sqlite_setup()
}
