#include "calls/call_manager.hpp"

#include <spdlog/spdlog.h>

#include "core/ids.hpp"

namespace quckrt::calls {
namespace {

// field(payload, key): the string at key, or "" when missing or not a string.
std::string field(const Json& payload, std::string_view key) {
    return std::string(payload.get_string(key));
}

Answer invalid(std::string detail) {
    return {reason::kInvalidPayload,
            Json::object({{"reason", reason::kInvalidPayload}, {"detail", std::move(detail)}})};
}

Json url_list(std::string_view csv) {
    Json urls = Json::array();
    size_t pos = 0;
    while (pos <= csv.size()) {
        size_t comma = csv.find(',', pos);
        if (comma == std::string_view::npos) comma = csv.size();
        std::string_view url = csv.substr(pos, comma - pos);
        while (!url.empty() && url.front() == ' ') url.remove_prefix(1);
        while (!url.empty() && url.back() == ' ') url.remove_suffix(1);
        if (!url.empty()) urls.push_back(url);
        pos = comma + 1;
    }
    return urls;
}

}  // namespace

Json ice_servers_json(std::string_view stun_urls, std::string_view turn_urls,
                      std::string_view username, std::string_view credential) {
    Json servers = Json::array();
    if (Json stun = url_list(stun_urls); stun.size() > 0)
        servers.push_back(Json::object({{"urls", std::move(stun)}}));
    if (Json turn = url_list(turn_urls); turn.size() > 0) {
        Json entry = Json::object({{"urls", std::move(turn)}});
        if (!username.empty()) entry.set("username", username);
        if (!credential.empty()) entry.set("credential", credential);
        servers.push_back(std::move(entry));
    }
    return servers;
}

CallManager::CallManager(CallConfig config, const core::Clock& clock, CallSinks sinks,
                         std::function<std::string(int64_t)> make_id)
    : clock_(clock),
      sinks_(std::move(sinks)),
      make_id_(make_id ? std::move(make_id) : [](int64_t now) { return core::make_uuid_v7(now); }),
      registry_(std::move(config)) {}

void CallManager::carry_out(Effects effects, std::unique_lock<std::mutex>& lock) {
    for (const Send& s : effects.sends)
        if (sinks_.send) sinks_.send(s.user_id, s.event, s.payload);
    for (const RecordWrite& w : effects.records)
        if (sinks_.store) sinks_.store(w);
    lock.unlock();
    if (!sinks_.push) return;
    for (const Notify& n : effects.notifies) {
        try {
            sinks_.push->notify(n.user_id, n.kind, n.payload);
        } catch (const std::exception& e) {
            spdlog::warn("event=push_sink_failed user={} kind={} error=\"{}\"", n.user_id, n.kind,
                         e.what());
        }
    }
}

Answer CallManager::finish(Outcome outcome, std::unique_lock<std::mutex>& lock) {
    carry_out(std::move(outcome.effects), lock);
    return {std::move(outcome.refused), std::move(outcome.reply)};
}

std::optional<Answer> CallManager::handle(const std::string& user, std::string_view event,
                                          const Json& payload) {
    const std::string call_id = field(payload, "callId");
    const std::string name(event);
    if (event == "webrtc:offer" || event == "webrtc:answer") {
        if (!payload.find("sdp")) return invalid("sdp required");
    } else if (event == "webrtc:ice-candidate") {
        if (!payload.find("candidate")) return invalid("candidate required");
    } else if (event != "call:initiate" && event != "call:answer" && event != "call:reject" &&
               event != "call:end" && event != "call:toggle-audio" &&
               event != "call:toggle-video") {
        return std::nullopt;
    }

    std::unique_lock lock(mu_);
    const int64_t now = clock_.now_ms();
    Outcome out;
    if (event == "call:initiate") {
        const Json* media = payload.find("media");
        out = registry_.initiate(user, field(payload, "calleeId"),
                                 media ? field(payload, "media") : "audio", make_id_(now), now);
    } else if (event == "call:answer") {
        out = registry_.answer(user, call_id, now);
    } else if (event == "call:reject") {
        out = registry_.reject(user, call_id, now);
    } else if (event == "call:end") {
        out = registry_.end(user, call_id, now);
    } else if (event == "call:toggle-audio" || event == "call:toggle-video") {
        out = registry_.toggle(user, call_id, name, payload);
    } else {
        out = registry_.relay(user, call_id, name, payload);
    }
    return finish(std::move(out), lock);
}

Answer CallManager::invite(const std::string& call_id, const std::string& target,
                           const std::string& actor) {
    std::unique_lock lock(mu_);
    return finish(registry_.invite(call_id, target, actor), lock);
}

void CallManager::connected(const std::string& user) {
    std::lock_guard lock(mu_);
    registry_.connected(user);
}

void CallManager::disconnected(const std::string& user) {
    std::lock_guard lock(mu_);
    registry_.disconnected(user, clock_.now_ms());
}

void CallManager::expire() {
    std::unique_lock lock(mu_);
    if (registry_.size() == 0) return;
    carry_out(registry_.expire(clock_.now_ms()), lock);
}

std::optional<Json> CallManager::describe(const std::string& call_id) const {
    std::lock_guard lock(mu_);
    const Call* call = registry_.find(call_id);
    if (!call) return std::nullopt;
    return registry_.describe(*call);
}

Json CallManager::current_call(const std::string& user) const {
    std::lock_guard lock(mu_);
    const Call* call = registry_.call_of(user);
    return call ? registry_.describe(*call) : Json();
}

std::optional<Json> CallManager::ringing_for(const std::string& user) const {
    std::lock_guard lock(mu_);
    const Call* call = registry_.call_of(user);
    if (!call || call->status != CallStatus::ringing || call->callee.user_id != user)
        return std::nullopt;
    return registry_.incoming_payload(*call);
}

bool CallManager::is_party(const std::string& call_id, const std::string& user) const {
    std::lock_guard lock(mu_);
    const Call* call = registry_.find(call_id);
    return call && call->has(user);
}

size_t CallManager::live_calls() const {
    std::lock_guard lock(mu_);
    return registry_.size();
}

}  // namespace quckrt::calls
