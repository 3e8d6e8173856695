// Server::Impl: what the public Server wraps. Owns the options, the router, the
// authenticator and the loops; routes cross-loop broadcasts.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include <quckrt/server.hpp>

#include "net/node_presence.hpp"
#include "net/router.hpp"
#include "wire/frame.hpp"

namespace quckrt::core {
struct Subscription;
}

namespace quckrt::net {
class Loop;
}
namespace quckrt::chat {
class ChatService;
}
namespace quckrt::calls {
class CallManager;
}
namespace quckrt::huddles {
class HuddleManager;
}

namespace quckrt {

class Server::Impl {
public:
    explicit Impl(ServerOptions options, std::shared_ptr<Authenticator> auth);
    ~Impl();

    Status start();
    void stop();
    void wait();

    // publish: fan frame out to topic on every loop. `origin` is the loop the call comes
    // from (nullptr off-loop); `except` is skipped, and only exists on the origin loop.
    void publish(net::Loop* origin, std::string_view topic, const wire::FramePtr& frame,
                 const core::Subscription* except);

    const ServerOptions& options() const { return options_; }
    const Authenticator& authenticator() const { return *auth_; }
    net::Router& router() { return router_; }
    const net::Router& router() const { return router_; }
    int port() const { return port_.load(); }
    net::NodePresence& presence() { return presence_; }
    chat::ChatService* chat() { return chat_.get(); }
    // calls(): the node's calls; null when builtin_calls is off.
    calls::CallManager* calls() { return calls_.get(); }
    // huddles(): the node's huddles; null when builtin_huddles is off.
    huddles::HuddleManager* huddles() { return huddles_.get(); }
    // tick(now): periodic work, from loop 0's sweep (queue TTL purge).
    void tick(int64_t now_ms);
    // flush_presence(origin): broadcast the presence diffs of the last window.
    void flush_presence(net::Loop* origin);

    std::atomic<int>& connections() { return connections_; }
    bool draining() const { return draining_.load(); }

    // report(status): log and hand to options.on_error.
    void report(const Status& status) const;

    // A loop calls this when it has exited its service loop.
    void loop_exited();

private:
    ServerOptions options_;
    std::shared_ptr<Authenticator> auth_;
    net::Router router_;
    net::NodePresence presence_;
    std::unique_ptr<chat::ChatService> chat_;
    std::unique_ptr<calls::CallManager> calls_;
    std::unique_ptr<huddles::HuddleManager> huddles_;  // before loops_: outlives every channel
    int64_t last_purge_ms_ = 0;
    std::vector<std::unique_ptr<net::Loop>> loops_;
    std::atomic<int> port_{0};
    std::atomic<int> connections_{0};
    std::atomic<bool> draining_{false};
    std::atomic<bool> started_{false};

    std::mutex mu_;
    std::condition_variable cv_;
    int loops_running_ = 0;
    bool joined_ = false;
};

}  // namespace quckrt
