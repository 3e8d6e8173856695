// The built-in huddle channels and the glue that builds the node's HuddleManager from
// ServerOptions (docs/huddles.md):
//   huddle:lobby        `huddle:create {conversationId}` starts (or finds) a conversation's huddle
//   huddle:{huddle_id}  join = enter the huddle; toggles, raise hand, chat, invites
//   user:{user_id}      only on a server without storage (the ChatService owns user:* with
//                       storage): a bare inbox on which invitees receive huddle:invite
//
// Membership: with storage, creating, joining, reading and inviting go through the chat
// StorageQueue (`Storage::is_member`), never blocking a loop. Without storage there is no
// membership: any authenticated user may create and join any conversation's huddle.
#pragma once

#include <functional>
#include <memory>
#include <quckrt/channel.hpp>
#include <quckrt/server.hpp>
#include <string>
#include <vector>

#include "huddles/huddle_manager.hpp"
#include "storage/storage_queue.hpp"

namespace quckrt::huddles {

// make_server_huddles(options, publish): the HuddleManager of a Server (cap, empty timeout
// and reconnect grace from options, the system clock).
std::unique_ptr<HuddleManager> make_server_huddles(const ServerOptions& options, Publisher publish);

// Channel factories. `membership` null = no storage (no membership checks).
ChannelFactory make_huddle_channel_factory(HuddleManager& huddles,
                                           storage::StorageQueue* membership);
ChannelFactory make_lobby_channel_factory(HuddleManager& huddles,
                                          storage::StorageQueue* membership);
ChannelFactory make_invite_inbox_factory();

// Checked operations shared by the channels and the HTTP API. `user` empty = the admin
// (no membership needed; with storage the conversation must exist). `done` runs exactly
// once, inline or on the storage writer thread.
using Done = std::function<void(Outcome)>;
// authorize(membership, conversation, user, then): then(nullptr) when allowed, else then(reason)
// with reason::kNotMember, reason::kNotFound (admin, unknown conversation) or
// reason::kUnavailable.
void authorize(storage::StorageQueue* membership, const std::string& conversation_id,
               const std::string& user, std::function<void(const char* refused)> then);
// create_checked: authorize, then HuddleManager::create (created_by = user, or
// `created_by` for the admin).
void create_checked(HuddleManager& huddles, storage::StorageQueue* membership,
                    const std::string& conversation_id, const std::string& user,
                    const std::string& created_by, Done done);
// invite_checked: HuddleManager::invite for the invitees who are members of the huddle's
// conversation; the others are reported in "skipped" with reason "not a member".
void invite_checked(HuddleManager& huddles, storage::StorageQueue* membership,
                    const std::string& huddle_id, const std::string& actor,
                    std::vector<std::string> user_ids, Done done);
// parse_user_ids(payload, max, out): the "userIds" array of strings; false when malformed.
bool parse_user_ids(const Json& payload, size_t max, std::vector<std::string>& out);

}  // namespace quckrt::huddles
