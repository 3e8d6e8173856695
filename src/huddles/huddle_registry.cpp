#include "huddles/huddle_registry.hpp"

#include <algorithm>

namespace quckrt::huddles {
namespace {

// huddle:participant:left `reason`: went on purpose, or lost the connection and did not come
// back within the grace.
constexpr const char* kLeft = "left";
constexpr const char* kDisconnected = "disconnected";

Outcome refuse(const char* why, Json detail = Json()) {
    Outcome out;
    out.refused = why;
    out.reply = Json::object({{"reason", why}});
    if (!detail.is_null()) out.reply.set("detail", std::move(detail));
    return out;
}

Json sharer_json(const Huddle& h) { return h.screen ? Json(h.screen->first) : Json(); }

// updated(h, p): huddle:participant:updated for p, to everyone in the huddle.
Effect updated(const Huddle& h, const Participant& p) {
    Json payload = participant_json(p, h);
    payload.set("huddleId", h.id);
    payload.set("screenSharer", sharer_json(h));
    return {topic(h.id), "huddle:participant:updated", std::move(payload)};
}

}  // namespace

std::string topic(std::string_view huddle_id) { return "huddle:" + std::string(huddle_id); }

Json participant_json(const Participant& p, const Huddle& h) {
    return Json::object({{"userId", p.user_id},
                         {"audio", p.audio},
                         {"video", p.video},
                         {"screen", h.sharing(p.user_id)},
                         {"handRaised", p.hand_raised},
                         {"joinedAt", p.joined_at},
                         {"devices", p.connections.size()},
                         {"connected", p.connected()}});
}

const Participant* Huddle::participant(std::string_view user) const {
    for (const Participant& p : participants)
        if (p.user_id == user) return &p;
    return nullptr;
}

Participant* Huddle::participant(std::string_view user) {
    for (Participant& p : participants)
        if (p.user_id == user) return &p;
    return nullptr;
}

const Huddle* HuddleRegistry::find(std::string_view huddle_id) const {
    auto it = huddles_.find(huddle_id);
    return it == huddles_.end() ? nullptr : &it->second;
}

Huddle* HuddleRegistry::find_mut(std::string_view huddle_id) {
    auto it = huddles_.find(huddle_id);
    return it == huddles_.end() ? nullptr : &it->second;
}

const Huddle* HuddleRegistry::by_conversation(std::string_view conversation_id) const {
    auto it = by_conversation_.find(std::string(conversation_id));
    return it == by_conversation_.end() ? nullptr : find(it->second);
}

Json HuddleRegistry::describe(const Huddle& h) const {
    Json participants = Json::array();
    for (const Participant& p : h.participants) participants.push_back(participant_json(p, h));
    return Json::object({{"id", h.id},
                         {"conversationId", h.conversation_id},
                         {"createdBy", h.created_by},
                         {"createdAt", h.created_at},
                         {"participants", std::move(participants)},
                         {"screenSharer", sharer_json(h)},
                         {"maxParticipants", config_.max_participants}});
}

Outcome HuddleRegistry::create(const std::string& id, const std::string& conversation_id,
                               const std::string& created_by, int64_t now_ms) {
    if (id.empty() || conversation_id.empty())
        return refuse(reason::kInvalidPayload, "huddle and conversation ids must not be empty");
    Outcome out;
    if (const Huddle* existing = by_conversation(conversation_id)) {
        out.reply = describe(*existing);
        out.reply.set("topic", topic(existing->id));
        out.reply.set("created", false);
        return out;
    }
    if (find(id)) return refuse(reason::kHuddleExists);
    Huddle& h = huddles_[id];
    h.id = id;
    h.conversation_id = conversation_id;
    h.created_by = created_by;
    h.created_at = now_ms;
    by_conversation_[conversation_id] = id;
    out.reply = describe(h);
    out.reply.set("topic", topic(id));
    out.reply.set("created", true);
    out.effects.push_back({"chat:" + conversation_id, "huddle:started",
                           Json::object({{"huddleId", id},
                                         {"conversationId", conversation_id},
                                         {"createdBy", created_by},
                                         {"createdAt", now_ms},
                                         {"topic", topic(id)}})});
    return out;
}

Outcome HuddleRegistry::join(const std::string& huddle_id, const std::string& user, uint64_t conn,
                             bool audio, bool video, int64_t now_ms) {
    Huddle* h = find_mut(huddle_id);
    if (!h) return refuse(reason::kNotFound);
    Outcome out;
    if (Participant* p = h->participant(user)) {
        // Another device of someone already in: one participant, no announcement. A
        // reconnecting user is back: same participant and state, and the others, who saw
        // connected:false, see connected:true (not a leave and a join).
        const bool restored = !p->connected();
        if (std::find(p->connections.begin(), p->connections.end(), conn) == p->connections.end())
            p->connections.push_back(conn);
        p->grace_until.reset();
        if (restored) out.effects.push_back(updated(*h, *p));
        out.reply = describe(*h);
        return out;
    }
    if (h->participants.size() >= config_.max_participants) {
        Outcome full = refuse(reason::kFull);
        full.reply.set("max", config_.max_participants);
        return full;
    }
    h->participants.push_back(Participant{.user_id = user,
                                          .audio = audio,
                                          .video = video,
                                          .hand_raised = false,
                                          .joined_at = now_ms,
                                          .connections = {conn}});
    Json joined = participant_json(h->participants.back(), *h);
    joined.set("huddleId", h->id);
    joined.set("participantCount", h->participants.size());
    out.effects.push_back({topic(h->id), "huddle:participant:joined", std::move(joined)});
    out.reply = describe(*h);
    return out;
}

Outcome HuddleRegistry::leave(const std::string& huddle_id, const std::string& user,
                              uint64_t conn) {
    return depart(huddle_id, user, conn, std::nullopt, kLeft);
}

Outcome HuddleRegistry::disconnect(const std::string& huddle_id, const std::string& user,
                                   uint64_t conn, int64_t now_ms) {
    std::optional<int64_t> grace_until;
    if (config_.grace_ms > 0) grace_until = now_ms + config_.grace_ms;
    return depart(huddle_id, user, conn, grace_until, kDisconnected);
}

Outcome HuddleRegistry::depart(const std::string& huddle_id, const std::string& user,
                               uint64_t conn, std::optional<int64_t> grace_until,
                               const char* why) {
    Outcome out;
    Huddle* h = find_mut(huddle_id);
    if (!h) return out;
    Participant* p = h->participant(user);
    if (!p) return out;
    auto it = std::find(p->connections.begin(), p->connections.end(), conn);
    if (it == p->connections.end()) return out;
    p->connections.erase(it);
    // The lock goes with its connection even into the grace: the screen stream died with the
    // connection, and holding the lock would block everyone else's share for the whole
    // grace for a stream nobody can see; the user re-shares after reconnecting.
    const bool freed_screen = h->screen && h->screen->second == conn;
    if (freed_screen) h->screen.reset();
    if (!p->connections.empty()) {
        // The user stays on another device; only the screen share may have changed.
        if (freed_screen) out.effects.push_back(updated(*h, *p));
        return out;
    }
    if (h->screen && h->screen->first == user) h->screen.reset();  // defensive: lock of a gone user
    if (grace_until) {
        // One event carries both changes (connected:false, and the screen freed if it was).
        p->grace_until = grace_until;
        out.effects.push_back(updated(*h, *p));
        return out;
    }
    drop(*h, static_cast<size_t>(p - h->participants.data()), why, out.effects);
    return out;
}

void HuddleRegistry::drop(Huddle& h, size_t index, const char* why,
                          std::vector<Effect>& effects) {
    const std::string user = h.participants[index].user_id;
    h.participants.erase(h.participants.begin() + static_cast<std::ptrdiff_t>(index));
    effects.push_back({topic(h.id), "huddle:participant:left",
                       Json::object({{"huddleId", h.id},
                                     {"userId", user},
                                     {"participantCount", h.participants.size()},
                                     {"screenSharer", sharer_json(h)},
                                     {"reason", why}})});
    if (h.participants.empty()) remove(h.id, "empty", effects);
}

Outcome HuddleRegistry::change(const std::string& huddle_id, const std::string& user, uint64_t conn,
                               MediaChange change) {
    Huddle* h = find_mut(huddle_id);
    if (!h) return refuse(reason::kNotFound);
    Participant* p = h->participant(user);
    if (!p) return refuse(reason::kNotParticipant);
    bool changed = false;
    auto apply = [&](bool& field) {
        const bool want = change.set.value_or(!field);
        changed = want != field;
        field = want;
    };
    switch (change.kind) {
        case MediaChange::Kind::audio:
            apply(p->audio);
            break;
        case MediaChange::Kind::video:
            apply(p->video);
            break;
        case MediaChange::Kind::hand:
            apply(p->hand_raised);
            break;
        case MediaChange::Kind::screen: {
            const bool sharing = h->sharing(user);
            const bool want = change.set.value_or(!sharing);
            if (want && h->screen && h->screen->second != conn) {
                Outcome busy = refuse(reason::kScreenInUse);
                busy.reply.set("sharerId", h->screen->first);
                return busy;
            }
            if (want && !h->screen) {
                h->screen.emplace(user, conn);
                changed = true;
            } else if (!want && sharing) {
                h->screen.reset();
                changed = true;
            }
            break;
        }
    }
    Outcome out;
    out.reply = participant_json(*p, *h);
    out.reply.set("screenSharer", sharer_json(*h));
    if (changed) out.effects.push_back(updated(*h, *p));
    return out;
}

Outcome HuddleRegistry::message(const std::string& huddle_id, const std::string& user,
                                const std::string& content, const std::string& message_id,
                                int64_t now_ms) {
    Huddle* h = find_mut(huddle_id);
    if (!h) return refuse(reason::kNotFound);
    if (!h->participant(user)) return refuse(reason::kNotParticipant);
    if (content.empty() || content.size() > config_.max_message_bytes)
        return refuse(
            reason::kInvalidPayload,
            "content must be 1 to " + std::to_string(config_.max_message_bytes) + " bytes");
    Outcome out;
    out.reply = Json::object({{"huddleId", h->id},
                              {"id", message_id},
                              {"userId", user},
                              {"content", content},
                              {"sentAt", now_ms}});
    out.effects.push_back({topic(h->id), "huddle:message:new", out.reply});
    return out;
}

Outcome HuddleRegistry::invite(const std::string& huddle_id, const std::string& actor,
                               const std::vector<std::string>& user_ids, int64_t now_ms) {
    const Huddle* h = find(huddle_id);
    if (!h) return refuse(reason::kNotFound);
    if (!actor.empty() && !h->participant(actor)) return refuse(reason::kNotParticipant);
    if (user_ids.empty() || user_ids.size() > config_.max_invitees)
        return refuse(reason::kInvalidPayload,
                      "userIds must list 1 to " + std::to_string(config_.max_invitees) + " users");
    for (const std::string& u : user_ids)
        if (u.empty()) return refuse(reason::kInvalidPayload, "user ids must not be empty");
    Outcome out;
    Json invited = Json::array();
    Json skipped = Json::array();
    std::vector<std::string> seen;
    for (const std::string& u : user_ids) {
        if (std::find(seen.begin(), seen.end(), u) != seen.end()) continue;
        seen.push_back(u);
        if (h->participant(u)) {
            skipped.push_back(Json::object({{"userId", u}, {"reason", "already in the huddle"}}));
            continue;
        }
        invited.push_back(u);
        out.effects.push_back({"user:" + u, "huddle:invite",
                               Json::object({{"huddleId", h->id},
                                             {"conversationId", h->conversation_id},
                                             {"topic", topic(h->id)},
                                             {"invitedBy", actor.empty() ? Json() : Json(actor)},
                                             {"invitedAt", now_ms}})});
    }
    out.reply = Json::object(
        {{"huddleId", h->id}, {"invited", std::move(invited)}, {"skipped", std::move(skipped)}});
    return out;
}

std::vector<Effect> HuddleRegistry::expire(int64_t now_ms) {
    std::vector<Effect> effects;
    std::vector<std::string> stale;
    std::vector<std::string> lapsed;  // huddles with a grace that ran out
    for (const auto& [id, h] : huddles_) {
        if (h.participants.empty() && now_ms - h.created_at >= config_.empty_timeout_ms)
            stale.push_back(id);
        for (const Participant& p : h.participants)
            if (p.grace_until && now_ms >= *p.grace_until) {
                lapsed.push_back(id);
                break;
            }
    }
    for (const std::string& id : stale) remove(id, "expired", effects);
    for (const std::string& id : lapsed) {
        // In join order; drop() may remove the huddle with its last participant, so look
        // it up again after each one.
        for (;;) {
            Huddle* h = find_mut(id);
            if (!h) break;
            auto it = std::find_if(h->participants.begin(), h->participants.end(),
                                   [&](const Participant& p) {
                                       return p.grace_until && now_ms >= *p.grace_until;
                                   });
            if (it == h->participants.end()) break;
            drop(*h, static_cast<size_t>(it - h->participants.begin()), kDisconnected, effects);
        }
    }
    return effects;
}

void HuddleRegistry::remove(const std::string& huddle_id, const char* why,
                            std::vector<Effect>& effects) {
    auto it = huddles_.find(huddle_id);
    if (it == huddles_.end()) return;
    const std::string id = it->second.id;
    const std::string conversation = it->second.conversation_id;
    Json ended =
        Json::object({{"huddleId", id}, {"conversationId", conversation}, {"reason", why}});
    effects.push_back({topic(id), "huddle:ended", ended});
    effects.push_back({"chat:" + conversation, "huddle:ended", std::move(ended)});
    by_conversation_.erase(conversation);
    huddles_.erase(it);
}

}  // namespace quckrt::huddles
