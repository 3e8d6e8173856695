// The built-in `webrtc:{user_id}` channel and the glue that builds the node's CallManager
// from ServerOptions (docs/calls.md).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <quckrt/channel.hpp>
#include <quckrt/server.hpp>

#include "calls/call_manager.hpp"
#include "storage/storage_queue.hpp"

namespace quckrt::calls {

// Publisher: fan an event out on a topic (encoded once), from any thread, in call order.
using Publisher =
    std::function<void(const std::string& topic, std::string_view event, const Json& payload)>;

// make_server_calls(options, publish, history): the CallManager of a Server: ring timeout,
// grace and ICE servers from options, the system clock, events published on
// `webrtc:{user}`, records written through `history` (null: no call history), and
// options.push_sink.
std::unique_ptr<CallManager> make_server_calls(const ServerOptions& options, Publisher publish,
                                               storage::StorageQueue* history);

// make_call_channel_factory(calls, history): `webrtc:{user_id}` channels. `history` serves
// `call:history` (null: refused with "storage not configured").
ChannelFactory make_call_channel_factory(CallManager& calls, storage::StorageQueue* history);

// record_json(record, user): a stored call as `call:history` lists it, seen from user.
Json record_json(const CallRecord& record, const std::string& user);

}  // namespace quckrt::calls
