#include "core/hub.hpp"

#include <cassert>

namespace quckrt::core {

void Hub::subscribe(std::string_view topic, Subscription& sub) {
    assert(!sub.subscribed);
    auto it = topics_.find(topic);
    if (it == topics_.end()) it = topics_.emplace(std::string(topic), Subscribers{}).first;
    sub.slot = it->second.size();
    sub.subscribed = true;
    it->second.push_back(&sub);
}

void Hub::unsubscribe(std::string_view topic, Subscription& sub) {
    if (!sub.subscribed) return;
    auto it = topics_.find(topic);
    if (it == topics_.end()) return;
    Subscribers& subs = it->second;
    // Swap-remove keeps removal O(1); delivery order across subscribers is not a contract.
    Subscription* last = subs.back();
    subs[sub.slot] = last;
    last->slot = sub.slot;
    subs.pop_back();
    sub.subscribed = false;
    if (subs.empty()) topics_.erase(it);
}

size_t Hub::fanout(std::string_view topic, const wire::FramePtr& frame,
                   const Subscription* except) {
    auto it = topics_.find(topic);
    if (it == topics_.end()) return 0;
    size_t n = 0;
    // Deliver may not change subscriptions (it only queues), so iterating is safe.
    for (Subscription* sub : it->second) {
        if (sub == except) continue;
        sub->sink->deliver(frame);
        ++n;
    }
    return n;
}

size_t Hub::subscriber_count(std::string_view topic) const {
    auto it = topics_.find(topic);
    return it == topics_.end() ? 0 : it->second.size();
}

}  // namespace quckrt::core
