#include "net/handshake_reader.hpp"

#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <quckrt/auth.hpp>

#include "net/http_response.hpp"

namespace quckrt::net {
namespace {

constexpr std::string_view kBearerPrefix = "base64url.bearer.phx.";
constexpr std::string_view kProtocolHeader = "sec-websocket-protocol";
// lws 4.1.6 copies the protocol list into a 128-byte buffer (lws_process_ws_upgrade).
constexpr size_t kLwsMaxProtocolList = 127;

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

bool printable_token(std::string_view t) {
    for (char c : t)
        if (c <= 0x20 || c >= 0x7f) return false;
    return true;
}

}  // namespace

RewriteResult rewrite_subprotocols(std::string_view head) {
    RewriteResult result;
    std::string& out = result.rewritten.head;
    out.reserve(head.size());
    int bearer_entries = 0;
    size_t pos = 0;
    while (pos < head.size()) {
        size_t eol = head.find("\r\n", pos);
        if (eol == std::string_view::npos) eol = head.size();
        std::string_view line = head.substr(pos, eol - pos);
        const size_t next = eol + 2 > head.size() ? head.size() : eol + 2;
        const size_t colon = line.find(':');
        if (pos == 0 || colon == std::string_view::npos ||
            !iequals(trim(line.substr(0, colon)), kProtocolHeader)) {
            out.append(head.substr(pos, next - pos));
            pos = next;
            continue;
        }
        // Sec-WebSocket-Protocol: keep every entry but the bearer token.
        std::string kept;
        bool offered_phoenix = false;
        std::string_view rest = line.substr(colon + 1);
        while (!rest.empty()) {
            const size_t comma = rest.find(',');
            std::string_view item = trim(rest.substr(0, comma));
            rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
            if (item.empty()) continue;
            if (item.starts_with(kBearerPrefix)) {
                ++bearer_entries;
                auto token = jwt::base64_decode_any(item.substr(kBearerPrefix.size()));
                if (!token || token->empty() || !printable_token(*token)) {
                    result.refusal = {400, "BAD_REQUEST",
                                      "the auth token subprotocol is not valid base64 of a token"};
                    return result;
                }
                result.rewritten.bearer_token = std::move(*token);
                continue;
            }
            if (item == "phoenix") offered_phoenix = true;
            if (!kept.empty()) kept += ',';
            kept.append(item);
        }
        if (bearer_entries > 1) {
            result.refusal = {400, "BAD_REQUEST", "more than one auth token subprotocol"};
            return result;
        }
        if (!offered_phoenix) {
            result.refusal = {403, "UNSUPPORTED_SUBPROTOCOL",
                              "subprotocols were offered but not 'phoenix'"};
            return result;
        }
        if (kept.size() > kLwsMaxProtocolList) {
            result.refusal = {400, "BAD_REQUEST", "Sec-WebSocket-Protocol list too long"};
            return result;
        }
        out += "Sec-WebSocket-Protocol: ";
        out += kept;
        out += "\r\n";
        pos = next;
    }
    result.ok = true;
    return result;
}

HandshakeReader::~HandshakeReader() {
    for (auto& [fd, p] : pending_) ::close(fd);
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

Result<int> HandshakeReader::open() {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) return unavailable(std::string("epoll_create1: ") + std::strerror(errno));
    return epoll_fd_;
}

void HandshakeReader::add(int fd, int64_t now_ms) {
    epoll_event ev{};
    // Edge-triggered: the head is only peeked at until it is complete, so the data stays
    // readable; each arrival of more bytes wakes us once.
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) < 0) {
        ::close(fd);
        return;
    }
    pending_[fd] = Pending{{}, now_ms};
}

void HandshakeReader::service() {
    epoll_event events[64];
    const int n = ::epoll_wait(epoll_fd_, events, 64, 0);
    for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        auto it = pending_.find(fd);
        if (it == pending_.end()) continue;
        Pending& p = it->second;
        // Peek, and take exactly the head: a request body stays in the socket for lws to read
        // itself (lws 4.1.6 mishandles a body handed over in the adoption buffer).
        p.buf.resize(kMaxRequestHead + 1);
        ssize_t got;
        do {
            got = ::recv(fd, p.buf.data(), p.buf.size(), MSG_PEEK);
        } while (got < 0 && errno == EINTR);
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            p.buf.clear();
            continue;
        }
        if (got <= 0) {
            drop(fd);  // peer closed or error before sending a complete head
            continue;
        }
        p.buf.resize(static_cast<size_t>(got));
        const size_t end = p.buf.find("\r\n\r\n");
        if (end == std::string::npos) {
            if (p.buf.size() > kMaxRequestHead)
                refuse(fd, {431, "HEADERS_TOO_LARGE", "request head too large"});
            else
                p.buf.clear();  // wait for more
            continue;
        }
        const size_t head_len = end + 4;
        p.buf.resize(head_len);
        finish(fd, p);
    }
}

void HandshakeReader::finish(int fd, Pending& p) {
    RewriteResult r = rewrite_subprotocols(p.buf);
    if (!r.ok) {
        refuse(fd, r.refusal);
        return;
    }
    if (r.rewritten.head != p.buf) {
        // Take the head off the socket; lws gets the rewritten one.
        const size_t head_len = p.buf.size();
        ssize_t taken;
        do {
            taken = ::recv(fd, p.buf.data(), head_len, 0);
        } while (taken < 0 && errno == EINTR);
        if (taken != static_cast<ssize_t>(head_len)) {
            drop(fd);
            return;
        }
        r.rewritten.consumed = true;
    }
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    pending_.erase(fd);
    on_ready_(fd, std::move(r.rewritten));
}

void HandshakeReader::drop(int fd) {
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    pending_.erase(fd);
    ::close(fd);
}

void HandshakeReader::refuse(int fd, const HttpRefusal& r) {
    spdlog::info("event=upgrade_refused status={} code={} reason=\"{}\"", r.status, r.code,
                 r.message);
    const std::string body = error_body(r.code, r.message);
    const char* reason = r.status == 400   ? "Bad Request"
                         : r.status == 403 ? "Forbidden"
                         : r.status == 431 ? "Request Header Fields Too Large"
                                           : "Error";
    std::string resp = "HTTP/1.1 " + std::to_string(r.status) + " " + reason +
                       "\r\nContent-Type: application/json\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    // Best effort: the response is small and the socket's buffer is empty, so one send fits.
    (void)::send(fd, resp.data(), resp.size(), MSG_NOSIGNAL);
    drop(fd);
}

void HandshakeReader::expire(int64_t now_ms, int64_t timeout_ms) {
    std::vector<int> stale;
    for (auto& [fd, p] : pending_)
        if (now_ms - p.since_ms > timeout_ms) stale.push_back(fd);
    for (int fd : stale) drop(fd);
}

}  // namespace quckrt::net
