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

constexpr lws_usec_t kSweepInterval = 1 * LWS_US_PER_SEC;

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
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;

    auto listener = open_listener(opts.host, port);
    if (!listener) {
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
        if (context_) lws_context_destroy(context_);
        else ::close(listen_fd_);  // lws closes an adopted descriptor itself
        context_ = nullptr;
        ready->set_value(internal_error("cannot create the lws context"));
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
        lws_context_destroy(context_);
        context_ = nullptr;
        ready->set_value(internal_error("cannot watch the handshake reader"));
        return;
    }
    const int bound = listener_port(listen_fd_);
    queue_->attach(context_);
    sweep_timer_.loop = this;
    schedule_sweep();
    presence_timer_.loop = this;
    if (index_ == 0) schedule_presence();
    ready->set_value(bound);

    while (!exit_.load(std::memory_order_relaxed)) {
        if (lws_service(context_, 0) < 0) break;
    }
    // Connections still open past the drain deadline are cut here; their channels end
    // with TerminateReason::shutdown.
    queue_->close();
    lws_context_destroy(context_);
    context_ = nullptr;
    server_.loop_exited();
}

void Loop::schedule_sweep() {
    lws_sul_schedule(context_, 0, &sweep_timer_.sul, &Loop::on_sweep_timer, kSweepInterval);
}

void Loop::schedule_presence() {
    const auto window = server_.options().presence_broadcast_ms.count();
    lws_sul_schedule(context_, 0, &presence_timer_.sul, &Loop::on_presence_timer,
                     static_cast<lws_usec_t>(window) * LWS_US_PER_MS);
}

void Loop::on_presence_timer(lws_sorted_usec_list_t* sul) {
    Loop* loop = reinterpret_cast<SweepTimer*>(sul)->loop;
    loop->server_.flush_presence(loop);
    loop->schedule_presence();
}

void Loop::on_sweep_timer(lws_sorted_usec_list_t* sul) {
    reinterpret_cast<SweepTimer*>(sul)->loop->sweep();
}

void Loop::sweep() {
    const int64_t now = now_ms();
    const int64_t now_unix = jwt::now_seconds();
    for (auto& [id, conn] : connections_) conn->sweep(now, now_unix);
    reader_.expire(now, kHandshakeTimeoutMs);
    if (index_ == 0) server_.tick(now);
    if (draining_ && (connections_.empty() || now >= drain_deadline_ms_)) exit_ = true;
    schedule_sweep();
}

void Loop::begin_drain() {
    const bool posted = post([this] {
        draining_ = true;
        drain_deadline_ms_ = now_ms() + server_.options().drain_timeout.count();
        for (auto& [id, conn] : connections_)
            conn->close(CloseCode::service_restart, "server restarting");
        if (connections_.empty()) exit_ = true;
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
    if (draining_ && connections_.empty()) exit_ = true;
}

}  // namespace quckrt::net
