// The huddles API (docs/huddles.md), for the admin token or a user JWT:
//   POST /api/huddles                {"conversationId","createdBy"?} -> 201 new / 200 existing
//   GET  /api/huddles/:id            -> {id, conversationId, createdBy, createdAt, participants,
//   ...} POST /api/huddles/:id/invite     {"userIds":[...]} -> {huddleId, invited, skipped}
// With storage a user must be a member of the huddle's conversation (create, read) and a
// participant to invite; the admin may do anything. Errors are {"error":{"code","message"}}.
#include "chat/chat_service.hpp"
#include "huddles/huddle_channel.hpp"
#include "net/http_response.hpp"
#include "net/loop.hpp"
#include "net/server_impl.hpp"

namespace quckrt::net {
namespace {

constexpr std::string_view kHuddlesPath = "/api/huddles";

std::pair<unsigned, std::string> refusal(const huddles::Outcome& o) {
    std::string message = o.refused;
    if (const Json* detail = o.reply.find("detail"); detail && detail->is_string())
        message += ": " + detail->as_string();
    const std::string& r = o.refused;
    if (r == huddles::reason::kNotFound) return {404, error_body("NOT_FOUND", message)};
    if (r == huddles::reason::kNotMember || r == huddles::reason::kNotParticipant)
        return {403, error_body("FORBIDDEN", message)};
    if (r == huddles::reason::kUnavailable) return {503, error_body("UNAVAILABLE", message)};
    if (r == huddles::reason::kRateLimited) return {429, error_body("RATE_LIMITED", message)};
    if (r == huddles::reason::kHuddleExists || r == huddles::reason::kFull)
        return {409, error_body("CONFLICT", message)};
    return {400, error_body("BAD_REQUEST", message)};
}

}  // namespace

bool Loop::is_huddles_api(std::string_view uri) {
    return uri == kHuddlesPath ||
           (uri.starts_with(kHuddlesPath) && uri.size() > kHuddlesPath.size() &&
            uri[kHuddlesPath.size()] == '/');
}

void Loop::dispatch_huddles(HttpExchange& ex) {
    const uint64_t id = ex.id;
    huddles::HuddleManager* manager = server_.huddles();
    if (!manager) return answer(id, 404, error_body("NOT_FOUND", "huddles are disabled"));

    // Who is asking: the admin (actor empty) or a user.
    const std::optional<std::string> caller = identify_caller(ex);
    if (!caller) return;  // answered 401
    const std::string& actor = *caller;
    if (ex.body_too_large) return answer(id, 413, error_body("TOO_LARGE", "body over 64 KiB"));
    Json body = Json::object();
    if (ex.method == "POST") {
        auto parsed = json_object_body(ex.body);
        if (!parsed) return answer(id, 400, error_body("BAD_REQUEST", "body must be a JSON object"));
        body = std::move(*parsed);
    }

    chat::ChatService* chat = server_.chat();
    storage::StorageQueue* membership = chat ? &chat->queue() : nullptr;
    // Completions may run on the storage writer: the answer goes back through this loop.
    auto reply_later = answer_later(id);
    auto respond = [reply_later](unsigned ok_status) {
        return [reply_later, ok_status](huddles::Outcome o) {
            if (o.ok()) return reply_later(ok_status, o.reply.dump());
            auto [status, err] = refusal(o);
            reply_later(status, std::move(err));
        };
    };

    if (ex.uri == kHuddlesPath) {
        if (ex.method != "POST")
            return answer(id, 404, error_body("NOT_FOUND", "no such endpoint"));
        const Json* conv = body.find("conversationId");
        const Json* by = body.find("createdBy");
        if (!conv || !conv->is_string())
            return answer(id, 400, error_body("BAD_REQUEST", "conversationId must be a string"));
        if (by && !by->is_string())
            return answer(id, 400, error_body("BAD_REQUEST", "createdBy must be a string"));
        if (actor.empty() && (!by || by->as_string().empty()))
            return answer(id, 400,
                          error_body("BAD_REQUEST", "createdBy is required with the admin token"));
        if (!actor.empty() && by && by->as_string() != actor)
            return answer(id, 403,
                          error_body("FORBIDDEN", "createdBy must be the token's subject"));
        return huddles::create_checked(
            *manager, membership, conv->as_string(), actor, by ? by->as_string() : "",
            [reply_later](huddles::Outcome o) {
                if (!o.ok()) {
                    auto [status, err] = refusal(o);
                    return reply_later(status, std::move(err));
                }
                reply_later(o.reply.get_bool("created") ? 201 : 200, o.reply.dump());
            });
    }

    // "/api/huddles/<id>" or "/api/huddles/<id>/invite"
    const std::string_view rest = std::string_view(ex.uri).substr(kHuddlesPath.size() + 1);
    const size_t slash = rest.find('/');
    const std::string huddle_id(rest.substr(0, slash));
    const std::string_view action =
        slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (huddle_id.empty()) return answer(id, 404, error_body("NOT_FOUND", "no such endpoint"));

    if (slash == std::string_view::npos && ex.method == "GET") {
        auto conversation = manager->conversation_of(huddle_id);
        if (!conversation) return answer(id, 404, error_body("NOT_FOUND", "no such huddle"));
        // The admin reads any huddle; a user one of their conversations (without storage:
        // any authenticated user).
        if (actor.empty()) membership = nullptr;
        return huddles::authorize(membership, *conversation, actor,
                                  [manager, huddle_id, reply_later](const char* refused) {
                                      if (refused) {
                                          huddles::Outcome o;
                                          o.refused = refused;
                                          auto [status, err] = refusal(o);
                                          return reply_later(status, std::move(err));
                                      }
                                      auto described = manager->describe(huddle_id);
                                      if (!described)
                                          return reply_later(
                                              404, error_body("NOT_FOUND", "no such huddle"));
                                      reply_later(200, described->dump());
                                  });
    }
    if (action == "invite" && ex.method == "POST") {
        std::vector<std::string> ids;
        const size_t max = manager->config().max_invitees;
        if (!huddles::parse_user_ids(body, max, ids))
            return answer(id, 400,
                          error_body("BAD_REQUEST", "userIds must be an array of 1 to " +
                                                        std::to_string(max) + " user ids"));
        return huddles::invite_checked(*manager, membership, huddle_id, actor, std::move(ids),
                                       respond(200));
    }
    answer(id, 404, error_body("NOT_FOUND", "no such endpoint"));
}

}  // namespace quckrt::net
