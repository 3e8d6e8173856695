// The calls API (docs/calls.md), for the admin token or a JWT of one of the call's parties:
//   POST /api/calls/:call_id/invite        {"userId"?}  ring the callee of a ringing call again
//   GET  /api/calls/:call_id/participants  -> {callId, state, ..., participants:[...]}
// Calls are 1:1: inviting anyone but the callee is 409. Only live calls (ringing or active)
// are known here; an ended or unknown call is 404.
#include "calls/call_manager.hpp"
#include "net/http_response.hpp"
#include "net/loop.hpp"
#include "net/server_impl.hpp"

namespace quckrt::net {
namespace {

constexpr std::string_view kCallsPrefix = "/api/calls/";

std::pair<unsigned, std::string> refusal(const calls::Answer& a) {
    const std::string message = a.refused;
    if (a.refused == calls::reason::kNotFound) return {404, error_body("NOT_FOUND", "no such call")};
    if (a.refused == calls::reason::kNotAParty)
        return {403, error_body("FORBIDDEN", "not a party of this call")};
    if (a.refused == calls::reason::kOneToOne || a.refused == calls::reason::kNotRinging)
        return {409, error_body("CONFLICT", message)};
    return {400, error_body("BAD_REQUEST", message)};
}

}  // namespace

void Loop::dispatch_calls(HttpExchange& ex) {
    const uint64_t id = ex.id;
    calls::CallManager* calls = server_.calls();
    if (!calls) return answer(id, 404, error_body("NOT_FOUND", "calls are disabled"));

    // Who is asking: the admin (any call) or a user (only their own calls).
    const std::optional<std::string> caller = identify_caller(ex);
    if (!caller) return;  // answered 401
    const std::string& actor = *caller;
    if (ex.body_too_large) return answer(id, 413, error_body("TOO_LARGE", "body over 64 KiB"));

    // "/api/calls/<id>/<action>"
    const std::string_view rest = std::string_view(ex.uri).substr(kCallsPrefix.size());
    const size_t slash = rest.find('/');
    if (slash == std::string_view::npos || slash == 0)
        return answer(id, 404, error_body("NOT_FOUND", "no such endpoint"));
    const std::string call_id(rest.substr(0, slash));
    const std::string_view action = rest.substr(slash + 1);

    if (action == "participants" && ex.method == "GET") {
        auto described = calls->describe(call_id);
        if (!described) return answer(id, 404, error_body("NOT_FOUND", "no such call"));
        if (!actor.empty() && !calls->is_party(call_id, actor))
            return answer(id, 403, error_body("FORBIDDEN", "not a party of this call"));
        return answer(id, 200, described->dump());
    }
    if (action == "invite" && ex.method == "POST") {
        auto body = json_object_body(ex.body);
        if (!body)
            return answer(id, 400, error_body("BAD_REQUEST", "body must be a JSON object"));
        const Json* user = body->find("userId");
        if (user && !user->is_string())
            return answer(id, 400, error_body("BAD_REQUEST", "userId must be a string"));
        calls::Answer a = calls->invite(call_id, user ? user->as_string() : "", actor);
        if (a.ok()) return answer(id, 200, a.reply.dump());
        auto [status, err] = refusal(a);
        return answer(id, status, std::move(err));
    }
    answer(id, 404, error_body("NOT_FOUND", "no such endpoint"));
}

}  // namespace quckrt::net
