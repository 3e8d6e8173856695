#include "storage/sqlite/sqlite_db.hpp"

namespace quckrt::sqlite {

Status status_from(int rc, sqlite3* db, std::string_view what) {
    std::string msg(what);
    msg += ": ";
    msg += sqlite3_errstr(rc);
    // The connection's message is more precise, but only when it describes this code.
    if (db && (sqlite3_extended_errcode(db) & 0xFF) == (rc & 0xFF)) {
        msg += " (";
        msg += sqlite3_errmsg(db);
        msg += ")";
    }
    switch (rc & 0xFF) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE: return Status();
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
        case SQLITE_IOERR:
        case SQLITE_CANTOPEN:
        case SQLITE_PROTOCOL:
        case SQLITE_READONLY: return unavailable(std::move(msg));
        case SQLITE_FULL:
        case SQLITE_NOMEM: return resource_exhausted(std::move(msg));
        default: return internal_error(std::move(msg));
    }
}

Status exec(sqlite3* db, const char* sql) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
    if (rc == SQLITE_OK) return Status();
    std::string what = err ? err : "exec";
    sqlite3_free(err);
    return status_from(rc, db, what);
}

Result<StmtPtr> prepare(sqlite3* db, const char* sql) {
    sqlite3_stmt* s = nullptr;
    const int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
    if (rc != SQLITE_OK) return status_from(rc, db, std::string("prepare: ") + sql);
    return StmtPtr(s);
}

Query& Query::bind(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
}

Query& Query::bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
}

Query& Query::bind_opt(int i, const std::optional<std::string>& v) {
    if (v) return bind(i, std::string_view(*v));
    sqlite3_bind_null(stmt_, i);
    return *this;
}

Query& Query::bind_opt(int i, std::optional<int64_t> v) {
    if (v) return bind(i, *v);
    sqlite3_bind_null(stmt_, i);
    return *this;
}

Result<bool> Query::step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return status_from(rc, sqlite3_db_handle(stmt_), sqlite3_sql(stmt_));
}

Status Query::run() {
    for (;;) {
        auto row = step();
        if (!row) return row.error();
        if (!*row) return Status();
    }
}

Result<int64_t> Query::one_int(int64_t fallback) {
    auto row = step();
    if (!row) return row.error();
    if (!*row || is_null(0)) return fallback;
    return i64(0);
}

std::string Query::text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    const int n = sqlite3_column_bytes(stmt_, col);
    return p ? std::string(p, static_cast<size_t>(n)) : std::string();
}

std::optional<std::string> Query::opt_text(int col) const {
    if (is_null(col)) return std::nullopt;
    return text(col);
}

std::optional<int64_t> Query::opt_i64(int col) const {
    if (is_null(col)) return std::nullopt;
    return i64(col);
}

}  // namespace quckrt::sqlite
