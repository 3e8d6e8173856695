// HandshakeReader: reads each new connection's HTTP request head before lws sees it.
//
// Why: phoenix.js 1.8 sends its token as a subprotocol (`Sec-WebSocket-Protocol: phoenix,
// base64url.bearer.phx.<token>`), and lws 4.1.6 drops any upgrade whose protocol list is
// longer than 127 bytes without answering. A real JWT makes the list longer than that. So
// we take the bearer entry out of the header here, keep the decoded token for the upgrade
// check, and hand lws the rewritten head (lws_adopt_socket_vhost_readbuf).
//
// Connections wait here in an epoll set of their own (one fd, watched by the loop), bounded
// in size and time; a request we cannot accept is answered with an HTTP error and closed.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <quckrt/status.hpp>

namespace quckrt::net {

// The largest request head we accept (a JWT in the URL and another in a header fit).
inline constexpr size_t kMaxRequestHead = 16 * 1024;

struct RewrittenHead {
    std::string head;          // the request head for lws, bearer entry removed
    std::string bearer_token;  // decoded token from the subprotocol, empty if none
    // consumed: the head was read from the socket and must be handed to lws (readbuf).
    // Otherwise nothing was read (the head only peeked at) and lws reads it itself — the
    // common case, and the only one for requests with a body: lws 4.1.6 feeds an adopted
    // readbuf to the body callbacks again.
    bool consumed = false;
};

struct HttpRefusal {
    unsigned status;
    std::string code;
    std::string message;
};

// rewrite_subprotocols(head): pure function over a complete request head (ending in
// "\r\n\r\n"). Removes `base64url.bearer.phx.*` entries from Sec-WebSocket-Protocol and
// decodes the token. Refuses (400) an undecodable token or more than one; refuses (403) a
// subprotocol list that does not offer `phoenix`; refuses (400) a list lws cannot parse.
struct RewriteResult {
    bool ok = false;
    RewrittenHead rewritten;
    HttpRefusal refusal;
};
RewriteResult rewrite_subprotocols(std::string_view head);

class HandshakeReader {
public:
    // on_ready(fd, rewritten): the connection is ready for lws; it now owns fd.
    using ReadyFn = std::function<void(int fd, RewrittenHead rewritten)>;

    explicit HandshakeReader(ReadyFn on_ready) : on_ready_(std::move(on_ready)) {}
    ~HandshakeReader();
    HandshakeReader(const HandshakeReader&) = delete;
    HandshakeReader& operator=(const HandshakeReader&) = delete;

    // open(): create the epoll set; returns its fd, to be watched for readability.
    Result<int> open();
    // add(fd, now_ms): start reading a freshly accepted connection.
    void add(int fd, int64_t now_ms);
    // service(): read whatever is ready; completes or refuses connections.
    void service();
    // expire(now_ms, timeout_ms): close connections that sent no complete head in time.
    void expire(int64_t now_ms, int64_t timeout_ms);
    size_t pending() const { return pending_.size(); }

private:
    struct Pending {
        std::string buf;
        int64_t since_ms = 0;
    };
    void finish(int fd, Pending& p);
    void drop(int fd);
    void refuse(int fd, const HttpRefusal& r);

    ReadyFn on_ready_;
    int epoll_fd_ = -1;
    std::unordered_map<int, Pending> pending_;
};

}  // namespace quckrt::net
