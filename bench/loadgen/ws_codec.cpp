#include "ws_codec.hpp"

#include <mbedtls/base64.h>
#include <mbedtls/sha1.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace quckrt::bench {
namespace {

constexpr std::string_view kWebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr size_t kMaxResponseHeader = 8192;

std::string base64(const unsigned char* data, size_t len) {
    std::string out(4 * ((len + 2) / 3) + 1, '\0');
    size_t written = 0;
    if (mbedtls_base64_encode(reinterpret_cast<unsigned char*>(out.data()), out.size(), &written,
                              data, len) != 0) {
        return {};
    }
    out.resize(written);
    return out;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [](char x, char y) { return lower(x) == lower(y); });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// mask_in_place: XOR with the key eight bytes at a time; memcpy keeps it alignment-safe.
void mask_in_place(char* p, size_t len, uint32_t mask) {
    const uint64_t mask64 = (uint64_t{mask} << 32) | mask;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t word;
        std::memcpy(&word, p + i, 8);
        word ^= mask64;
        std::memcpy(p + i, &word, 8);
    }
    unsigned char key[4];
    std::memcpy(key, &mask, 4);
    for (; i < len; ++i) p[i] = static_cast<char>(p[i] ^ key[i % 4]);
}

}  // namespace

std::string websocket_accept(std::string_view key) {
    std::string input(key);
    input += kWebSocketGuid;
    std::array<unsigned char, 20> digest{};
    if (mbedtls_sha1_ret(reinterpret_cast<const unsigned char*>(input.data()), input.size(),
                         digest.data()) != 0) {
        return {};
    }
    return base64(digest.data(), digest.size());
}

HandshakeKey make_handshake_key(Rng& rng) {
    std::array<unsigned char, 16> nonce{};
    const uint64_t a = rng.next();
    const uint64_t b = rng.next();
    std::memcpy(nonce.data(), &a, 8);
    std::memcpy(nonce.data() + 8, &b, 8);
    HandshakeKey k;
    k.key = base64(nonce.data(), nonce.size());
    k.accept = websocket_accept(k.key);
    return k;
}

void append_upgrade_request(std::string& out, std::string_view host_header,
                            std::string_view path_and_query, std::string_view key) {
    out += "GET ";
    out += path_and_query;
    out += " HTTP/1.1\r\nHost: ";
    out += host_header;
    out += "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ";
    out += key;
    out += "\r\nSec-WebSocket-Version: 13\r\n\r\n";
}

ParseResult parse_upgrade_response(std::string_view data, std::string_view expected_accept,
                                   size_t& header_len, std::string& error) {
    const size_t end = data.find("\r\n\r\n");
    if (end == std::string_view::npos) {
        if (data.size() > kMaxResponseHeader) {
            error = "handshake: response header too large";
            return ParseResult::error;
        }
        return ParseResult::incomplete;
    }
    const std::string_view header = data.substr(0, end + 2);
    size_t line_end = header.find("\r\n");
    const std::string_view status_line = header.substr(0, line_end);
    if (status_line.substr(0, 13) != "HTTP/1.1 101 " && status_line != "HTTP/1.1 101") {
        error = "handshake: " + std::string(status_line.substr(0, 80));
        return ParseResult::error;
    }
    bool accept_ok = false;
    while (line_end + 2 < header.size()) {
        const size_t start = line_end + 2;
        line_end = header.find("\r\n", start);
        const std::string_view line = header.substr(start, line_end - start);
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        if (iequals(trim(line.substr(0, colon)), "sec-websocket-accept")) {
            accept_ok = trim(line.substr(colon + 1)) == expected_accept;
        }
    }
    if (!accept_ok) {
        error = "handshake: missing or wrong Sec-WebSocket-Accept";
        return ParseResult::error;
    }
    header_len = end + 4;
    return ParseResult::ok;
}

ParseResult parse_frame(std::string_view data, WsFrame& frame, size_t& frame_len,
                        std::string& error) {
    if (data.size() < 2) return ParseResult::incomplete;
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    if (p[0] & 0x70) {
        error = "frame: RSV bits set without a negotiated extension";
        return ParseResult::error;
    }
    if (p[1] & 0x80) {
        error = "frame: server frame is masked";
        return ParseResult::error;
    }
    const uint8_t opcode = p[0] & 0x0F;
    uint64_t len = p[1] & 0x7F;
    size_t header = 2;
    if (len == 126) {
        if (data.size() < 4) return ParseResult::incomplete;
        len = (uint64_t{p[2]} << 8) | p[3];
        header = 4;
    } else if (len == 127) {
        if (data.size() < 10) return ParseResult::incomplete;
        len = 0;
        for (int i = 2; i < 10; ++i) len = (len << 8) | p[i];
        header = 10;
    }
    if (len > kMaxFramePayload) {
        error = "frame: payload of " + std::to_string(len) + " bytes exceeds the limit";
        return ParseResult::error;
    }
    const bool control = opcode & 0x8;
    if (control && (len > 125 || !(p[0] & 0x80))) {
        error = "frame: control frame fragmented or longer than 125 bytes";
        return ParseResult::error;
    }
    if (opcode != 0x0 && opcode != 0x1 && opcode != 0x2 && opcode != 0x8 && opcode != 0x9 &&
        opcode != 0xA) {
        error = "frame: reserved opcode " + std::to_string(opcode);
        return ParseResult::error;
    }
    if (data.size() - header < len) return ParseResult::incomplete;
    frame.fin = p[0] & 0x80;
    frame.opcode = static_cast<WsOpcode>(opcode);
    frame.payload = data.substr(header, static_cast<size_t>(len));
    frame_len = header + static_cast<size_t>(len);
    return ParseResult::ok;
}

void append_masked_frame(std::string& out, WsOpcode opcode, std::string_view payload,
                         uint32_t mask) {
    unsigned char header[14];
    size_t n = 0;
    header[n++] = static_cast<unsigned char>(0x80 | static_cast<uint8_t>(opcode));
    const uint64_t len = payload.size();
    if (len < 126) {
        header[n++] = static_cast<unsigned char>(0x80 | len);
    } else if (len <= 0xFFFF) {
        header[n++] = 0x80 | 126;
        header[n++] = static_cast<unsigned char>(len >> 8);
        header[n++] = static_cast<unsigned char>(len);
    } else {
        header[n++] = 0x80 | 127;
        for (int shift = 56; shift >= 0; shift -= 8) {
            header[n++] = static_cast<unsigned char>(len >> shift);
        }
    }
    std::memcpy(header + n, &mask, 4);
    n += 4;
    out.append(reinterpret_cast<const char*>(header), n);
    const size_t at = out.size();
    out.append(payload);
    mask_in_place(out.data() + at, payload.size(), mask);
}

void append_close_frame(std::string& out, uint16_t code, uint32_t mask) {
    const char body[2] = {static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
    append_masked_frame(out, WsOpcode::close, std::string_view(body, 2), mask);
}

}  // namespace quckrt::bench
