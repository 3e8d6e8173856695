// The targets behind Responder, JoinResponder and ChannelRef: what a handle needs to find
// its way back, from any thread, to one channel instance on one loop. The weak PostQueue
// makes a handle that outlives the server fail cleanly.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include <quckrt/channel.hpp>

#include "net/post_queue.hpp"

namespace quckrt::net {
class Loop;
}

namespace quckrt {

// Where a channel instance lives: loop, connection, topic and join.
struct InstanceAddress {
    std::weak_ptr<net::PostQueue> queue;
    net::Loop* loop = nullptr;  // valid while queue accepts posts
    uint64_t connection_id = 0;
    std::string topic;
    std::string join_ref;
};

struct Responder::Target {
    InstanceAddress at;
    std::string ref;
    std::atomic<bool> used{false};
};

struct JoinResponder::Target {
    InstanceAddress at;
    std::atomic<bool> used{false};
};

struct ChannelRef::Target {
    InstanceAddress at;
};

class ResponderAccess {
public:
    static Responder make(std::shared_ptr<Responder::Target> target) {
        Responder r;
        r.target_ = std::move(target);
        return r;
    }
    static JoinResponder make(std::shared_ptr<JoinResponder::Target> target) {
        JoinResponder r;
        r.target_ = std::move(target);
        return r;
    }
    static ChannelRef make(std::shared_ptr<ChannelRef::Target> target) {
        ChannelRef r;
        r.target_ = std::move(target);
        return r;
    }
};

}  // namespace quckrt
