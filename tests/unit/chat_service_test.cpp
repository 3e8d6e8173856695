// Persisted chat end to end: an embedded server with SQLite storage, driven over real
// WebSocket connections (membership, idempotent sends, store-and-forward, edits, history).
#include <quckrt/quckrt.hpp>

#include <gtest/gtest.h>

#include "support/ws_client.hpp"

namespace quckrt {
namespace {

using testing::WsClient;

constexpr const char* kSecret = "chat-test-secret";

class ChatTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto s = Server::create({.port = 0, .loops = 2, .jwt_secret = kSecret,
                                 .storage = "sqlite::memory:", .send_rate_per_second = 1000,
                                 .send_burst = 1000});
        ASSERT_TRUE(s) << s.error().to_string();
        server_ = std::move(*s);
        ASSERT_TRUE(server_->start().ok());
        ASSERT_NE(server_->chat(), nullptr);
        ASSERT_TRUE(server_->chat()
                        ->create_conversation("c1", ConversationKind::group,
                                              {"alice", "bob", "carol"})
                        .ok());
    }
    void TearDown() override {
        server_->stop();
        server_->wait();
    }
    std::unique_ptr<WsClient> connect(const std::string& user) {
        auto c = std::make_unique<WsClient>();
        const std::string token = *jwt::sign_hs256(kSecret, Json::object({{"sub", user}}));
        EXPECT_EQ(c->connect(server_->port(), "/socket/websocket?vsn=2.0.0&token=" + token), 101);
        return c;
    }
    // join(c, topic): returns the reply frame.
    std::string join(WsClient& c, const std::string& topic, const std::string& params = "{}") {
        c.send_text("[\"1\",\"1\",\"" + topic + "\",\"phx_join\"," + params + "]");
        auto r = c.next_text_containing("\"phx_reply\"");
        return r ? *r : "";
    }
    // push(c, topic, event, payload, ref): returns the reply's response object.
    Json push(WsClient& c, const std::string& topic, const std::string& event,
              const std::string& payload, const std::string& ref) {
        c.send_text("[\"1\",\"" + ref + "\",\"" + topic + "\",\"" + event + "\"," + payload + "]");
        auto r = c.next_text_containing("[\"1\",\"" + ref + "\",\"" + topic + "\",\"phx_reply\"");
        if (!r) return Json();
        auto frame = Json::parse(*r);
        return (*frame).as_array()[4];
    }
    Json next_event(WsClient& c, const std::string& event) {
        auto r = c.next_text_containing("\"" + event + "\"");
        if (!r) return Json();
        return (*Json::parse(*r)).as_array()[4];
    }
    std::unique_ptr<Server> server_;
};

TEST_F(ChatTest, OnlyMembersJoinAConversationAndOnlyTheOwnerJoinsTheUserTopic) {
    auto mallory = connect("mallory");
    EXPECT_NE(join(*mallory, "chat:c1").find(R"("status":"error","response":{"reason":"not a member"})"),
              std::string::npos);
    EXPECT_NE(join(*mallory, "user:alice").find(R"("reason":"forbidden")"), std::string::npos);
    auto alice = connect("alice");
    EXPECT_NE(join(*alice, "chat:c1").find(R"("status":"ok","response":{"lastSeq":0})"),
              std::string::npos);
    EXPECT_NE(join(*alice, "chat:nope").find("not a member"), std::string::npos);
}

TEST_F(ChatTest, SendPersistsBroadcastsAndIsIdempotentByClientMsgId) {
    auto alice = connect("alice");
    auto bob = connect("bob");
    join(*alice, "chat:c1", R"({"presence":false})");
    join(*bob, "chat:c1", R"({"presence":false})");
    Json reply = push(*alice, "chat:c1", "message:send",
                      R"({"content":"hello","clientMsgId":"k1","senderId":"mallory"})", "2");
    ASSERT_EQ(reply.get_string("status"), "ok");
    const Json& msg = *reply.find("response");
    EXPECT_EQ(msg.get_int("seq"), 1);
    EXPECT_EQ(msg.get_string("senderId"), "alice");
    EXPECT_EQ(msg.get_string("conversationId"), "c1");
    Json seen = next_event(*bob, "message:new");
    EXPECT_EQ(seen.get_string("id"), msg.get_string("id"));

    // The resend returns the original and broadcasts nothing new.
    Json again = push(*alice, "chat:c1", "message:send", R"({"content":"hello","clientMsgId":"k1"})", "3");
    EXPECT_EQ(again.find("response")->get_string("id"), msg.get_string("id"));
    Json second = push(*alice, "chat:c1", "message:send", R"({"content":"next","clientMsgId":"k2"})", "4");
    EXPECT_EQ(second.find("response")->get_int("seq"), 2);
    Json bob_next = next_event(*bob, "message:new");
    EXPECT_EQ(bob_next.get_string("content"), "next") << "the resend must not reach bob";

    Json history = push(*bob, "chat:c1", "history", R"({"limit":10})", "5");
    const Json& messages = *history.find("response")->find("messages");
    ASSERT_EQ(messages.size(), 2u);
    EXPECT_EQ(messages.as_array()[0].get_string("content"), "hello");
    EXPECT_EQ(messages.as_array()[1].get_string("content"), "next");
}

TEST_F(ChatTest, OfflineMembersGetTheBacklogInOrderUntilTheyAck) {
    auto alice = connect("alice");
    join(*alice, "chat:c1", R"({"presence":false})");
    join(*alice, "user:alice");
    std::vector<std::string> ids;
    for (int i = 0; i < 3; ++i) {
        Json r = push(*alice, "chat:c1", "message:send",
                      R"({"content":"m)" + std::to_string(i) + R"("})", std::to_string(10 + i));
        ids.emplace_back(r.find("response")->get_string("id"));
    }
    {
        auto bob = connect("bob");
        join(*bob, "user:bob");
        for (int i = 0; i < 3; ++i) {
            Json m = next_event(*bob, "message:new");
            EXPECT_EQ(m.get_string("id"), ids[i]) << i;
        }
        // Ack the first two; alice hears that they were delivered.
        for (int i = 0; i < 2; ++i) {
            Json ack = push(*bob, "user:bob", "message:ack",
                            R"({"messageId":")" + ids[i] + R"("})", std::to_string(20 + i));
            EXPECT_TRUE(ack.find("response")->get_bool("deleted"));
            Json delivered = next_event(*alice, "message:delivered");
            EXPECT_EQ(delivered.get_string("messageId"), ids[i]);
            EXPECT_EQ(delivered.get_string("userId"), "bob");
        }
        Json again = push(*bob, "user:bob", "message:ack", R"({"messageId":")" + ids[0] + R"("})", "30");
        EXPECT_FALSE(again.find("response")->get_bool("deleted"));
    }
    // Reconnecting redelivers only what was not acknowledged.
    auto bob = connect("bob");
    join(*bob, "user:bob");
    Json m = next_event(*bob, "message:new");
    EXPECT_EQ(m.get_string("id"), ids[2]);
}

TEST_F(ChatTest, AConnectedUserGetsNewEntriesLiveOnTheUserTopic) {
    auto bob = connect("bob");
    join(*bob, "user:bob");
    auto alice = connect("alice");
    join(*alice, "chat:c1", R"({"presence":false})");
    Json r = push(*alice, "chat:c1", "message:send", R"({"content":"live"})", "2");
    Json m = next_event(*bob, "message:new");
    EXPECT_EQ(m.get_string("id"), r.find("response")->get_string("id"));
}

TEST_F(ChatTest, EditsDeletesReactionsAndReadReceipts) {
    auto alice = connect("alice");
    auto bob = connect("bob");
    join(*alice, "chat:c1", R"({"presence":false})");
    join(*bob, "chat:c1", R"({"presence":false})");
    Json sent = push(*alice, "chat:c1", "message:send", R"({"content":"v1"})", "2");
    const std::string id(sent.find("response")->get_string("id"));
    next_event(*bob, "message:new");

    // Only the author edits.
    Json denied = push(*bob, "chat:c1", "message:edit", R"({"messageId":")" + id + R"(","content":"x"})", "3");
    EXPECT_EQ(denied.get_string("status"), "error");
    Json edited = push(*alice, "chat:c1", "message:edit", R"({"messageId":")" + id + R"(","content":"v2"})", "4");
    EXPECT_EQ(edited.find("response")->get_string("content"), "v2");
    Json ev = next_event(*bob, "message:edited");
    EXPECT_EQ(ev.get_string("content"), "v2");
    EXPECT_EQ(ev.get_int("seq"), 2);

    Json react = push(*bob, "chat:c1", "message:reaction:add", R"({"messageId":")" + id + R"(","emoji":"👍"})", "5");
    EXPECT_EQ(react.get_string("status"), "ok");
    Json added = next_event(*alice, "message:reaction:added");
    EXPECT_EQ(added.get_string("emoji"), "👍");
    EXPECT_EQ(added.get_string("userId"), "bob");

    Json read = push(*bob, "chat:c1", "message:read", R"({"seq":1})", "6");
    EXPECT_EQ(read.find("response")->get_int("lastReadSeq"), 1);
    EXPECT_EQ(read.find("response")->get_int("unread"), 0);
    Json receipt = next_event(*alice, "message:read");
    EXPECT_EQ(receipt.get_string("userId"), "bob");

    Json deleted = push(*alice, "chat:c1", "message:delete", R"({"messageId":")" + id + R"("})", "7");
    EXPECT_EQ(deleted.get_string("status"), "ok");
    Json gone = next_event(*bob, "message:deleted");
    EXPECT_EQ(gone.get_string("messageId"), id);
}

TEST_F(ChatTest, InvalidInputIsAnErrorReplyAndTheConnectionStaysUsable) {
    auto alice = connect("alice");
    join(*alice, "chat:c1", R"({"presence":false})");
    EXPECT_EQ(push(*alice, "chat:c1", "message:send", R"({"content":""})", "2").get_string("status"), "error");
    EXPECT_EQ(push(*alice, "chat:c1", "message:edit", R"({"content":"x"})", "3").get_string("status"), "error");
    EXPECT_EQ(push(*alice, "chat:c1", "history", R"({"beforeSeq":1,"afterSeq":1})", "4").get_string("status"), "error");
    EXPECT_EQ(push(*alice, "chat:c1", "message:read", R"({"seq":"x"})", "5").get_string("status"), "error");
    EXPECT_EQ(push(*alice, "chat:c1", "message:send", R"({"content":"fine"})", "6").get_string("status"), "ok");
}

TEST(ChatRateLimit, SendsOverTheBucketAreRefusedWithRetryAfter) {
    auto s = Server::create({.port = 0, .loops = 1, .jwt_secret = kSecret,
                             .storage = "sqlite::memory:", .send_rate_per_second = 1,
                             .send_burst = 2});
    ASSERT_TRUE(s);
    ASSERT_TRUE((*s)->start().ok());
    ASSERT_TRUE((*s)->chat()->create_conversation("c1", ConversationKind::direct, {"alice"}).ok());
    WsClient c;
    const std::string token = *jwt::sign_hs256(kSecret, Json::object({{"sub", "alice"}}));
    ASSERT_EQ(c.connect((*s)->port(), "/socket/websocket?vsn=2.0.0&token=" + token), 101);
    c.send_text(R"(["1","1","chat:c1","phx_join",{"presence":false}])");
    ASSERT_TRUE(c.next_text_containing("phx_reply"));
    for (int i = 0; i < 3; ++i)
        c.send_text(R"(["1",")" + std::to_string(2 + i) + R"(","chat:c1","message:send",{"content":"x"}])");
    int ok = 0, limited = 0;
    for (int i = 0; i < 3; ++i) {
        auto r = c.next_text_containing("phx_reply");
        ASSERT_TRUE(r);
        if (r->find(R"("status":"ok")") != std::string::npos) ++ok;
        if (r->find("rate_limited") != std::string::npos && r->find("retryAfterMs") != std::string::npos)
            ++limited;
    }
    EXPECT_EQ(ok, 2);
    EXPECT_EQ(limited, 1);
    (*s)->stop();
    (*s)->wait();
}

}  // namespace
}  // namespace quckrt
