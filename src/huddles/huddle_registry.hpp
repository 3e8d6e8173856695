// HuddleRegistry: the huddle state machine, pure (no clock, no I/O, no lock), after the
// Phoenix Tracker's split of state from process. It holds the live huddles by id and by
// conversation (at most one per conversation), their participants with media state, and
// the screen-share lock. Every transition takes the time as `now_ms` where it needs one and
// returns an Outcome: a refusal with a reason, or the ok reply plus the events to publish.
// The HuddleManager (huddle_manager.hpp) wraps it with a mutex, a Clock and a publisher.
//
//   create ─► open (no participants) ──join──► live ──last participant leaves──► removed
//               └── nobody joins within empty_timeout_ms (expire) ──► removed
//
// Participants are users: a user with two devices (two `huddle:{id}` channels) is one
// participant and counts once against max_participants. Each device is a "connection"
// (an opaque key the caller picks); the user leaves when their last connection does. The
// screen-share lock belongs to one connection: it frees when that connection stops sharing
// or goes, even if the user stays on another device.
//
// Reconnect grace (a participant, like a call party in calls/call_state.hpp):
//
//   connected ──last connection leave()s──────────────────────────────► gone (left)
//       │  ▲
//       │  └── join of the same user before expire() removed them (restored, state kept)
//       └── last connection disconnect()s (transport closed) ──► reconnecting
//              └── grace_ms passed (expire) ──────────────────────► gone (disconnected)
//
// A reconnecting participant keeps their place (cap), audio/video/hand, and keeps the
// huddle alive; their screen lock went with the connection that held it.
//
// Event names, payload shapes and refusal reasons are listed in docs/huddles.md.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <quckrt/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace quckrt::huddles {

// Refusal reasons (the `reason` of an error reply).
namespace reason {
inline constexpr const char* kNotFound = "not found";
inline constexpr const char* kFull = "huddle full";
inline constexpr const char* kScreenInUse = "screen share in use";
inline constexpr const char* kNotParticipant = "not a participant";
inline constexpr const char* kInvalidPayload = "invalid payload";
inline constexpr const char* kHuddleExists = "huddle exists";  // create with a taken id
// Used by the channel and HTTP glue (membership lives in storage, not here).
inline constexpr const char* kNotMember = "not a member";
inline constexpr const char* kUnavailable = "unavailable";
inline constexpr const char* kRateLimited = "rate_limited";  // with retryAfterMs
}  // namespace reason

struct HuddleConfig {
    size_t max_participants = 50;       // users; the next join is refused with kFull
    int64_t empty_timeout_ms = 60'000;  // a huddle nobody joins is removed after this
    size_t max_message_bytes = 4096;    // huddle:message content
    size_t max_invitees = 100;          // user ids in one invite
    // A participant whose last connection disconnect()s stays, reconnecting, this long
    // (a network switch, phoenix.js rejoining); 0 = they leave at once, like a leave().
    int64_t grace_ms = 10'000;
    // huddle:message and invites per user (token bucket, HuddleManager); 0 = unlimited.
    double rate_per_second = 10;
    double rate_burst = 30;
};

struct Participant {
    std::string user_id;
    bool audio = true;
    bool video = false;
    bool hand_raised = false;
    int64_t joined_at = 0;
    std::vector<uint64_t> connections;  // devices in the huddle, in join order
    // Set while reconnecting (no connection left after a disconnect): when expire() removes
    // them. Empty whenever `connections` is not.
    std::optional<int64_t> grace_until{};

    bool connected() const { return !connections.empty(); }
};

struct Huddle {
    std::string id;
    std::string conversation_id;
    std::string created_by;
    int64_t created_at = 0;
    std::vector<Participant> participants;  // in join order
    // The screen-share lock: the sharing user and the connection that holds it.
    std::optional<std::pair<std::string, uint64_t>> screen;

    const Participant* participant(std::string_view user) const;
    Participant* participant(std::string_view user);
    bool sharing(std::string_view user) const { return screen && screen->first == user; }
};

// Effect: publish `event` with `payload` on `topic` (huddle:{id}, chat:{conversation} or
// user:{id}).
struct Effect {
    std::string topic;
    std::string event;
    Json payload;
};

// Outcome: `refused` empty means accepted and `reply` is the ok response; otherwise
// `reply` is the error response ({"reason": refused, ...}) and there are no effects.
struct Outcome {
    std::string refused;
    Json reply = Json::object();
    std::vector<Effect> effects;
    bool ok() const { return refused.empty(); }
};

// MediaChange: what a toggle asks for; `set` empty flips the current value.
struct MediaChange {
    enum class Kind { audio, video, screen, hand };
    Kind kind;
    std::optional<bool> set;
};

class HuddleRegistry {
  public:
    explicit HuddleRegistry(HuddleConfig config) : config_(config) {}

    // create: open a huddle with id `id` for the conversation, or answer the one the
    // conversation already has (reply: describe() plus "topic" and "created", which says
    // which; only a new one publishes
    // huddle:started on chat:{conversation}). Refused with kHuddleExists when `id` is taken
    // by another conversation's huddle.
    Outcome create(const std::string& id, const std::string& conversation_id,
                   const std::string& created_by, int64_t now_ms);
    // join: connection `conn` of `user` enters. A user already in the huddle adds a device
    // (no event); a reconnecting one is restored with their state, announced with
    // huddle:participant:updated (connected: true); a new user needs a free place (kFull)
    // and is announced with huddle:participant:joined. `audio` / `video`: the new
    // participant's initial state (ignored for a user already in, reconnecting or not).
    // A reconnecting user whose grace has run out but whom expire() has not removed yet is
    // still restored: the grace is at least grace_ms, up to one expire() period more.
    Outcome join(const std::string& huddle_id, const std::string& user, uint64_t conn, bool audio,
                 bool video, int64_t now_ms);
    // leave: connection `conn` goes on purpose. Frees the screen if it held it; the user's
    // last connection removes the participant (huddle:participant:left, reason "left"); the
    // last participant removes the huddle (huddle:ended, reason "empty"). Unknown
    // huddle/connection: ok, no effects.
    Outcome leave(const std::string& huddle_id, const std::string& user, uint64_t conn);
    // disconnect: connection `conn` went because its transport closed; the client is
    // expected back. Like leave, except that the user's last connection going starts their
    // grace: they stay a participant, reconnecting until now_ms + grace_ms
    // (huddle:participant:updated, connected: false). With grace_ms 0 they leave at once
    // (reason "disconnected").
    Outcome disconnect(const std::string& huddle_id, const std::string& user, uint64_t conn,
                       int64_t now_ms);
    // change: audio, video, screen (lock) or raised hand of a participant. No event when
    // nothing changed. Screen on from another connection while someone shares:
    // kScreenInUse. Screen off by a user who does not share: ok, nothing changes.
    Outcome change(const std::string& huddle_id, const std::string& user, uint64_t conn,
                   MediaChange change);
    // message: huddle:message:new with a server id and time. content must be 1 to
    // max_message_bytes bytes.
    Outcome message(const std::string& huddle_id, const std::string& user,
                    const std::string& content, const std::string& message_id, int64_t now_ms);
    // invite: huddle:invite on user:{id} for each invitee. `actor` empty = admin (HTTP);
    // otherwise it must be a participant. Current participants (and the actor) are skipped.
    Outcome invite(const std::string& huddle_id, const std::string& actor,
                   const std::vector<std::string>& user_ids, int64_t now_ms);

    // expire: remove reconnecting participants whose grace has run out
    // (huddle:participant:left, reason "disconnected"; the huddle ends, reason "empty", when
    // that was the last one), and huddles nobody joined within empty_timeout_ms of their
    // creation (huddle:ended, reason "expired"). A huddle that had participants is removed
    // when the last one goes, so "expired" means "never joined".
    std::vector<Effect> expire(int64_t now_ms);

    const Huddle* find(std::string_view huddle_id) const;
    const Huddle* by_conversation(std::string_view conversation_id) const;
    size_t size() const { return huddles_.size(); }
    const HuddleConfig& config() const { return config_; }

    // describe(huddle): the wire view {id, conversationId, createdBy, createdAt,
    // participants:[...], screenSharer, maxParticipants} (GET /api/huddles/:id, join reply).
    Json describe(const Huddle& huddle) const;

  private:
    Huddle* find_mut(std::string_view huddle_id);
    // depart: `conn` of `user` ends; `grace_until` set = start the grace if it was their
    // last connection, else remove them with `why` ("left" / "disconnected").
    Outcome depart(const std::string& huddle_id, const std::string& user, uint64_t conn,
                   std::optional<int64_t> grace_until, const char* why);
    // drop: remove participant `index` of `h` (huddle:participant:left with `why`); removes
    // the huddle (reason "empty") when nobody is left. `h` is dangling afterwards if so.
    void drop(Huddle& h, size_t index, const char* why, std::vector<Effect>& effects);
    void remove(const std::string& huddle_id, const char* why, std::vector<Effect>& effects);

    HuddleConfig config_;
    std::map<std::string, Huddle, std::less<>> huddles_;
    std::unordered_map<std::string, std::string> by_conversation_;  // conversation -> huddle id
};

// topic(huddle_id): "huddle:{huddle_id}".
std::string topic(std::string_view huddle_id);
// participant_json(p, huddle): {userId, audio, video, screen, handRaised, joinedAt, devices,
// connected}.
Json participant_json(const Participant& p, const Huddle& huddle);

}  // namespace quckrt::huddles
