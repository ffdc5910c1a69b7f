// The system SQLite (Debian: libsqlite3-dev), found through pkg-config `sqlite3`: the `sqlite:` ledger's store.
#ifndef PURSER_CSQLITE_SHIM_H
#define PURSER_CSQLITE_SHIM_H
#include <sqlite3.h>
#endif
