#include "chat/chat_service.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>

#include "core/ids.hpp"

namespace quckrt::chat {

int64_t unix_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

Json message_json(const Message& m) {
    Json j = Json::object({
        {"id", m.id},
        {"conversationId", m.conversation_id},
        {"seq", m.seq},
        {"senderId", m.sender_id},
        {"content", m.content},
        {"type", m.type},
        {"clientMsgId", m.client_msg_id ? Json(*m.client_msg_id) : Json()},
        {"createdAt", core::iso8601_utc(m.created_at)},
    });
    if (m.edited_at) j.set("editedAt", core::iso8601_utc(*m.edited_at));
    if (m.deleted_at) j.set("deletedAt", core::iso8601_utc(*m.deleted_at));
    if (!m.reactions.empty()) {
        Json reactions = Json::array();
        for (const auto& r : m.reactions)
            reactions.push_back(Json::object({{"userId", r.user_id}, {"emoji", r.emoji}}));
        j.set("reactions", std::move(reactions));
    }
    return j;
}

ChatService::ChatService(std::unique_ptr<Storage> storage, ChatOptions options,
                         Broadcaster broadcast)
    : options_(options),
      broadcast_(std::move(broadcast)),
      queue_(std::move(storage),
             storage::StorageQueueOptions{
                 .on_batch_error =
                     [](const Status& st) {
                         spdlog::error("event=storage_batch_failed error=\"{}\"", st.to_string());
                     }}),
      limiter_(options.send_rate_per_second, options.send_burst) {}

ChatService::~ChatService() { queue_.stop(); }

void ChatService::joined(const std::string& conversation_id, const std::string& user_id) {
    std::lock_guard lock(mu_);
    ++joined_[conversation_id][user_id];
}

void ChatService::left(const std::string& conversation_id, const std::string& user_id) {
    std::lock_guard lock(mu_);
    auto c = joined_.find(conversation_id);
    if (c == joined_.end()) return;
    auto u = c->second.find(user_id);
    if (u == c->second.end()) return;
    if (--u->second <= 0) c->second.erase(u);
    if (c->second.empty()) joined_.erase(c);
}

std::vector<std::string> ChatService::joined_users(const std::string& conversation_id) const {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    auto c = joined_.find(conversation_id);
    if (c == joined_.end()) return out;
    for (const auto& [user, n] : c->second) out.push_back(user);
    return out;
}

void ChatService::register_user_channel(const std::string& user_id, ChannelRef ref,
                                        std::shared_ptr<UserInbox> inbox, uint64_t token) {
    std::lock_guard lock(mu_);
    user_channels_[user_id].push_back({std::move(ref), std::move(inbox), token});
}

void ChatService::unregister_user_channel(const std::string& user_id, uint64_t token) {
    std::lock_guard lock(mu_);
    auto it = user_channels_.find(user_id);
    if (it == user_channels_.end()) return;
    std::erase_if(it->second, [&](const UserChannel& c) { return c.token == token; });
    if (it->second.empty()) user_channels_.erase(it);
}

int64_t ChatService::rate_check(const std::string& user_id, int64_t now_ms) {
    std::lock_guard lock(mu_);
    const int64_t wait = limiter_.take(user_id, now_ms);
    if (limiter_.size() > 100000) limiter_.prune(now_ms);
    return wait;
}

void ChatService::typing(const std::string& conversation_id, const std::string& user_id,
                         bool is_typing, int64_t now_ms) {
    std::lock_guard lock(mu_);
    if (is_typing) {
        typing_.start({conversation_id, user_id}, now_ms);
    } else {
        typing_.stop({conversation_id, user_id});
    }
}

void ChatService::tick(int64_t now_ms) {
    std::vector<core::TypingTracker::Key> expired;
    {
        std::lock_guard lock(mu_);
        expired = typing_.expire(now_ms);
    }
    for (const auto& [conversation, user] : expired)
        broadcast_("chat:" + conversation, "typing",
                   Json::object({{"conversationId", conversation},
                                 {"userId", user},
                                 {"isTyping", false},
                                 {"expired", true}}));
}

void ChatService::purge(int64_t now_ms) {
    (void)queue_.submit([now_ms](Storage& s) { return s.purge_expired(now_ms, 10000); },
                        [](Result<size_t> r) {
                            if (r && *r > 0) spdlog::info("event=queue_purged entries={}", *r);
                        });
}

template <class Op>
auto ChatService::run_blocking(Op op) -> std::invoke_result_t<Op&, Storage&> {
    using R = std::invoke_result_t<Op&, Storage&>;
    std::promise<R> done;
    auto result = done.get_future();
    Status st = queue_.submit(std::move(op), [&done](R r) { done.set_value(std::move(r)); });
    if (!st.ok()) return R(st);
    return result.get();
}

Status ChatService::create_conversation(std::string_view id, ConversationKind kind,
                                        const std::vector<std::string>& members) {
    if (id.empty() || id.size() > 128) return invalid_argument("conversation id must be 1-128 bytes");
    return run_blocking([id = std::string(id), kind, members](Storage& s) -> Status {
        const int64_t now = unix_ms();
        if (Status st = s.create_conversation({.id = id, .kind = kind, .created_at = now});
            !st.ok())
            return st;
        for (const auto& m : members) {
            auto added = s.add_member(id, m, now);
            if (!added) return added.error();
        }
        return Status();
    });
}

Status ChatService::add_member(std::string_view conversation_id, std::string_view user_id) {
    auto r = run_blocking([c = std::string(conversation_id), u = std::string(user_id)](
                              Storage& s) { return s.add_member(c, u, unix_ms()); });
    return r ? Status() : r.error();
}

Status ChatService::remove_member(std::string_view conversation_id, std::string_view user_id) {
    auto r = run_blocking([c = std::string(conversation_id), u = std::string(user_id)](
                              Storage& s) { return s.remove_member(c, u); });
    return r ? Status() : r.error();
}

Result<std::vector<Member>> ChatService::members(std::string_view conversation_id) {
    return run_blocking([c = std::string(conversation_id)](Storage& s) { return s.members(c); });
}

Result<Conversation> ChatService::conversation(std::string_view id) {
    return run_blocking([c = std::string(id)](Storage& s) { return s.get_conversation(c); });
}

void ChatService::deliver_live(const std::vector<std::string>& users, const Message& message) {
    std::vector<UserChannel> targets;
    {
        std::lock_guard lock(mu_);
        for (const auto& u : users) {
            auto it = user_channels_.find(u);
            if (it == user_channels_.end()) continue;
            targets.insert(targets.end(), it->second.begin(), it->second.end());
        }
    }
    if (targets.empty()) return;
    auto shared = std::make_shared<const Message>(message);
    for (const auto& t : targets) {
        t.ref.post([shared, inbox = t.inbox](Socket& socket) { inbox->on_live(*shared, socket); });
    }
}

void UserInbox::push(const Message& message, Socket& socket) {
    socket.push("message:new", message_json(message));
}

void UserInbox::on_live(const Message& message, Socket& socket) {
    if (draining_) {
        held_.push_back(message);
        return;
    }
    push(message, socket);
}

void UserInbox::on_page(const std::vector<QueueEntry>& entries, bool last, Socket& socket) {
    for (const auto& e : entries) {
        push(e.message, socket);
        backlog_ids_.push_back(e.message.id);
        last_entry_id_ = std::max(last_entry_id_, e.entry_id);
    }
    if (!last) return;
    draining_ = false;
    // Live messages that arrived during the drain and were not in the backlog pages.
    std::sort(backlog_ids_.begin(), backlog_ids_.end());
    for (const auto& m : held_)
        if (!std::binary_search(backlog_ids_.begin(), backlog_ids_.end(), m.id)) push(m, socket);
    std::vector<Message>().swap(held_);
    std::vector<std::string>().swap(backlog_ids_);
}

}  // namespace quckrt::chat
