#include "calls/call_state.hpp"

#include <iterator>

namespace quckrt::calls {
namespace {

Json opt_ms(const std::optional<int64_t>& v) { return v ? Json(*v) : Json(); }

Outcome refuse(std::string reason, Json extra = Json::object()) {
    Outcome out;
    extra.set("reason", reason);
    out.refused = std::move(reason);
    out.reply = std::move(extra);
    return out;
}

// ended_payload: call:ended. duration is whole seconds of the active part (0 if never
// answered); durationMs the same in milliseconds.
Json ended_payload(const Call& call, const std::string& ended_by, const std::string& why,
                   int64_t now_ms) {
    const int64_t ms = call.answered_at ? now_ms - *call.answered_at : 0;
    return Json::object({{"callId", call.id},
                         {"endedBy", ended_by.empty() ? Json() : Json(ended_by)},
                         {"reason", why},
                         {"duration", ms / 1000},
                         {"durationMs", ms}});
}

}  // namespace

void Effects::append(Effects&& other) {
    sends.insert(sends.end(), std::make_move_iterator(other.sends.begin()),
                 std::make_move_iterator(other.sends.end()));
    notifies.insert(notifies.end(), std::make_move_iterator(other.notifies.begin()),
                    std::make_move_iterator(other.notifies.end()));
    records.insert(records.end(), std::make_move_iterator(other.records.begin()),
                   std::make_move_iterator(other.records.end()));
}

Call* CallRegistry::lookup(const std::string& call_id) {
    auto it = calls_.find(call_id);
    return it == calls_.end() ? nullptr : &it->second;
}

const Call* CallRegistry::find(const std::string& call_id) const {
    auto it = calls_.find(call_id);
    return it == calls_.end() ? nullptr : &it->second;
}

const Call* CallRegistry::call_of(const std::string& user) const {
    auto it = call_of_.find(user);
    return it == call_of_.end() ? nullptr : find(it->second);
}

bool CallRegistry::online(const std::string& user) const { return channels_.contains(user); }

CallRecord CallRegistry::record_of(const Call& call, const std::string& outcome) {
    return CallRecord{.call_id = call.id,
                      .caller_id = call.caller.user_id,
                      .callee_id = call.callee.user_id,
                      .media = call.media,
                      .started_at = call.started_at,
                      .answered_at = call.answered_at,
                      .ended_at = std::nullopt,
                      .outcome = outcome};
}

Json CallRegistry::describe(const Call& call) const {
    auto party = [&](const Party& p, const char* role, bool joined) {
        return Json::object({{"userId", p.user_id},
                             {"role", role},
                             {"joined", joined},
                             {"connected", online(p.user_id)},
                             {"audio", p.audio},
                             {"video", p.video}});
    };
    const bool active = call.status == CallStatus::active;
    return Json::object({{"callId", call.id},
                         {"state", active ? "active" : "ringing"},
                         {"media", call.media},
                         {"callerId", call.caller.user_id},
                         {"calleeId", call.callee.user_id},
                         {"startedAt", call.started_at},
                         {"answeredAt", opt_ms(call.answered_at)},
                         {"participants", Json::array({party(call.caller, "caller", true),
                                                       party(call.callee, "callee", active)})}});
}

Json CallRegistry::incoming_payload(const Call& call) const {
    return Json::object({{"callId", call.id},
                         {"callerId", call.caller.user_id},
                         {"calleeId", call.callee.user_id},
                         {"media", call.media},
                         {"startedAt", call.started_at},
                         {"iceServers", config_.ice_servers}});
}

Outcome CallRegistry::initiate(const std::string& caller, const std::string& callee,
                               const std::string& media, const std::string& call_id,
                               int64_t now_ms) {
    if (callee.empty()) return refuse(reason::kInvalidCallee);
    if (media != "audio" && media != "video") return refuse(reason::kInvalidMedia);
    if (caller == callee) return refuse(reason::kSelf);
    if (const Call* mine = call_of(caller))
        return refuse(reason::kAlreadyInCall, Json::object({{"callId", mine->id}}));

    Call call{.id = call_id,
              .caller = {.user_id = caller, .video = media == "video"},
              .callee = {.user_id = callee, .video = media == "video"},
              .media = media,
              .started_at = now_ms,
              .ring_deadline = now_ms + config_.ring_timeout_ms};
    if (call_of(callee)) {
        // Busy: never live, but it is part of both users' history.
        Outcome out = refuse(reason::kBusy, Json::object({{"callId", call_id}}));
        CallRecord record = record_of(call, "busy");
        record.ended_at = now_ms;
        out.effects.records.push_back({.insert = true, .record = std::move(record)});
        return out;
    }

    Outcome out;
    Json incoming = incoming_payload(call);
    out.effects.sends.push_back({callee, "call:incoming", incoming});
    if (!online(callee)) out.effects.notifies.push_back({callee, "call:incoming", incoming});
    out.effects.records.push_back({.insert = true, .record = record_of(call, "ringing")});
    call_of_[caller] = call_id;
    call_of_[callee] = call_id;
    auto [it, inserted] = calls_.emplace(call_id, std::move(call));
    out.reply = describe(it->second);
    return out;
}

Call* CallRegistry::party_call(const std::string& user, const std::string& call_id,
                               const char*& refused) {
    Call* call = call_id.empty() ? nullptr : lookup(call_id);
    if (call_id.empty()) {
        refused = reason::kCallIdRequired;
    } else if (!call) {
        refused = reason::kNotFound;
    } else if (!call->has(user)) {
        refused = reason::kNotAParty;
        call = nullptr;
    }
    return call;
}

Call* CallRegistry::ringing_for_callee(const std::string& user, const std::string& call_id,
                                       const char*& refused) {
    Call* call = party_call(user, call_id, refused);
    if (!call) return nullptr;
    if (call->callee.user_id != user) {
        refused = reason::kNotCallee;
        return nullptr;
    }
    if (call->status != CallStatus::ringing) {
        refused = reason::kNotRinging;
        return nullptr;
    }
    return call;
}

Outcome CallRegistry::answer(const std::string& user, const std::string& call_id, int64_t now_ms) {
    const char* refused = nullptr;
    Call* call = ringing_for_callee(user, call_id, refused);
    if (!call) return refuse(refused);

    call->status = CallStatus::active;
    call->answered_at = now_ms;
    Outcome out;
    Json answered = Json::object({{"callId", call->id},
                                  {"callerId", call->caller.user_id},
                                  {"calleeId", call->callee.user_id},
                                  {"answeredAt", now_ms}});
    // To the caller, and to every device of the callee: the ones that did not answer stop
    // ringing.
    out.effects.sends.push_back({call->caller.user_id, "call:answered", answered});
    out.effects.sends.push_back({call->callee.user_id, "call:answered", answered});
    out.effects.records.push_back({.insert = false, .record = record_of(*call, "active")});
    out.reply = describe(*call);
    return out;
}

Outcome CallRegistry::reject(const std::string& user, const std::string& call_id, int64_t now_ms) {
    const char* refused = nullptr;
    Call* call = ringing_for_callee(user, call_id, refused);
    if (!call) return refuse(refused);

    Outcome out;
    Json rejected = Json::object({{"callId", call->id}, {"rejectedBy", user}});
    out.effects.sends.push_back({call->caller.user_id, "call:rejected", rejected});
    out.effects.sends.push_back({call->callee.user_id, "call:rejected", rejected});
    out.reply = Json::object({{"callId", call_id}, {"outcome", "rejected"}});
    out.effects.append(finish(call_id, "rejected", now_ms));
    return out;
}

Outcome CallRegistry::end(const std::string& user, const std::string& call_id, int64_t now_ms) {
    const char* refused = nullptr;
    Call* call = party_call(user, call_id, refused);
    if (!call) return refuse(refused);
    if (call->status == CallStatus::ringing && call->callee.user_id == user)
        return reject(user, call_id, now_ms);

    const bool ringing = call->status == CallStatus::ringing;
    const std::string outcome = ringing ? "cancelled" : "completed";
    Json ended = ended_payload(*call, user, ringing ? "cancelled" : "ended", now_ms);
    Outcome out;
    out.effects.sends.push_back({call->caller.user_id, "call:ended", ended});
    out.effects.sends.push_back({call->callee.user_id, "call:ended", ended});
    out.reply = Json::object({{"callId", call_id},
                              {"outcome", outcome},
                              {"duration", ended.get_int("duration")},
                              {"durationMs", ended.get_int("durationMs")}});
    out.effects.append(finish(call_id, outcome, now_ms));
    return out;
}

Outcome CallRegistry::relay(const std::string& user, const std::string& call_id,
                            const std::string& event, const Json& payload) {
    const char* refused = nullptr;
    const Call* call = party_call(user, call_id, refused);
    if (!call) return refuse(refused);
    if (!payload.is_object()) return refuse(reason::kInvalidPayload);
    // The client's object as it came (sdp, candidate and anything else unchanged), with the
    // call id and the authenticated sender set by the server.
    Json forwarded = payload;
    forwarded.set("callId", call_id);
    forwarded.set("from", user);
    Outcome out;
    out.effects.sends.push_back({call->peer(user), event, std::move(forwarded)});
    return out;
}

Outcome CallRegistry::toggle(const std::string& user, const std::string& call_id,
                             const std::string& event, const Json& payload) {
    const char* refused = nullptr;
    Call* call = party_call(user, call_id, refused);
    if (!call) return refuse(refused);
    const Json* enabled = payload.is_object() ? payload.find("enabled") : nullptr;
    if (!enabled || !enabled->is_bool())
        return refuse(reason::kInvalidPayload,
                      Json::object({{"detail", "enabled must be a boolean"}}));
    Outcome out = relay(user, call_id, event, payload);
    Party& p = call->party(user);
    (event == "call:toggle-video" ? p.video : p.audio) = enabled->as_bool();
    return out;
}

Outcome CallRegistry::invite(const std::string& call_id, const std::string& target,
                             const std::string& actor) {
    if (call_id.empty()) return refuse(reason::kCallIdRequired);
    const Call* call = lookup(call_id);
    if (!call) return refuse(reason::kNotFound);
    if (!actor.empty() && !call->has(actor)) return refuse(reason::kNotAParty);
    if (!target.empty() && target != call->callee.user_id) return refuse(reason::kOneToOne);
    if (call->status != CallStatus::ringing) return refuse(reason::kNotRinging);

    Outcome out;
    Json incoming = incoming_payload(*call);
    const std::string& callee = call->callee.user_id;
    out.effects.sends.push_back({callee, "call:incoming", incoming});
    if (!online(callee)) out.effects.notifies.push_back({callee, "call:incoming", incoming});
    out.reply = Json::object({{"callId", call_id}, {"invited", callee}, {"state", "ringing"}});
    return out;
}

void CallRegistry::connected(const std::string& user) {
    ++channels_[user];
    auto it = call_of_.find(user);
    if (it != call_of_.end()) lookup(it->second)->party(user).grace_until.reset();
}

void CallRegistry::disconnected(const std::string& user, int64_t now_ms) {
    auto count = channels_.find(user);
    if (count == channels_.end()) return;
    if (--count->second > 0) return;
    channels_.erase(count);
    auto it = call_of_.find(user);
    if (it == call_of_.end()) return;
    Call& call = *lookup(it->second);
    // A callee that is not connected while its call rings is normal (push, then join): only
    // a party that was in the call (the caller, or either side once active) gets a grace.
    if (call.status == CallStatus::active || call.caller.user_id == user)
        call.party(user).grace_until = now_ms + config_.grace_ms;
}

Effects CallRegistry::expire(int64_t now_ms) {
    Effects out;
    std::vector<std::string> ids;
    for (const auto& [id, call] : calls_) ids.push_back(id);
    for (const std::string& id : ids) {
        const Call& call = calls_.at(id);
        const Party* gone = nullptr;
        for (const Party* p : {&call.caller, &call.callee})
            if (p->grace_until && *p->grace_until <= now_ms) gone = p;
        if (gone) {
            const bool ringing = call.status == CallStatus::ringing;
            Json ended = ended_payload(call, gone->user_id, "disconnected", now_ms);
            out.sends.push_back({call.caller.user_id, "call:ended", ended});
            out.sends.push_back({call.callee.user_id, "call:ended", ended});
            out.append(finish(id, ringing ? "cancelled" : "completed", now_ms));
        } else if (call.status == CallStatus::ringing && now_ms >= call.ring_deadline) {
            Json missed = Json::object({{"callId", call.id},
                                        {"callerId", call.caller.user_id},
                                        {"calleeId", call.callee.user_id},
                                        {"media", call.media},
                                        {"startedAt", call.started_at}});
            out.sends.push_back({call.caller.user_id, "call:missed", missed});
            out.sends.push_back({call.callee.user_id, "call:missed", missed});
            if (!online(call.callee.user_id))
                out.notifies.push_back({call.callee.user_id, "call:missed", missed});
            out.append(finish(id, "missed", now_ms));
        }
    }
    return out;
}

Effects CallRegistry::finish(const std::string& call_id, const std::string& outcome,
                             int64_t now_ms) {
    Effects out;
    auto it = calls_.find(call_id);
    CallRecord record = record_of(it->second, outcome);
    record.ended_at = now_ms;
    out.records.push_back({.insert = false, .record = std::move(record)});
    call_of_.erase(it->second.caller.user_id);
    call_of_.erase(it->second.callee.user_id);
    calls_.erase(it);
    return out;
}

}  // namespace quckrt::calls
