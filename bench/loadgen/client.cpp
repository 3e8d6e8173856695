#include "client.hpp"

#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace quckrt::bench {
namespace {

// One read takes up to this much; several frames usually arrive per read under load.
constexpr size_t kReadBufferBytes = 256 * 1024;
// Reads per readiness event: bounds the time one busy connection can hold the loop.
constexpr int kMaxReadsPerEvent = 4;
constexpr int kMaxEvents = 1024;
// Buffers above this are released when they empty, so an idle connection stays small.
constexpr size_t kKeepBufferBytes = 16 * 1024;

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

const char* state_name(ConnState s) {
    switch (s) {
        case ConnState::connecting:
            return "connecting";
        case ConnState::handshaking:
            return "upgrading";
        case ConnState::joining:
            return "joining";
        default:
            return "open";
    }
}

void release_if_large(std::string& s) {
    if (s.empty() && s.capacity() > kKeepBufferBytes) std::string().swap(s);
}

}  // namespace

ClientLoop::ClientLoop(Endpoint endpoint, ClientHandler& handler, size_t connections,
                       LoopLimits limits)
    : endpoint_(std::move(endpoint)),
      handler_(handler),
      limits_(limits),
      conns_(connections),
      read_buf_(kReadBufferBytes, '\0'),
      rng_(static_cast<uint64_t>(now_ns()) ^ static_cast<uint64_t>(getpid()) << 32) {
    for (size_t i = 0; i < conns_.size(); ++i) conns_[i].index = static_cast<uint32_t>(i);
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) error_ = errno_text("epoll_create1");
}

ClientLoop::~ClientLoop() {
    for (Connection& c : conns_) {
        if (c.fd >= 0) ::close(c.fd);
    }
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

void ClientLoop::start(Connection& c, std::string token, int64_t now) {
    if (c.fd >= 0) return fail(c, "start: the connection is still open");
    // A reconnect reuses the slot: nothing of the previous socket may leak into this one.
    std::string().swap(c.in);
    std::string().swap(c.fragments);
    std::string().swap(c.accept);
    c.out.clear();
    c.out_off = 0;
    c.next_ref = kFirstRef;
    c.heartbeat_ref = 0;
    c.leave_ref = 0;
    c.join_sent_ns = 0;
    c.joined_ns = 0;
    c.ws_bytes_in = 0;
    c.ws_payload_bytes_in = 0;
    c.started_ns = now;
    c.deadline_ns = now + limits_.setup_timeout_ns;
    c.token = std::move(token);
    c.state = ConnState::connecting;
    ++pending_;
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) return fail(c, errno_text("socket"));
    // The loop corks its own writes, so Nagle would only add delay (up to the 40 ms delayed
    // ACK on loopback) to latency samples.
    const int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c.fd, reinterpret_cast<const sockaddr*>(&endpoint_.address),
                sizeof endpoint_.address) != 0 &&
        errno != EINPROGRESS) {
        return fail(c, errno_text("connect"));
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u64 = c.index;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c.fd, &ev) != 0)
        return fail(c, errno_text("epoll_ctl"));
    c.want_out = true;
}

void ClientLoop::send_text(Connection& c, std::string_view text) {
    queue_frame(c, WsOpcode::text, text);
}

void ClientLoop::close_gracefully(Connection& c) {
    if (c.fd < 0 || c.state == ConnState::closing) return;
    append_close_frame(c.out, 1000, static_cast<uint32_t>(rng_.next()));
    mark_dirty(c);
    leave_state(c);
    c.state = ConnState::closing;
    c.deadline_ns = now_ns() + limits_.close_timeout_ns;
    ++closing_;
}

void ClientLoop::leave_channel(Connection& c) {
    if (c.fd < 0 || c.state != ConnState::joined) return;
    c.leave_ref = c.next_ref++;
    scratch_.clear();
    append_leave(scratch_, c.topic_name, c.leave_ref);
    send_text(c, scratch_);
    leave_state(c);
    c.state = ConnState::left;
    ++left_;
}

void ClientLoop::queue_frame(Connection& c, WsOpcode op, std::string_view payload) {
    if (c.fd < 0) return;
    append_masked_frame(c.out, op, payload, static_cast<uint32_t>(rng_.next()));
    mark_dirty(c);
}

void ClientLoop::mark_dirty(Connection& c) {
    if (!c.dirty) {
        c.dirty = true;
        dirty_.push_back(c.index);
    }
}

void ClientLoop::poll(int timeout_ms) {
    flush();
    epoll_event events[kMaxEvents];
    if (limits_.min_poll_interval_ns > 0) {
        const int64_t wait =
            std::min(last_poll_ns_ + limits_.min_poll_interval_ns - now_ns(), kNsPerSec - 1);
        if (wait > 0) {
            const timespec ts{0, static_cast<long>(wait)};
            nanosleep(&ts, nullptr);
            timeout_ms = std::max(0, timeout_ms - static_cast<int>(wait / kNsPerMs));
        }
        last_poll_ns_ = now_ns();
    }
    const int n = epoll_wait(epoll_fd_, events, kMaxEvents, timeout_ms);
    if (n > 0) ++wakeups_;
    for (int i = 0; i < n; ++i) {
        Connection& c = conns_[events[i].data.u64];
        if (c.fd >= 0) on_event(c, events[i].events);
    }
    flush();
}

void ClientLoop::flush() {
    // write_out may fail a connection, but it never adds to dirty_ while we iterate.
    for (uint32_t i : dirty_) {
        Connection& c = conns_[i];
        c.dirty = false;
        if (c.fd >= 0 && !c.want_out && c.state != ConnState::connecting) write_out(c);
    }
    dirty_.clear();
}

void ClientLoop::on_event(Connection& c, uint32_t events) {
    if (c.state == ConnState::connecting) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(c);
        return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c);
    if (c.fd >= 0 && (events & EPOLLOUT)) write_out(c);
}

void ClientLoop::on_connected(Connection& c) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) return fail(c, std::string("connect: ") + std::strerror(err));
    const HandshakeKey key = make_handshake_key(rng_);
    c.accept = key.accept;
    std::string target = endpoint_.path + "?vsn=2.0.0&token=" + c.token;
    append_upgrade_request(c.out, endpoint_.host_header, target, key.key);
    std::string().swap(c.token);
    c.state = ConnState::handshaking;
    write_out(c);
}

void ClientLoop::on_readable(Connection& c) {
    for (int i = 0; i < kMaxReadsPerEvent && c.fd >= 0; ++i) {
        const ssize_t n = recv(c.fd, read_buf_.data(), read_buf_.size(), 0);
        if (n > 0) {
            ++reads_;
            feed(c, static_cast<size_t>(n));
            if (static_cast<size_t>(n) < read_buf_.size()) return;
            continue;
        }
        if (n == 0) {
            if (c.state == ConnState::closing) return release(c, ConnState::closed);
            return fail(c, "server closed the TCP connection");
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        if (errno == EINTR) continue;
        return fail(c, errno_text("recv"));
    }
}

// feed: frames are parsed straight out of the shared read buffer; only an incomplete tail
// is copied into the connection, so idle connections hold no receive buffer at all.
void ClientLoop::feed(Connection& c, size_t n) {
    const int64_t now = now_ns();
    std::string_view data(read_buf_.data(), n);
    const bool carried = !c.in.empty();
    if (carried) {
        c.in.append(data);
        data = c.in;
    }
    const size_t used = consume(c, data, now);
    if (c.fd < 0) {
        std::string().swap(c.in);
        return;
    }
    if (carried) {
        c.in.erase(0, used);
    } else {
        c.in.assign(data.substr(used));
    }
    release_if_large(c.in);
}

size_t ClientLoop::consume(Connection& c, std::string_view data, int64_t now) {
    size_t pos = 0;
    std::string error;
    if (c.state == ConnState::handshaking) {
        size_t header_len = 0;
        const ParseResult r = parse_upgrade_response(data, c.accept, header_len, error);
        if (r == ParseResult::incomplete) return 0;
        if (r == ParseResult::error) {
            fail(c, error);
            return 0;
        }
        pos = header_len;
        std::string().swap(c.accept);
        c.state = ConnState::joining;
        c.next_heartbeat_ns = now + limits_.heartbeat_interval_ns;
        scratch_.clear();
        append_join(scratch_, c.topic_name,
                    c.join_params.empty() ? limits_.join_params : c.join_params);
        send_text(c, scratch_);
        c.join_sent_ns = now;
    }
    while (pos < data.size() && c.fd >= 0) {
        WsFrame frame;
        size_t frame_len = 0;
        const ParseResult r = parse_frame(data.substr(pos), frame, frame_len, error);
        if (r == ParseResult::incomplete) break;
        if (r == ParseResult::error) {
            fail(c, error);
            break;
        }
        pos += frame_len;
        ++frames_;
        c.ws_bytes_in += frame_len;
        if (frame.opcode == WsOpcode::text || frame.opcode == WsOpcode::binary ||
            frame.opcode == WsOpcode::continuation) {
            c.ws_payload_bytes_in += frame.payload.size();
        }
        on_frame(c, frame, now);
    }
    return pos;
}

void ClientLoop::on_frame(Connection& c, const WsFrame& f, int64_t now) {
    switch (f.opcode) {
        case WsOpcode::text:
        case WsOpcode::binary:
            if (!c.fragments.empty()) return fail(c, "frame: new message inside a fragmented one");
            if (f.fin) return on_text(c, f.payload, now);
            // An empty first fragment still starts a message; a marker byte keeps it visible.
            c.fragments.assign(1, '\0');
            c.fragments.append(f.payload);
            return;
        case WsOpcode::continuation: {
            if (c.fragments.empty()) return fail(c, "frame: continuation without a message");
            c.fragments.append(f.payload);
            if (!f.fin) return;
            std::string whole;
            whole.swap(c.fragments);
            return on_text(c, std::string_view(whole).substr(1), now);
        }
        case WsOpcode::ping:
            ++pings_;
            return queue_frame(c, WsOpcode::pong, f.payload);
        case WsOpcode::pong:
            return;
        case WsOpcode::close:
            return on_server_close(c, f.payload);
    }
}

void ClientLoop::on_text(Connection& c, std::string_view text, int64_t now) {
    PhoenixFrame f;
    if (!parse_phoenix_frame(text, f)) {
        return fail(c, "malformed Phoenix frame: " + std::string(text.substr(0, 80)));
    }
    if (f.event == "phx_reply") {
        const uint64_t ref = parse_ref(f.ref);
        const bool ok = reply_ok(f.payload);
        if (ref == kJoinRef && c.state == ConnState::joining) {
            handler_.on_join_reply(c, ok, f.payload, now);
            if (c.fd < 0) return;
            if (!ok) return fail(c, "join refused: " + std::string(f.payload.substr(0, 120)));
            --pending_;
            ++joined_;
            c.state = ConnState::joined;
            c.joined_ns = now;
            return handler_.on_joined(c, now);
        }
        if (ref == c.heartbeat_ref && ref != 0) return;
        handler_.on_reply_payload(c, ref, f.payload);
        return handler_.on_reply(c, ref, ok, now);
    }
    // After our phx_leave the server ends that join with phx_close: expected, not a failure.
    if (c.state == ConnState::left && f.event == "phx_close") return;
    if (f.event == "phx_error" || f.event == "phx_close") {
        return fail(c, "channel " + std::string(f.event) + " on " + std::string(f.topic));
    }
    handler_.on_message(c, f, now);
}

void ClientLoop::on_server_close(Connection& c, std::string_view body) {
    if (c.state == ConnState::closing) return release(c, ConnState::closed);
    uint16_t code = 1005;
    if (body.size() >= 2) {
        code = static_cast<uint16_t>((static_cast<unsigned char>(body[0]) << 8) |
                                     static_cast<unsigned char>(body[1]));
    }
    // Echo the close as RFC 6455 asks, then drop the socket: the bench does not wait for
    // the server to finish a close it started.
    append_close_frame(c.out, code == 1005 ? 1000 : code, static_cast<uint32_t>(rng_.next()));
    write_out(c);
    if (c.fd < 0) return;
    std::string reason = "server sent close ";
    reason += std::to_string(code);
    if (body.size() > 2) {
        reason += ' ';
        reason.append(body.substr(2, 80));
    }
    fail(c, std::move(reason));
}

void ClientLoop::write_out(Connection& c) {
    while (c.out_off < c.out.size()) {
        const ssize_t n = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off,
                               MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c.out_off += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return set_want_out(c, true);
        if (c.state == ConnState::closing) return release(c, ConnState::closed);
        return fail(c, errno_text("send"));
    }
    c.out.clear();
    c.out_off = 0;
    release_if_large(c.out);
    set_want_out(c, false);
}

void ClientLoop::set_want_out(Connection& c, bool want) {
    if (c.want_out == want || c.fd < 0) return;
    epoll_event ev{};
    ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
    ev.data.u64 = c.index;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev) != 0)
        return fail(c, errno_text("epoll_ctl"));
    c.want_out = want;
}

void ClientLoop::tick(int64_t now) {
    for (Connection& c : conns_) {
        if (c.fd < 0) continue;
        switch (c.state) {
            case ConnState::connecting:
            case ConnState::handshaking:
            case ConnState::joining:
                if (now >= c.deadline_ns)
                    fail(c, std::string("timeout while ") + state_name(c.state));
                break;
            case ConnState::joined:
            case ConnState::left:
                if (now >= c.next_heartbeat_ns) {
                    c.heartbeat_ref = c.next_ref++;
                    scratch_.clear();
                    append_heartbeat(scratch_, c.heartbeat_ref);
                    send_text(c, scratch_);
                    c.next_heartbeat_ns = now + limits_.heartbeat_interval_ns;
                }
                break;
            case ConnState::closing:
                if (now >= c.deadline_ns) release(c, ConnState::closed);
                break;
            default:
                break;
        }
    }
}

void ClientLoop::leave_state(Connection& c) {
    switch (c.state) {
        case ConnState::connecting:
        case ConnState::handshaking:
        case ConnState::joining:
            --pending_;
            break;
        case ConnState::joined:
            --joined_;
            break;
        case ConnState::left:
            --left_;
            break;
        case ConnState::closing:
            --closing_;
            break;
        default:
            break;
    }
}

void ClientLoop::release(Connection& c, ConnState final_state) {
    leave_state(c);
    c.state = final_state;
    if (c.fd >= 0) ::close(c.fd);  // close() also removes it from the epoll set
    c.fd = -1;
    c.want_out = false;
    std::string().swap(c.out);
    c.out_off = 0;
    std::string().swap(c.fragments);
    if (final_state == ConnState::closed) ++closed_;
}

void ClientLoop::fail(Connection& c, std::string reason) {
    if (c.state == ConnState::failed) return;
    release(c, ConnState::failed);
    ++failed_;
    ++reasons_[reason];
    handler_.on_lost(c, reason);
}

}  // namespace quckrt::bench
