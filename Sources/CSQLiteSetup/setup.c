#include "CSQLiteSetup.h"
#include <sqlite3.h>

int strongauth_sqlite_setup(void) {
    // No allocation statistics: with them, every allocation inside SQLite takes one mutex that
    // all connections share, the writer's and every reader's. Nothing here reads them (they
    // serve sqlite3_memory_used and the heap limits, which StrongAuth does not set).
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
