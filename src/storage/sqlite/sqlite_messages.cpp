// SqliteStorage: messages, edits, deletes, reactions, read receipts, history and the
// conversation event log.
#include <algorithm>
#include <string>

#include "core/ids.hpp"
#include "storage/sqlite/sqlite_storage.hpp"

namespace quckrt::sqlite {
namespace {

constexpr size_t kMaxEmojiBytes = 64;

Result<EventKind> parse_event_kind(std::string_view s) {
    for (EventKind k : {EventKind::message_created, EventKind::message_edited,
                        EventKind::message_deleted, EventKind::reaction_added,
                        EventKind::reaction_removed}) {
        if (to_string(k) == s) return k;
    }
    return internal_error("unknown event kind in database: " + std::string(s));
}

Status validate_new_message(const NewMessage& m) {
    if (m.conversation_id.empty() || m.sender_id.empty())
        return invalid_argument("conversation_id and sender_id must not be empty");
    if (m.type.empty()) return invalid_argument("type must not be empty");
    if (m.client_msg_id && m.client_msg_id->empty())
        return invalid_argument("client_msg_id, when given, must not be empty");
    if (!m.queue_for.empty() && m.queue_expires_at <= 0)
        return invalid_argument("queue_expires_at is required when queue_for is not empty");
    return Status();
}

Status validate_emoji(std::string_view emoji) {
    if (emoji.empty() || emoji.size() > kMaxEmojiBytes)
        return invalid_argument("emoji must be 1 to 64 bytes");
    return Status();
}

}  // namespace

// ---- helpers -----------------------------------------------------------------------------

Result<int64_t> SqliteStorage::next_seq(std::string_view conversation_id) {
    auto c = load_conversation(conversation_id);
    if (!c) return c.error();
    const int64_t seq = c->last_seq + 1;
    if (auto st = query(Sql::conv_set_seq).bind(1, conversation_id).bind(2, seq).run(); !st.ok())
        return st;
    return seq;
}

Status SqliteStorage::insert_event(const ConversationEvent& e) {
    const std::string payload = e.payload.is_null() ? std::string("{}") : e.payload.dump();
    auto q = query(Sql::event_insert);
    q.bind(1, e.conversation_id).bind(2, e.seq).bind(3, to_string(e.kind));
    q.bind(4, e.message_id).bind(5, e.actor_id).bind(6, payload).bind(7, e.created_at);
    return q.run();
}

Status SqliteStorage::load_reactions(Message& m) {
    auto q = query(Sql::reaction_list);
    q.bind(1, m.id);
    m.reactions.clear();
    for (;;) {
        auto row = q.step();
        if (!row) return row.error();
        if (!*row) return Status();
        m.reactions.push_back({.user_id = q.text(0), .emoji = q.text(1), .created_at = q.i64(2)});
    }
}

Result<int64_t> SqliteStorage::unread_count(std::string_view conversation_id,
                                            std::string_view user_id, int64_t after_seq) {
    auto q = query(Sql::msg_unread);
    q.bind(1, conversation_id).bind(2, after_seq).bind(3, user_id);
    return q.one_int();
}

Result<Message> SqliteStorage::load_action_target(const MessageAction& a, bool author_only) {
    if (a.conversation_id.empty() || a.message_id.empty() || a.actor_id.empty())
        return invalid_argument("conversation_id, message_id and actor_id must not be empty");
    if (auto st = require_member(a.conversation_id, a.actor_id); !st.ok()) return st;
    auto q = query(Sql::msg_by_id);
    q.bind(1, a.message_id);
    auto row = q.step();
    if (!row) return row.error();
    if (!*row || q.text(1) != a.conversation_id)
        return not_found("message " + a.message_id + " not found in conversation " +
                         a.conversation_id);
    Message m = read_message(q, 0);
    if (author_only && m.sender_id != a.actor_id)
        return permission_denied("only the author may change message " + a.message_id);
    return m;
}

// ---- messages ----------------------------------------------------------------------------

Result<Appended> SqliteStorage::append_message(const NewMessage& m) {
    if (auto st = validate_new_message(m); !st.ok()) return st;
    return write([&]() -> Result<Appended> {
        if (m.client_msg_id) {
            auto q = query(Sql::msg_by_client_id);
            q.bind(1, m.conversation_id).bind(2, m.sender_id).bind(3, *m.client_msg_id);
            auto row = q.step();
            if (!row) return row.error();
            if (*row) return Appended{.message = read_message(q, 0), .created = false};
        }
        if (auto st = require_member(m.conversation_id, m.sender_id); !st.ok()) return st;
        auto seq = next_seq(m.conversation_id);
        if (!seq) return seq.error();
        Appended out;
        out.created = true;
        Message& msg = out.message;
        msg = Message{.id = core::make_uuid_v7(m.created_at),
                      .conversation_id = m.conversation_id,
                      .seq = *seq,
                      .sender_id = m.sender_id,
                      .type = m.type,
                      .content = m.content,
                      .client_msg_id = m.client_msg_id,
                      .created_at = m.created_at};
        {
            auto q = query(Sql::msg_insert);
            q.bind(1, msg.id).bind(2, msg.conversation_id).bind(3, msg.seq);
            q.bind(4, msg.sender_id).bind(5, msg.type).bind(6, msg.content);
            q.bind_opt(7, msg.client_msg_id).bind(8, msg.created_at);
            if (auto st = q.run(); !st.ok()) return st;
        }
        // The message row is its own message.created event: no separate log row.
        const int64_t ord = sqlite3_last_insert_rowid(db_.get());
        for (const std::string& user : m.queue_for) {
            auto q = query(Sql::queue_insert);
            q.bind(1, user).bind(2, ord).bind(3, m.created_at).bind(4, m.queue_expires_at);
            q.bind(5, m.conversation_id);
            if (auto st = q.run(); !st.ok()) return st;
            out.queued += static_cast<size_t>(q.changes());
        }
        return out;
    });
}

Result<Message> SqliteStorage::get_message(std::string_view message_id) {
    return read([&]() -> Result<Message> {
        Message m;
        {
            auto q = query(Sql::msg_by_id);
            q.bind(1, message_id);
            auto row = q.step();
            if (!row) return row.error();
            if (!*row) return not_found("message " + std::string(message_id) + " not found");
            m = read_message(q, 0);
        }
        if (auto st = load_reactions(m); !st.ok()) return st;
        return m;
    });
}

Result<Change> SqliteStorage::edit_message(const MessageAction& a, std::string_view content) {
    return write([&]() -> Result<Change> {
        auto m = load_action_target(a, /*author_only=*/true);
        if (!m) return m.error();
        if (m->deleted_at) return failed_precondition("message " + a.message_id + " is deleted");
        if (m->content == content) return Change{.message = std::move(*m)};
        auto seq = next_seq(a.conversation_id);
        if (!seq) return seq.error();
        {
            auto q = query(Sql::msg_set_content);
            q.bind(1, a.message_id).bind(2, content).bind(3, a.at);
            if (auto st = q.run(); !st.ok()) return st;
        }
        m->content = std::string(content);
        m->edited_at = a.at;
        ConversationEvent ev{.conversation_id = a.conversation_id,
                             .seq = *seq,
                             .kind = EventKind::message_edited,
                             .message_id = a.message_id,
                             .actor_id = a.actor_id,
                             .created_at = a.at,
                             .payload = Json::object({{"content", content}})};
        if (auto st = insert_event(ev); !st.ok()) return st;
        return Change{.message = std::move(*m), .event = std::move(ev)};
    });
}

Result<Change> SqliteStorage::delete_message(const MessageAction& a) {
    return write([&]() -> Result<Change> {
        auto m = load_action_target(a, /*author_only=*/true);
        if (!m) return m.error();
        if (m->deleted_at) return Change{.message = std::move(*m)};
        auto seq = next_seq(a.conversation_id);
        if (!seq) return seq.error();
        {
            auto q = query(Sql::msg_tombstone);
            q.bind(1, a.message_id).bind(2, a.at);
            if (auto st = q.run(); !st.ok()) return st;
        }
        if (auto st = query(Sql::reaction_delete_all).bind(1, a.message_id).run(); !st.ok())
            return st;
        m->content.clear();
        m->deleted_at = a.at;
        ConversationEvent ev{.conversation_id = a.conversation_id,
                             .seq = *seq,
                             .kind = EventKind::message_deleted,
                             .message_id = a.message_id,
                             .actor_id = a.actor_id,
                             .created_at = a.at,
                             .payload = Json::object()};
        if (auto st = insert_event(ev); !st.ok()) return st;
        return Change{.message = std::move(*m), .event = std::move(ev)};
    });
}

Result<Change> SqliteStorage::react(const MessageAction& a, std::string_view emoji, bool add) {
    if (auto st = validate_emoji(emoji); !st.ok()) return st;
    return write([&]() -> Result<Change> {
        auto m = load_action_target(a, /*author_only=*/false);
        if (!m) return m.error();
        if (m->deleted_at) return failed_precondition("message " + a.message_id + " is deleted");
        {
            auto q = query(add ? Sql::reaction_insert : Sql::reaction_delete);
            q.bind(1, a.message_id).bind(2, a.actor_id).bind(3, emoji);
            if (add) q.bind(4, a.at);
            if (auto st = q.run(); !st.ok()) return st;
            if (q.changes() == 0) return Change{.message = std::move(*m)};
        }
        auto seq = next_seq(a.conversation_id);
        if (!seq) return seq.error();
        ConversationEvent ev{.conversation_id = a.conversation_id,
                             .seq = *seq,
                             .kind = add ? EventKind::reaction_added : EventKind::reaction_removed,
                             .message_id = a.message_id,
                             .actor_id = a.actor_id,
                             .created_at = a.at,
                             .payload = Json::object({{"emoji", emoji}})};
        if (auto st = insert_event(ev); !st.ok()) return st;
        return Change{.message = std::move(*m), .event = std::move(ev)};
    });
}

Result<Change> SqliteStorage::add_reaction(const MessageAction& a, std::string_view emoji) {
    return react(a, emoji, true);
}

Result<Change> SqliteStorage::remove_reaction(const MessageAction& a, std::string_view emoji) {
    return react(a, emoji, false);
}

// ---- read receipts -----------------------------------------------------------------------

Result<MarkRead> SqliteStorage::mark_read(std::string_view conversation_id,
                                          std::string_view user_id, int64_t seq) {
    return write([&]() -> Result<MarkRead> {
        if (auto st = require_member(conversation_id, user_id); !st.ok()) return st;
        auto c = load_conversation(conversation_id);
        if (!c) return c.error();
        auto old = query(Sql::member_read_seq).bind(1, conversation_id).bind(2, user_id).one_int();
        if (!old) return old.error();
        MarkRead out;
        out.state.user_id = std::string(user_id);
        out.state.last_read_seq = *old;
        const int64_t target = std::min(seq, c->last_seq);
        if (target > *old) {
            auto q = query(Sql::member_set_read);
            q.bind(1, conversation_id).bind(2, user_id).bind(3, target);
            if (auto st = q.run(); !st.ok()) return st;
            out.state.last_read_seq = target;
            out.changed = true;
        }
        auto unread = unread_count(conversation_id, user_id, out.state.last_read_seq);
        if (!unread) return unread.error();
        out.state.unread = *unread;
        return out;
    });
}

Result<std::vector<ReadState>> SqliteStorage::read_states(std::string_view conversation_id) {
    return read([&]() -> Result<std::vector<ReadState>> {
        auto list = members(conversation_id);
        if (!list) return list.error();
        std::vector<ReadState> out;
        out.reserve(list->size());
        for (const Member& mem : *list) {
            auto unread = unread_count(conversation_id, mem.user_id, mem.last_read_seq);
            if (!unread) return unread.error();
            out.push_back({.user_id = mem.user_id,
                           .last_read_seq = mem.last_read_seq,
                           .unread = *unread});
        }
        return out;
    });
}

// ---- history and the event log -----------------------------------------------------------

Result<HistoryPage> SqliteStorage::history(const HistoryQuery& hq) {
    if (hq.before_seq && hq.after_seq)
        return invalid_argument("history: give before_seq or after_seq, not both");
    if (hq.limit == 0) return invalid_argument("history: limit must be at least 1");
    const size_t limit = std::min(hq.limit, kMaxHistoryLimit);
    return read([&]() -> Result<HistoryPage> {
        auto c = load_conversation(hq.conversation_id);
        if (!c) return c.error();
        // One row more than asked tells whether there is more beyond the page.
        const auto fetch = static_cast<int64_t>(limit + 1);
        HistoryPage page;
        {
            Sql which = hq.before_seq ? Sql::msg_before : hq.after_seq ? Sql::msg_after
                                                                       : Sql::msg_latest;
            auto q = query(which);
            q.bind(1, hq.conversation_id);
            if (hq.before_seq) q.bind(2, *hq.before_seq).bind(3, fetch);
            else if (hq.after_seq) q.bind(2, *hq.after_seq).bind(3, fetch);
            else q.bind(2, fetch);
            for (;;) {
                auto row = q.step();
                if (!row) return row.error();
                if (!*row) break;
                page.messages.push_back(read_message(q, 0));
            }
        }
        if (page.messages.size() > limit) {
            page.has_more = true;
            page.messages.pop_back();
        }
        if (!hq.after_seq) std::reverse(page.messages.begin(), page.messages.end());
        for (Message& m : page.messages)
            if (auto st = load_reactions(m); !st.ok()) return st;
        return page;
    });
}

Result<SeqRange> SqliteStorage::seq_range(std::string_view conversation_id) {
    return read([&]() -> Result<SeqRange> {
        int64_t first = 1;
        auto c = load_conversation(conversation_id, &first);
        if (!c) return c.error();
        return SeqRange{.first = first, .last = c->last_seq};
    });
}

Result<EventPage> SqliteStorage::events_after(std::string_view conversation_id,
                                              int64_t after_seq, size_t limit) {
    if (limit == 0) return invalid_argument("events_after: limit must be at least 1");
    limit = std::min(limit, kMaxEventsLimit);
    return read([&]() -> Result<EventPage> {
        auto range = seq_range(conversation_id);
        if (!range) return range.error();
        if (after_seq < range->first - 1 || after_seq > range->last)
            return failed_precondition("events after seq " + std::to_string(after_seq) +
                                       " are not available (log holds " +
                                       std::to_string(range->first) + ".." +
                                       std::to_string(range->last) + ")");
        EventPage page;
        page.range = *range;
        auto q = query(Sql::event_after);
        q.bind(1, conversation_id).bind(2, after_seq).bind(3, static_cast<int64_t>(limit));
        for (;;) {
            auto row = q.step();
            if (!row) return row.error();
            if (!*row) break;
            auto kind = parse_event_kind(q.text(1));
            if (!kind) return kind.error();
            ConversationEvent ev{.conversation_id = std::string(conversation_id),
                                 .seq = q.i64(0),
                                 .kind = *kind,
                                 .message_id = q.text(2),
                                 .actor_id = q.text(3),
                                 .created_at = q.i64(5),
                                 .payload = Json::object()};
            if (*kind == EventKind::message_created) {
                ev.message = read_message(q, 6);
            } else {
                auto payload = Json::parse(q.text(4));
                if (!payload)
                    return internal_error("corrupt event payload: " + payload.error().message());
                ev.payload = std::move(*payload);
            }
            page.events.push_back(std::move(ev));
        }
        const int64_t last_returned = page.events.empty() ? after_seq : page.events.back().seq;
        page.has_more = last_returned < range->last;
        return page;
    });
}

Result<size_t> SqliteStorage::prune_events(std::string_view conversation_id, int64_t before_seq) {
    return write([&]() -> Result<size_t> {
        int64_t first = 1;
        auto c = load_conversation(conversation_id, &first);
        if (!c) return c.error();
        const int64_t new_first = std::min(before_seq, c->last_seq + 1);
        if (new_first <= first) return size_t{0};
        if (auto st = query(Sql::event_prune).bind(1, conversation_id).bind(2, new_first).run();
            !st.ok())
            return st;
        auto q = query(Sql::conv_set_log_first);
        q.bind(1, conversation_id).bind(2, new_first);
        if (auto st = q.run(); !st.ok()) return st;
        return static_cast<size_t>(new_first - first);
    });
}

}  // namespace quckrt::sqlite
