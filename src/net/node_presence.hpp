// NodePresence: this node's presence replica behind the public Presence interface. Loops
// track and untrack from their threads; one mutex guards the pure PresenceState (joins and
// leaves are not the message hot path). Loop 0 takes the diffs every broadcast window and
// fans them out as presence_diff frames.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <quckrt/presence.hpp>

#include "core/presence_state.hpp"

namespace quckrt::net {

class NodePresence final : public Presence {
public:
    explicit NodePresence(size_t announce_max_keys);

    Json list(std::string_view topic) const override;
    UserPresence user(std::string_view user_id) const override;
    bool is_online(std::string_view user_id) const override;
    std::vector<std::string> online_users(size_t offset, size_t limit,
                                          size_t* total) const override;

    // new_owner(): a node-unique id for a channel instance.
    uint64_t new_owner() { return next_owner_.fetch_add(1) + 1; }
    // track: returns the topic's list right after tracking (for presence_state), or a null
    // Json when the owner was already tracked.
    Json track(uint64_t owner, const std::string& topic, const std::string& key, Json meta,
               bool announce);
    bool update(uint64_t owner, Json meta);
    void untrack(uint64_t owner);

    // take_diffs(): what changed since the last call, per topic; `announce` topics also
    // list who came online / went offline.
    struct Outgoing {
        core::PresenceDiff diff;
        bool announce = false;
    };
    std::vector<Outgoing> take_diffs();

private:
    std::string new_ref();

    mutable std::mutex mu_;
    core::PresenceState state_;
    std::unordered_set<std::string> announce_topics_;
    std::unordered_map<std::string, int64_t> last_seen_ms_;
    std::atomic<uint64_t> next_owner_{0};
    size_t announce_max_keys_;
    uint64_t incarnation_;  // random per process: refs are never reused across restarts
    uint64_t next_ref_ = 0;
};

}  // namespace quckrt::net
