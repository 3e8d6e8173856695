#include "channels/chat_payload.hpp"

namespace quckrt::channels {

ParsedSend parse_send(const Json& p, size_t max_content_bytes) {
    ParsedSend out;
    const Json* content = p.find("content");
    if (!content || !content->is_string() || content->as_string().empty()) {
        out.error = Reply::error("content must be a non-empty string");
        return out;
    }
    if (content->as_string().size() > max_content_bytes) {
        out.error = Reply::error(Json::object(
            {{"reason", "content too large"}, {"maxBytes", static_cast<int64_t>(max_content_bytes)}}));
        return out;
    }
    const Json* type = p.find("type");
    if (type && (!type->is_string() || type->as_string().empty() ||
                 type->as_string().size() > kMaxTypeBytes)) {
        out.error = Reply::error("type must be a short non-empty string");
        return out;
    }
    const Json* client_id = p.find("clientMsgId");
    if (client_id && !client_id->is_null() &&
        (!client_id->is_string() || client_id->as_string().empty() ||
         client_id->as_string().size() > kMaxClientMsgIdBytes)) {
        out.error = Reply::error("clientMsgId must be a string of 1 to 128 bytes");
        return out;
    }
    SendRequest r;
    r.content = content->as_string();
    if (type) r.type = type->as_string();
    if (client_id && client_id->is_string()) r.client_msg_id = client_id->as_string();
    out.request = std::move(r);
    return out;
}

Json presence_meta(const ConnectInfo& info, const std::string& now_iso) {
    return Json::object({{"device", info.device.empty() ? "unknown" : info.device},
                         {"userAgent", info.user_agent},
                         {"joinedAt", now_iso}});
}

}  // namespace quckrt::channels
