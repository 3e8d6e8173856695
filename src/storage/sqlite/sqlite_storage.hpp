// SqliteStorage: the Storage contract on one SQLite connection (WAL, foreign keys, every
// statement prepared at open and reused). Definitions are split by area:
// sqlite_storage.cpp (open, batches, conversations, members, calls), sqlite_messages.cpp
// (messages, edits, reactions, reads, history, event log), sqlite_queue.cpp (store-and-
// forward). The SQL of every statement is in sqlite_statements.cpp.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <type_traits>

#include <quckrt/backends/sqlite.hpp>
#include <quckrt/storage.hpp>

#include "storage/sqlite/checkpointer.hpp"
#include "storage/sqlite/sqlite_db.hpp"

namespace quckrt::sqlite {

// Sql: every statement the backend runs. Prepared once at open (so a typo fails the open,
// not a request) and kept for the connection's life.
enum class Sql {
    begin,
    commit,
    rollback,
    conv_insert,
    conv_get,
    conv_of_user,
    conv_set_seq,
    conv_set_log_first,
    member_insert,
    member_count,
    member_delete,
    member_list,
    member_read_seq,
    member_set_read,
    msg_by_client_id,
    msg_insert,
    msg_by_id,
    msg_locate,
    msg_set_content,
    msg_tombstone,
    msg_latest,
    msg_before,
    msg_after,
    msg_unread,
    event_insert,
    event_after,
    event_prune,
    reaction_insert,
    reaction_delete,
    reaction_delete_all,
    reaction_list,
    queue_insert,
    queue_for,
    queue_depth,
    queue_ack,
    queue_purge,
    call_insert,
    call_update,
    call_get,
    call_of_user,
    count_,
};

// sql_text(s): the SQL of statement s.
const char* sql_text(Sql s);

class SqliteStorage final : public Storage {
public:
    // open(path, options): connect, set the pragmas, migrate, prepare every statement.
    static Result<std::unique_ptr<SqliteStorage>> open(const std::string& path,
                                                      const SqliteOptions& options);
    ~SqliteStorage() override;

    Status begin_batch() override;
    Status commit_batch() override;
    void rollback_batch() override;

    Status create_conversation(const Conversation& c) override;
    Result<Conversation> get_conversation(std::string_view id) override;
    Result<std::vector<Conversation>> conversations_of(std::string_view user_id) override;
    Result<bool> add_member(std::string_view conversation_id, std::string_view user_id,
                            int64_t joined_at) override;
    Result<bool> remove_member(std::string_view conversation_id,
                               std::string_view user_id) override;
    Result<std::vector<Member>> members(std::string_view conversation_id) override;
    Result<bool> is_member(std::string_view conversation_id, std::string_view user_id) override;

    Result<Appended> append_message(const NewMessage& m) override;
    Result<Message> get_message(std::string_view message_id) override;
    Result<Change> edit_message(const MessageAction& a, std::string_view content) override;
    Result<Change> delete_message(const MessageAction& a) override;
    Result<Change> add_reaction(const MessageAction& a, std::string_view emoji) override;
    Result<Change> remove_reaction(const MessageAction& a, std::string_view emoji) override;
    Result<MarkRead> mark_read(std::string_view conversation_id, std::string_view user_id,
                               int64_t seq) override;
    Result<std::vector<ReadState>> read_states(std::string_view conversation_id) override;

    Result<HistoryPage> history(const HistoryQuery& q) override;
    Result<EventPage> events_after(std::string_view conversation_id, int64_t after_seq,
                                   size_t limit) override;
    Result<SeqRange> seq_range(std::string_view conversation_id) override;
    Result<size_t> prune_events(std::string_view conversation_id, int64_t before_seq) override;

    Result<std::vector<QueueEntry>> queue_for(std::string_view user_id, int64_t after_entry_id,
                                              size_t limit, int64_t now) override;
    Result<size_t> queue_depth(std::string_view user_id) override;
    Result<AckResult> ack(std::string_view user_id, std::string_view message_id) override;
    Result<size_t> purge_expired(int64_t now, size_t max_rows) override;

    Status insert_call(const CallRecord& call) override;
    Status update_call(const CallRecord& call) override;
    Result<CallRecord> get_call(std::string_view call_id) override;
    Result<std::vector<CallRecord>> calls_of(std::string_view user_id, int64_t before_started_at,
                                             size_t limit) override;

    sqlite3* db() { return db_.get(); }
    // checkpoint_stats(): checkpoints so far (file databases; zero for ":memory:").
    Checkpointer::Stats checkpoint_stats() const {
        return checkpointer_ ? checkpointer_->stats() : Checkpointer::Stats{};
    }

private:
    explicit SqliteStorage(DbPtr db) : db_(std::move(db)) {}
    Status prepare_all();
    Query query(Sql s) { return Query(stmts_[static_cast<size_t>(s)].get()); }

    // write(f): run f as one atomic write. Outside a batch: its own transaction, committed
    // when f succeeds and rolled back otherwise. Inside a batch: joins it; see note().
    template <class F>
    auto write(F&& f) -> decltype(f());
    // read(f): run f; inside a batch, see note().
    template <class F>
    auto read(F&& f) -> decltype(f());
    // note(status): inside a batch, a storage-level failure (unavailable, resource_exhausted,
    // internal) or a transaction SQLite rolled back on its own poisons the batch: later
    // calls fail fast and commit_batch() rolls back and reports it. Data-level failures
    // (not_found, ...) are detected before any write, so the batch stays good.
    void note(const Status& status);

    // Helpers shared by the areas (defined where they are used most).
    // load_conversation(id, log_first_seq): the row; also its log_first_seq when asked.
    Result<Conversation> load_conversation(std::string_view id, int64_t* log_first_seq = nullptr);
    Status require_member(std::string_view conversation_id, std::string_view user_id);
    Result<int64_t> next_seq(std::string_view conversation_id);
    Status insert_event(const ConversationEvent& e);
    Result<Message> load_action_target(const MessageAction& a, bool author_only);
    Status load_reactions(Message& m);
    Result<int64_t> unread_count(std::string_view conversation_id, std::string_view user_id,
                                 int64_t after_seq);
    Result<Change> react(const MessageAction& a, std::string_view emoji, bool add);

    DbPtr db_;  // declared first: statements are finalized before the connection closes
    std::array<StmtPtr, static_cast<size_t>(Sql::count_)> stmts_{};
    bool in_batch_ = false;
    Status batch_error_;
    std::unique_ptr<Checkpointer> checkpointer_;  // last: stopped before the rest closes
};

// Reading rows: column layouts shared by several statements.
inline constexpr int kMessageColumns = 10;
// read_message(q, first): the columns id, conversation_id, seq, sender_id, type, content,
// client_msg_id, created_at, edited_at, deleted_at starting at column `first`.
Message read_message(const Query& q, int first);

template <class F>
auto SqliteStorage::write(F&& f) -> decltype(f()) {
    if (in_batch_) {
        if (!batch_error_.ok()) return batch_error_;
        auto r = f();
        if constexpr (std::is_same_v<decltype(r), Status>) note(r);
        else note(r.error());
        return r;
    }
    if (auto st = query(Sql::begin).run(); !st.ok()) return st;
    auto r = f();
    bool ok;
    if constexpr (std::is_same_v<decltype(r), Status>) ok = r.ok();
    else ok = r.has_value();
    if (!ok) {
        (void)query(Sql::rollback).run();
        return r;
    }
    if (auto st = query(Sql::commit).run(); !st.ok()) {
        if (!sqlite3_get_autocommit(db_.get())) (void)query(Sql::rollback).run();
        return st;
    }
    return r;
}

template <class F>
auto SqliteStorage::read(F&& f) -> decltype(f()) {
    if (in_batch_ && !batch_error_.ok()) return batch_error_;
    auto r = f();
    if (in_batch_) {
        if constexpr (std::is_same_v<decltype(r), Status>) note(r);
        else note(r.error());
    }
    return r;
}

}  // namespace quckrt::sqlite
