// ChatService: persisted chat behind the `chat:*` and `user:*` channels when the server runs
// with storage. It owns the StorageQueue (the only thread that touches the database) and
// the in-memory facts the storage cannot know: who is joined to which conversation right
// now (to decide who gets a store-and-forward entry) and which user channels are open (to
// deliver new entries live). Channels call it from loop threads; completions arrive on the
// writer thread and go back to loops through Responders, ChannelRefs and broadcasts.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <quckrt/channel.hpp>
#include <quckrt/chat.hpp>
#include <quckrt/json.hpp>
#include <quckrt/storage.hpp>

#include "chat/resume.hpp"
#include "core/rate_limiter.hpp"
#include "core/typing_tracker.hpp"
#include "storage/storage_queue.hpp"

namespace quckrt::chat {

struct ChatOptions {
    std::chrono::milliseconds queue_ttl{std::chrono::hours(24 * 7)};
    double send_rate_per_second = 10;  // token bucket per user for message:send
    double send_burst = 30;
    size_t max_content_bytes = 16 * 1024;
    size_t backlog_page = 100;  // store-and-forward entries per page on user:{id}
    ResumeWindow resume{};      // what a rejoin with last_seq may replay
    size_t replay_page = 200;   // events per page of a replay (1..kMaxEventsLimit)
};

// UserInbox: the delivery state of one `user:{id}` channel (store-and-forward). Touched only
// on that channel's loop (via ChannelRef posts), so it needs no lock; shared so that a task
// in flight keeps it alive.
class UserInbox {
public:
    // on_live(message, socket): a message just queued for this user. While the backlog is
    // still draining it is held, then sent after the backlog (deduplicated by id).
    void on_live(const Message& message, Socket& socket);
    // on_page(entries, last, socket): one backlog page, in queue order.
    void on_page(const std::vector<QueueEntry>& entries, bool last, Socket& socket);
    int64_t last_entry_id() const { return last_entry_id_; }
    bool draining() const { return draining_; }

private:
    void push(const Message& message, Socket& socket);
    bool draining_ = true;
    int64_t last_entry_id_ = 0;
    std::vector<Message> held_;
    std::vector<std::string> backlog_ids_;  // ids sent from the backlog, to drop held dupes
};

// Broadcaster: fan a payload out on a topic (encoded once), from any thread.
using Broadcaster = std::function<void(const std::string& topic, std::string_view event,
                                       const Json& payload)>;

// message_json: the wire shape of a stored message.
Json message_json(const Message& m);

class ChatService final : public ChatAdmin {
public:
    ChatService(std::unique_ptr<Storage> storage, ChatOptions options, Broadcaster broadcast);
    ~ChatService() override;

    const ChatOptions& options() const { return options_; }
    storage::StorageQueue& queue() { return queue_; }
    const Broadcaster& broadcast() const { return broadcast_; }

    // Joined tracking (loop threads): a user with at least one channel on chat:X gets no
    // queue entry for X's messages; they arrive live.
    void joined(const std::string& conversation_id, const std::string& user_id);
    void left(const std::string& conversation_id, const std::string& user_id);
    std::vector<std::string> joined_users(const std::string& conversation_id) const;

    // User channels (loop threads register; the writer thread delivers).
    void register_user_channel(const std::string& user_id, ChannelRef ref,
                               std::shared_ptr<UserInbox> inbox, uint64_t token);
    void unregister_user_channel(const std::string& user_id, uint64_t token);
    // deliver_live(users, message): hand a freshly queued message to the open user channels.
    void deliver_live(const std::vector<std::string>& users, const Message& message);

    // rate_check(user): 0 if the user may send now, else ms to wait.
    int64_t rate_check(const std::string& user_id, int64_t now_ms);

    // purge(now): drop expired queue entries (bounded work per call).
    void purge(int64_t now_ms);

    // Typing (loop threads): a typing:start is good for 5 s; tick() broadcasts isTyping
    // false for the ones that ran out, so a vanished client does not type forever.
    void typing(const std::string& conversation_id, const std::string& user_id, bool is_typing,
                int64_t now_ms);
    void tick(int64_t now_ms);

    // ChatAdmin (blocking).
    Status create_conversation(std::string_view id, ConversationKind kind,
                               const std::vector<std::string>& members) override;
    Status add_member(std::string_view conversation_id, std::string_view user_id) override;
    Status remove_member(std::string_view conversation_id, std::string_view user_id) override;
    Result<std::vector<Member>> members(std::string_view conversation_id) override;
    Result<Conversation> conversation(std::string_view id) override;

private:
    template <class Op>
    auto run_blocking(Op op) -> std::invoke_result_t<Op&, Storage&>;

    ChatOptions options_;
    Broadcaster broadcast_;
    storage::StorageQueue queue_;

    mutable std::mutex mu_;
    // conversation -> user -> channels joined (all loops of this node).
    std::unordered_map<std::string, std::unordered_map<std::string, int>> joined_;
    struct UserChannel {
        ChannelRef ref;
        std::shared_ptr<UserInbox> inbox;
        uint64_t token;
    };
    std::unordered_map<std::string, std::vector<UserChannel>> user_channels_;
    core::RateLimiter limiter_;
    core::TypingTracker typing_{5000};
};

// Channel factories for the persisted `chat:*` and `user:*` topics.
ChannelFactory make_chat_channel_factory(ChatService& service);
ChannelFactory make_user_channel_factory(ChatService& service);

// unix_ms(): wall-clock milliseconds (message timestamps).
int64_t unix_ms();

}  // namespace quckrt::chat
