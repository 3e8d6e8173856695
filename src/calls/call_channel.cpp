// `webrtc:{user_id}`: every device of a user joins its own topic; events for a user are
// broadcast there, so all its devices ring, and all stop ringing on call:answered. The
// channel only authorizes, counts joins for the disconnect grace, serves call:history and
// hands everything else to the CallManager with the authenticated user as the sender.
#include "calls/call_channel.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace quckrt::calls {
namespace {

constexpr int64_t kHistoryDefaultLimit = 50;
constexpr int64_t kHistoryMaxLimit = 100;

class WebrtcChannel final : public Channel {
public:
    WebrtcChannel(CallManager& calls, storage::StorageQueue* history)
        : calls_(calls), history_(history) {}

    JoinResult join(const Json&, Socket& socket) override {
        const std::string& topic = socket.topic();
        if (topic.substr(topic.find(':') + 1) != socket.user().user_id)
            return JoinResult::error("forbidden");
        user_ = socket.user().user_id;
        // The call this user is in, if any: a device that reconnects within the grace
        // period learns it is still in the call (and renegotiates media).
        return JoinResult::ok(Json::object(
            {{"iceServers", calls_.ice_servers()}, {"call", calls_.current_call(user_)}}));
    }

    void after_join(Socket& socket) override {
        calls_.connected(user_);
        counted_ = true;
        // A device that joins while a call rings for this user rings too (the other
        // devices got call:incoming when it started).
        if (auto incoming = calls_.ringing_for(user_)) socket.push("call:incoming", *incoming);
    }

    void terminate(TerminateReason, Socket&) override {
        if (counted_) calls_.disconnected(user_);
        counted_ = false;
    }

    Reply handle_in(const InMessage& m, Socket& socket) override {
        if (m.is_binary) return Reply::error("binary payloads are not supported on webrtc topics");
        if (m.event == "call:history") return history(m.payload, socket);
        auto answer = calls_.handle(user_, m.event, m.payload);
        if (!answer) return Channel::handle_in(m, socket);
        return answer->ok() ? Reply::ok(std::move(answer->reply))
                            : Reply::error(std::move(answer->reply));
    }

private:
    Reply history(const Json& p, Socket& socket) {
        if (!history_) return Reply::error("storage not configured");
        const Json* before = p.find("before");
        const Json* limit = p.find("limit");
        if ((before && !before->is_integer()) ||
            (limit && (!limit->is_integer() || limit->as_int() < 1)))
            return Reply::error(Json::object(
                {{"reason", reason::kInvalidPayload},
                 {"detail", "before and limit must be integers (limit >= 1)"}}));
        const int64_t n = std::min(limit ? limit->as_int() : kHistoryDefaultLimit, kHistoryMaxLimit);
        Status st = history_->submit(
            [u = user_, b = before ? before->as_int() : 0, n](Storage& s) {
                return s.calls_of(u, b, static_cast<size_t>(n + 1));  // one more: hasMore
            },
            [u = user_, n, resp = socket.responder()](Result<std::vector<CallRecord>> r) {
                if (!r) {
                    spdlog::warn("event=call_history_failed user={} error=\"{}\"", u,
                                 r.error().to_string());
                    resp.reply(Reply::error("unavailable"));
                    return;
                }
                const bool more = static_cast<int64_t>(r->size()) > n;
                Json calls = Json::array();
                for (int64_t i = 0; i < static_cast<int64_t>(r->size()) && i < n; ++i)
                    calls.push_back(record_json((*r)[static_cast<size_t>(i)], u));
                resp.reply(Reply::ok(Json::object({{"calls", std::move(calls)}, {"hasMore", more}})));
            });
        return st.ok() ? Reply::none() : Reply::error("unavailable");
    }

    CallManager& calls_;
    storage::StorageQueue* history_;
    std::string user_;
    bool counted_ = false;
};

Json opt_ms(const std::optional<int64_t>& v) { return v ? Json(*v) : Json(); }

}  // namespace

Json record_json(const CallRecord& r, const std::string& user) {
    const int64_t duration_ms =
        r.answered_at && r.ended_at ? *r.ended_at - *r.answered_at : 0;
    return Json::object({{"callId", r.call_id},
                         {"callerId", r.caller_id},
                         {"calleeId", r.callee_id},
                         {"direction", r.caller_id == user ? "outgoing" : "incoming"},
                         {"media", r.media},
                         {"startedAt", r.started_at},
                         {"answeredAt", opt_ms(r.answered_at)},
                         {"endedAt", opt_ms(r.ended_at)},
                         {"outcome", r.outcome},
                         {"duration", duration_ms / 1000}});
}

std::unique_ptr<CallManager> make_server_calls(const ServerOptions& options, Publisher publish,
                                               storage::StorageQueue* history) {
    static const core::SystemClock kClock;
    CallConfig config{.ring_timeout_ms = options.call_ring_timeout.count(),
                      .grace_ms = options.call_grace.count(),
                      .ice_servers = ice_servers_json(options.stun_server_url,
                                                      options.turn_server_url,
                                                      options.turn_username,
                                                      options.turn_credential)};
    CallSinks sinks;
    sinks.send = [publish = std::move(publish)](const std::string& user, std::string_view event,
                                                const Json& payload) {
        publish("webrtc:" + user, event, payload);
    };
    if (history) {
        sinks.store = [history](const RecordWrite& w) {
            Status st = history->submit(
                [w](Storage& s) { return w.insert ? s.insert_call(w.record) : s.update_call(w.record); },
                [id = w.record.call_id](Status st) {
                    if (!st.ok())
                        spdlog::warn("event=call_record_failed call={} error=\"{}\"", id,
                                     st.to_string());
                });
            if (!st.ok())
                spdlog::warn("event=call_record_refused call={} error=\"{}\"", w.record.call_id,
                             st.to_string());
        };
    }
    sinks.push = options.push_sink;
    spdlog::info("event=calls ring_timeout_ms={} grace_ms={} ice_servers={} history={}",
                 config.ring_timeout_ms, config.grace_ms, config.ice_servers.size(),
                 history != nullptr);
    return std::make_unique<CallManager>(std::move(config), kClock, std::move(sinks));
}

ChannelFactory make_call_channel_factory(CallManager& calls, storage::StorageQueue* history) {
    return [&calls, history] { return std::make_unique<WebrtcChannel>(calls, history); };
}

}  // namespace quckrt::calls
