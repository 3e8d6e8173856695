#include "chat/resume.hpp"

#include <algorithm>

#include "chat/chat_service.hpp"
#include "core/ids.hpp"

namespace quckrt::chat {

ResumeDecision decide_resume(int64_t after_seq, SeqRange range, const ResumeWindow& window,
                             int64_t now_ms, const EventTime& created_at_of) {
    ResumeDecision d;
    d.last_seq = range.last;
    // The first seq the window serves by count (and by what the log still holds).
    int64_t first = std::max(range.first, range.last - std::max<int64_t>(window.max_events, 0) + 1);
    first = std::min(first, range.last + 1);
    // By age: the first event young enough. Events are appended in time order, so
    // created_at is non-decreasing in seq and a binary search finds the boundary.
    if (window.max_age_ms > 0 && first <= range.last) {
        const int64_t oldest = now_ms - window.max_age_ms;
        if (created_at_of(first) < oldest) {
            int64_t lo = first + 1, hi = range.last + 1;  // answer in [lo, hi]
            while (lo < hi) {
                const int64_t mid = lo + (hi - lo) / 2;
                if (created_at_of(mid) < oldest) {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            first = lo;
        }
    }
    d.first_seq = first;
    if (after_seq > range.last) {
        d.reason = "ahead";
        return d;
    }
    // (after_seq == range.last is always recoverable: first <= range.last + 1.)
    if (after_seq < first - 1) {
        d.reason = "out_of_window";
        return d;
    }
    d.recovered = true;
    d.reason.clear();
    d.from_seq = after_seq + 1;
    d.to_seq = range.last;
    return d;
}

std::pair<std::string, Json> event_wire(const ConversationEvent& e) {
    if (e.kind == EventKind::message_created && e.message) return {"message:new", message_json(*e.message)};
    Json p = Json::object({{"messageId", e.message_id},
                           {"conversationId", e.conversation_id},
                           {"seq", e.seq},
                           {"userId", e.actor_id}});
    switch (e.kind) {
        case EventKind::message_created:  // without its message (a storage that omits it)
            return {"message:new", std::move(p)};
        case EventKind::message_edited:
            p.set("content", e.payload.get_string("content", ""));
            p.set("editedAt", core::iso8601_utc(e.created_at));
            return {"message:edited", std::move(p)};
        case EventKind::message_deleted: return {"message:deleted", std::move(p)};
        case EventKind::reaction_added:
            p.set("emoji", e.payload.get_string("emoji", ""));
            return {"message:reaction:added", std::move(p)};
        case EventKind::reaction_removed:
            p.set("emoji", e.payload.get_string("emoji", ""));
            return {"message:reaction:removed", std::move(p)};
    }
    return {"message:new", std::move(p)};
}

bool already_replayed(std::string_view event, const Json& payload, int64_t replayed_to) {
    if (event != "message:new" && event != "message:edited" && event != "message:deleted" &&
        event != "message:reaction:added" && event != "message:reaction:removed")
        return false;
    const Json* seq = payload.find("seq");
    return seq && seq->is_integer() && seq->as_int() <= replayed_to;
}

}  // namespace quckrt::chat
