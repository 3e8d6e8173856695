#include "channels/chat_channel.hpp"

#include <chrono>

#include "channels/chat_payload.hpp"
#include "core/ids.hpp"

namespace quckrt::channels {
namespace {

int64_t unix_ms_now() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

class ChatChannel final : public Channel {
public:
    JoinResult join(const Json& params, Socket& socket) override {
        // {"presence": false}: join without being tracked (bots, backend listeners, load
        // generators); the channel still gets every message.
        track_presence_ = params.get_bool("presence", true);
        conversation_id_ = socket.topic().substr(socket.topic().find(':') + 1);
        if (conversation_id_.empty()) return JoinResult::error("invalid conversation id");
        return JoinResult::ok();
    }

    void after_join(Socket& socket) override {
        if (!track_presence_) return;
        socket.track_presence(presence_meta(socket.connect_info(), core::iso8601_utc(unix_ms_now())),
                              /*announce_online=*/true);
    }

    Reply handle_in(const InMessage& m, Socket& socket) override {
        if (m.is_binary) return Reply::error("binary payloads are not supported on chat topics");
        if (m.event == "message:send") return send(m.payload, socket);
        if (m.event == "typing:start") return typing(true, socket);
        if (m.event == "typing:stop") return typing(false, socket);
        return Channel::handle_in(m, socket);
    }

private:
    Reply send(const Json& p, Socket& socket) {
        ParsedSend parsed = parse_send(p, kDefaultMaxContentBytes);
        if (!parsed.request) return parsed.error;
        const SendRequest& r = *parsed.request;
        const int64_t now = unix_ms_now();
        Json message = Json::object({
            {"id", core::make_uuid_v7(now)},
            {"conversationId", conversation_id_},
            {"senderId", socket.user().user_id},
            {"content", r.content},
            {"type", r.type},
            {"clientMsgId", r.client_msg_id ? Json(*r.client_msg_id) : Json()},
            {"createdAt", core::iso8601_utc(now)},
        });
        socket.broadcast("message:new", message);
        return Reply::ok(std::move(message));
    }

    Reply typing(bool is_typing, Socket& socket) {
        socket.broadcast_from("typing", Json::object({{"conversationId", conversation_id_},
                                                       {"userId", socket.user().user_id},
                                                       {"isTyping", is_typing}}));
        return Reply::ok();
    }

    std::string conversation_id_;
    bool track_presence_ = true;
};

}  // namespace

ChannelFactory make_chat_channel_factory() {
    return [] { return std::make_unique<ChatChannel>(); };
}

}  // namespace quckrt::channels
