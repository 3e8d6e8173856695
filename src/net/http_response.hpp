// Small HTTP responses written straight from an lws callback: JSON bodies for the health
// endpoints and for refused WebSocket upgrades ({"error":{"code","message"}}).
#pragma once

#include <libwebsockets.h>

#include <quckrt/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace quckrt::net {

// write_json(wsi, status, body): headers and body in one go. Returns false on failure.
bool write_json(lws* wsi, unsigned status, std::string_view body);

// constant_time_equal(a, b): compare secrets (tokens) without leaking where they differ.
bool constant_time_equal(std::string_view a, std::string_view b);

// json_object_body(body): a request body as a JSON object ("" counts as {}); nullopt when it
// is not one (answer 400 "body must be a JSON object").
std::optional<Json> json_object_body(std::string_view body);

// error_body(code, message): {"error":{"code":code,"message":message}}
std::string error_body(std::string_view code, std::string_view message);

}  // namespace quckrt::net
