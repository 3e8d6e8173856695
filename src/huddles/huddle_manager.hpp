// HuddleManager: the node's huddles. Wraps the pure HuddleRegistry with the one mutex every
// loop shares (participants of one huddle sit on different loops, and the storage writer
// admits deferred joins), a Clock, an id generator and the publisher that carries events
// out to `huddle:{id}`, `chat:{conversation}` and `user:{id}` topics.
//
// Ordering: events are handed to the publisher while the mutex is held, so every
// subscriber sees the transitions of a huddle in the order they happened. join() runs its
// `admitted` callback under the mutex too, before the join's own events are published:
// a deferred join completes (JoinResponder::complete posts to the joiner's loop) ahead of
// every event that follows its snapshot, so the joiner misses nothing and gets its own
// huddle:participant:joined after its join reply.
//
// Thread affinity: every method from any thread; the callbacks must not block.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <quckrt/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/rate_limiter.hpp"
#include "huddles/huddle_registry.hpp"

namespace quckrt::huddles {

// Publisher: fan an event out on a topic (encoded once), from any thread, in call order.
using Publisher =
    std::function<void(const std::string& topic, std::string_view event, const Json& payload)>;

class HuddleManager {
  public:
    // make_id(now_ms): a fresh huddle or message id; the default is a UUIDv7.
    HuddleManager(HuddleConfig config, const core::Clock& clock, Publisher publish,
                  std::function<std::string(int64_t)> make_id = {});

    // create(conversation, created_by): HuddleRegistry::create with a fresh id.
    Outcome create(const std::string& conversation_id, const std::string& created_by);
    // join: HuddleRegistry::join; on success `admitted(outcome)` runs under the lock before
    // the events go out (see the banner).
    Outcome join(const std::string& huddle_id, const std::string& user, uint64_t conn, bool audio,
                 bool video, const std::function<void(const Outcome&)>& admitted = {});
    // leave: the connection went on purpose (HuddleRegistry::leave). disconnect: its
    // transport closed, so the user's last connection going starts their grace
    // (HuddleRegistry::disconnect, at the clock's now).
    void leave(const std::string& huddle_id, const std::string& user, uint64_t conn);
    void disconnect(const std::string& huddle_id, const std::string& user, uint64_t conn);
    Outcome change(const std::string& huddle_id, const std::string& user, uint64_t conn,
                   MediaChange change);
    // message / invite by a user spend a token of that user's rate limit (refused with
    // reason::kRateLimited and retryAfterMs when none is left); the admin (actor "") is not
    // limited.
    Outcome message(const std::string& huddle_id, const std::string& user,
                    const std::string& content);
    Outcome invite(const std::string& huddle_id, const std::string& actor,
                   const std::vector<std::string>& user_ids);
    // expire(): remove reconnecting participants whose grace ran out and huddles nobody
    // joined in time (the server's tick, about once a second).
    void expire();

    // describe(huddle_id): the wire view; nullopt when unknown.
    std::optional<Json> describe(const std::string& huddle_id) const;
    // conversation_of(huddle_id): the huddle's conversation; nullopt when unknown.
    std::optional<std::string> conversation_of(const std::string& huddle_id) const;
    bool is_participant(const std::string& huddle_id, const std::string& user) const;
    size_t size() const;
    const HuddleConfig& config() const { return config_; }

    // next_connection(): a fresh connection key for one huddle channel.
    uint64_t next_connection() { return ++connections_; }

  private:
    void publish(const std::vector<Effect>& effects) const;
    // limited(user, now): the refusal when user has no token left (mu_ held).
    std::optional<Outcome> limited(const std::string& user, int64_t now_ms);

    const HuddleConfig config_;
    const core::Clock& clock_;
    Publisher publish_;
    std::function<std::string(int64_t)> make_id_;
    std::atomic<uint64_t> connections_{0};
    mutable std::mutex mu_;
    HuddleRegistry registry_;    // guarded by mu_
    core::RateLimiter limiter_;  // guarded by mu_
};

}  // namespace quckrt::huddles
