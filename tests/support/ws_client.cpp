#include "support/ws_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <random>

namespace quckrt::testing {

int WsMessage::close_code() const {
    if (opcode != 8 || data.size() < 2) return 0;
    return (static_cast<uint8_t>(data[0]) << 8) | static_cast<uint8_t>(data[1]);
}

WsClient::~WsClient() { close(); }

void WsClient::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

int WsClient::connect(int port, const std::string& path, const std::string& extra_headers) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) return -1;
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::string req = "GET " + path +
                      " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: "
                      "Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n" +
                      extra_headers + "\r\n";
    if (::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) < 0) return -1;
    while (buf_.find("\r\n\r\n") == std::string::npos)
        if (!fill(5000)) return -1;
    const size_t end = buf_.find("\r\n\r\n") + 4;
    head_ = buf_.substr(0, end);
    buf_.erase(0, end);
    if (head_.size() < 12) return -1;
    return std::atoi(head_.c_str() + 9);
}

bool WsClient::fill(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    char chunk[65536];
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buf_.append(chunk, static_cast<size_t>(n));
    return true;
}

void WsClient::send_frame(int opcode, const std::string& payload) {
    std::string f;
    f += static_cast<char>(0x80 | opcode);
    const uint64_t n = payload.size();
    if (n < 126) {
        f += static_cast<char>(0x80 | n);
    } else if (n <= 0xFFFF) {
        f += static_cast<char>(0x80 | 126);
        f += static_cast<char>(n >> 8);
        f += static_cast<char>(n & 0xFF);
    } else {
        f += static_cast<char>(0x80 | 127);
        for (int s = 56; s >= 0; s -= 8) f += static_cast<char>((n >> s) & 0xFF);
    }
    static thread_local std::mt19937 gen{std::random_device{}()};
    char mask[4];
    for (char& m : mask) m = static_cast<char>(gen());
    f.append(mask, 4);
    for (size_t i = 0; i < payload.size(); ++i) f += static_cast<char>(payload[i] ^ mask[i % 4]);
    (void)::send(fd_, f.data(), f.size(), MSG_NOSIGNAL);
}

void WsClient::send_text(const std::string& text) { send_frame(1, text); }
void WsClient::send_binary(const std::string& bytes) { send_frame(2, bytes); }

std::optional<WsMessage> WsClient::next(int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        if (buf_.size() >= 2) {
            const auto b1 = static_cast<uint8_t>(buf_[1]);
            uint64_t len = b1 & 0x7F;
            size_t hdr = 2;
            if (len == 126 && buf_.size() >= 4) {
                len = (static_cast<uint8_t>(buf_[2]) << 8) | static_cast<uint8_t>(buf_[3]);
                hdr = 4;
            } else if (len == 127 && buf_.size() >= 10) {
                len = 0;
                for (int i = 0; i < 8; ++i) len = (len << 8) | static_cast<uint8_t>(buf_[2 + i]);
                hdr = 10;
            } else if (len >= 126) {
                hdr = 0;  // header incomplete
            }
            if (hdr && buf_.size() >= hdr + len) {
                WsMessage m{static_cast<uint8_t>(buf_[0]) & 0x0F, buf_.substr(hdr, len)};
                buf_.erase(0, hdr + len);
                return m;
            }
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                              deadline - std::chrono::steady_clock::now())
                              .count();
        if (left <= 0 || !fill(static_cast<int>(left))) return std::nullopt;
    }
}

std::optional<std::string> WsClient::next_text_containing(const std::string& needle,
                                                          int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                              deadline - std::chrono::steady_clock::now())
                              .count();
        if (left <= 0) return std::nullopt;
        auto m = next(static_cast<int>(left));
        if (!m) return std::nullopt;
        if (m->opcode == 1 && m->data.find(needle) != std::string::npos) return m->data;
    }
}

}  // namespace quckrt::testing
