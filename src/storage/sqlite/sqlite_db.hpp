// Thin RAII over the sqlite3 C API for the SQLite backend: owning handles, result-code
// mapping, and Query, one use of a cached prepared statement (bind, step, read, reset).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <quckrt/status.hpp>

namespace quckrt::sqlite {

struct DbCloser {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;

struct StmtFinalizer {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// status_from(rc, db, what): a SQLite result code as a Status. Busy, locked and I/O errors
// are unavailable (retry), a full disk or no memory resource_exhausted, the rest internal
// (corruption, constraint failures the code should have prevented, misuse).
Status status_from(int rc, sqlite3* db, std::string_view what);

// exec(db, sql): run statements that return no rows (schema, pragmas, transactions).
Status exec(sqlite3* db, const char* sql);

// prepare(db, sql): a statement meant to be kept and reused.
Result<StmtPtr> prepare(sqlite3* db, const char* sql);

// Query: one execution of a prepared statement. Bound text is NOT copied (SQLITE_STATIC),
// so it must outlive the Query; binding a temporary std::string does not compile. The
// destructor resets the statement and clears its bindings so it can be used again.
class Query {
public:
    explicit Query(sqlite3_stmt* stmt) : stmt_(stmt) {}
    ~Query() {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }
    Query(const Query&) = delete;
    Query& operator=(const Query&) = delete;

    Query& bind(int i, std::string_view v);
    Query& bind(int i, std::string&&) = delete;
    Query& bind(int i, int64_t v);
    Query& bind_opt(int i, const std::optional<std::string>& v);
    Query& bind_opt(int i, std::optional<int64_t> v);

    // step(): true when a row is ready, false when the statement is done.
    Result<bool> step();
    // run(): step to completion, ignoring rows.
    Status run();
    // one_int(): the first column of the first row (e.g. COUNT(*)), fallback without a row.
    Result<int64_t> one_int(int64_t fallback = 0);

    int64_t i64(int col) const { return sqlite3_column_int64(stmt_, col); }
    bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
    std::string text(int col) const;
    std::optional<std::string> opt_text(int col) const;
    std::optional<int64_t> opt_i64(int col) const;

    // changes(): rows changed by the last completed INSERT/UPDATE/DELETE on this connection.
    int64_t changes() const { return sqlite3_changes64(sqlite3_db_handle(stmt_)); }

private:
    sqlite3_stmt* stmt_;
};

}  // namespace quckrt::sqlite
