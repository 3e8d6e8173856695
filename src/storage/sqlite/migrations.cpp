#include "storage/sqlite/migrations.hpp"

#include <string>

#include "storage/sqlite/sqlite_db.hpp"

namespace quckrt::sqlite {
namespace {

// Version 1: chat, resume, store-and-forward and call history. Every query path has an
// index: the comment above each statement in sqlite_statements.cpp names the one it uses.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE conversations (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL CHECK (kind IN ('direct', 'group')),
    created_at     INTEGER NOT NULL,
    last_seq       INTEGER NOT NULL DEFAULT 0,  -- the conversation's sequence: source of truth
    log_first_seq  INTEGER NOT NULL DEFAULT 1   -- oldest seq events_after may serve (pruning)
) WITHOUT ROWID;

CREATE TABLE members (
    conversation_id  TEXT NOT NULL REFERENCES conversations (id),
    user_id          TEXT NOT NULL,
    joined_at        INTEGER NOT NULL,
    last_read_seq    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, user_id)
) WITHOUT ROWID;
CREATE INDEX members_by_user ON members (user_id, conversation_id);

-- A message row is also its conversation's message.created event (seq = event seq).
-- ord: storage order, an explicit rowid alias so VACUUM never renumbers it; messages are
-- never deleted (tombstones), so it is never reused. Queue entries point at it.
CREATE TABLE messages (
    ord              INTEGER PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    conversation_id  TEXT NOT NULL REFERENCES conversations (id),
    seq              INTEGER NOT NULL,
    sender_id        TEXT NOT NULL,
    type             TEXT NOT NULL,
    content          TEXT NOT NULL,
    client_msg_id    TEXT,
    created_at       INTEGER NOT NULL,
    edited_at        INTEGER,
    deleted_at       INTEGER,
    UNIQUE (conversation_id, seq)
);
CREATE UNIQUE INDEX messages_by_client_msg_id
    ON messages (conversation_id, sender_id, client_msg_id) WHERE client_msg_id IS NOT NULL;

-- Every other change event: edits, deletes, reactions. They share the conversation's
-- sequence with the messages.
CREATE TABLE conversation_events (
    conversation_id  TEXT NOT NULL REFERENCES conversations (id),
    seq              INTEGER NOT NULL,
    kind             TEXT NOT NULL,
    message_id       TEXT NOT NULL,
    actor_id         TEXT NOT NULL,
    payload          TEXT NOT NULL,   -- JSON object
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, seq)
) WITHOUT ROWID;

CREATE TABLE reactions (
    message_id  TEXT NOT NULL REFERENCES messages (id),
    user_id     TEXT NOT NULL,
    emoji       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
) WITHOUT ROWID;

-- One row per (user, message). The key orders a user's entries by message storage order,
-- which is commit order; it doubles as the entry id, so no other index is needed to page
-- or to ack.
CREATE TABLE queue (
    user_id      TEXT NOT NULL,
    message_ord  INTEGER NOT NULL REFERENCES messages (ord),
    enqueued_at  INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (user_id, message_ord)
) WITHOUT ROWID;
CREATE INDEX queue_by_expiry ON queue (expires_at);

CREATE TABLE calls (
    call_id      TEXT PRIMARY KEY,
    caller_id    TEXT NOT NULL,
    callee_id    TEXT NOT NULL,
    media        TEXT NOT NULL,
    started_at   INTEGER NOT NULL,
    answered_at  INTEGER,
    ended_at     INTEGER,
    outcome      TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX calls_by_caller ON calls (caller_id, started_at);
CREATE INDEX calls_by_callee ON calls (callee_id, started_at);
)sql";

constexpr Migration kMigrations[] = {
    {1, kSchemaV1},
};

Status apply_step(sqlite3* db, const Migration& step) {
    if (auto st = exec(db, "BEGIN IMMEDIATE"); !st.ok()) return st;
    auto current = schema_version(db);
    Status st = current ? Status() : current.error();
    if (st.ok() && *current < step.version) {
        st = exec(db, step.sql);
        if (st.ok()) {
            const std::string record =
                "INSERT INTO schema_version (version, applied_at) VALUES (" +
                std::to_string(step.version) + ", CAST(strftime('%s', 'now') AS INTEGER))";
            st = exec(db, record.c_str());
        }
    }
    if (st.ok()) st = exec(db, "COMMIT");
    if (!st.ok()) {
        (void)exec(db, "ROLLBACK");
        return internal_error("migration to schema version " + std::to_string(step.version) +
                              " failed: " + st.message());
    }
    return Status();
}

}  // namespace

std::span<const Migration> schema_migrations() { return kMigrations; }

Result<int> schema_version(sqlite3* db) {
    auto stmt = prepare(db, "SELECT MAX(version) FROM schema_version");
    if (!stmt) return stmt.error();
    Query q(stmt->get());
    auto v = q.one_int(0);
    if (!v) return v.error();
    return static_cast<int>(*v);
}

Status migrate(sqlite3* db, std::span<const Migration> steps) {
    if (auto st = exec(db,
                       "CREATE TABLE IF NOT EXISTS schema_version ("
                       "version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
        !st.ok())
        return st;
    auto current = schema_version(db);
    if (!current) return current.error();
    const int newest = steps.empty() ? 0 : steps.back().version;
    if (*current > newest)
        return failed_precondition("database schema version " + std::to_string(*current) +
                                   " is newer than this build (" + std::to_string(newest) + ")");
    for (const Migration& step : steps) {
        if (step.version <= *current) continue;
        if (auto st = apply_step(db, step); !st.ok()) return st;
    }
    return Status();
}

}  // namespace quckrt::sqlite
