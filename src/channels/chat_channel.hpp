// The built-in `chat:{conversation_id}` channel of the spine: message:send (reply with the
// server id, broadcast message:new to every member, the sender included) and
// typing:start / typing:stop (a `typing` event to the others). The sender is always the
// authenticated user of the connection; a senderId in the payload is ignored.
//
// Persistence, membership and idempotency by clientMsgId come with the storage layer; until
// then any authenticated user may join any conversation.
#pragma once

#include <quckrt/channel.hpp>

namespace quckrt::channels {

ChannelFactory make_chat_channel_factory();

}  // namespace quckrt::channels
