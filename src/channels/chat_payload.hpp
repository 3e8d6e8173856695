// What both chat channels (the relay one and the persisted one) accept from a client and
// put in their presence metas, so the two validate message:send identically.
#pragma once

#include <optional>
#include <string>

#include <quckrt/channel.hpp>
#include <quckrt/json.hpp>

namespace quckrt::channels {

inline constexpr size_t kDefaultMaxContentBytes = 16 * 1024;
inline constexpr size_t kMaxClientMsgIdBytes = 128;
inline constexpr size_t kMaxTypeBytes = 32;

// SendRequest: a validated message:send payload.
struct SendRequest {
    std::string content;
    std::string type = "text";
    std::optional<std::string> client_msg_id;
};

// parse_send(payload, max_content_bytes): the request, or the error Reply to send back.
// A senderId in the payload is ignored: the sender is always the connection's user.
struct ParsedSend {
    std::optional<SendRequest> request;
    Reply error = Reply::error("invalid");
};
ParsedSend parse_send(const Json& payload, size_t max_content_bytes);

// presence_meta(info, now_iso): {device, userAgent, joinedAt} for chat presence.
Json presence_meta(const ConnectInfo& info, const std::string& now_iso);

}  // namespace quckrt::channels
