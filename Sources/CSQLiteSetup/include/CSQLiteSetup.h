#ifndef STRONGAUTH_CSQLITESETUP_H
#define STRONGAUTH_CSQLITESETUP_H

/// Sets SQLite's process-wide options before the library initializes (`sqlite3_config` is
/// variadic, so Swift cannot call it): no memory statistics. Returns SQLITE_OK, or
/// SQLITE_MISUSE if SQLite had already initialized (nothing changed then).
int strongauth_sqlite_setup(void);

#endif
