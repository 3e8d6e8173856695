// Resume: what a client that rejoins `chat:X` with `last_seq` gets. Two pure pieces used by
// the persisted chat channel (and unit-tested without sockets):
//   - decide_resume: can the conversation's event log serve everything after last_seq
//     within the configured window (count and age)? If not, which seqs are available;
//   - event_wire: the event name and payload of a log entry, the same shape a live
//     broadcast of that change has, so replayed and live events are indistinguishable;
//   - already_replayed: whether a held live frame is one the replay already carried.
//
// The seam between replay and live events is in the channel (src/chat/chat_channels.cpp):
// the subscription holds live frames from the moment it exists, replay pages are read from
// storage after that, and the held frames are released minus the ones already replayed.
// Docs: docs/chat.md "Resume".
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include <quckrt/json.hpp>
#include <quckrt/storage.hpp>

namespace quckrt::chat {

struct ResumeWindow {
    // Replay serves at most this many events; older positions get recovered:false.
    int64_t max_events = 10000;
    // Replay serves events at most this old (ms); 0: no age limit.
    int64_t max_age_ms = 7LL * 24 * 3600 * 1000;
};

struct ResumeDecision {
    bool recovered = false;
    // recovered: the replay covers from_seq..to_seq (to_seq as of the decision; events
    // after it follow live). from_seq == to_seq + 1 when nothing was missed.
    int64_t from_seq = 0;
    int64_t to_seq = 0;
    // not recovered: "ahead" (last_seq is beyond the conversation) or "out_of_window";
    // first_seq..last_seq is what a resume could serve now (page history for the rest).
    std::string reason{};
    int64_t first_seq = 1;
    int64_t last_seq = 0;
};

// created_at_of(seq): the time of the event with that seq (it exists: first..last of the
// range). Called O(log window) times, only when the age limit matters.
using EventTime = std::function<int64_t(int64_t seq)>;

// decide_resume(after_seq, range, window, now_ms, created_at_of).
ResumeDecision decide_resume(int64_t after_seq, SeqRange range, const ResumeWindow& window,
                             int64_t now_ms, const EventTime& created_at_of);

// event_wire(e): {event name, payload} of a log entry: message:new (the message in its
// current state), message:edited, message:deleted, message:reaction:added / :removed.
std::pair<std::string, Json> event_wire(const ConversationEvent& e);

// already_replayed(event, payload, replayed_to): true for a sequenced chat event with
// seq <= replayed_to (the replay carried it); other events (typing, presence, reads) never.
bool already_replayed(std::string_view event, const Json& payload, int64_t replayed_to);

}  // namespace quckrt::chat
