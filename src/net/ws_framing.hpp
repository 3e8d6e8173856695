// Hand-framed server-to-client WebSocket messages. Several frames framed here and written
// with ONE lws_write(LWS_WRITE_RAW) reach the client as separate messages (checked with
// lws 4.1.6 and Node `ws`), which is how a connection's whole queue leaves in one send():
// on loopback one send() costs ~5.5 µs whether it carries one frame or eight (design.md §2).
// Valid only while no extension (permessage-deflate) is negotiated; quckrt offers none.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace quckrt::net {

inline constexpr size_t kMaxWsHeader = 10;

// append_ws_frame(out, payload, binary): one unmasked, final frame.
inline void append_ws_frame(std::string& out, std::string_view payload, bool binary) {
    const uint64_t n = payload.size();
    out += static_cast<char>(0x80 | (binary ? 0x2 : 0x1));
    if (n < 126) {
        out += static_cast<char>(n);
    } else if (n <= 0xFFFF) {
        out += static_cast<char>(126);
        out += static_cast<char>((n >> 8) & 0xFF);
        out += static_cast<char>(n & 0xFF);
    } else {
        out += static_cast<char>(127);
        for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((n >> shift) & 0xFF);
    }
    out.append(payload);
}

}  // namespace quckrt::net
