#include "net/node_presence.hpp"

#include <chrono>
#include <random>

#include <quckrt/auth.hpp>

namespace quckrt::net {
namespace {

int64_t unix_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

NodePresence::NodePresence(size_t announce_max_keys)
    : state_("local"),
      announce_max_keys_(announce_max_keys),
      incarnation_(std::random_device{}() ^
                                                 (uint64_t(std::random_device{}()) << 32)) {}

std::string NodePresence::new_ref() {
    // 16 bytes: incarnation + counter. Unique within the process by the counter and across
    // restarts by the incarnation; phoenix.js treats refs as opaque strings.
    std::string raw(16, '\0');
    const uint64_t n = ++next_ref_;
    for (int i = 0; i < 8; ++i) {
        raw[i] = static_cast<char>(incarnation_ >> (8 * i));
        raw[8 + i] = static_cast<char>(n >> (8 * (7 - i)));
    }
    return jwt::base64url_encode(raw);
}

Json NodePresence::track(uint64_t owner, const std::string& topic, const std::string& key,
                         Json meta, bool announce) {
    std::lock_guard lock(mu_);
    if (!state_.track(owner, topic, key, std::move(meta), new_ref())) return Json();
    if (announce) announce_topics_.insert(topic);
    last_seen_ms_.erase(key);
    return state_.list(topic);
}

bool NodePresence::update(uint64_t owner, Json meta) {
    std::lock_guard lock(mu_);
    return state_.update(owner, std::move(meta), new_ref());
}

void NodePresence::untrack(uint64_t owner) {
    std::lock_guard lock(mu_);
    const std::string key = state_.untrack(owner);
    if (!key.empty() && !state_.is_present(key)) last_seen_ms_[key] = unix_ms();
}

std::vector<NodePresence::Outgoing> NodePresence::take_diffs() {
    std::lock_guard lock(mu_);
    std::vector<Outgoing> out;
    for (auto& d : state_.take_diffs()) {
        // Big rooms get no per-user announcements (see presence_announce_max_keys).
        const bool announce = announce_topics_.contains(d.topic) &&
                              state_.key_count(d.topic) <= announce_max_keys_ &&
                              d.came_online.size() + d.went_offline.size() <= announce_max_keys_;
        out.push_back({std::move(d), announce});
    }
    // Forget announce flags of topics nobody is present in any more.
    for (auto it = announce_topics_.begin(); it != announce_topics_.end();) {
        if (state_.key_count(*it) == 0) it = announce_topics_.erase(it);
        else ++it;
    }
    return out;
}

Json NodePresence::list(std::string_view topic) const {
    std::lock_guard lock(mu_);
    return state_.list(topic);
}

UserPresence NodePresence::user(std::string_view user_id) const {
    std::lock_guard lock(mu_);
    UserPresence p;
    p.user_id = std::string(user_id);
    p.online = state_.is_present(user_id);
    p.metas = state_.metas_of(user_id);
    if (auto it = last_seen_ms_.find(std::string(user_id)); it != last_seen_ms_.end())
        p.last_seen_ms = it->second;
    return p;
}

bool NodePresence::is_online(std::string_view user_id) const {
    std::lock_guard lock(mu_);
    return state_.is_present(user_id);
}

std::vector<std::string> NodePresence::online_users(size_t offset, size_t limit,
                                                    size_t* total) const {
    std::vector<std::string> keys;
    {
        std::lock_guard lock(mu_);
        keys = state_.present_keys();
    }
    if (total) *total = keys.size();
    if (offset >= keys.size()) return {};
    const size_t end = std::min(keys.size(), offset + limit);
    return {keys.begin() + static_cast<long>(offset), keys.begin() + static_cast<long>(end)};
}

}  // namespace quckrt::net
