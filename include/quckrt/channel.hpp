// quckrt/channel.hpp
//
// Channel: the host's handler for one joined topic on one connection, modelled on
// Phoenix.Channel. A host registers a ChannelFactory for a topic pattern
// (Server::channel("room:*", ...)); each successful `phx_join` creates one Channel object,
// which lives until the client leaves, joins the topic again, disconnects, or the handler
// stops it. Callbacks are:
//   join       authorize and answer the join (JoinResult::ok / JoinResult::error)
//   after_join push the first messages of a fresh join (state, catch-up)
//   handle_in  answer a client push (Reply::ok / error / status / none / stop)
//   terminate  clean up; the reason says why the channel ended
//
// Thread affinity: every callback of one Channel, and every Socket call, runs on the loop
// thread that owns its connection, one at a time and in the order the frames arrived. A
// callback must not block. For slow work keep a Responder (Socket::responder()) and reply
// later from any thread.
//
// Example:
//   struct Room : quckrt::Channel {
//       quckrt::JoinResult join(const quckrt::Json&, quckrt::Socket& s) override {
//           if (s.topic() == "room:secret") return quckrt::JoinResult::error("unauthorized");
//           return quckrt::JoinResult::ok();
//       }
//       quckrt::Reply handle_in(const quckrt::InMessage& m, quckrt::Socket& s) override {
//           if (m.event != "shout") return Channel::handle_in(m, s);
//           s.broadcast("shout", m.payload);   // every subscriber, the sender included
//           return quckrt::Reply::ok();
//       }
//   };
//   server->channel("room:*", [] { return std::make_unique<Room>(); });
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <quckrt/auth.hpp>
#include <quckrt/json.hpp>

namespace quckrt {

// InMessage: one client push to a joined channel.
struct InMessage {
    std::string_view event;
    const Json& payload;           // the JSON payload; null when the frame was binary
    std::string_view binary = {};  // the raw bytes of a binary (kind 0) push
    bool is_binary = false;
};

// JoinResult: the answer to a join. ok(response) subscribes the connection and replies
// {"status":"ok","response":response}; error(response) replies with status "error" and
// leaves no state behind (phoenix.js retries on its own schedule).
class JoinResult {
public:
    static JoinResult ok(Json response = Json::object()) { return {true, std::move(response)}; }
    static JoinResult error(Json response) { return {false, std::move(response)}; }
    // error("reason") is error({"reason": "reason"}).
    static JoinResult error(std::string_view reason) {
        return {false, Json::object({{"reason", reason}})};
    }
    static JoinResult error(const char* reason) { return error(std::string_view(reason)); }
    // deferred(): the answer comes later through the JoinResponder taken from
    // Socket::join_responder() (e.g. after a storage lookup). Until it does, later frames of
    // this connection wait, so the client's order of operations is kept (Phoenix §4.2).
    static JoinResult deferred() {
        JoinResult r{false, Json::object()};
        r.deferred_ = true;
        return r;
    }

    bool accepted() const { return accepted_; }
    bool is_deferred() const { return deferred_; }
    const Json& response() const { return response_; }

private:
    JoinResult(bool accepted, Json response) : accepted_(accepted), response_(std::move(response)) {}
    bool accepted_;
    Json response_;
    bool deferred_ = false;
};

// JoinResponder: completes a deferred join, from any thread. Copyable; only the first
// completion counts. A join left unanswered for ServerOptions::join_timeout is refused
// with {"reason":"join timeout"}.
class JoinResponder {
public:
    JoinResponder() = default;
    // complete(result): accept or refuse (result must not be deferred). False when empty,
    // already completed, or the server is gone.
    bool complete(JoinResult result) const;

    struct Target;  // internal

private:
    friend class ResponderAccess;
    std::shared_ptr<Target> target_;
};

class Socket;

// ChannelRef: a handle on one joined channel instance that any thread may keep, to run
// code on the channel's loop later (Phoenix's send(self(), msg) + handle_info). Copyable.
class ChannelRef {
public:
    ChannelRef() = default;
    // post(fn): run fn(socket) on the channel's loop if that channel instance still exists
    // (same join) when the task runs; otherwise fn is dropped. False when empty or the
    // server is gone.
    bool post(std::function<void(Socket&)> fn) const;

    struct Target;  // internal

private:
    friend class ResponderAccess;
    std::shared_ptr<Target> target_;
};

// Reply: the answer to a client push.
class Reply {
public:
    enum class Kind { reply, none, stop };

    // ok / error / status: a phx_reply with that status and response object.
    static Reply ok(Json response = Json::object()) { return status("ok", std::move(response)); }
    static Reply error(Json response) { return status("error", std::move(response)); }
    static Reply error(std::string_view reason) {
        return status("error", Json::object({{"reason", reason}}));
    }
    static Reply error(const char* reason) { return error(std::string_view(reason)); }
    static Reply status(std::string status, Json response) {
        return Reply(Kind::reply, std::move(status), std::move(response));
    }
    // none(): no reply now. The client push times out unless a Responder answers later.
    static Reply none() { return Reply(Kind::none, {}, {}); }
    // stop(): end this channel normally after replying ok; the client gets phx_close and
    // does not rejoin.
    static Reply stop() { return Reply(Kind::stop, "ok", Json::object()); }

    Kind kind() const { return kind_; }
    const std::string& status() const { return status_; }
    const Json& response() const { return response_; }

private:
    Reply(Kind kind, std::string status, Json response)
        : kind_(kind), status_(std::move(status)), response_(std::move(response)) {}
    Kind kind_;
    std::string status_;
    Json response_;
};

// TerminateReason: why a channel ended.
enum class TerminateReason {
    left,            // the client sent phx_leave
    duplicate_join,  // the client joined the same topic again on this connection
    closed,          // the connection closed (client, network, idle or token expiry)
    stopped,         // the handler returned Reply::stop()
    shutdown,        // the server is shutting down
};

// Responder: a handle for answering one client push later, from any thread. Copyable.
// Only the first reply is delivered; later ones, and replies for a channel that has ended
// or been replaced by a new join, are dropped.
class Responder {
public:
    Responder() = default;
    // reply(r): send r (a Reply of Kind::reply) to the client. Returns false when the
    // responder is empty, already used, or r is not a reply.
    bool reply(Reply r) const;

    struct Target;  // internal

private:
    friend class ResponderAccess;
    std::shared_ptr<Target> target_;
};

// ConnectInfo: what the client said about itself when it connected.
struct ConnectInfo {
    std::string user_agent{};  // User-Agent header
    std::string device{};      // `device` connect param (e.g. "web", "ios"), may be empty
    std::string peer{};        // peer IP address
};

// Socket: the channel's handle on its connection and topic. Loop thread only; valid during
// callbacks of the Channel it was passed to.
class Socket {
public:
    virtual ~Socket() = default;
    // topic(): the joined topic, e.g. "chat:42".
    virtual const std::string& topic() const = 0;
    // user(): the authenticated identity of the connection.
    virtual const Claims& user() const = 0;
    // connect_info(): user agent, device and peer of the connection.
    virtual const ConnectInfo& connect_info() const = 0;
    // push(event, payload): send to this channel's client only (payload must be an object).
    virtual void push(std::string_view event, const Json& payload) = 0;
    // broadcast(event, payload): every subscriber of this topic, this one included. Encoded
    // once and fanned out.
    virtual void broadcast(std::string_view event, const Json& payload) = 0;
    // broadcast_from(event, payload): every subscriber of this topic except this channel.
    // Other connections of the same user still receive it.
    virtual void broadcast_from(std::string_view event, const Json& payload) = 0;
    // broadcast_to(topic, event, payload): every subscriber of another topic.
    virtual void broadcast_to(std::string_view topic, std::string_view event,
                              const Json& payload) = 0;
    // track_presence(meta, announce_online): track this connection's user (key = user id)
    // in this topic with meta (an object; phx_ref is added), and push `presence_state` to
    // this client. Every subscriber then gets the join in the next `presence_diff`. With
    // announce_online, the topic also gets `user:online` / `user:offline` {userId} when the
    // user's first entry appears / last entry goes (a second tab does not flap it). One
    // entry per channel: tracking again does nothing. The entry leaves with the channel.
    virtual void track_presence(const Json& meta, bool announce_online = false) = 0;
    // update_presence(meta): replace the meta (a leave of the old phx_ref and a join of a
    // new one with phx_ref_prev, in one diff). Does nothing when not tracked.
    virtual void update_presence(const Json& meta) = 0;
    // untrack_presence(): remove the entry now (it also goes when the channel ends).
    virtual void untrack_presence() = 0;
    // join_responder(): during join(), the handle to complete a JoinResult::deferred().
    virtual JoinResponder join_responder() = 0;
    // queued_bytes(): output waiting to be written to this connection (all its channels).
    virtual size_t queued_bytes() const = 0;
    // when_queued_below(bytes, fn): run fn on this loop once the connection's queued output
    // is at or below `bytes` — at once if it already is. Flow control for producers that
    // could outrun the client (a long backlog). Dropped if the channel ends first.
    virtual void when_queued_below(size_t bytes, std::function<void(Socket&)> fn) = 0;
    // hold_broadcasts(): from now on, frames that broadcasts deliver to this channel wait
    // (in arrival order) instead of going out, while push() still goes out at once. For a
    // catch-up that must reach the client before any live event of the topic (resume):
    // hold in after_join, push the catch-up, then release. Held frames count against
    // ServerOptions::max_queued_bytes: a hold that outgrows it closes the connection with
    // 1013 like any slow consumer. Holding again while held does nothing.
    virtual void hold_broadcasts() = 0;
    // release_broadcasts(skip): send the held frames in order, leaving out those for which
    // skip(event, payload) is true (e.g. events the catch-up already carried), then deliver
    // live again. skip may be empty (send all). Does nothing when not holding.
    using HeldFilter = std::function<bool(std::string_view event, const Json& payload)>;
    virtual void release_broadcasts(const HeldFilter& skip = {}) = 0;
    // self(): a handle to post work back to this channel from another thread.
    virtual ChannelRef self() = 0;
    // responder(): during handle_in, a handle to answer the current push later (pair it
    // with Reply::none()). Outside handle_in it is empty.
    virtual Responder responder() = 0;
};

// Channel: see the banner.
class Channel {
public:
    virtual ~Channel() = default;
    virtual JoinResult join(const Json& params, Socket& socket) = 0;
    virtual void after_join(Socket&) {}
    // handle_in: the default answers error {"reason":"unknown event"}.
    virtual Reply handle_in(const InMessage& message, Socket& socket);
    virtual void terminate(TerminateReason, Socket&) {}
};

using ChannelFactory = std::function<std::unique_ptr<Channel>()>;

}  // namespace quckrt
