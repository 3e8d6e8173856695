// Hub: the topics of one loop and who subscribes to each. A broadcast is handed to the Hub
// as one already-encoded Frame and queued, by reference, to every subscriber of the topic.
//
// One Hub per loop thread; it is never shared, so it takes no lock. Cross-loop and
// cross-node delivery happen above it (the server posts the same Frame to each loop's Hub).
// Subscribe and unsubscribe are O(1): each Subscription remembers its slot.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "wire/frame.hpp"

namespace quckrt::core {

// FrameSink: where a subscriber's frames go (a connection's output queue).
class FrameSink {
public:
    virtual ~FrameSink() = default;
    virtual void deliver(const wire::FramePtr& frame) = 0;
};

// Subscription: one channel's membership of one topic. Owned by the channel; the Hub keeps
// a pointer while subscribed. Must be unsubscribed before it is destroyed.
struct Subscription {
    FrameSink* sink = nullptr;
    size_t slot = 0;         // index in the topic's subscriber list (maintained by the Hub)
    bool subscribed = false;
};

class Hub {
public:
    Hub() = default;
    Hub(const Hub&) = delete;
    Hub& operator=(const Hub&) = delete;

    void subscribe(std::string_view topic, Subscription& sub);
    void unsubscribe(std::string_view topic, Subscription& sub);

    // fanout: queue frame to every subscriber of topic except `except` (may be null).
    // Returns the number of subscriptions the frame was queued to.
    size_t fanout(std::string_view topic, const wire::FramePtr& frame,
                  const Subscription* except = nullptr);

    size_t subscriber_count(std::string_view topic) const;
    size_t topic_count() const { return topics_.size(); }

private:
    struct StringHash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    using Subscribers = std::vector<Subscription*>;
    std::unordered_map<std::string, Subscribers, StringHash, std::equal_to<>> topics_;
};

}  // namespace quckrt::core
