// quckrt/chat.hpp
//
// ChatAdmin: what a host needs to manage persisted chat — conversations and their members —
// when the server runs with storage (ServerOptions::storage, e.g. "sqlite:data/quckrt.db").
// With storage, joining `chat:{id}` requires membership of conversation {id}, and
// `user:{id}` may be joined only by user {id}; messages are persisted, idempotent by
// clientMsgId, and queued for members who are not joined to the conversation
// (store-and-forward, delivered on `user:{id}`, deleted only on `message:ack`).
//
// Thread affinity: any thread EXCEPT a loop thread (channel callbacks): every call waits for
// the storage writer thread.
//
// Example:
//   quckrt::ChatAdmin* chat = server->chat();   // null without storage
//   (void)chat->create_conversation("c42", quckrt::ConversationKind::group, {"alice", "bob"});
//   (void)chat->add_member("c42", "carol");
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <quckrt/status.hpp>
#include <quckrt/storage.hpp>

namespace quckrt {

class ChatAdmin {
public:
    virtual ~ChatAdmin() = default;
    // create_conversation: already_exists when the id is taken; a direct conversation takes
    // at most two members (failed_precondition).
    virtual Status create_conversation(std::string_view id, ConversationKind kind,
                                       const std::vector<std::string>& members) = 0;
    // add_member / remove_member: ok also when nothing changed; not_found for an unknown
    // conversation.
    virtual Status add_member(std::string_view conversation_id, std::string_view user_id) = 0;
    virtual Status remove_member(std::string_view conversation_id, std::string_view user_id) = 0;
    virtual Result<std::vector<Member>> members(std::string_view conversation_id) = 0;
    virtual Result<Conversation> conversation(std::string_view id) = 0;
};

}  // namespace quckrt
