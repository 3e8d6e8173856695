// quckrt/push_sink.hpp
//
// PushSink: where the server sends what a user should hear about while no device of theirs
// is connected — the host forwards it to APNs, FCM, e-mail, a webhook. Today the built-in
// calls feature uses it (docs/calls.md): `call:incoming` when a call starts ringing (or is
// re-rung with POST /api/calls/:id/invite) for a callee with no `webrtc:{id}` channel
// joined, and `call:missed` when such a call times out.
//
// Thread affinity: notify() is called from loop threads, never under a server lock, and
// possibly from several threads at once. It must be thread-safe and must not block: queue
// the work and return. A failure is the sink's own business (retry, log, drop).
//
// Example:
//   struct Apns final : quckrt::PushSink {
//       void notify(std::string_view user, std::string_view kind,
//                   const quckrt::Json& payload) override {
//           queue_.push({std::string(user), std::string(kind), payload.dump()});
//       }
//   };
//   auto server = quckrt::Server::create({..., .push_sink = std::make_shared<Apns>()});
#pragma once

#include <string_view>

#include <quckrt/json.hpp>

namespace quckrt {

class PushSink {
public:
    virtual ~PushSink() = default;
    // notify(user_id, kind, payload): tell user_id about `kind` (an event name such as
    // "call:missed"); payload is the event's payload object (docs/calls.md). At most once,
    // best effort: the server does not retry and does not wait.
    virtual void notify(std::string_view user_id, std::string_view kind, const Json& payload) = 0;
};

}  // namespace quckrt
