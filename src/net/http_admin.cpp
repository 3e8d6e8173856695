// The conversation and membership API of the server (needs storage and the admin token):
//   POST   /api/conversations                       {"id","kind":"direct"|"group","members":[...]}
//   GET    /api/conversations/:id                   -> {id, kind, lastSeq, members:[...]}
//   POST   /api/conversations/:id/members           {"userId"}
//   DELETE /api/conversations/:id/members/:user_id
// Errors are {"error":{"code","message"}} with 400/401/404/409/413/503.
#include <spdlog/spdlog.h>

#include "chat/chat_service.hpp"
#include "net/http_response.hpp"
#include "net/loop.hpp"
#include "net/server_impl.hpp"

namespace quckrt::net {
namespace {

constexpr std::string_view kPrefix = "/api/conversations";

std::pair<unsigned, std::string> status_error(const Status& st) {
    switch (st.code()) {
        case StatusCode::not_found: return {404, error_body("NOT_FOUND", st.message())};
        case StatusCode::already_exists: return {409, error_body("ALREADY_EXISTS", st.message())};
        case StatusCode::invalid_argument:
        case StatusCode::failed_precondition:
            return {400, error_body("BAD_REQUEST", st.message())};
        case StatusCode::unavailable:
        case StatusCode::resource_exhausted:
            return {503, error_body("UNAVAILABLE", st.message())};
        default: return {500, error_body("INTERNAL", "internal error")};
    }
}

Json conversation_json(const Conversation& c, const std::vector<Member>& members) {
    Json list = Json::array();
    for (const auto& m : members)
        list.push_back(Json::object(
            {{"userId", m.user_id}, {"joinedAt", m.joined_at}, {"lastReadSeq", m.last_read_seq}}));
    return Json::object({{"id", c.id},
                         {"kind", to_string(c.kind)},
                         {"lastSeq", c.last_seq},
                         {"members", std::move(list)}});
}

// split(path): "/a/b/c" -> {"a","b","c"}.
std::vector<std::string> split(std::string_view path) {
    std::vector<std::string> out;
    size_t pos = 1;
    while (pos <= path.size()) {
        size_t next = path.find('/', pos);
        if (next == std::string_view::npos) next = path.size();
        out.emplace_back(path.substr(pos, next - pos));
        pos = next + 1;
    }
    return out;
}

}  // namespace

bool Loop::is_admin_api(std::string_view uri) {
    return uri == kPrefix || uri.starts_with(std::string(kPrefix) + "/") ||
           uri.starts_with("/api/calls/") || is_huddles_api(uri);
}

void Loop::answer(uint64_t exchange_id, unsigned status, std::string body) {
    auto it = exchanges_.find(exchange_id);
    if (it == exchanges_.end()) return;  // the client went away
    HttpExchange& ex = *it->second.second;
    ex.answered = true;
    ex.status = status;
    ex.response = std::move(body);
    lws_callback_on_writable(it->second.first);
}

std::function<void(unsigned, std::string)> Loop::answer_later(uint64_t exchange_id) {
    std::weak_ptr<PostQueue> queue = queue_;
    return [this, queue, exchange_id](unsigned status, std::string response) {
        if (auto q = queue.lock())
            q->post([this, exchange_id, status, response = std::move(response)]() mutable {
                answer(exchange_id, status, std::move(response));
            });
    };
}

std::string_view Loop::bearer_token(const HttpExchange& ex) {
    const std::string_view auth(ex.authorization);
    return auth.starts_with("Bearer ") ? auth.substr(7) : std::string_view();
}

std::optional<std::string> Loop::identify_caller(const HttpExchange& ex) {
    const std::string_view token = bearer_token(ex);
    if (token.empty()) {
        answer(ex.id, 401, error_body("UNAUTHENTICATED", "Authorization: Bearer <token> required"));
        return std::nullopt;
    }
    const std::string& admin = server_.options().admin_token;
    if (!admin.empty() && constant_time_equal(token, admin)) return std::string();
    auto claims = server_.authenticator().authenticate({.token = token});
    if (!claims) {
        answer(ex.id, 401, error_body("UNAUTHENTICATED", "invalid token"));
        return std::nullopt;
    }
    return claims->user_id;
}

// dispatch_admin: validate, then run the storage work on the writer; the completion posts
// the response back to this loop.
void Loop::dispatch_admin(HttpExchange& ex) {
    if (ex.uri.starts_with("/api/calls/")) return dispatch_calls(ex);
    if (is_huddles_api(ex.uri)) return dispatch_huddles(ex);
    const uint64_t id = ex.id;
    const std::string& admin = server_.options().admin_token;
    const std::string_view token = bearer_token(ex);
    if (admin.empty() || token.empty() || !constant_time_equal(token, admin))
        return answer(id, 401, error_body("UNAUTHENTICATED", "admin token required"));
    chat::ChatService* chat = server_.chat();
    if (!chat) return answer(id, 404, error_body("NOT_FOUND", "the server runs without storage"));
    if (ex.body_too_large) return answer(id, 413, error_body("TOO_LARGE", "body over 64 KiB"));

    Json body = Json::object();
    if (ex.method == "POST") {
        auto parsed = json_object_body(ex.body);
        if (!parsed) return answer(id, 400, error_body("BAD_REQUEST", "body must be a JSON object"));
        body = std::move(*parsed);
    }
    std::vector<std::string> parts = split(ex.uri);  // "api", "conversations", ...
    auto reply_later = answer_later(id);
    auto submit = [&](auto op, auto done) {
        Status st = chat->queue().submit(std::move(op), std::move(done));
        if (!st.ok()) answer(id, 503, error_body("UNAVAILABLE", st.message()));
    };

    if (ex.method == "POST" && parts.size() == 2) {
        const std::string conv(body.get_string("id"));
        const std::string kind(body.get_string("kind", "group"));
        const Json* members = body.find("members");
        if (conv.empty() || conv.size() > 128 || conv.find('/') != std::string::npos)
            return answer(id, 400, error_body("BAD_REQUEST", "id must be 1-128 bytes, no '/'"));
        if (kind != "direct" && kind != "group")
            return answer(id, 400, error_body("BAD_REQUEST", "kind must be direct or group"));
        std::vector<std::string> users;
        if (members) {
            if (!members->is_array())
                return answer(id, 400, error_body("BAD_REQUEST", "members must be an array"));
            for (const Json& m : members->as_array()) {
                if (!m.is_string() || m.as_string().empty())
                    return answer(id, 400, error_body("BAD_REQUEST", "members are user ids"));
                users.push_back(m.as_string());
            }
        }
        const ConversationKind k = kind == "direct" ? ConversationKind::direct : ConversationKind::group;
        return submit(
            [conv, k, users](Storage& s) -> Result<Json> {
                const int64_t now = chat::unix_ms();
                if (Status st = s.create_conversation({.id = conv, .kind = k, .created_at = now});
                    !st.ok())
                    return st;
                for (const auto& u : users)
                    if (auto added = s.add_member(conv, u, now); !added) return added.error();
                auto c = s.get_conversation(conv);
                auto m = s.members(conv);
                if (!c) return c.error();
                if (!m) return m.error();
                return conversation_json(*c, *m);
            },
            [reply_later](Result<Json> r) {
                if (r) return reply_later(201, r->dump());
                auto [status, err] = status_error(r.error());
                reply_later(status, err);
            });
    }
    if (parts.size() < 3 || parts[2].empty())
        return answer(id, 404, error_body("NOT_FOUND", "no such endpoint"));
    const std::string conv = parts[2];
    if (ex.method == "GET" && parts.size() == 3) {
        return submit(
            [conv](Storage& s) -> Result<Json> {
                auto c = s.get_conversation(conv);
                if (!c) return c.error();
                auto m = s.members(conv);
                if (!m) return m.error();
                return conversation_json(*c, *m);
            },
            [reply_later](Result<Json> r) {
                if (r) return reply_later(200, r->dump());
                auto [status, err] = status_error(r.error());
                reply_later(status, err);
            });
    }
    if (parts.size() >= 4 && parts[3] == "members") {
        std::string user;
        bool add = false;
        if (ex.method == "POST" && parts.size() == 4) {
            user = body.get_string("userId");
            add = true;
        } else if (ex.method == "DELETE" && parts.size() == 5) {
            user = parts[4];
        } else {
            return answer(id, 404, error_body("NOT_FOUND", "no such endpoint"));
        }
        if (user.empty()) return answer(id, 400, error_body("BAD_REQUEST", "userId required"));
        return submit(
            [conv, user, add](Storage& s) -> Result<bool> {
                return add ? s.add_member(conv, user, chat::unix_ms()) : s.remove_member(conv, user);
            },
            [reply_later, add](Result<bool> r) {
                if (r)
                    return reply_later(200, Json::object({{add ? "added" : "removed", *r}}).dump());
                auto [status, err] = status_error(r.error());
                reply_later(status, err);
            });
    }
    answer(id, 404, error_body("NOT_FOUND", "no such endpoint"));
}

}  // namespace quckrt::net
