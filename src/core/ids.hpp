// Identifiers minted by the server (message ids). Time-ordered (UUIDv7 layout: 48-bit unix
// milliseconds, then random bits) so ids sort by creation and never repeat across restarts.
#pragma once

#include <cstdint>
#include <string>

namespace quckrt::core {

// make_uuid_v7(unix_ms): a canonical 36-character UUIDv7 string.
std::string make_uuid_v7(int64_t unix_ms);

// iso8601_utc(unix_ms): "2026-11-24T05:44:55.123Z".
std::string iso8601_utc(int64_t unix_ms);

}  // namespace quckrt::core
