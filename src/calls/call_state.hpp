// CallRegistry: the 1:1 call state machine, pure (no clock, no I/O, no lock), after the
// Phoenix Tracker's split of state from process. It holds the live calls (ringing or
// active), which user is in which call, and how many `webrtc:{user}` channels each user
// has joined. Every transition takes the time as `now_ms` and returns an Outcome: either a
// refusal with a reason, or the effects to carry out — events for users, push
// notifications for users with no channel, call records to store. The CallManager
// (call_manager.hpp) wraps it with a mutex, a Clock and the sinks.
//
//   initiate  ──► ringing ──answer──► active ──end / grace expiry──► completed
//                    │ reject ► rejected        (removed from the registry)
//                    │ end by caller, caller's grace expiry ► cancelled
//                    │ ring timeout (expire) ► missed
//   initiate to a callee already in a call ► busy (stored, never live)
//
// Event names, payload shapes and refusal reasons are listed in docs/calls.md.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <quckrt/json.hpp>
#include <quckrt/storage.hpp>

namespace quckrt::calls {

enum class CallStatus { ringing, active };

// Party: one side of a call, with its media state and its disconnect grace deadline.
struct Party {
    std::string user_id;
    bool audio = true;
    bool video = false;
    std::optional<int64_t> grace_until{};  // set while the user has no webrtc channel
};

struct Call {
    std::string id;
    Party caller;
    Party callee;
    std::string media;  // "audio" or "video"
    CallStatus status = CallStatus::ringing;
    int64_t started_at = 0;
    std::optional<int64_t> answered_at{};
    int64_t ring_deadline = 0;

    bool has(std::string_view user) const { return caller.user_id == user || callee.user_id == user; }
    // peer(user): the other party's id (user must be a party).
    const std::string& peer(std::string_view user) const {
        return caller.user_id == user ? callee.user_id : caller.user_id;
    }
    Party& party(std::string_view user) { return caller.user_id == user ? caller : callee; }
};

// Send: `event` with `payload` to every device of `user_id` (its webrtc:{user_id} topic).
struct Send {
    std::string user_id;
    std::string event;
    Json payload;
};

// Notify: the same for a user with no webrtc channel joined: goes to the PushSink.
struct Notify {
    std::string user_id;
    std::string kind;
    Json payload;
};

// RecordWrite: store a call record (insert for a new call, update afterwards).
struct RecordWrite {
    bool insert = false;
    CallRecord record;
};

struct Effects {
    std::vector<Send> sends;
    std::vector<Notify> notifies;
    std::vector<RecordWrite> records;
    void append(Effects&& other);
    bool empty() const { return sends.empty() && notifies.empty() && records.empty(); }
};

// Outcome: the answer to one client action. `refused` empty means accepted and `reply` is
// the ok response; otherwise `reply` is the error response ({"reason": refused, ...}).
// A refusal may still carry effects (a busy call is stored).
struct Outcome {
    std::string refused;
    Json reply = Json::object();
    Effects effects;
    bool ok() const { return refused.empty(); }
};

struct CallConfig {
    int64_t ring_timeout_ms = 60'000;  // ringing → missed
    int64_t grace_ms = 10'000;         // a party with no channel for this long ends the call
    Json ice_servers = Json::array();  // sent with call:incoming
};

class CallRegistry {
public:
    explicit CallRegistry(CallConfig config) : config_(std::move(config)) {}

    // initiate: caller rings callee with media ("audio"/"video") under the new id call_id.
    Outcome initiate(const std::string& caller, const std::string& callee, const std::string& media,
                     const std::string& call_id, int64_t now_ms);
    // answer / reject: the callee picks up or declines a ringing call.
    Outcome answer(const std::string& user, const std::string& call_id, int64_t now_ms);
    Outcome reject(const std::string& user, const std::string& call_id, int64_t now_ms);
    // end: either party hangs up (by the callee while ringing, it is a reject).
    Outcome end(const std::string& user, const std::string& call_id, int64_t now_ms);
    // relay: forward `payload` (an object; callId and from are set on the copy) as `event`
    // to the other party. Signaling and media toggles go through here.
    Outcome relay(const std::string& user, const std::string& call_id, const std::string& event,
                  const Json& payload);
    // toggle: record a party's audio or video state and relay it (event is
    // "call:toggle-audio" or "call:toggle-video").
    Outcome toggle(const std::string& user, const std::string& call_id, const std::string& event,
                   const Json& payload);
    // invite: ring the callee of a ringing call again (HTTP invite). actor empty = admin;
    // otherwise it must be a party. target empty = the callee.
    Outcome invite(const std::string& call_id, const std::string& target, const std::string& actor);

    // connected / disconnected: a webrtc channel of user joined / ended. The last one
    // going starts the grace period of the user's call (active, or ringing as the caller);
    // a new one cancels it.
    void connected(const std::string& user);
    void disconnected(const std::string& user, int64_t now_ms);
    bool online(const std::string& user) const;

    // expire(now): ring timeouts (missed) and grace periods that ran out (ended).
    Effects expire(int64_t now_ms);

    const Call* find(const std::string& call_id) const;
    const Call* call_of(const std::string& user) const;
    size_t size() const { return calls_.size(); }
    const CallConfig& config() const { return config_; }

    // describe(call): {callId, state, media, callerId, calleeId, startedAt, answeredAt,
    // participants:[{userId, role, joined, connected, audio, video}]}.
    Json describe(const Call& call) const;
    // incoming_payload(call): what call:incoming carries (with the ICE servers).
    Json incoming_payload(const Call& call) const;

private:
    // finish: remove the call, with its record update and the events saying how it ended.
    Effects finish(const std::string& call_id, const std::string& outcome, int64_t now_ms);
    Call* lookup(const std::string& call_id);
    // party_call: the call `user` is a party of, or null with the refusal reason set
    // (callId required, not found, not a party). ringing_for_callee additionally requires
    // that user is the callee of a call still ringing (answer and reject).
    Call* party_call(const std::string& user, const std::string& call_id, const char*& refused);
    Call* ringing_for_callee(const std::string& user, const std::string& call_id,
                             const char*& refused);
    static CallRecord record_of(const Call& call, const std::string& outcome);

    CallConfig config_;
    std::map<std::string, Call> calls_;                     // ordered: expire() is deterministic
    std::unordered_map<std::string, std::string> call_of_;  // user -> call id
    std::unordered_map<std::string, int> channels_;         // user -> webrtc channels joined
};

// Refusal reasons (docs/calls.md).
namespace reason {
inline constexpr const char* kInvalidCallee = "invalid callee";
inline constexpr const char* kInvalidMedia = "invalid media";
inline constexpr const char* kSelf = "cannot call yourself";
inline constexpr const char* kBusy = "busy";
inline constexpr const char* kAlreadyInCall = "already in a call";
inline constexpr const char* kCallIdRequired = "callId required";
inline constexpr const char* kNotFound = "not found";
inline constexpr const char* kNotAParty = "not a party";
inline constexpr const char* kNotCallee = "not the callee";
inline constexpr const char* kNotRinging = "not ringing";
inline constexpr const char* kOneToOne = "calls are 1:1";
inline constexpr const char* kInvalidPayload = "invalid payload";
}  // namespace reason

}  // namespace quckrt::calls
