// quckrt/quckrt.hpp: the whole public API in one include.
//
// quckrt is an embeddable realtime engine: WebSocket channels that speak Phoenix Channels V2
// (so the official phoenix.js client works unmodified), with JWT authentication, built-in
// chat topics and a host channel API. Start with server.hpp and channel.hpp.
#pragma once

#include <quckrt/auth.hpp>
#include <quckrt/channel.hpp>
#include <quckrt/json.hpp>
#include <quckrt/server.hpp>
#include <quckrt/status.hpp>
