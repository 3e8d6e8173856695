// Plain HTTP endpoints of the engine: health probes and the read-only presence API.
// Anything else is a JSON 404. API calls need `Authorization: Bearer <token>` with either
// the admin token or a valid user JWT.
#include <cstdlib>

#include "net/http_response.hpp"
#include "net/loop.hpp"
#include "net/server_impl.hpp"

namespace quckrt::net {
namespace {

constexpr std::string_view kPresencePrefix = "/api/presence/";
constexpr size_t kMaxPageSize = 1000;

std::string header_value(lws* wsi, lws_token_indexes token) {
    const int n = lws_hdr_total_length(wsi, token);
    if (n <= 0 || n > 8192) return {};
    std::string out(static_cast<size_t>(n) + 1, '\0');
    if (lws_hdr_copy(wsi, out.data(), n + 1, token) < 0) return {};
    out.resize(static_cast<size_t>(n));
    return out;
}

size_t url_number(lws* wsi, const char* name_eq, size_t fallback, size_t max) {
    char buf[32];
    const char* v = lws_get_urlarg_by_name(wsi, name_eq, buf, sizeof(buf));
    if (!v || !*v) return fallback;
    if (*v < '0' || *v > '9') return fallback;  // no sign, no spaces
    char* end = nullptr;
    const unsigned long long n = std::strtoull(v, &end, 10);
    if (*end != '\0') return fallback;
    return n > max ? max : static_cast<size_t>(n);
}

Json user_json(const UserPresence& p) {
    return Json::object({{"userId", p.user_id},
                         {"online", p.online},
                         {"metas", p.metas},
                         {"lastSeen", p.last_seen_ms ? Json(p.last_seen_ms) : Json()}});
}

}  // namespace

int Loop::on_http(lws* wsi, std::string_view uri) {
    unsigned status = 200;
    std::string body;
    if (uri == "/health" || uri == "/health/live") {
        body = Json::object({{"status", "ok"}, {"connections", server_.connections().load()}})
                   .dump();
    } else if (uri == "/health/ready") {
        const bool ready = !server_.draining();
        status = ready ? 200 : 503;
        body = Json::object({{"status", ready ? "ready" : "draining"}}).dump();
    } else if (uri.starts_with("/api/")) {
        const std::string auth = header_value(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
        const std::string_view token =
            auth.starts_with("Bearer ") ? std::string_view(auth).substr(7) : std::string_view();
        const std::string& admin = server_.options().admin_token;
        const bool allowed =
            !token.empty() && ((!admin.empty() && constant_time_equal(token, admin)) ||
                               server_.authenticator().authenticate({.token = token}).has_value());
        if (!allowed) {
            status = 401;
            body = error_body("UNAUTHENTICATED", "Authorization: Bearer <token> required");
        } else if (uri == "/api/presence/online") {
            const size_t offset = url_number(wsi, "offset=", 0, SIZE_MAX);
            const size_t limit = url_number(wsi, "limit=", 100, kMaxPageSize);
            size_t total = 0;
            Json users = Json::array();
            for (auto& id : server_.presence().online_users(offset, limit, &total))
                users.push_back(std::move(id));
            body = Json::object({{"users", std::move(users)},
                                 {"total", static_cast<int64_t>(total)},
                                 {"offset", static_cast<int64_t>(offset)},
                                 {"limit", static_cast<int64_t>(limit)}})
                       .dump();
        } else if (uri == "/api/presence") {
            // ?user_id=... for ids the path form cannot carry ("online", or a '/').
            char buf[512];
            const char* id = lws_get_urlarg_by_name(wsi, "user_id=", buf, sizeof(buf));
            if (!id || !*id) {
                status = 400;
                body = error_body("BAD_REQUEST", "user_id query parameter required");
            } else {
                body = user_json(server_.presence().user(id)).dump();
            }
        } else if (uri.starts_with(kPresencePrefix) && uri.size() > kPresencePrefix.size() &&
                   uri.find('/', kPresencePrefix.size()) == std::string_view::npos) {
            body = user_json(server_.presence().user(uri.substr(kPresencePrefix.size()))).dump();
        } else {
            status = 404;
            body = error_body("NOT_FOUND", "no such endpoint");
        }
    } else {
        status = 404;
        body = error_body("NOT_FOUND", "no such endpoint");
    }
    if (!write_json(wsi, status, body)) return -1;
    // Keep-alive: wait for the next request on this connection, or close.
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

}  // namespace quckrt::net
