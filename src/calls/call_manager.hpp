// CallManager: the node's calls. Wraps the pure CallRegistry with the one mutex every loop
// shares (a caller and a callee may sit on different loops), a Clock, and the sinks that
// carry effects out: events to `webrtc:{user}` topics, call records to storage, push
// notifications for users with no channel.
//
// Ordering: events and record writes are handed to their sinks while the mutex is held,
// so two transitions of one call reach every device, and the database, in the order they
// happened. Push notifications go out after the mutex is released (host code).
//
// Thread affinity: every method from any thread. Loop threads call it from the
// `webrtc:{id}` channel and the HTTP API; loop 0's tick calls expire().
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <quckrt/json.hpp>
#include <quckrt/push_sink.hpp>

#include "calls/call_state.hpp"
#include "core/clock.hpp"

namespace quckrt::calls {

struct CallSinks {
    // send(user_id, event, payload): to every device of user_id. Must keep call order.
    std::function<void(const std::string& user_id, std::string_view event, const Json& payload)>
        send;
    // store(write): persist a call record; empty = no call history. Called in transition
    // order; must not block (queue it).
    std::function<void(const RecordWrite& write)> store;
    std::shared_ptr<PushSink> push;
};

// Answer: what the acting client (or HTTP caller) gets back.
struct Answer {
    std::string refused;  // empty = ok
    Json reply;           // ok response, or error response {"reason", ...}
    bool ok() const { return refused.empty(); }
};

class CallManager {
public:
    // make_id(now_ms): a fresh call id; the default is a UUIDv7.
    CallManager(CallConfig config, const core::Clock& clock, CallSinks sinks,
                std::function<std::string(int64_t)> make_id = {});

    // handle(user, event, payload): a client event pushed on webrtc:{user} (user is the
    // authenticated sender). nullopt when the event is not a call event.
    std::optional<Answer> handle(const std::string& user, std::string_view event,
                                 const Json& payload);
    // invite(call_id, target, actor): POST /api/calls/:id/invite (actor empty = admin).
    Answer invite(const std::string& call_id, const std::string& target, const std::string& actor);

    // connected / disconnected: a webrtc:{user} channel joined / ended.
    void connected(const std::string& user);
    void disconnected(const std::string& user);
    // expire(): ring timeouts and grace periods that ran out by the clock's now.
    void expire();

    // describe(call_id): the participants view of a live call; nullopt when unknown.
    std::optional<Json> describe(const std::string& call_id) const;
    // current_call(user): describe() of user's live call, or null.
    Json current_call(const std::string& user) const;
    // ringing_for(user): the call:incoming payload when user is the callee of a ringing
    // call (a device that joins while it rings is told).
    std::optional<Json> ringing_for(const std::string& user) const;
    bool is_party(const std::string& call_id, const std::string& user) const;
    const Json& ice_servers() const { return registry_.config().ice_servers; }
    size_t live_calls() const;

private:
    // carry_out(effects, lock): sends and stores under the lock, then unlock and notify.
    void carry_out(Effects effects, std::unique_lock<std::mutex>& lock);
    Answer finish(Outcome outcome, std::unique_lock<std::mutex>& lock);

    const core::Clock& clock_;
    CallSinks sinks_;
    std::function<std::string(int64_t)> make_id_;
    mutable std::mutex mu_;
    CallRegistry registry_;  // guarded by mu_
};

// ice_servers_json(stun, turn, username, credential): the RTCIceServer list for the
// configured URLs (each a comma-separated list; empty = left out):
// [{"urls":[stun...]}, {"urls":[turn...],"username":u,"credential":c}].
Json ice_servers_json(std::string_view stun_urls, std::string_view turn_urls,
                      std::string_view username, std::string_view credential);

}  // namespace quckrt::calls
