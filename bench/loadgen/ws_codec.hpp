// The RFC 6455 pieces a client needs: the HTTP/1.1 upgrade, server frame parsing and masked
// client frames. No extensions are offered, so RSV bits must be zero on every server frame.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "clock.hpp"

namespace quckrt::bench {

enum class WsOpcode : uint8_t {
    continuation = 0x0,
    text = 0x1,
    binary = 0x2,
    close = 0x8,
    ping = 0x9,
    pong = 0xA,
};

// Frames larger than this are treated as a protocol error: the bench never sends anything
// close to it, so such a length means the stream is out of sync.
constexpr uint64_t kMaxFramePayload = 16u << 20;

// HandshakeKey: the Sec-WebSocket-Key sent and the Sec-WebSocket-Accept it must produce.
struct HandshakeKey {
    std::string key;
    std::string accept;
};

HandshakeKey make_handshake_key(Rng& rng);

// websocket_accept(key): base64(SHA-1(key + RFC 6455 GUID)).
std::string websocket_accept(std::string_view key);

void append_upgrade_request(std::string& out, std::string_view host_header,
                            std::string_view path_and_query, std::string_view key);

enum class ParseResult { incomplete, ok, error };

// parse_upgrade_response(data, accept, header_len, error): ok once the whole header is in
// data, the status is 101 and Sec-WebSocket-Accept matches; header_len is then the number of
// bytes that belong to HTTP (any rest is WebSocket data).
ParseResult parse_upgrade_response(std::string_view data, std::string_view expected_accept,
                                   size_t& header_len, std::string& error);

struct WsFrame {
    bool fin = false;
    WsOpcode opcode = WsOpcode::text;
    std::string_view payload;  // points into the parsed buffer
};

// parse_frame(data, frame, frame_len, error): one server frame from the start of data.
// ok sets frame and frame_len (header + payload bytes consumed).
ParseResult parse_frame(std::string_view data, WsFrame& frame, size_t& frame_len,
                        std::string& error);

// append_masked_frame(out, opcode, payload, mask): a FIN frame with the payload masked by
// the 4-byte key, as RFC 6455 requires of every client frame.
void append_masked_frame(std::string& out, WsOpcode opcode, std::string_view payload,
                         uint32_t mask);

// append_close_frame(out, code, mask): a masked close frame carrying a status code.
void append_close_frame(std::string& out, uint16_t code, uint32_t mask);

}  // namespace quckrt::bench
