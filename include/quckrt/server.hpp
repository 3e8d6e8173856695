// quckrt/server.hpp
//
// Server: the realtime engine a host embeds, and what `quckrt-server` runs. It listens for
// WebSocket connections speaking Phoenix Channels V2 (`/socket/websocket?vsn=2.0.0`, so
// the official phoenix.js client works unmodified) and a few HTTP endpoints (/health...).
//
// The server runs `loops` event-loop threads. Each owns its connections and the topic
// subscriptions of those connections; a broadcast is encoded once and the same bytes are
// queued to every subscriber, corked into one write per connection per loop iteration.
//
// Thread affinity: create, channel() and start() from one thread; broadcast() and stop()
// from any thread. Channel callbacks run on loop threads (see channel.hpp).
//
// Example:
//   auto server = quckrt::Server::create({.port = 4000, .jwt_secret = "dev-secret"});
//   if (!server) { std::cerr << server.error().to_string(); return 1; }
//   (*server)->channel("room:*", [] { return std::make_unique<Room>(); });
//   if (auto st = (*server)->start(); !st.ok()) { ... }
//   (*server)->broadcast("room:lobby", "notice", quckrt::Json::object({{"text", "hi"}}));
//   (*server)->wait();   // until stop() from a signal handler thread
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <quckrt/auth.hpp>
#include <quckrt/channel.hpp>
#include <quckrt/chat.hpp>
#include <quckrt/json.hpp>
#include <quckrt/presence.hpp>
#include <quckrt/push_sink.hpp>
#include <quckrt/status.hpp>

namespace quckrt {

// CloseCode: WebSocket close codes the server sends, and what a client should do.
// phoenix.js 1.8.16 reconnects after any close it did not start; older clients do not after
// 1000, so the server never uses 1000 for a close it expects the client to come back from.
enum class CloseCode : uint16_t {
    going_away = 1001,          // socket id disconnect broadcast; reconnect
    protocol_error = 1002,      // malformed binary frame; fix the client
    invalid_payload = 1007,     // text frame that is not a Phoenix V2 JSON array
    policy_violation = 1008,    // e.g. disallowed message; fix the client
    message_too_big = 1009,     // frame over ServerOptions::max_frame_bytes
    internal_error = 1011,      // a bug; reconnect
    service_restart = 1012,     // graceful shutdown; reconnect (with backoff)
    try_again_later = 1013,     // slow consumer: output queue over its limit; reconnect
    token_expired = 4001,       // the connection's JWT expired; reconnect with a new token
    idle_timeout = 4002,        // nothing received for ServerOptions::idle_timeout
};

struct ServerOptions {
    // Address to listen on. port 0 picks a free port; read it back with Server::port().
    std::string host = "127.0.0.1";
    int port = 4000;
    // Event-loop threads; 0 = one per hardware thread.
    int loops = 0;
    // HS256 secret for the default JWT authenticator. Required unless `authenticator` is set.
    std::string jwt_secret{};
    // A host-supplied authenticator replaces the JWT one.
    std::shared_ptr<Authenticator> authenticator{};
    // Mount point of the Phoenix socket; clients connect to `<socket_path>/websocket`.
    std::string socket_path = "/socket";
    // Allowed Origin header values; empty = any origin (and requests without Origin).
    std::vector<std::string> allowed_origins{};

    // Limits. Each protects the node from one client; all refusals are explicit.
    // Connections per node; the next upgrade is refused with 503 SERVER_FULL.
    int max_connections = 10000;
    // Channels one connection may have joined (Phoenix's default is 100).
    int max_channels_per_socket = 100;
    // Largest incoming message (all fragments together); larger closes with 1009.
    size_t max_frame_bytes = 1 << 20;
    // Output queued for one connection; a consumer that stays over it is closed with 1013
    // rather than growing memory without bound.
    size_t max_queued_bytes = 4 << 20;
    // Receive buffer per connection. Small keeps idle connections cheap; larger messages
    // arrive in fragments and are reassembled (bounded by max_frame_bytes).
    size_t rx_buffer_bytes = 1024;
    // A connection that sends nothing (not even a heartbeat) for this long is closed.
    // phoenix.js heartbeats every 30 s by default, so keep this above that.
    std::chrono::milliseconds idle_timeout{60000};
    // A deferred join not completed within this time is refused ("join timeout").
    std::chrono::milliseconds join_timeout{10000};
    // How long stop() waits for clients to take their close frames before it cuts them.
    std::chrono::milliseconds drain_timeout{5000};

    // Presence diffs of one topic are merged over this window and sent as one presence_diff
    // (Phoenix.Tracker's broadcast period). Shorter: fresher lists; longer: fewer frames in
    // a join storm.
    std::chrono::milliseconds presence_broadcast_ms{50};
    // user:online / user:offline go to topics with at most this many present users. Each
    // such event reaches every member, so in a large room a join storm would cost
    // O(members²) frames; there presence_diff (merged per window) carries the same news.
    size_t presence_announce_max_keys = 256;

    // Bearer token for the HTTP API (/api/...). Empty: the API accepts only user JWTs
    // (read-only endpoints) — set it to manage the server over HTTP.
    std::string admin_token{};

    // Persistence for chat: "" (none: `chat:*` relays messages, anyone authenticated may
    // join) or "sqlite:PATH" ("sqlite::memory:" for an ephemeral database). With storage,
    // `chat:{id}` requires membership (ChatAdmin), messages are stored with a sequence and
    // are idempotent by clientMsgId, and `user:{id}` delivers store-and-forward entries.
    std::string storage{};
    // How long a store-and-forward entry waits for its recipient before it expires.
    std::chrono::milliseconds queue_ttl{std::chrono::hours(24 * 7)};
    // Resume: a client that rejoins `chat:{id}` with params {last_seq: N} gets every event
    // after N replayed in order before any live event, if the event log can serve it within
    // this window (count of events and age); otherwise the join says recovered:false with
    // the available range (docs/chat.md "Resume"). A replay goes out in pages of
    // replay_page events, the next read only once the client has taken most of the last.
    int64_t resume_max_events = 10000;
    std::chrono::milliseconds resume_max_age{std::chrono::hours(24 * 7)};
    size_t replay_page = 200;
    // message:send per user (token bucket): sustained rate and burst. 0 disables.
    double send_rate_per_second = 10;
    double send_burst = 30;

    // Built-in channels. `chat:*` (and `user:*` with storage) are on by default.
    bool builtin_chat = true;

    // Built-in calls: `webrtc:{user_id}` carries 1:1 call signaling (docs/calls.md).
    bool builtin_calls = true;
    // A ringing call nobody answers becomes `call:missed` after this.
    std::chrono::milliseconds call_ring_timeout{60000};
    // A party whose last webrtc channel ends has this long to rejoin before the call ends
    // (`call:ended` reason "disconnected"): enough for a network switch, short enough that
    // the other side is not left talking to nobody.
    std::chrono::milliseconds call_grace{10000};
    // ICE servers handed to clients (join of webrtc:{id}, call:incoming), each a
    // comma-separated URL list; "" = none. The credential is never logged.
    std::string stun_server_url{};
    std::string turn_server_url{};
    std::string turn_username{};
    std::string turn_credential{};
    // Told about what a user with no device connected should hear (push_sink.hpp).
    std::shared_ptr<PushSink> push_sink{};

    // Built-in huddles: `huddle:lobby` (huddle:create) and `huddle:{huddle_id}`, one per
    // conversation (docs/huddles.md). Without storage, also a bare `user:{id}` inbox so
    // invites reach their invitees.
    bool builtin_huddles = true;
    // Users in one huddle; the next join is refused with {"reason":"huddle full","max":N}.
    // Every event of a huddle reaches every participant, so its cost grows with this.
    int huddle_max_participants = 50;
    // A huddle nobody joins within this time after its creation is removed (a POST
    // /api/huddles or huddle:create without a join must not hold the conversation's slot).
    std::chrono::milliseconds huddle_empty_timeout{60000};
    // A participant whose last huddle channel ends because the connection closed (not a
    // leave) stays in the huddle, `connected: false`, this long: their place, media state
    // and raised hand are kept and the huddle lives on, so a phoenix.js reconnect rejoins
    // the same huddle. Then they leave (reason "disconnected"). 0 = leave at once.
    std::chrono::milliseconds huddle_grace{10000};

    // Failures that happen off any caller's path (a failed write, a broken invariant) are
    // reported here as well as logged. Called from loop threads; must not block.
    std::function<void(const Status&)> on_error{};
};

class Server {
public:
    // create(options): validate options and build a server that is not yet listening.
    static Result<std::unique_ptr<Server>> create(ServerOptions options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // channel(pattern, factory): route joins of topics matching pattern to new channels
    // from factory. A pattern is an exact topic ("lobby") or a prefix ending in '*'
    // ("room:*"). The first matching registration wins. Call before start().
    void channel(std::string pattern, ChannelFactory factory);

    // start(): bind, spawn the loops and return once every loop is listening. Fails with
    // unavailable when the address cannot be bound.
    Status start();

    // port(): the bound port (useful with port 0). 0 before start().
    int port() const;

    // broadcast(topic, event, payload): every subscriber on every loop of this node.
    // payload must be an object. Any thread.
    void broadcast(std::string_view topic, std::string_view event, const Json& payload);

    // chat(): conversation and membership management; null when the server has no
    // storage. Valid after start().
    ChatAdmin* chat();

    // presence(): this node's presence (who is online where). Any thread.
    const Presence& presence() const;

    // connection_count(): WebSocket connections currently open on this node. Any thread.
    int connection_count() const;

    // stop(): stop accepting, send every connection a close frame with code 1012
    // (service_restart), give queued output up to drain_timeout to leave, then end the
    // loops. Idempotent; any thread. wait() returns afterwards.
    void stop();

    // wait(): block until the server has stopped.
    void wait();

    class Impl;
    // Construction goes through create(); the key keeps this constructor internal.
    class Key {
        Key() = default;
        friend class Server;
    };
    Server(Key, std::unique_ptr<Impl> impl);

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace quckrt
