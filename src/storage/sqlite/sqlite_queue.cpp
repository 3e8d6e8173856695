// SqliteStorage: the store-and-forward queue. Entries are written by append_message in
// the message's own transaction; here they are read, acknowledged and expired.
#include <algorithm>
#include <string>

#include "storage/sqlite/sqlite_storage.hpp"

namespace quckrt::sqlite {

Result<std::vector<QueueEntry>> SqliteStorage::queue_for(std::string_view user_id,
                                                         int64_t after_entry_id, size_t limit,
                                                         int64_t now) {
    if (limit == 0) return invalid_argument("queue_for: limit must be at least 1");
    limit = std::min(limit, kMaxQueueLimit);
    return read([&]() -> Result<std::vector<QueueEntry>> {
        auto q = query(Sql::queue_for);
        q.bind(1, user_id).bind(2, after_entry_id).bind(3, now);
        q.bind(4, static_cast<int64_t>(limit));
        std::vector<QueueEntry> out;
        for (;;) {
            auto row = q.step();
            if (!row) return row.error();
            if (!*row) return out;
            out.push_back({.entry_id = q.i64(0),
                           .user_id = std::string(user_id),
                           .enqueued_at = q.i64(1),
                           .expires_at = q.i64(2),
                           .message = read_message(q, 3)});
        }
    });
}

Result<size_t> SqliteStorage::queue_depth(std::string_view user_id) {
    return read([&]() -> Result<size_t> {
        auto n = query(Sql::queue_depth).bind(1, user_id).one_int();
        if (!n) return n.error();
        return static_cast<size_t>(*n);
    });
}

Result<AckResult> SqliteStorage::ack(std::string_view user_id, std::string_view message_id) {
    return write([&]() -> Result<AckResult> {
        AckResult out;
        auto m = query(Sql::msg_locate);
        m.bind(1, message_id);
        auto row = m.step();
        if (!row) return row.error();
        if (!*row) return out;  // unknown message: nothing to ack
        auto q = query(Sql::queue_ack);
        q.bind(1, user_id).bind(2, m.i64(0));
        if (auto st = q.run(); !st.ok()) return st;
        if (q.changes() == 0) return out;
        out.deleted = true;
        out.conversation_id = m.text(1);
        out.seq = m.i64(2);
        out.sender_id = m.text(3);
        return out;
    });
}

Result<size_t> SqliteStorage::purge_expired(int64_t now, size_t max_rows) {
    if (max_rows == 0) return size_t{0};
    return write([&]() -> Result<size_t> {
        auto q = query(Sql::queue_purge);
        q.bind(1, now).bind(2, static_cast<int64_t>(std::min<size_t>(max_rows, INT64_MAX)));
        if (auto st = q.run(); !st.ok()) return st;
        return static_cast<size_t>(q.changes());
    });
}

}  // namespace quckrt::sqlite
