#include "net/handshake_reader.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <quckrt/auth.hpp>

namespace quckrt::net {
namespace {

std::string request(std::string_view protocols) {
    std::string r = "GET /socket/websocket?vsn=2.0.0 HTTP/1.1\r\nHost: x\r\n";
    if (!protocols.empty()) r += "Sec-WebSocket-Protocol: " + std::string(protocols) + "\r\n";
    return r + "Upgrade: websocket\r\n\r\n";
}

std::string bearer(std::string_view token) {
    std::string b64 = jwt::base64url_encode(token);
    return "base64url.bearer.phx." + b64;
}

TEST(RewriteSubprotocols, MovesALongBearerTokenOutOfTheHeader) {
    const std::string token(600, 'a');  // far beyond lws's 127-byte protocol list
    auto r = rewrite_subprotocols(request("phoenix, " + bearer(token)));
    ASSERT_TRUE(r.ok) << r.refusal.message;
    EXPECT_EQ(r.rewritten.bearer_token, token);
    EXPECT_NE(r.rewritten.head.find("\r\nSec-WebSocket-Protocol: phoenix\r\n"), std::string::npos);
    EXPECT_EQ(r.rewritten.head.find("bearer"), std::string::npos);
    EXPECT_TRUE(r.rewritten.head.ends_with("\r\n\r\n"));
}

TEST(RewriteSubprotocols, AcceptsStandardAndUrlSafeAlphabetsWithOrWithoutPadding) {
    // "a?>" encodes to "YT8+" (standard) / "YT8-" (url-safe); "ab" needs padding "YWI=".
    for (const char* b64 : {"YT8+", "YT8-"}) {
        auto r = rewrite_subprotocols(request(std::string("phoenix,base64url.bearer.phx.") + b64));
        ASSERT_TRUE(r.ok) << b64;
        EXPECT_EQ(r.rewritten.bearer_token, "a?>");
    }
    for (const char* b64 : {"YWI", "YWI="}) {
        auto r = rewrite_subprotocols(request(std::string("phoenix,base64url.bearer.phx.") + b64));
        ASSERT_TRUE(r.ok) << b64;
        EXPECT_EQ(r.rewritten.bearer_token, "ab");
    }
}

TEST(RewriteSubprotocols, LeavesRequestsWithoutSubprotocolsAlone) {
    const std::string head = request("");
    auto r = rewrite_subprotocols(head);
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.rewritten.head, head);
    EXPECT_TRUE(r.rewritten.bearer_token.empty());
}

TEST(RewriteSubprotocols, HeaderNameIsCaseInsensitive) {
    std::string head = "GET / HTTP/1.1\r\nsec-websocket-protocol: phoenix," + bearer("tok") +
                       "\r\n\r\n";
    auto r = rewrite_subprotocols(head);
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.rewritten.bearer_token, "tok");
}

TEST(RewriteSubprotocols, RefusesBadInputWithAnHttpStatus) {
    struct Case {
        std::string protocols;
        unsigned status;
    } cases[] = {
        {"phoenix,base64url.bearer.phx.@@@", 400},                  // not base64
        {"phoenix," + bearer("a") + "," + bearer("b"), 400},         // two tokens
        {"phoenix," + bearer("line\r\nInjected: 1"), 400},           // not a printable token
        {"chat," + bearer("tok"), 403},                              // phoenix not offered
        {"other", 403},
        {"phoenix," + std::string(130, 'p'), 400},                   // lws cannot parse it
    };
    for (const auto& c : cases) {
        auto r = rewrite_subprotocols(request(c.protocols));
        EXPECT_FALSE(r.ok) << c.protocols;
        EXPECT_EQ(r.refusal.status, c.status) << c.protocols;
    }
}

// The reader over a real socket pair: a head split across writes completes once whole.
TEST(HandshakeReader, CompletesAHeadThatArrivesInPieces) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    int ready_fd = -1;
    RewrittenHead got;
    HandshakeReader reader([&](int fd, RewrittenHead h) {
        ready_fd = fd;
        got = std::move(h);
    });
    ASSERT_TRUE(reader.open());
    reader.add(sv[0], 0);
    const std::string head = request("phoenix," + bearer("secret-token"));
    ASSERT_EQ(::write(sv[1], head.data(), 20), 20);
    reader.service();
    EXPECT_EQ(ready_fd, -1);
    EXPECT_EQ(reader.pending(), 1u);
    ASSERT_EQ(::write(sv[1], head.data() + 20, head.size() - 20),
              static_cast<ssize_t>(head.size() - 20));
    reader.service();
    EXPECT_EQ(ready_fd, sv[0]);
    EXPECT_EQ(got.bearer_token, "secret-token");
    EXPECT_EQ(reader.pending(), 0u);
    ::close(sv[0]);
    ::close(sv[1]);
}

TEST(HandshakeReader, ExpiresConnectionsThatNeverFinishTheirHead) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    HandshakeReader reader([](int, RewrittenHead) { FAIL() << "must not complete"; });
    ASSERT_TRUE(reader.open());
    reader.add(sv[0], 1000);
    reader.expire(5000, 10000);
    EXPECT_EQ(reader.pending(), 1u);
    reader.expire(11001, 10000);
    EXPECT_EQ(reader.pending(), 0u);
    char c;
    EXPECT_EQ(::read(sv[1], &c, 1), 0);  // the reader closed its end
    ::close(sv[1]);
}

TEST(HandshakeReader, RefusesAnOversizedHeadWith431) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    HandshakeReader reader([](int, RewrittenHead) { FAIL() << "must not complete"; });
    ASSERT_TRUE(reader.open());
    reader.add(sv[0], 0);
    const std::string junk(kMaxRequestHead + 100, 'x');
    size_t sent = 0;
    while (sent < junk.size()) {
        const ssize_t n = ::write(sv[1], junk.data() + sent, junk.size() - sent);
        if (n <= 0) break;
        sent += static_cast<size_t>(n);
        reader.service();
    }
    reader.service();
    EXPECT_EQ(reader.pending(), 0u);
    char buf[256] = {0};
    ASSERT_GT(::read(sv[1], buf, sizeof(buf) - 1), 0);
    EXPECT_TRUE(std::string_view(buf).starts_with("HTTP/1.1 431"));
    ::close(sv[1]);
}

}  // namespace
}  // namespace quckrt::net
