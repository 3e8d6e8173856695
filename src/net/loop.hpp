// Loop: one event-loop thread with its own libuv loop and lws context (Debian's lws has one
// service thread per context; the loops share the listening port through SO_REUSEPORT). A
// loop owns its connections and the Hub shard for them; everything for one connection runs
// here, in order. Other threads reach it only through post().
//
// Why libuv: lws's default backend poll()s every descriptor on every wait, which cost ~80%
// of server CPU with thousands of sockets (docs/benchmarks.md). With LWS_SERVER_OPTION_LIBUV
// lws runs on a uv_loop_t we own (epoll underneath), and our own wakeup and timers are
// plain uv handles on the same loop.
#pragma once

#include <libwebsockets.h>
#include <uv.h>

#include <atomic>
#include <cstdint>
#include <future>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <quckrt/auth.hpp>
#include <quckrt/channel.hpp>
#include <quckrt/server.hpp>

#include "core/hub.hpp"
#include "net/handshake_reader.hpp"
#include "net/http_exchange.hpp"
#include "net/post_queue.hpp"

namespace quckrt::net {

class Connection;

class Loop {
public:
    Loop(Server::Impl& server, int index);
    ~Loop();
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;

    // start(port): spawn the thread, create the context listening on port, and return once
    // it listens (or failed). Returns the bound port.
    Result<int> start(int port);
    // begin_drain(): on the loop, close every connection with 1012 and exit once all are
    // gone or the drain timeout passes. Any thread.
    void begin_drain();
    void join();

    bool post(PostQueue::Task task) { return queue_->post(std::move(task)); }
    std::weak_ptr<PostQueue> queue_handle() const { return queue_; }

    int index() const { return index_; }
    Server::Impl& server() { return server_; }
    core::Hub& hub() { return hub_; }
    // Write scratch buffer reused by every connection of this loop (loop thread only).
    std::string& scratch() { return scratch_; }

    Connection* find_connection(uint64_t id);
    // start_close(id): begin lws's close handshake (close frame set by lws_close_reason)
    // for a connection that failed; called outside lws callbacks. Loop thread.
    void start_close(uint64_t id);
    // queue_flush(id): Connection::flush() for id at the end of this loop turn.
    void queue_flush(uint64_t id);

    // lws trampoline entry (lws_callbacks.cpp).
    int on_lws_event(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len);

private:
    void run(int port, std::promise<Result<int>>* ready);
    // Loop thread: leave the uv_run of the serving phase (teardown follows in run()).
    void request_exit();
    // Teardown: destroy the lws context, close our handles, run the loop until every
    // handle's close callback ran, close the uv loop.
    void shutdown_uv();
    void sweep();
    void flush_pending();

    int on_confirm_upgrade(lws* wsi);
    int on_established(lws* wsi, void* user);
    void on_closed(lws* wsi, void* user);
    int on_http(lws* wsi, std::string_view uri);
    void accept_pending();
    void on_head_ready(int fd, RewrittenHead head);
    // HTTP API exchanges answered later (http_admin.cpp).
    static bool is_admin_api(std::string_view uri);
    void dispatch_admin(HttpExchange& ex);
    // /api/calls/... (http_calls.cpp), routed from dispatch_admin.
    void dispatch_calls(HttpExchange& ex);
    // /api/huddles... (http_huddles.cpp), routed from dispatch_admin.
    static bool is_huddles_api(std::string_view uri);
    void dispatch_huddles(HttpExchange& ex);
    void answer(uint64_t exchange_id, unsigned status, std::string body);
    // answer_later(id): answer(id, ...) from any thread (a storage completion): posted back
    // to this loop; dropped once the loop is gone.
    std::function<void(unsigned, std::string)> answer_later(uint64_t exchange_id);
    // bearer_token(ex): the token of `Authorization: Bearer <token>`, or empty.
    static std::string_view bearer_token(const HttpExchange& ex);
    // identify_caller(ex): who asks, for endpoints open to the admin and to users: "" for the
    // admin token, the user id for a valid user JWT. Otherwise answers 401 and returns
    // nullopt.
    std::optional<std::string> identify_caller(const HttpExchange& ex);
    int on_http_event(lws* wsi, lws_callback_reasons reason, void* in, size_t len);

    Server::Impl& server_;
    const int index_;
    std::thread thread_;
    lws_context* context_ = nullptr;
    lws_vhost* vhost_ = nullptr;
    lws* listen_wsi_ = nullptr;  // our listening socket, watched as a raw descriptor
    int listen_fd_ = -1;
    HandshakeReader reader_{[this](int fd, RewrittenHead head) { on_head_ready(fd, std::move(head)); }};
    lws* reader_wsi_ = nullptr;
    // Tokens taken out of the subprotocol header by reader_, by socket fd, until the
    // upgrade check picks them up. Erased when that fd number is accepted again.
    std::unordered_map<int, std::string> bearer_tokens_;
    // In-flight API exchanges by id, with the wsi they answer on, and the reverse index.
    std::unordered_map<uint64_t, std::pair<lws*, std::unique_ptr<HttpExchange>>> exchanges_;
    std::unordered_map<lws*, uint64_t> exchange_of_;
    uint64_t next_exchange_ = 1;
    std::shared_ptr<PostQueue> queue_ = std::make_shared<PostQueue>();
    core::Hub hub_;
    std::unordered_map<uint64_t, std::unique_ptr<Connection>> connections_;
    // Claims verified at the upgrade, waiting for the connection to be established.
    struct PendingConnection {
        Claims claims;
        ConnectInfo info;
    };
    std::unordered_map<lws*, PendingConnection> pending_;
    std::string scratch_;
    uint64_t next_connection_ = 1;
    // The libuv loop lws runs on (passed as its foreign loop) and our handles on it; all
    // are initialized and closed on the loop thread, in run(). data points to this Loop.
    uv_loop_t uv_loop_{};
    bool uv_loop_open_ = false;
    uv_async_t wake_{};            // PostQueue wakeup
    uv_timer_t sweep_timer_{};     // every second
    uv_timer_t presence_timer_{};  // loop 0 only: presence diff window
    // End-of-turn writes: flush_check_ runs after each I/O poll; flush_idle_ is active
    // while flush_ids_ is non-empty so that the poll does not block meanwhile.
    uv_check_t flush_check_{};
    uv_idle_t flush_idle_{};
    std::vector<uint64_t> flush_ids_;
    bool handles_open_ = false;
    bool serving_ = false;  // inside the serving uv_run: request_exit() stops it
    std::atomic<bool> exit_{false};
    bool draining_ = false;
    int64_t drain_deadline_ms_ = 0;
};

// now_ms(): monotonic milliseconds, for timeouts.
int64_t now_ms();

}  // namespace quckrt::net
