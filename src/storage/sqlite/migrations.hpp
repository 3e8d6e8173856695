// Schema migrations of the SQLite backend. Each step has a version and the SQL that moves
// a database from the previous version to it; `schema_version` records the steps applied.
// Steps are append-only: a released step is never edited, a change is a new step.
#pragma once

#include <sqlite3.h>

#include <span>

#include <quckrt/status.hpp>

namespace quckrt::sqlite {

struct Migration {
    int version;      // 1, 2, 3, ... in order
    const char* sql;  // one or more statements
};

// schema_migrations(): the steps of this build, oldest first.
std::span<const Migration> schema_migrations();

// migrate(db, steps): apply every step newer than the database's version, each in its own
// transaction together with its schema_version row, so a crash leaves a consistent version.
// The version is read under the write lock: two processes opening one file apply a step
// once. Idempotent. failed_precondition when the database is newer than the last step.
Status migrate(sqlite3* db, std::span<const Migration> steps);

// schema_version(db): the highest version applied, 0 for a new database.
Result<int> schema_version(sqlite3* db);

}  // namespace quckrt::sqlite
