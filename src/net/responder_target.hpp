// Responder::Target: what a Responder needs to find its way back to one push of one
// channel instance, from any thread, after the handler has returned.
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

struct Responder::Target {
    std::weak_ptr<net::PostQueue> queue;
    net::Loop* loop = nullptr;  // valid while queue accepts posts
    uint64_t connection_id = 0;
    std::string topic;
    std::string join_ref;
    std::string ref;
    std::atomic<bool> used{false};
};

class ResponderAccess {
public:
    static Responder make(std::shared_ptr<Responder::Target> target) {
        Responder r;
        r.target_ = std::move(target);
        return r;
    }
};

}  // namespace quckrt
