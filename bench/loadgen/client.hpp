// ClientLoop: many Phoenix V2 WebSocket client connections on one epoll instance.
//
// The loop connects (non-blocking), performs the HTTP upgrade and checks the 101 and its
// Sec-WebSocket-Accept, joins each connection's topic, answers pings, sends heartbeats and
// hands everything else to a ClientHandler. Writes are corked: frames queued on a
// connection during one poll() leave in one send() at the end of it.
//
// Thread affinity: one thread owns a ClientLoop and every Connection in it.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "clock.hpp"
#include "phoenix.hpp"
#include "ws_codec.hpp"

namespace quckrt::bench {

enum class ConnState : uint8_t {
    idle,         // not started
    connecting,   // TCP connect in progress
    handshaking,  // upgrade request sent, waiting for the 101
    joining,      // phx_join sent, waiting for its reply
    joined,       // ready
    left,         // phx_leave sent (leave_channel); the socket stays open and heartbeats
    closing,      // close frame sent, waiting for the server's
    closed,       // closed by us, cleanly
    failed,       // anything else; the reason is in ClientLoop::failure_reasons()
};

enum class Role : uint8_t { subscriber, publisher };

struct Connection {
    int fd = -1;
    uint32_t index = 0;  // position in the loop; also the user id "u<index>"
    uint32_t topic = 0;  // scenario-defined topic number
    ConnState state = ConnState::idle;
    Role role = Role::subscriber;
    bool dirty = false;     // on the loop's flush list
    bool want_out = false;  // EPOLLOUT registered because the socket buffer was full
    uint64_t next_ref = kFirstRef;
    uint64_t heartbeat_ref = 0;
    uint64_t leave_ref = 0;    // ref of the phx_leave sent by leave_channel, 0 if none
    int64_t started_ns = 0;    // when connect() was called
    int64_t join_sent_ns = 0;  // when phx_join was queued (it leaves in the same poll())
    int64_t joined_ns = 0;     // when the join reply arrived
    int64_t next_heartbeat_ns = 0;
    int64_t deadline_ns = 0;  // setup or close must be over by then
    std::string topic_name;
    std::string join_params;  // phx_join payload; empty: the loop's LoopLimits::join_params
    // Received after the upgrade: WebSocket frames with their headers, and the payloads of
    // data frames (text, binary, continuation) alone.
    uint64_t ws_bytes_in = 0;
    uint64_t ws_payload_bytes_in = 0;
    std::string token;   // dropped once the upgrade request is written
    std::string accept;  // expected Sec-WebSocket-Accept while handshaking
    std::string out;     // bytes not yet written
    size_t out_off = 0;
    std::string in;         // a partial frame carried over to the next read
    std::string fragments;  // a fragmented message being reassembled
};

// ClientHandler: what scenarios react to. Calls arrive on the loop thread, inside poll().
class ClientHandler {
  public:
    virtual ~ClientHandler() = default;
    virtual void on_joined(Connection& /*c*/, int64_t /*now*/) {}
    // on_join_reply: the join's phx_reply payload, ok or not, just before on_joined (ok) or
    // the connection failing (refused), for scenarios that read the join response.
    virtual void on_join_reply(Connection& /*c*/, bool /*ok*/, std::string_view /*payload*/,
                               int64_t /*now*/) {}
    // on_reply: a phx_reply to a push or to a phx_leave (not to the join or a heartbeat).
    virtual void on_reply(Connection& /*c*/, uint64_t /*ref*/, bool /*ok*/, int64_t /*now*/) {}
    // on_reply_payload: the same reply's payload, just before on_reply, for scenarios that
    // look inside (error reasons, ack results).
    virtual void on_reply_payload(Connection& /*c*/, uint64_t /*ref*/,
                                  std::string_view /*payload*/) {}
    // on_message: any other frame on the connection's topic (e.g. message:new), also after
    // leave_channel (frames the server sent before it saw the leave).
    virtual void on_message(Connection& /*c*/, const PhoenixFrame& /*f*/, int64_t /*now*/) {}
    // on_lost: the connection failed; it will not be used again.
    virtual void on_lost(Connection& /*c*/, std::string_view /*reason*/) {}
};

struct Endpoint {
    sockaddr_in address{};    // IPv4 loopback only
    std::string host_header;  // "127.0.0.1:PORT"
    std::string path;         // "/socket/websocket"
};

struct LoopLimits {
    int64_t heartbeat_interval_ns = 30 * kNsPerSec;  // phoenix.js default
    int64_t setup_timeout_ns = 30 * kNsPerSec;       // connect + upgrade + join
    int64_t close_timeout_ns = 5 * kNsPerSec;        // wait for the server's close frame
    // min_poll_interval_ns: wait at least this long between two epoll_wait calls, so that
    // under load each recv carries several frames. Adds up to this much to latency samples.
    int64_t min_poll_interval_ns = 0;
    std::string join_params = "{}";  // phx_join payload (a JSON object)
};

class ClientLoop {
  public:
    ClientLoop(Endpoint endpoint, ClientHandler& handler, size_t connections, LoopLimits limits);
    ~ClientLoop();
    ClientLoop(const ClientLoop&) = delete;
    ClientLoop& operator=(const ClientLoop&) = delete;

    // ok(): false when the epoll instance could not be created (see error()).
    bool ok() const { return epoll_fd_ >= 0; }
    const std::string& error() const { return error_; }

    size_t size() const { return conns_.size(); }
    Connection& conn(size_t i) { return conns_[i]; }

    // start(c, token, now): opens c's socket and drives it through upgrade and join of
    // c.topic_name. Fails c (never the loop) if the socket cannot be opened. A connection
    // that was closed or failed may be started again (a reconnect: same index and user);
    // its buffers, refs and byte counters start afresh.
    void start(Connection& c, std::string token, int64_t now);
    // send_text(c, text): queues a masked text frame; it leaves at the end of this poll().
    void send_text(Connection& c, std::string_view text);
    // close_gracefully(c): sends a 1000 close frame and releases c once the server answers.
    void close_gracefully(Connection& c);
    // leave_channel(c): sends phx_leave for c's topic (joined connections only) and moves c
    // to ConnState::left. The socket stays open and keeps heartbeating; the server's reply
    // goes to on_reply (ref c.leave_ref) and its phx_close for that join is expected.
    void leave_channel(Connection& c);

    // poll(timeout_ms): flush, wait for events at most timeout_ms, handle them, flush.
    void poll(int timeout_ms);
    // flush(): writes everything queued since the last flush.
    void flush();
    // tick(now): due heartbeats and timeouts. Cheap enough to call a few times a second.
    void tick(int64_t now);

    size_t pending() const { return pending_; }  // connecting, handshaking or joining
    size_t joined() const { return joined_; }
    size_t left() const { return left_; }
    size_t failed() const { return failed_; }
    size_t closed() const { return closed_; }
    size_t closing() const { return closing_; }
    const std::map<std::string, uint64_t>& failure_reasons() const { return reasons_; }
    uint64_t pings_answered() const { return pings_; }
    // Receive-side counters: how well reads are batched decides the bench's own CPU cost.
    uint64_t reads() const { return reads_; }
    uint64_t frames() const { return frames_; }
    uint64_t wakeups() const { return wakeups_; }

  private:
    void on_event(Connection& c, uint32_t events);
    void on_connected(Connection& c);
    void on_readable(Connection& c);
    void feed(Connection& c, size_t n);
    size_t consume(Connection& c, std::string_view data, int64_t now);
    void on_frame(Connection& c, const WsFrame& f, int64_t now);
    void on_text(Connection& c, std::string_view text, int64_t now);
    void on_server_close(Connection& c, std::string_view body);
    void queue_frame(Connection& c, WsOpcode op, std::string_view payload);
    void mark_dirty(Connection& c);
    void write_out(Connection& c);
    void set_want_out(Connection& c, bool want);
    void leave_state(Connection& c);
    void release(Connection& c, ConnState final_state);
    void fail(Connection& c, std::string reason);

    Endpoint endpoint_;
    ClientHandler& handler_;
    LoopLimits limits_;
    std::vector<Connection> conns_;
    std::vector<uint32_t> dirty_;
    std::string read_buf_;
    std::string scratch_;
    int epoll_fd_ = -1;
    std::string error_;
    Rng rng_;
    size_t pending_ = 0;
    size_t joined_ = 0;
    size_t left_ = 0;
    size_t failed_ = 0;
    size_t closed_ = 0;
    size_t closing_ = 0;
    uint64_t pings_ = 0;
    uint64_t reads_ = 0;
    uint64_t frames_ = 0;
    uint64_t wakeups_ = 0;
    int64_t last_poll_ns_ = 0;
    std::map<std::string, uint64_t> reasons_;
};

}  // namespace quckrt::bench
