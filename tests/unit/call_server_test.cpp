// Calls through the embedding API: ServerOptions (ICE servers, ring timeout, push sink) on
// an in-process Server, driven over real WebSocket connections.
#include <quckrt/quckrt.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "support/ws_client.hpp"

namespace quckrt {
namespace {

using testing::WsClient;

constexpr const char* kSecret = "call-server-test-secret";

std::string socket_path(const std::string& sub) {
    return "/socket/websocket?vsn=2.0.0&token=" +
           *jwt::sign_hs256(kSecret, Json::object({{"sub", sub}}));
}

// RecordingSink: remembers every notify and lets the test wait for one.
struct RecordingSink final : PushSink {
    struct Note {
        std::string user, kind;
        Json payload;
    };
    std::mutex mu;
    std::condition_variable cv;
    std::vector<Note> notes;

    void notify(std::string_view user, std::string_view kind, const Json& payload) override {
        std::lock_guard lock(mu);
        notes.push_back({std::string(user), std::string(kind), payload});
        cv.notify_all();
    }
    std::optional<Note> wait_for(const std::string& kind) {
        std::unique_lock lock(mu);
        std::optional<Note> found;
        cv.wait_for(lock, std::chrono::seconds(5), [&] {
            for (const Note& n : notes)
                if (n.kind == kind) found = n;
            return found.has_value();
        });
        return found;
    }
};

class CallServerTest : public ::testing::Test {
protected:
    void start(bool calls = true) {
        auto s = Server::create({.port = 0,
                                 .loops = 2,
                                 .jwt_secret = kSecret,
                                 .builtin_chat = false,
                                 .builtin_calls = calls,
                                 .call_ring_timeout = std::chrono::milliseconds(200),
                                 .stun_server_url = "stun:stun.example:3478",
                                 .turn_server_url = "turn:turn.example:3478",
                                 .turn_username = "u1",
                                 .turn_credential = "c1",
                                 .push_sink = sink_});
        ASSERT_TRUE(s) << s.error().to_string();
        server_ = std::move(*s);
        ASSERT_TRUE(server_->start().ok());
    }
    void TearDown() override {
        if (server_) {
            server_->stop();
            server_->wait();
        }
    }
    std::shared_ptr<RecordingSink> sink_ = std::make_shared<RecordingSink>();
    std::unique_ptr<Server> server_;
};

TEST_F(CallServerTest, JoinGivesTheIceServersAndOnlyTheOwnTopicIsAllowed) {
    start();
    WsClient alice;
    ASSERT_EQ(alice.connect(server_->port(), socket_path("alice")), 101);
    alice.send_text(R"(["1","1","webrtc:alice","phx_join",{}])");
    auto reply = alice.next_text_containing("phx_reply");
    ASSERT_TRUE(reply);
    EXPECT_NE(reply->find(R"("status":"ok")"), std::string::npos) << *reply;
    EXPECT_NE(reply->find(R"("iceServers":[{"urls":["stun:stun.example:3478"]},)"
                          R"({"urls":["turn:turn.example:3478"],"username":"u1","credential":"c1"}])"),
              std::string::npos)
        << *reply;
    EXPECT_NE(reply->find(R"("call":null)"), std::string::npos) << *reply;

    alice.send_text(R"(["2","2","webrtc:bob","phx_join",{}])");
    auto refused = alice.next_text_containing("\"2\",\"2\"");
    ASSERT_TRUE(refused);
    EXPECT_NE(refused->find(R"({"status":"error","response":{"reason":"forbidden"}})"),
              std::string::npos)
        << *refused;
}

TEST_F(CallServerTest, AnOfflineCalleeHearsOfTheCallAndTheMissThroughThePushSink) {
    start();
    WsClient alice;
    ASSERT_EQ(alice.connect(server_->port(), socket_path("alice")), 101);
    alice.send_text(R"(["1","1","webrtc:alice","phx_join",{}])");
    ASSERT_TRUE(alice.next_text_containing(R"("status":"ok")"));
    alice.send_text(R"(["1","2","webrtc:alice","call:initiate",{"calleeId":"bob","media":"video"}])");
    auto reply = alice.next_text_containing("\"1\",\"2\"");
    ASSERT_TRUE(reply);
    EXPECT_NE(reply->find(R"("status":"ok")"), std::string::npos) << *reply;

    auto incoming = sink_->wait_for("call:incoming");
    ASSERT_TRUE(incoming);
    EXPECT_EQ(incoming->user, "bob");
    EXPECT_EQ(incoming->payload.get_string("callerId"), "alice");
    EXPECT_EQ(incoming->payload.get_string("media"), "video");

    // The 200 ms ring timeout runs out on the server's next tick (about a second).
    auto missed = alice.next_text_containing("call:missed");
    ASSERT_TRUE(missed);
    auto note = sink_->wait_for("call:missed");
    ASSERT_TRUE(note);
    EXPECT_EQ(note->user, "bob");
    EXPECT_EQ(note->payload.get_string("callId"), incoming->payload.get_string("callId"));
    EXPECT_EQ(note->payload.get_string("callerId"), "alice");
}

TEST_F(CallServerTest, WithoutBuiltinCallsTheTopicIsNotRouted) {
    start(/*calls=*/false);
    WsClient alice;
    ASSERT_EQ(alice.connect(server_->port(), socket_path("alice")), 101);
    alice.send_text(R"(["1","1","webrtc:alice","phx_join",{}])");
    auto reply = alice.next_text_containing("phx_reply");
    ASSERT_TRUE(reply);
    EXPECT_NE(reply->find("unmatched topic"), std::string::npos) << *reply;
}

TEST(CallServerCreate, RefusesABadRingTimeoutOrGrace) {
    EXPECT_FALSE(Server::create({.jwt_secret = "s", .call_ring_timeout = std::chrono::milliseconds(0)}));
    EXPECT_FALSE(Server::create({.jwt_secret = "s", .call_grace = std::chrono::milliseconds(-1)}));
}

}  // namespace
}  // namespace quckrt
