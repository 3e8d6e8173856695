// A small blocking WebSocket client for C++ tests: connect with an upgrade request, send
// masked text/binary frames, read server frames with a timeout. Test support only; it
// assumes a well-behaved server (no extensions, no fragmentation from the server).
#pragma once

#include <optional>
#include <string>

namespace quckrt::testing {

struct WsMessage {
    int opcode = 0;         // 1 text, 2 binary, 8 close
    std::string data;       // payload (for close: 2-byte code + reason)
    int close_code() const;
};

class WsClient {
public:
    WsClient() = default;
    ~WsClient();
    WsClient(const WsClient&) = delete;
    WsClient& operator=(const WsClient&) = delete;

    // connect: TCP + HTTP upgrade to path. Returns the HTTP status line's code (101 on
    // success), or -1 on a socket error. `extra_headers` lines end in "\r\n".
    int connect(int port, const std::string& path, const std::string& extra_headers = "");
    void send_text(const std::string& text);
    void send_binary(const std::string& bytes);
    // next(timeout_ms): the next message, or nullopt on timeout / closed connection.
    std::optional<WsMessage> next(int timeout_ms = 5000);
    // next_text_matching: skip messages until one whose text contains `needle`.
    std::optional<std::string> next_text_containing(const std::string& needle,
                                                    int timeout_ms = 5000);
    const std::string& response_head() const { return head_; }
    void close();

private:
    void send_frame(int opcode, const std::string& payload);
    bool fill(int timeout_ms);
    int fd_ = -1;
    std::string buf_;
    std::string head_;
};

}  // namespace quckrt::testing
