#include "huddles/huddle_manager.hpp"

#include "core/ids.hpp"

namespace quckrt::huddles {

HuddleManager::HuddleManager(HuddleConfig config, const core::Clock& clock, Publisher publish,
                             std::function<std::string(int64_t)> make_id)
    : config_(config),
      clock_(clock),
      publish_(std::move(publish)),
      make_id_(make_id ? std::move(make_id) : [](int64_t now) { return core::make_uuid_v7(now); }),
      registry_(config),
      limiter_(config.rate_per_second, config.rate_burst) {}

std::optional<Outcome> HuddleManager::limited(const std::string& user, int64_t now_ms) {
    if (user.empty() || config_.rate_per_second <= 0) return std::nullopt;
    const int64_t wait = limiter_.take(user, now_ms);
    if (wait <= 0) return std::nullopt;
    Outcome out;
    out.refused = reason::kRateLimited;
    out.reply = Json::object({{"reason", reason::kRateLimited}, {"retryAfterMs", wait}});
    return out;
}

void HuddleManager::publish(const std::vector<Effect>& effects) const {
    if (!publish_) return;
    for (const Effect& e : effects) publish_(e.topic, e.event, e.payload);
}

Outcome HuddleManager::create(const std::string& conversation_id, const std::string& created_by) {
    const int64_t now = clock_.now_ms();
    std::lock_guard lock(mu_);
    Outcome out = registry_.create(make_id_(now), conversation_id, created_by, now);
    publish(out.effects);
    return out;
}

Outcome HuddleManager::join(const std::string& huddle_id, const std::string& user, uint64_t conn,
                            bool audio, bool video,
                            const std::function<void(const Outcome&)>& admitted) {
    const int64_t now = clock_.now_ms();
    std::lock_guard lock(mu_);
    Outcome out = registry_.join(huddle_id, user, conn, audio, video, now);
    if (out.ok() && admitted) admitted(out);
    publish(out.effects);
    return out;
}

void HuddleManager::leave(const std::string& huddle_id, const std::string& user, uint64_t conn) {
    std::lock_guard lock(mu_);
    publish(registry_.leave(huddle_id, user, conn).effects);
}

void HuddleManager::disconnect(const std::string& huddle_id, const std::string& user,
                               uint64_t conn) {
    const int64_t now = clock_.now_ms();
    std::lock_guard lock(mu_);
    publish(registry_.disconnect(huddle_id, user, conn, now).effects);
}

Outcome HuddleManager::change(const std::string& huddle_id, const std::string& user, uint64_t conn,
                              MediaChange change) {
    std::lock_guard lock(mu_);
    Outcome out = registry_.change(huddle_id, user, conn, change);
    publish(out.effects);
    return out;
}

Outcome HuddleManager::message(const std::string& huddle_id, const std::string& user,
                               const std::string& content) {
    const int64_t now = clock_.now_ms();
    std::lock_guard lock(mu_);
    if (auto refused = limited(user, now)) return std::move(*refused);
    Outcome out = registry_.message(huddle_id, user, content, make_id_(now), now);
    publish(out.effects);
    return out;
}

Outcome HuddleManager::invite(const std::string& huddle_id, const std::string& actor,
                              const std::vector<std::string>& user_ids) {
    const int64_t now = clock_.now_ms();
    std::lock_guard lock(mu_);
    if (auto refused = limited(actor, now)) return std::move(*refused);
    Outcome out = registry_.invite(huddle_id, actor, user_ids, now);
    publish(out.effects);
    return out;
}

void HuddleManager::expire() {
    const int64_t now = clock_.now_ms();
    std::lock_guard lock(mu_);
    publish(registry_.expire(now));
    limiter_.prune(now);
}

std::optional<Json> HuddleManager::describe(const std::string& huddle_id) const {
    std::lock_guard lock(mu_);
    const Huddle* h = registry_.find(huddle_id);
    if (!h) return std::nullopt;
    return registry_.describe(*h);
}

std::optional<std::string> HuddleManager::conversation_of(const std::string& huddle_id) const {
    std::lock_guard lock(mu_);
    const Huddle* h = registry_.find(huddle_id);
    if (!h) return std::nullopt;
    return h->conversation_id;
}

bool HuddleManager::is_participant(const std::string& huddle_id, const std::string& user) const {
    std::lock_guard lock(mu_);
    const Huddle* h = registry_.find(huddle_id);
    return h && h->participant(user);
}

size_t HuddleManager::size() const {
    std::lock_guard lock(mu_);
    return registry_.size();
}

}  // namespace quckrt::huddles
