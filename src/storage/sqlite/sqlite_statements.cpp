// The SQL of the SQLite backend, one entry per Sql value. Each query notes the index it
// relies on (schema in migrations.cpp); none scans a table (sqlite_storage_test checks the
// query plans).
#include <iterator>

#include "storage/sqlite/sqlite_storage.hpp"

namespace quckrt::sqlite {
namespace {

#define QUCKRT_MESSAGE_COLUMNS                                                             \
    "id, conversation_id, seq, sender_id, type, content, client_msg_id, created_at, edited_at, " \
    "deleted_at"
#define QUCKRT_MESSAGE_COLUMNS_M                                                        \
    "m.id, m.conversation_id, m.seq, m.sender_id, m.type, m.content, m.client_msg_id, " \
    "m.created_at, m.edited_at, m.deleted_at"
#define QUCKRT_CALL_COLUMNS \
    "call_id, caller_id, callee_id, media, started_at, answered_at, ended_at, outcome"

struct Entry {
    Sql id;
    const char* text;
};

constexpr Entry kSql[] = {
    // IMMEDIATE takes the write lock up front, so a batch never fails halfway on a lock
    // upgrade (SQLITE_BUSY_SNAPSHOT) when another process shares the file.
    {Sql::begin, "BEGIN IMMEDIATE"},
    {Sql::commit, "COMMIT"},
    {Sql::rollback, "ROLLBACK"},

    // conversations: primary key
    {Sql::conv_insert,
     "INSERT INTO conversations (id, kind, created_at) VALUES (?1, ?2, ?3) "
     "ON CONFLICT (id) DO NOTHING"},
    {Sql::conv_get,
     "SELECT id, kind, created_at, last_seq, log_first_seq FROM conversations WHERE id = ?1"},
    // members_by_user, then the conversations primary key
    {Sql::conv_of_user,
     "SELECT c.id, c.kind, c.created_at, c.last_seq FROM members m "
     "JOIN conversations c ON c.id = m.conversation_id WHERE m.user_id = ?1 ORDER BY c.id"},
    // No RETURNING: SQLite buffers RETURNING rows in a temporary b-tree, which cost 15% of an
    // append; reading last_seq (conv_get) and writing it back are two cheap keyed statements.
    {Sql::conv_set_seq, "UPDATE conversations SET last_seq = ?2 WHERE id = ?1"},
    {Sql::conv_set_log_first, "UPDATE conversations SET log_first_seq = ?2 WHERE id = ?1"},

    // members: primary key (conversation_id, user_id)
    {Sql::member_insert,
     "INSERT INTO members (conversation_id, user_id, joined_at) VALUES (?1, ?2, ?3) "
     "ON CONFLICT DO NOTHING"},
    {Sql::member_count, "SELECT COUNT(*) FROM members WHERE conversation_id = ?1"},
    {Sql::member_delete, "DELETE FROM members WHERE conversation_id = ?1 AND user_id = ?2"},
    {Sql::member_list,
     "SELECT user_id, joined_at, last_read_seq FROM members WHERE conversation_id = ?1 "
     "ORDER BY user_id"},
    {Sql::member_read_seq,
     "SELECT last_read_seq FROM members WHERE conversation_id = ?1 AND user_id = ?2"},
    {Sql::member_set_read,
     "UPDATE members SET last_read_seq = ?3 WHERE conversation_id = ?1 AND user_id = ?2"},

    // messages_by_client_msg_id (partial unique index)
    {Sql::msg_by_client_id,
     "SELECT " QUCKRT_MESSAGE_COLUMNS " FROM messages "
     "WHERE conversation_id = ?1 AND sender_id = ?2 AND client_msg_id = ?3"},
    {Sql::msg_insert,
     "INSERT INTO messages (id, conversation_id, seq, sender_id, type, content, client_msg_id, "
     "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"},
    // unique id
    {Sql::msg_by_id, "SELECT " QUCKRT_MESSAGE_COLUMNS " FROM messages WHERE id = ?1"},
    {Sql::msg_locate, "SELECT ord, conversation_id, seq, sender_id FROM messages WHERE id = ?1"},
    {Sql::msg_set_content, "UPDATE messages SET content = ?2, edited_at = ?3 WHERE id = ?1"},
    {Sql::msg_tombstone, "UPDATE messages SET content = '', deleted_at = ?2 WHERE id = ?1"},
    // unique (conversation_id, seq), walked from either end
    {Sql::msg_latest,
     "SELECT " QUCKRT_MESSAGE_COLUMNS " FROM messages WHERE conversation_id = ?1 "
     "ORDER BY seq DESC LIMIT ?2"},
    {Sql::msg_before,
     "SELECT " QUCKRT_MESSAGE_COLUMNS " FROM messages WHERE conversation_id = ?1 AND seq < ?2 "
     "ORDER BY seq DESC LIMIT ?3"},
    {Sql::msg_after,
     "SELECT " QUCKRT_MESSAGE_COLUMNS " FROM messages WHERE conversation_id = ?1 AND seq > ?2 "
     "ORDER BY seq ASC LIMIT ?3"},
    {Sql::msg_unread,
     "SELECT COUNT(*) FROM messages WHERE conversation_id = ?1 AND seq > ?2 "
     "AND sender_id <> ?3 AND deleted_at IS NULL"},

    // conversation_events: primary key (conversation_id, seq)
    {Sql::event_insert,
     "INSERT INTO conversation_events (conversation_id, seq, kind, message_id, actor_id, "
     "payload, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
    // The log = messages (their creation) merged with the other events. Both sides are walked
    // in seq order on (conversation_id, seq) and merged (UNION ALL with ORDER BY), so LIMIT
    // stops early. Columns: seq, kind, message_id, actor_id, payload, created_at, then the
    // message columns (NULL for non-creation events).
    {Sql::event_after,
     "SELECT seq, 'message.created', id, sender_id, '{}', created_at, " QUCKRT_MESSAGE_COLUMNS
     " FROM messages WHERE conversation_id = ?1 AND seq > ?2 "
     "UNION ALL "
     "SELECT seq, kind, message_id, actor_id, payload, created_at, "
     "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL "
     "FROM conversation_events WHERE conversation_id = ?1 AND seq > ?2 "
     "ORDER BY 1 LIMIT ?3"},
    {Sql::event_prune, "DELETE FROM conversation_events WHERE conversation_id = ?1 AND seq < ?2"},

    // reactions: primary key (message_id, user_id, emoji)
    {Sql::reaction_insert,
     "INSERT INTO reactions (message_id, user_id, emoji, created_at) VALUES (?1, ?2, ?3, ?4) "
     "ON CONFLICT DO NOTHING"},
    {Sql::reaction_delete,
     "DELETE FROM reactions WHERE message_id = ?1 AND user_id = ?2 AND emoji = ?3"},
    {Sql::reaction_delete_all, "DELETE FROM reactions WHERE message_id = ?1"},
    {Sql::reaction_list,
     "SELECT user_id, emoji, created_at FROM reactions WHERE message_id = ?1 "
     "ORDER BY created_at, user_id, emoji"},

    // queue: the member check uses the members primary key; a duplicate (user, message) hits
    // the queue primary key and is ignored
    {Sql::queue_insert,
     "INSERT OR IGNORE INTO queue (user_id, message_ord, enqueued_at, expires_at) "
     "SELECT ?1, ?2, ?3, ?4 WHERE EXISTS "
     "(SELECT 1 FROM members WHERE conversation_id = ?5 AND user_id = ?1)"},
    // queue primary key (user_id, message_ord), then messages by ord
    {Sql::queue_for,
     "SELECT q.message_ord, q.enqueued_at, q.expires_at, " QUCKRT_MESSAGE_COLUMNS_M
     " FROM queue q JOIN messages m ON m.ord = q.message_ord "
     "WHERE q.user_id = ?1 AND q.message_ord > ?2 AND q.expires_at > ?3 "
     "ORDER BY q.message_ord LIMIT ?4"},
    {Sql::queue_depth, "SELECT COUNT(*) FROM queue WHERE user_id = ?1"},
    {Sql::queue_ack, "DELETE FROM queue WHERE user_id = ?1 AND message_ord = ?2"},
    // queue_by_expiry (it carries the primary key), then the primary key
    {Sql::queue_purge,
     "DELETE FROM queue WHERE (user_id, message_ord) IN "
     "(SELECT user_id, message_ord FROM queue WHERE expires_at <= ?1 ORDER BY expires_at "
     "LIMIT ?2)"},

    // calls: primary key; calls_by_caller and calls_by_callee
    {Sql::call_insert,
     "INSERT INTO calls (" QUCKRT_CALL_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
     "ON CONFLICT (call_id) DO NOTHING"},
    {Sql::call_update,
     "UPDATE calls SET caller_id = ?2, callee_id = ?3, media = ?4, started_at = ?5, "
     "answered_at = ?6, ended_at = ?7, outcome = ?8 WHERE call_id = ?1"},
    {Sql::call_get, "SELECT " QUCKRT_CALL_COLUMNS " FROM calls WHERE call_id = ?1"},
    {Sql::call_of_user,
     "SELECT " QUCKRT_CALL_COLUMNS " FROM calls WHERE caller_id = ?1 AND started_at < ?2 "
     "UNION SELECT " QUCKRT_CALL_COLUMNS " FROM calls WHERE callee_id = ?1 AND started_at < ?2 "
     "ORDER BY started_at DESC, call_id DESC LIMIT ?3"},
};

#undef QUCKRT_MESSAGE_COLUMNS
#undef QUCKRT_MESSAGE_COLUMNS_M
#undef QUCKRT_CALL_COLUMNS

constexpr bool in_enum_order() {
    if (std::size(kSql) != static_cast<size_t>(Sql::count_)) return false;
    for (size_t i = 0; i < std::size(kSql); ++i)
        if (kSql[i].id != static_cast<Sql>(i)) return false;
    return true;
}
static_assert(in_enum_order(), "kSql must hold every Sql value once, in enum order");

}  // namespace

const char* sql_text(Sql s) { return kSql[static_cast<size_t>(s)].text; }

}  // namespace quckrt::sqlite
