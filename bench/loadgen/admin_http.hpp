// A small blocking HTTP/1.1 client for the reference server's admin API, used before a
// scenario starts to create the conversations its chat:* topics need (docs/chat.md).
// One keep-alive connection; requests go one at a time.
#pragma once

#include <string>
#include <vector>

#include "client.hpp"

namespace quckrt::bench {

struct ConversationSpec {
    std::string id;                    // conversation id (the chat topic without "chat:")
    std::vector<std::string> members;  // user ids
};

struct CreateResult {
    size_t created = 0;  // 201
    size_t existed = 0;  // 409 ALREADY_EXISTS (a rerun against the same database)
    double seconds = 0;
};

// create_conversations(endpoint, admin_token, specs, result, error): POST
// /api/conversations for each spec (kind "group"). False with error set on a socket error or
// any status other than 201 and 409.
bool create_conversations(const Endpoint& endpoint, const std::string& admin_token,
                          const std::vector<ConversationSpec>& specs, CreateResult& result,
                          std::string& error);

}  // namespace quckrt::bench
