// quckrt/presence.hpp
//
// Presence: who is online, per topic and per user, compatible with phoenix.js `Presence`.
//
// A channel tracks its connection in its topic with Socket::track_presence(meta) — usually in
// after_join; the built-in `chat:*` channel does it for you. The joining client then gets a
// `presence_state` push, and every change reaches every subscriber as one `presence_diff`
// `{joins, leaves}` per topic per broadcast window (ServerOptions::presence_broadcast_ms):
// joins and leaves of the window are merged, which is what keeps a join storm from costing
// O(members²) frames. A user (the key) may be present several times at once, one meta per
// device or tab, each with its own unique `phx_ref`. An update is a leave of the old ref and
// a join of a new one carrying `phx_ref_prev`, as Phoenix does.
//
// Entries end with their channel (leave, disconnect, idle timeout): nothing outlives the
// connection that tracked it, and a restarted node starts empty. phx_refs embed a random
// per-process incarnation, so a ref is never reused across restarts.
//
// Thread affinity: Presence (from Server::presence()) may be read from any thread.
//
// Example:
//   const quckrt::Presence& p = server->presence();
//   if (p.is_online("alice")) { ... }
//   quckrt::Json who = p.list("chat:42");   // {"alice": {"metas": [{...}, {...}]}}
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <quckrt/json.hpp>

namespace quckrt {

// UserPresence: one user across every topic of this node.
struct UserPresence {
    std::string user_id;
    bool online = false;
    // [{"topic": ..., "phx_ref": ..., ...meta}], one per tracked channel.
    Json metas = Json::array();
    // Unix ms when the user's last entry went away; 0 if never seen (or online now).
    int64_t last_seen_ms = 0;
};

class Presence {
public:
    virtual ~Presence() = default;
    // list(topic): {key: {metas: [...]}}, exactly what `presence_state` carries.
    virtual Json list(std::string_view topic) const = 0;
    // user(user_id): the user's entries and last-seen time.
    virtual UserPresence user(std::string_view user_id) const = 0;
    // is_online(user_id): O(1).
    virtual bool is_online(std::string_view user_id) const = 0;
    // online_users(offset, limit): user ids with at least one entry, sorted, one page;
    // `total` receives the number of online users.
    virtual std::vector<std::string> online_users(size_t offset, size_t limit,
                                                  size_t* total) const = 0;
};

}  // namespace quckrt
