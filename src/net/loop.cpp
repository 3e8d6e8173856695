#include "net/loop.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <unistd.h>

#include "net/connection.hpp"
#include "net/http_response.hpp"
#include "net/listener.hpp"
#include "net/server_impl.hpp"

namespace quckrt::net {
namespace {

constexpr uint64_t kSweepIntervalMs = 1000;

// A connection must send its complete request head within this time.
constexpr int64_t kHandshakeTimeoutMs = 10000;

// Headers of one upgrade request (JWT in the URL, several subprotocols) must fit here.
constexpr unsigned short kMaxHttpHeaderData = 8192;

// The lws trampoline: every callback goes to the Loop that owns the context.
int lws_trampoline(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
    lws_context* ctx = wsi ? lws_get_context(wsi) : nullptr;
    auto* loop = ctx ? static_cast<Loop*>(lws_context_user(ctx)) : nullptr;
    if (!loop) return lws_callback_http_dummy(wsi, reason, user, in, len);
    return loop->on_lws_event(wsi, reason, user, in, len);
}

}  // namespace

int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

Loop::Loop(Server::Impl& server, int index) : server_(server), index_(index) {}

Loop::~Loop() { join(); }

Result<int> Loop::start(int port) {
    std::promise<Result<int>> ready;
    auto future = ready.get_future();
    thread_ = std::thread([this, port, &ready] { run(port, &ready); });
    return future.get();
}

void Loop::join() {
    if (thread_.joinable()) thread_.join();
}

void Loop::run(int port, std::promise<Result<int>>* ready) {
    const ServerOptions& opts = server_.options();
    // lws keeps a pointer to the protocol table for the context's lifetime.
    lws_protocols protocols[2] = {};
    protocols[0].name = "phoenix";
    protocols[0].callback = lws_trampoline;
    protocols[0].per_session_data_size = sizeof(Connection*);
    protocols[0].rx_buffer_size = opts.rx_buffer_bytes;

    if (uv_loop_init(&uv_loop_) != 0) {
        ready->set_value(internal_error("cannot create the libuv loop"));
        return;
    }
    uv_loop_open_ = true;
    uv_async_init(&uv_loop_, &wake_, [](uv_async_t* h) {
        static_cast<Loop*>(h->data)->queue_->run_pending();
    });
    wake_.data = this;
    uv_timer_init(&uv_loop_, &sweep_timer_);
    sweep_timer_.data = this;
    uv_timer_init(&uv_loop_, &presence_timer_);
    presence_timer_.data = this;
    uv_check_init(&uv_loop_, &flush_check_);
    flush_check_.data = this;
    uv_check_start(&flush_check_,
                   [](uv_check_t* h) { static_cast<Loop*>(h->data)->flush_pending(); });
    uv_idle_init(&uv_loop_, &flush_idle_);
    flush_idle_.data = this;
    handles_open_ = true;

    lws_context_creation_info info{};
    // No lws listener: see listener.hpp. The vhost still serves adopted connections.
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = protocols;
    info.user = this;
    info.gid = static_cast<gid_t>(-1);
    info.uid = static_cast<uid_t>(-1);
    info.count_threads = 1;
    info.max_http_header_data = kMaxHttpHeaderData;
    info.timeout_secs = 10;
    // LIBUV: lws loads its uv event lib (the libwebsockets-evlib_uv plugin) and joins our
    // loop instead of creating one; with a foreign loop it installs no signal handlers.
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_LIBUV;
    void* foreign_loops[1] = {&uv_loop_};
    info.foreign_loops = foreign_loops;  // read during lws_create_context only
    // With a foreign loop the context is freed from uv close callbacks; lws clears
    // context_ when that has happened (shutdown_uv waits for it).
    info.pcontext = &context_;

    auto listener = open_listener(opts.host, port);
    if (!listener) {
        shutdown_uv();
        ready->set_value(listener.error());
        return;
    }
    listen_fd_ = *listener;
    context_ = lws_create_context(&info);
    lws_vhost* vhost = context_ ? lws_get_vhost_by_name(context_, "default") : nullptr;
    lws_sock_file_fd_type fd;
    fd.filefd = listen_fd_;
    listen_wsi_ = vhost ? lws_adopt_descriptor_vhost(vhost, LWS_ADOPT_RAW_FILE_DESC, fd,
                                                     protocols[0].name, nullptr)
                        : nullptr;
    if (!listen_wsi_) {
        if (!context_) ::close(listen_fd_);  // lws closes an adopted descriptor itself
        shutdown_uv();
        ready->set_value(internal_error(
            "cannot create the lws context on libuv (lws loads its uv event lib at run time: "
            "is libwebsockets-evlib-uv installed?)"));
        return;
    }
    vhost_ = vhost;
    auto reader_fd = reader_.open();
    if (reader_fd) {
        // lws closes what it watches; it gets its own descriptor of the same epoll set.
        fd.filefd = ::dup(*reader_fd);
        reader_wsi_ = lws_adopt_descriptor_vhost(vhost, LWS_ADOPT_RAW_FILE_DESC, fd,
                                                 protocols[0].name, nullptr);
    }
    if (!reader_wsi_) {
        shutdown_uv();
        ready->set_value(internal_error("cannot watch the handshake reader"));
        return;
    }
    const int bound = listener_port(listen_fd_);
    queue_->attach(&wake_);
    uv_timer_start(
        &sweep_timer_, [](uv_timer_t* t) { static_cast<Loop*>(t->data)->sweep(); },
        kSweepIntervalMs, kSweepIntervalMs);
    if (index_ == 0) {
        const auto window = static_cast<uint64_t>(opts.presence_broadcast_ms.count());
        uv_timer_start(
            &presence_timer_,
            [](uv_timer_t* t) {
                Loop* loop = static_cast<Loop*>(t->data);
                loop->server_.flush_presence(loop);
            },
            window, window);
    }
    ready->set_value(bound);

    serving_ = true;
    // uv_run returns when request_exit() stopped it. exit_ may also have been set by
    // another thread (begin_drain after the queue closed), hence the loop condition.
    while (!exit_.load(std::memory_order_relaxed)) uv_run(&uv_loop_, UV_RUN_DEFAULT);
    serving_ = false;
    // Connections still open past the drain deadline are cut here; their channels end
    // with TerminateReason::shutdown.
    queue_->close();
    shutdown_uv();
    server_.loop_exited();
}

void Loop::request_exit() {
    exit_ = true;
    // Only the serving uv_run may be stopped: during teardown the loop must run until
    // every handle has closed, and lws's close callbacks can land here.
    if (serving_) uv_stop(&uv_loop_);
}

void Loop::shutdown_uv() {
    // Closes every wsi: their CLOSED callbacks run now; lws's uv handles close async.
    if (context_) lws_context_destroy(context_);
    if (handles_open_) {
        handles_open_ = false;
        // queue_->close() ran (or attach never did), so no thread signals wake_ any more.
        uv_close(reinterpret_cast<uv_handle_t*>(&wake_), nullptr);
        uv_close(reinterpret_cast<uv_handle_t*>(&sweep_timer_), nullptr);
        uv_close(reinterpret_cast<uv_handle_t*>(&presence_timer_), nullptr);
        uv_close(reinterpret_cast<uv_handle_t*>(&flush_check_), nullptr);
        uv_close(reinterpret_cast<uv_handle_t*>(&flush_idle_), nullptr);
    }
    if (!uv_loop_open_) return;
    // Runs until no handle is left: lws finishes freeing the context from its close
    // callbacks and clears context_ (info.pcontext).
    uv_run(&uv_loop_, UV_RUN_DEFAULT);
    if (context_) {
        // lws 4.1 may wait for a second destroy call to finish a foreign-loop context
        // once all of its handles are closed.
        lws_context_destroy(context_);
        uv_run(&uv_loop_, UV_RUN_DEFAULT);
    }
    if (context_) {
        spdlog::error("event=lws_context_not_destroyed loop={}", index_);
        context_ = nullptr;
    }
    if (uv_loop_close(&uv_loop_) != 0) {
        // A handle still open here is a bug; close what is left so the loop can be freed.
        spdlog::error("event=uv_handles_left_open loop={}", index_);
        uv_walk(
            &uv_loop_,
            [](uv_handle_t* h, void*) {
                if (!uv_is_closing(h)) uv_close(h, nullptr);
            },
            nullptr);
        uv_run(&uv_loop_, UV_RUN_DEFAULT);
        uv_loop_close(&uv_loop_);
    }
    uv_loop_open_ = false;
}

void Loop::sweep() {
    const int64_t now = now_ms();
    const int64_t now_unix = jwt::now_seconds();
    for (auto& [id, conn] : connections_) conn->sweep(now, now_unix);
    reader_.expire(now, kHandshakeTimeoutMs);
    if (index_ == 0) server_.tick(now);
    if (draining_ && (connections_.empty() || now >= drain_deadline_ms_)) request_exit();
}

void Loop::begin_drain() {
    const bool posted = post([this] {
        draining_ = true;
        drain_deadline_ms_ = now_ms() + server_.options().drain_timeout.count();
        for (auto& [id, conn] : connections_)
            conn->close(CloseCode::service_restart, "server restarting");
        if (connections_.empty()) request_exit();
    });
    if (!posted) exit_ = true;
}

void Loop::accept_pending() {
    // Bounded per wake so a connect storm cannot starve the connections already here.
    const int64_t now = now_ms();
    accept_ready(listen_fd_, 64, [this, now](int client) {
        bearer_tokens_.erase(client);
        reader_.add(client, now);
    });
}

void Loop::on_head_ready(int fd, RewrittenHead head) {
    if (!head.bearer_token.empty()) bearer_tokens_[fd] = std::move(head.bearer_token);
    lws* wsi = head.consumed
                   ? lws_adopt_socket_vhost_readbuf(vhost_, fd, head.head.data(), head.head.size())
                   : lws_adopt_socket_vhost(vhost_, fd);
    if (!wsi) {
        bearer_tokens_.erase(fd);  // lws closed the socket
        spdlog::warn("event=adopt_failed loop={}", index_);
    }
}

int Loop::on_http_event(lws* wsi, lws_callback_reasons reason, void* in, size_t len) {
    switch (reason) {
        case LWS_CALLBACK_HTTP: {
            auto ex = std::make_unique<HttpExchange>();
            ex->id = next_exchange_++;
            ex->uri = in ? static_cast<const char*>(in) : "";
            ex->method = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI)     ? "POST"
                         : lws_hdr_total_length(wsi, WSI_TOKEN_DELETE_URI) ? "DELETE"
                         : lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI)    ? "GET"
                                                                           : "OTHER";
            const int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
            if (n > 0 && n < 4096) {
                ex->authorization.resize(static_cast<size_t>(n) + 1);
                lws_hdr_copy(wsi, ex->authorization.data(), n + 1, WSI_TOKEN_HTTP_AUTHORIZATION);
                ex->authorization.resize(static_cast<size_t>(n));
            }
            const uint64_t id = ex->id;
            HttpExchange& ref = *ex;
            exchanges_.emplace(id, std::make_pair(wsi, std::move(ex)));
            exchange_of_[wsi] = id;
            // A POST answers after its body (HTTP_BODY_COMPLETION); others right away.
            if (ref.method != "POST") {
                ref.dispatched = true;
                dispatch_admin(ref);
            }
            return 0;
        }
        case LWS_CALLBACK_HTTP_BODY: {
            HttpExchange& ex = *exchanges_.at(exchange_of_.at(wsi)).second;
            if (ex.body.size() + len > kMaxApiBody) {
                ex.body_too_large = true;
                ex.body.clear();
            } else if (!ex.body_too_large) {
                ex.body.append(static_cast<const char*>(in), len);
            }
            return 0;
        }
        case LWS_CALLBACK_HTTP_BODY_COMPLETION: {
            HttpExchange& ex = *exchanges_.at(exchange_of_.at(wsi)).second;
            if (!ex.dispatched) {
                ex.dispatched = true;
                dispatch_admin(ex);
            }
            return 0;
        }
        case LWS_CALLBACK_HTTP_WRITEABLE: {
            const uint64_t id = exchange_of_.at(wsi);
            HttpExchange& ex = *exchanges_.at(id).second;
            if (!ex.answered) return 0;
            const bool ok = write_json(wsi, ex.status, ex.response);
            exchanges_.erase(id);
            exchange_of_.erase(wsi);
            if (!ok) return -1;
            return lws_http_transaction_completed(wsi) ? -1 : 0;
        }
        case LWS_CALLBACK_CLOSED_HTTP: {
            const uint64_t id = exchange_of_.at(wsi);
            exchanges_.erase(id);
            exchange_of_.erase(wsi);
            return 0;
        }
        default:
            return 0;
    }
}

Connection* Loop::find_connection(uint64_t id) {
    auto it = connections_.find(id);
    return it == connections_.end() ? nullptr : it->second.get();
}

void Loop::queue_flush(uint64_t id) {
    if (flush_ids_.empty() && handles_open_)
        uv_idle_start(&flush_idle_, [](uv_idle_t*) {});  // keeps the next poll from blocking
    flush_ids_.push_back(id);
}

void Loop::flush_pending() {
    // Writes may run drain waiters that queue more output; those are flushed next turn
    // (flush_idle_ stays active so that turn does not wait in the poll).
    std::vector<uint64_t> ids;
    ids.swap(flush_ids_);
    for (const uint64_t id : ids)
        if (Connection* conn = find_connection(id)) conn->flush();
    if (flush_ids_.empty()) uv_idle_stop(&flush_idle_);
    ids.clear();
    if (flush_ids_.empty()) flush_ids_.swap(ids);  // keep the capacity for the next turn
}

void Loop::start_close(uint64_t id) {
    Connection* conn = find_connection(id);
    if (!conn) return;  // already gone
    conn->mark_close_started();
    // Synchronous close through lws_close_free_wsi: with a close reason set, lws sends the
    // close frame on the next writable (then Connection::on_writable ends it). Should lws
    // kill the socket instead, its CLOSED callback runs here and erases conn; nothing
    // touches conn after this call.
    lws_set_timeout(conn->wsi(), PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_SYNC);
}

int Loop::on_lws_event(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
    auto* slot = static_cast<Connection**>(user);
    switch (reason) {
        case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
            queue_->run_pending();
            return 0;
        case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
            return on_confirm_upgrade(wsi);
        case LWS_CALLBACK_ESTABLISHED:
            return on_established(wsi, user);
        case LWS_CALLBACK_RECEIVE:
            return (slot && *slot) ? (*slot)->on_receive(static_cast<const char*>(in), len) : -1;
        case LWS_CALLBACK_SERVER_WRITEABLE:
            return (slot && *slot) ? (*slot)->on_writable() : 0;
        case LWS_CALLBACK_CLOSED:
            on_closed(wsi, user);
            return 0;
        case LWS_CALLBACK_WSI_DESTROY:
            if (auto it = exchange_of_.find(wsi); it != exchange_of_.end()) {
                exchanges_.erase(it->second);
                exchange_of_.erase(it);
            }
            if (pending_.erase(wsi) > 0) server_.connections().fetch_sub(1);
            return 0;
        case LWS_CALLBACK_RAW_RX_FILE:
            if (wsi == listen_wsi_) accept_pending();
            if (wsi == reader_wsi_) reader_.service();
            return 0;
        case LWS_CALLBACK_RAW_CLOSE_FILE:
            if (wsi == listen_wsi_) listen_wsi_ = nullptr;
            if (wsi == reader_wsi_) reader_wsi_ = nullptr;
            return 0;
        case LWS_CALLBACK_HTTP: {
            std::string_view uri(in ? static_cast<const char*>(in) : "");
            if (is_admin_api(uri)) return on_http_event(wsi, reason, in, len);
            return on_http(wsi, uri);
        }
        case LWS_CALLBACK_HTTP_BODY:
        case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        case LWS_CALLBACK_HTTP_WRITEABLE:
        case LWS_CALLBACK_CLOSED_HTTP:
            if (exchange_of_.contains(wsi)) return on_http_event(wsi, reason, in, len);
            return lws_callback_http_dummy(wsi, reason, user, in, len);
        default:
            return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

int Loop::on_established(lws* wsi, void* user) {
    auto it = pending_.find(wsi);
    if (it == pending_.end()) return -1;  // not authenticated at the upgrade: refuse
    PendingConnection pending = std::move(it->second);
    pending_.erase(it);
    const uint64_t id = (static_cast<uint64_t>(index_) << 48) | next_connection_++;
    auto conn = std::make_unique<Connection>(*this, wsi, id, std::move(pending.claims),
                                             std::move(pending.info));
    *static_cast<Connection**>(user) = conn.get();
    spdlog::debug("event=connected conn={} user={}", id, conn->claims().user_id);
    connections_.emplace(id, std::move(conn));
    if (draining_) connections_[id]->close(CloseCode::service_restart, "server restarting");
    return 0;
}

void Loop::on_closed(lws*, void* user) {
    auto* slot = static_cast<Connection**>(user);
    if (!slot || !*slot) return;
    Connection* conn = *slot;
    *slot = nullptr;
    conn->on_closed(draining_);
    spdlog::debug("event=disconnected conn={} user={}", conn->id(), conn->claims().user_id);
    connections_.erase(conn->id());
    server_.connections().fetch_sub(1);
    if (draining_ && connections_.empty()) request_exit();
}

}  // namespace quckrt::net
