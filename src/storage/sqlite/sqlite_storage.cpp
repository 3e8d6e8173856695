// SqliteStorage: opening, batches, conversations, membership and call history.
#include "storage/sqlite/sqlite_storage.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "storage/sqlite/migrations.hpp"

namespace quckrt {

Result<std::unique_ptr<Storage>> make_sqlite_storage(std::string path, SqliteOptions options) {
    auto s = sqlite::SqliteStorage::open(path, options);
    if (!s) return s.error();
    return std::unique_ptr<Storage>(std::move(*s));
}

}  // namespace quckrt

namespace quckrt::sqlite {
namespace {

Status set_pragmas(sqlite3* db, const SqliteOptions& o, bool in_memory) {
    // WAL: readers never block the writer and a commit is one append to the log.
    // synchronous=NORMAL in WAL mode writes the log at commit without fsync: a committed
    // transaction survives a process crash (the OS holds the write), the last ones may be
    // lost on an OS crash; FULL fsyncs the log at every commit.
    std::string pragmas = "PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;";
    pragmas += " PRAGMA cache_size = -" + std::to_string(o.cache_kib) + ";";
    pragmas += o.sync == SqliteOptions::Sync::full ? " PRAGMA synchronous = FULL;"
                                                   : " PRAGMA synchronous = NORMAL;";
    // Keep the WAL file from staying large after a burst is checkpointed.
    pragmas += " PRAGMA journal_size_limit = 134217728;";
    if (auto st = exec(db, pragmas.c_str()); !st.ok()) return st;
    if (in_memory) return Status();  // an in-memory database has no WAL
    auto stmt = prepare(db, "PRAGMA journal_mode = WAL");
    if (!stmt) return stmt.error();
    Query q(stmt->get());
    auto row = q.step();
    if (!row) return row.error();
    if (!*row || q.text(0) != "wal")
        return unavailable("could not switch the database to WAL mode");
    return Status();
}

Result<ConversationKind> parse_kind(std::string_view s) {
    if (s == "direct") return ConversationKind::direct;
    if (s == "group") return ConversationKind::group;
    return internal_error("unknown conversation kind in database: " + std::string(s));
}

Conversation read_conversation(const Query& q) {
    Conversation c;
    c.id = q.text(0);
    auto kind = parse_kind(q.text(1));
    c.kind = kind ? *kind : ConversationKind::group;
    c.created_at = q.i64(2);
    c.last_seq = q.i64(3);
    return c;
}

CallRecord read_call(const Query& q) {
    return CallRecord{.call_id = q.text(0),
                      .caller_id = q.text(1),
                      .callee_id = q.text(2),
                      .media = q.text(3),
                      .started_at = q.i64(4),
                      .answered_at = q.opt_i64(5),
                      .ended_at = q.opt_i64(6),
                      .outcome = q.text(7)};
}

Status validate_call(const CallRecord& c) {
    if (c.call_id.empty() || c.caller_id.empty() || c.callee_id.empty())
        return invalid_argument("call_id, caller_id and callee_id must not be empty");
    if (c.outcome.empty()) return invalid_argument("outcome must not be empty");
    return Status();
}

void bind_call(Query& q, const CallRecord& c) {
    q.bind(1, c.call_id).bind(2, c.caller_id).bind(3, c.callee_id).bind(4, c.media);
    q.bind(5, c.started_at).bind_opt(6, c.answered_at).bind_opt(7, c.ended_at);
    q.bind(8, c.outcome);
}

}  // namespace

Message read_message(const Query& q, int first) {
    Message m;
    m.id = q.text(first);
    m.conversation_id = q.text(first + 1);
    m.seq = q.i64(first + 2);
    m.sender_id = q.text(first + 3);
    m.type = q.text(first + 4);
    m.content = q.text(first + 5);
    m.client_msg_id = q.opt_text(first + 6);
    m.created_at = q.i64(first + 7);
    m.edited_at = q.opt_i64(first + 8);
    m.deleted_at = q.opt_i64(first + 9);
    return m;
}

Result<std::unique_ptr<SqliteStorage>> SqliteStorage::open(const std::string& path,
                                                           const SqliteOptions& options) {
    if (path.empty()) return invalid_argument("sqlite: empty database path");
    if (options.cache_kib <= 0 || options.wal_checkpoint_pages <= 0)
        return invalid_argument("sqlite: cache_kib and wal_checkpoint_pages must be positive");
    sqlite3* raw = nullptr;
    // NOMUTEX: a Storage is used by one thread at a time, so SQLite's own locking is waste.
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
    DbPtr db(raw);
    if (rc != SQLITE_OK) return status_from(rc, raw, "sqlite: open " + path);
    sqlite3_extended_result_codes(raw, 1);
    sqlite3_busy_timeout(raw, options.busy_timeout_ms);
    if (auto st = set_pragmas(raw, options, path == ":memory:"); !st.ok()) {
        if (st.code() == StatusCode::internal)  // e.g. "file is not a database"
            return internal_error("sqlite: " + path + ": " + st.message());
        return st;
    }
    if (auto st = migrate(raw, schema_migrations()); !st.ok()) return st;
    std::unique_ptr<SqliteStorage> s(new SqliteStorage(std::move(db)));
    if (auto st = s->prepare_all(); !st.ok()) return st;
    if (path != ":memory:") {
        auto ckpt = Checkpointer::start(path, options.wal_checkpoint_pages);
        if (!ckpt) return ckpt.error();
        s->checkpointer_ = std::move(*ckpt);
        s->checkpointer_->install(raw);
    }
    return s;
}

SqliteStorage::~SqliteStorage() {
    if (in_batch_) rollback_batch();
    if (checkpointer_) sqlite3_wal_hook(db_.get(), nullptr, nullptr);
}

Status SqliteStorage::prepare_all() {
    for (size_t i = 0; i < stmts_.size(); ++i) {
        auto s = prepare(db_.get(), sql_text(static_cast<Sql>(i)));
        if (!s) return s.error();
        stmts_[i] = std::move(*s);
    }
    return Status();
}

// ---- batches ---------------------------------------------------------------------------

void SqliteStorage::note(const Status& status) {
    if (!in_batch_ || !batch_error_.ok()) return;
    const auto c = status.code();
    if (c == StatusCode::unavailable || c == StatusCode::resource_exhausted ||
        c == StatusCode::internal) {
        batch_error_ = status;
    } else if (sqlite3_get_autocommit(db_.get())) {
        // SQLite rolled the transaction back by itself (it does on some I/O errors).
        batch_error_ = unavailable("sqlite: the batch transaction was rolled back");
    }
}

Status SqliteStorage::begin_batch() {
    if (in_batch_) return failed_precondition("sqlite: a batch is already open");
    if (auto st = query(Sql::begin).run(); !st.ok()) return st;
    in_batch_ = true;
    batch_error_ = Status();
    return Status();
}

Status SqliteStorage::commit_batch() {
    if (!in_batch_) return failed_precondition("sqlite: no batch is open");
    Status st = batch_error_;
    if (st.ok()) st = query(Sql::commit).run();
    if (!st.ok()) rollback_batch();
    in_batch_ = false;
    batch_error_ = Status();
    return st;
}

void SqliteStorage::rollback_batch() {
    if (!sqlite3_get_autocommit(db_.get())) (void)query(Sql::rollback).run();
    in_batch_ = false;
    batch_error_ = Status();
}

// ---- conversations and membership ------------------------------------------------------

Result<Conversation> SqliteStorage::load_conversation(std::string_view id,
                                                      int64_t* log_first_seq) {
    auto q = query(Sql::conv_get);
    q.bind(1, id);
    auto row = q.step();
    if (!row) return row.error();
    if (!*row) return not_found("conversation " + std::string(id) + " not found");
    auto kind = parse_kind(q.text(1));
    if (!kind) return kind.error();
    if (log_first_seq) *log_first_seq = q.i64(4);
    return read_conversation(q);
}

Status SqliteStorage::require_member(std::string_view conversation_id,
                                     std::string_view user_id) {
    {
        auto q = query(Sql::member_read_seq);
        q.bind(1, conversation_id).bind(2, user_id);
        auto row = q.step();
        if (!row) return row.error();
        if (*row) return Status();
    }
    auto c = load_conversation(conversation_id);
    if (!c) return c.error();
    return permission_denied(std::string(user_id) + " is not a member of conversation " +
                             std::string(conversation_id));
}

Status SqliteStorage::create_conversation(const Conversation& c) {
    if (c.id.empty()) return invalid_argument("conversation id must not be empty");
    return write([&]() -> Status {
        auto q = query(Sql::conv_insert);
        q.bind(1, c.id).bind(2, to_string(c.kind)).bind(3, c.created_at);
        if (auto st = q.run(); !st.ok()) return st;
        if (q.changes() == 0)
            return {StatusCode::already_exists, "conversation " + c.id + " already exists"};
        return Status();
    });
}

Result<Conversation> SqliteStorage::get_conversation(std::string_view id) {
    return read([&] { return load_conversation(id); });
}

Result<std::vector<Conversation>> SqliteStorage::conversations_of(std::string_view user_id) {
    return read([&]() -> Result<std::vector<Conversation>> {
        auto q = query(Sql::conv_of_user);
        q.bind(1, user_id);
        std::vector<Conversation> out;
        for (;;) {
            auto row = q.step();
            if (!row) return row.error();
            if (!*row) return out;
            out.push_back(read_conversation(q));
        }
    });
}

Result<bool> SqliteStorage::add_member(std::string_view conversation_id,
                                       std::string_view user_id, int64_t joined_at) {
    if (user_id.empty()) return invalid_argument("user id must not be empty");
    return write([&]() -> Result<bool> {
        auto c = load_conversation(conversation_id);
        if (!c) return c.error();
        if (c->kind == ConversationKind::direct) {
            auto member = is_member(conversation_id, user_id);
            if (!member) return member.error();
            if (*member) return false;
            auto count = query(Sql::member_count).bind(1, conversation_id).one_int();
            if (!count) return count.error();
            if (*count >= 2)
                return failed_precondition("direct conversation " + c->id +
                                           " already has two members");
        }
        auto q = query(Sql::member_insert);
        q.bind(1, conversation_id).bind(2, user_id).bind(3, joined_at);
        if (auto st = q.run(); !st.ok()) return st;
        return q.changes() > 0;
    });
}

Result<bool> SqliteStorage::remove_member(std::string_view conversation_id,
                                          std::string_view user_id) {
    return write([&]() -> Result<bool> {
        auto c = load_conversation(conversation_id);
        if (!c) return c.error();
        auto q = query(Sql::member_delete);
        q.bind(1, conversation_id).bind(2, user_id);
        if (auto st = q.run(); !st.ok()) return st;
        return q.changes() > 0;
    });
}

Result<std::vector<Member>> SqliteStorage::members(std::string_view conversation_id) {
    return read([&]() -> Result<std::vector<Member>> {
        auto c = load_conversation(conversation_id);
        if (!c) return c.error();
        auto q = query(Sql::member_list);
        q.bind(1, conversation_id);
        std::vector<Member> out;
        for (;;) {
            auto row = q.step();
            if (!row) return row.error();
            if (!*row) return out;
            out.push_back({.user_id = q.text(0), .joined_at = q.i64(1), .last_read_seq = q.i64(2)});
        }
    });
}

Result<bool> SqliteStorage::is_member(std::string_view conversation_id,
                                      std::string_view user_id) {
    return read([&]() -> Result<bool> {
        auto q = query(Sql::member_read_seq);
        q.bind(1, conversation_id).bind(2, user_id);
        return q.step();
    });
}

// ---- call history ----------------------------------------------------------------------

Status SqliteStorage::insert_call(const CallRecord& call) {
    if (auto st = validate_call(call); !st.ok()) return st;
    return write([&]() -> Status {
        auto q = query(Sql::call_insert);
        bind_call(q, call);
        if (auto st = q.run(); !st.ok()) return st;
        if (q.changes() == 0)
            return {StatusCode::already_exists, "call " + call.call_id + " already exists"};
        return Status();
    });
}

Status SqliteStorage::update_call(const CallRecord& call) {
    if (auto st = validate_call(call); !st.ok()) return st;
    return write([&]() -> Status {
        auto q = query(Sql::call_update);
        bind_call(q, call);
        if (auto st = q.run(); !st.ok()) return st;
        if (q.changes() == 0) return not_found("call " + call.call_id + " not found");
        return Status();
    });
}

Result<CallRecord> SqliteStorage::get_call(std::string_view call_id) {
    return read([&]() -> Result<CallRecord> {
        auto q = query(Sql::call_get);
        q.bind(1, call_id);
        auto row = q.step();
        if (!row) return row.error();
        if (!*row) return not_found("call " + std::string(call_id) + " not found");
        return read_call(q);
    });
}

Result<std::vector<CallRecord>> SqliteStorage::calls_of(std::string_view user_id,
                                                        int64_t before_started_at,
                                                        size_t limit) {
    if (limit == 0) return invalid_argument("limit must be at least 1");
    limit = std::min(limit, kMaxHistoryLimit);
    const int64_t before =
        before_started_at > 0 ? before_started_at : std::numeric_limits<int64_t>::max();
    return read([&]() -> Result<std::vector<CallRecord>> {
        auto q = query(Sql::call_of_user);
        q.bind(1, user_id).bind(2, before).bind(3, static_cast<int64_t>(limit));
        std::vector<CallRecord> out;
        for (;;) {
            auto row = q.step();
            if (!row) return row.error();
            if (!*row) return out;
            out.push_back(read_call(q));
        }
    });
}

}  // namespace quckrt::sqlite
