// TypingTracker: who is typing where, with expiry. A client that sends typing:start and then
// vanishes (closed tab, lost network) must not show as typing forever: each start is good
// for `ttl_ms`, and expire() returns the (conversation, user) pairs whose time ran out so
// the caller broadcasts `typing {isTyping:false}` for them. Pure state, explicit time; the
// owner serializes calls.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace quckrt::core {

class TypingTracker {
public:
    using Key = std::pair<std::string, std::string>;  // (conversation, user)

    explicit TypingTracker(int64_t ttl_ms) : ttl_ms_(ttl_ms) {}

    // start: (re)arm the expiry. Returns true when the user was not typing before.
    bool start(const Key& key, int64_t now_ms) {
        auto [it, inserted] = until_.insert_or_assign(key, now_ms + ttl_ms_);
        (void)it;
        return inserted;
    }
    // stop: returns true when the user was typing.
    bool stop(const Key& key) { return until_.erase(key) > 0; }
    // expire: remove and return every entry whose time is up.
    std::vector<Key> expire(int64_t now_ms) {
        std::vector<Key> out;
        for (auto it = until_.begin(); it != until_.end();) {
            if (it->second <= now_ms) {
                out.push_back(it->first);
                it = until_.erase(it);
            } else {
                ++it;
            }
        }
        return out;
    }
    size_t size() const { return until_.size(); }

private:
    int64_t ttl_ms_;
    std::map<Key, int64_t> until_;
};

}  // namespace quckrt::core
