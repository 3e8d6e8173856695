// The WebSocket upgrade: every check that can refuse a connection runs here, before the
// 101, so a refused client gets an HTTP status and a JSON reason instead of a socket.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "net/http_response.hpp"
#include "net/loop.hpp"
#include "net/server_impl.hpp"

namespace quckrt::net {
namespace {

// Longest query parameter we read (a JWT in `token=` is the long one).
constexpr int kMaxUrlArg = 8192;

std::string header(lws* wsi, lws_token_indexes token) {
    const int n = lws_hdr_total_length(wsi, token);
    if (n <= 0) return {};
    std::string out(static_cast<size_t>(n) + 1, '\0');
    if (lws_hdr_copy(wsi, out.data(), n + 1, token) < 0) return {};
    out.resize(static_cast<size_t>(n));
    return out;
}

// url_arg(wsi, name): the (url-decoded) value of query parameter `name`, if present.
bool url_arg(lws* wsi, const char* name_eq, std::string& out) {
    char buf[kMaxUrlArg];
    const char* v = lws_get_urlarg_by_name(wsi, name_eq, buf, sizeof(buf));
    if (!v) return false;
    out.assign(v);
    return true;
}

struct Refusal {
    unsigned status;
    std::string code;
    std::string message;
};

unsigned status_for(const Status& s) {
    return s.code() == StatusCode::permission_denied ? 403 : 401;
}

}  // namespace

int Loop::on_confirm_upgrade(lws* wsi) {
    const ServerOptions& opts = server_.options();
    auto refuse = [&](const Refusal& r) {
        spdlog::info("event=upgrade_refused status={} code={} reason=\"{}\"", r.status, r.code,
                     r.message);
        // >0 tells lws we answered the request ourselves.
        return write_json(wsi, r.status, error_body(r.code, r.message)) ? 1 : -1;
    };

    if (draining_ || server_.draining())
        return refuse({503, "SHUTTING_DOWN", "server is shutting down"});
    if (header(wsi, WSI_TOKEN_GET_URI) != opts.socket_path + "/websocket")
        return refuse({404, "NOT_FOUND", "no WebSocket endpoint at this path"});

    std::string vsn;
    if (!url_arg(wsi, "vsn=", vsn) || !vsn.starts_with("2."))
        return refuse({403, "UNSUPPORTED_VERSION", "only the Phoenix V2 serializer (vsn=2.0.0) "
                                                   "is supported"});

    const std::string origin = header(wsi, WSI_TOKEN_ORIGIN);
    if (!opts.allowed_origins.empty() &&
        std::find(opts.allowed_origins.begin(), opts.allowed_origins.end(), origin) ==
            opts.allowed_origins.end())
        return refuse({403, "FORBIDDEN_ORIGIN", "origin not allowed"});

    // The token, in order: the phoenix.js 1.8 authToken subprotocol (taken out of the
    // header by the HandshakeReader), the `token` query param, an Authorization: Bearer
    // header (non-browser clients).
    std::string token;
    if (auto it = bearer_tokens_.find(lws_get_socket_fd(wsi)); it != bearer_tokens_.end()) {
        token = std::move(it->second);
        bearer_tokens_.erase(it);
    }
    if (token.empty()) url_arg(wsi, "token=", token);
    if (token.empty()) {
        const std::string auth = header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
        if (auth.starts_with("Bearer ")) token = auth.substr(7);
    }

    char peer[64] = {0};
    lws_get_peer_simple(wsi, peer, sizeof(peer));
    const std::string user_agent = header(wsi, WSI_TOKEN_HTTP_USER_AGENT);
    auto claims = server_.authenticator().authenticate(
        ConnectRequest{.token = token, .origin = origin, .user_agent = user_agent, .peer = peer});
    if (!claims) {
        const Status& st = claims.error();
        return refuse({status_for(st),
                       st.code() == StatusCode::permission_denied ? "FORBIDDEN" : "UNAUTHENTICATED",
                       st.message()});
    }

    if (server_.connections().fetch_add(1) >= opts.max_connections) {
        server_.connections().fetch_sub(1);
        return refuse({503, "SERVER_FULL", "connection limit reached on this node"});
    }
    // The slot is reserved; WSI_DESTROY releases it if the upgrade never completes.
    std::string device;
    url_arg(wsi, "device=", device);
    pending_[wsi] = PendingConnection{std::move(*claims),
                                      ConnectInfo{user_agent, device.substr(0, 64), peer}};
    return 0;
}

}  // namespace quckrt::net
