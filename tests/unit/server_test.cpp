// The embedding API end to end: a host channel registered on an in-process Server, driven
// over real WebSocket connections on loopback.
#include <quckrt/quckrt.hpp>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <future>
#include <thread>

#include "support/ws_client.hpp"

namespace quckrt {
namespace {

using testing::WsClient;

constexpr const char* kSecret = "server-test-secret";

std::string token_for(const std::string& sub) {
    return *jwt::sign_hs256(kSecret, Json::object({{"sub", sub}}));
}

std::string socket_path(const std::string& sub) {
    return "/socket/websocket?vsn=2.0.0&token=" + token_for(sub);
}

// A host channel exercising every hook.
struct Recorder {
    std::atomic<int> terminated{0};
    std::atomic<int> last_reason{-1};
    std::promise<Responder> parked;
};

class HostChannel final : public Channel {
public:
    explicit HostChannel(Recorder& r) : r_(r) {}

    JoinResult join(const Json& params, Socket& s) override {
        if (params.get_bool("refuse")) return JoinResult::error("not allowed here");
        return JoinResult::ok(Json::object({{"user", s.user().user_id}}));
    }
    void after_join(Socket& s) override { s.push("welcome", Json::object({{"topic", s.topic()}})); }
    Reply handle_in(const InMessage& m, Socket& s) override {
        if (m.event == "echo") return Reply::ok(m.payload);
        if (m.event == "bytes") return Reply::ok(Json::object({{"size", int64_t(m.binary.size())},
                                                                {"binary", m.is_binary}}));
        if (m.event == "later") {
            r_.parked.set_value(s.responder());
            return Reply::none();
        }
        if (m.event == "queued") return Reply::status("queued", Json::object());
        if (m.event == "bye") return Reply::stop();
        if (m.event == "boom") throw std::runtime_error("handler bug");
        if (m.event == "fill") {
            // Queue far more than one write takes, then ask to hear when it has drained.
            const std::string big(64 * 1024, 'x');
            for (int i = 0; i < 32; ++i) s.push("chunk", Json::object({{"i", i}, {"data", big}}));
            EXPECT_GT(s.queued_bytes(), 1024u * 1024u);
            s.when_queued_below(0, [](Socket& socket) {
                EXPECT_EQ(socket.queued_bytes(), 0u);
                socket.push("drained", Json::object());
            });
            return Reply::ok();
        }
        if (m.event == "others") {
            s.broadcast_from("from", m.payload);
            return Reply::ok();
        }
        return Channel::handle_in(m, s);
    }
    void terminate(TerminateReason reason, Socket&) override {
        r_.last_reason = static_cast<int>(reason);
        ++r_.terminated;
    }

private:
    Recorder& r_;
};

// Defers every join; the test completes it from another thread.
struct DeferredJoins {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<JoinResponder> waiting;
    std::vector<ChannelRef> refs;
    JoinResponder take() {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return !waiting.empty(); });
        JoinResponder r = waiting.front();
        waiting.erase(waiting.begin());
        return r;
    }
};

class SlowChannel final : public Channel {
public:
    explicit SlowChannel(DeferredJoins& d) : d_(d) {}
    JoinResult join(const Json&, Socket& s) override {
        std::lock_guard lock(d_.mu);
        d_.waiting.push_back(s.join_responder());
        d_.cv.notify_all();
        return JoinResult::deferred();
    }
    void after_join(Socket& s) override {
        std::lock_guard lock(d_.mu);
        d_.refs.push_back(s.self());
    }
    Reply handle_in(const InMessage& m, Socket&) override { return Reply::ok(m.payload); }

private:
    DeferredJoins& d_;
};

class ServerTest : public ::testing::Test {
protected:
    void start(int loops = 1) {
        auto s = Server::create({.port = 0, .loops = loops, .jwt_secret = kSecret,
                                 .builtin_chat = false});
        ASSERT_TRUE(s) << s.error().to_string();
        server_ = std::move(*s);
        server_->channel("host:*", [this] { return std::make_unique<HostChannel>(rec_); });
        server_->channel("slow:*", [this] { return std::make_unique<SlowChannel>(deferred_); });
        server_->channel("broken:*", []() -> std::unique_ptr<Channel> {
            throw std::runtime_error("factory bug");
        });
        ASSERT_TRUE(server_->start().ok());
    }
    void TearDown() override {
        if (server_) {
            server_->stop();
            server_->wait();
        }
    }
    void connect_and_join(WsClient& c, const std::string& sub, const std::string& topic) {
        ASSERT_EQ(c.connect(server_->port(), socket_path(sub)), 101);
        c.send_text("[\"1\",\"1\",\"" + topic + "\",\"phx_join\",{}]");
        ASSERT_TRUE(c.next_text_containing("\"status\":\"ok\""));
    }
    Recorder rec_;
    DeferredJoins deferred_;
    std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, DeferredJoinHoldsLaterFramesUntilItCompletes) {
    start();
    WsClient c;
    ASSERT_EQ(c.connect(server_->port(), socket_path("ann")), 101);
    // The join, a push and a leave back to back: the push and the leave must see the join.
    c.send_text(R"(["1","1","slow:1","phx_join",{}])");
    c.send_text(R"(["1","2","slow:1","ping",{"n":1}])");
    c.send_text(R"(["1","3","slow:1","phx_leave",{}])");
    JoinResponder responder = deferred_.take();
    std::thread([responder] {
        EXPECT_TRUE(responder.complete(JoinResult::ok(Json::object({{"late", true}}))));
        EXPECT_FALSE(responder.complete(JoinResult::ok()));  // first completion only
    }).join();
    std::vector<std::string> frames;
    for (int i = 0; i < 4; ++i) {
        auto m = c.next();
        ASSERT_TRUE(m) << "frame " << i;
        frames.push_back(m->data);
    }
    EXPECT_EQ(frames[0], R"(["1","1","slow:1","phx_reply",{"status":"ok","response":{"late":true}}])");
    EXPECT_EQ(frames[1], R"(["1","2","slow:1","phx_reply",{"status":"ok","response":{"n":1}}])");
    EXPECT_EQ(frames[2], R"(["1","3","slow:1","phx_reply",{"status":"ok","response":{}}])");
    EXPECT_EQ(frames[3], R"(["1","1","slow:1","phx_close",{}])");
}

TEST_F(ServerTest, AThrowingChannelFactoryRefusesTheJoinAndKeepsTheConnection) {
    start();
    WsClient c;
    ASSERT_EQ(c.connect(server_->port(), socket_path("ann")), 101);
    c.send_text(R"(["1","1","broken:1","phx_join",{}])");
    auto r = c.next();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->data,
              R"(["1","1","broken:1","phx_reply",{"status":"error","response":{"reason":"join crashed"}}])");
    c.send_text(R"([null,"2","phoenix","heartbeat",{}])");
    ASSERT_TRUE(c.next_text_containing(R"("2","phoenix","phx_reply")"));
}

TEST_F(ServerTest, DeferredJoinRefusedLeavesNoChannel) {
    start();
    WsClient c;
    ASSERT_EQ(c.connect(server_->port(), socket_path("ann")), 101);
    c.send_text(R"(["1","1","slow:1","phx_join",{}])");
    c.send_text(R"(["1","2","slow:1","ping",{}])");
    deferred_.take().complete(JoinResult::error("not a member"));
    auto refused = c.next();
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->data,
              R"(["1","1","slow:1","phx_reply",{"status":"error","response":{"reason":"not a member"}}])");
    auto push = c.next();
    ASSERT_TRUE(push);
    EXPECT_NE(push->data.find("unmatched topic"), std::string::npos);
}

TEST_F(ServerTest, ChannelRefRunsOnTheLoopOnlyWhileThatJoinLives) {
    start();
    WsClient c;
    ASSERT_EQ(c.connect(server_->port(), socket_path("ann")), 101);
    c.send_text(R"(["1","1","slow:1","phx_join",{}])");
    deferred_.take().complete(JoinResult::ok());
    ASSERT_TRUE(c.next_text_containing("phx_reply"));
    ChannelRef ref;
    {
        std::lock_guard lock(deferred_.mu);
        ASSERT_EQ(deferred_.refs.size(), 1u);
        ref = deferred_.refs[0];
    }
    std::thread([ref] {
        EXPECT_TRUE(ref.post([](Socket& s) { s.push("later", Json::object({{"ok", true}})); }));
    }).join();
    auto pushed = c.next_text_containing("later");
    ASSERT_TRUE(pushed);
    EXPECT_EQ(*pushed, R"(["1",null,"slow:1","later",{"ok":true}])");
    // After a leave the same handle reaches nothing.
    c.send_text(R"(["1","2","slow:1","phx_leave",{}])");
    ASSERT_TRUE(c.next_text_containing("phx_close"));
    c.send_text(R"(["5","5","host:x","phx_join",{}])");
    ASSERT_TRUE(c.next_text_containing("welcome"));
    // Both tasks go through the loop's one post queue, in order: had the ghost run, it
    // would arrive before the marker.
    ref.post([](Socket& s) { s.push("ghost", Json::object()); });
    server_->broadcast("host:x", "marker", Json::object());
    auto next = c.next();
    ASSERT_TRUE(next);
    EXPECT_EQ(next->data, R"([null,null,"host:x","marker",{}])");
}

TEST_F(ServerTest, JoinRepliesWithTheHandlersResponseThenAfterJoinPushes) {
    start();
    WsClient c;
    ASSERT_EQ(c.connect(server_->port(), socket_path("ann")), 101);
    c.send_text(R"(["3","3","host:1","phx_join",{}])");
    auto reply = c.next();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->data,
              R"(["3","3","host:1","phx_reply",{"status":"ok","response":{"user":"ann"}}])");
    auto push = c.next();
    ASSERT_TRUE(push);
    EXPECT_EQ(push->data, R"(["3",null,"host:1","welcome",{"topic":"host:1"}])");
}

TEST_F(ServerTest, RefusedJoinLeavesNoChannel) {
    start();
    WsClient c;
    ASSERT_EQ(c.connect(server_->port(), socket_path("ann")), 101);
    c.send_text(R"(["3","3","host:1","phx_join",{"refuse":true}])");
    auto reply = c.next_text_containing("phx_reply");
    ASSERT_TRUE(reply);
    EXPECT_NE(reply->find(R"({"status":"error","response":{"reason":"not allowed here"}})"),
              std::string::npos);
    c.send_text(R"(["3","4","host:1","echo",{}])");
    auto after = c.next_text_containing("phx_reply");
    ASSERT_TRUE(after);
    EXPECT_NE(after->find("unmatched topic"), std::string::npos);
    EXPECT_EQ(rec_.terminated.load(), 0);
}

TEST_F(ServerTest, ResponderAnswersLaterFromAnotherThread) {
    start();
    WsClient c;
    connect_and_join(c, "ann", "host:1");
    c.send_text(R"(["1","7","host:1","later",{}])");
    Responder responder = rec_.parked.get_future().get();
    std::thread worker([responder] {
        EXPECT_TRUE(responder.reply(Reply::ok(Json::object({{"done", true}}))));
        EXPECT_FALSE(responder.reply(Reply::ok()));  // only the first reply counts
    });
    worker.join();
    auto reply = c.next_text_containing("phx_reply");
    ASSERT_TRUE(reply);
    EXPECT_EQ(*reply, R"(["1","7","host:1","phx_reply",{"status":"ok","response":{"done":true}}])");
}

TEST_F(ServerTest, CustomStatusStopAndCrash) {
    start();
    WsClient c;
    connect_and_join(c, "ann", "host:1");
    c.send_text(R"(["1","2","host:1","queued",{}])");
    auto queued = c.next_text_containing("phx_reply");
    ASSERT_TRUE(queued);
    EXPECT_NE(queued->find(R"("status":"queued")"), std::string::npos);

    c.send_text(R"(["1","3","host:1","bye",{}])");
    ASSERT_TRUE(c.next_text_containing(R"("3","host:1","phx_reply")"));
    auto closed = c.next();
    ASSERT_TRUE(closed);
    EXPECT_EQ(closed->data, R"(["1","1","host:1","phx_close",{}])");
    EXPECT_EQ(rec_.last_reason.load(), static_cast<int>(TerminateReason::stopped));

    c.send_text(R"(["5","5","host:2","phx_join",{}])");
    ASSERT_TRUE(c.next_text_containing(R"("status":"ok")"));
    c.send_text(R"(["5","6","host:2","boom",{}])");
    auto crashed = c.next_text_containing("phx_error");
    ASSERT_TRUE(crashed);
    EXPECT_EQ(*crashed, R"(["5","5","host:2","phx_error",{"reason":"channel_crash"}])");
    // The connection survives the handler's exception.
    c.send_text(R"([null,"9","phoenix","heartbeat",{}])");
    ASSERT_TRUE(c.next_text_containing(R"("9","phoenix","phx_reply")"));
}

TEST_F(ServerTest, WhenQueuedBelowRunsOnceTheOutputHasDrained) {
    start();
    WsClient c;
    connect_and_join(c, "ann", "host:1");
    c.send_text(R"(["1","2","host:1","fill",{}])");
    int chunks = 0;
    for (;;) {
        auto m = c.next();
        ASSERT_TRUE(m) << "after " << chunks << " chunks";
        if (m->data.find("\"chunk\"") != std::string::npos) ++chunks;
        if (m->data.find("\"drained\"") != std::string::npos) break;
    }
    EXPECT_EQ(chunks, 32) << "drained must come after every queued chunk";
}

TEST_F(ServerTest, BinaryPushReachesTheHandlerAsBytes) {
    start();
    WsClient c;
    connect_and_join(c, "ann", "host:1");
    const std::string frame("\x00\x01\x01\x06\x05" "12host:1bytes\x01\x02\x03", 5 + 13 + 3);
    c.send_binary(frame);
    auto reply = c.next_text_containing("phx_reply");
    ASSERT_TRUE(reply);
    EXPECT_NE(reply->find(R"({"size":3,"binary":true})"), std::string::npos);
}

TEST_F(ServerTest, BroadcastsReachEveryLoop) {
    start(2);
    constexpr int kClients = 8;  // SO_REUSEPORT spreads them over both loops
    std::vector<std::unique_ptr<WsClient>> clients;
    for (int i = 0; i < kClients; ++i) {
        clients.push_back(std::make_unique<WsClient>());
        connect_and_join(*clients.back(), "u" + std::to_string(i), "host:all");
    }
    // From the host, off any loop.
    server_->broadcast("host:all", "notice", Json::object({{"n", 1}}));
    for (auto& c : clients) {
        auto m = c->next_text_containing("notice");
        ASSERT_TRUE(m);
        EXPECT_EQ(*m, R"([null,null,"host:all","notice",{"n":1}])");
    }
    // From a channel: broadcast_from skips only the sender.
    clients[0]->send_text(R"(["1","2","host:all","others",{"x":2}])");
    for (int i = 1; i < kClients; ++i) ASSERT_TRUE(clients[i]->next_text_containing("\"from\""));
    // The fan-out happens before the handler's reply is queued, so had the sender been
    // included, its "from" would arrive before the reply.
    auto own = clients[0]->next();
    ASSERT_TRUE(own);
    EXPECT_NE(own->data.find("phx_reply"), std::string::npos) << own->data;
}

TEST_F(ServerTest, StopClosesEveryConnectionWith1012) {
    start(2);
    WsClient a, b;
    connect_and_join(a, "a", "host:1");
    connect_and_join(b, "b", "host:1");
    server_->stop();
    for (WsClient* c : {&a, &b}) {
        std::optional<testing::WsMessage> m;
        while ((m = c->next()) && m->opcode != 8) {
        }
        ASSERT_TRUE(m);
        EXPECT_EQ(m->close_code(), 1012);
    }
    server_->wait();
    EXPECT_EQ(rec_.terminated.load(), 2);
    EXPECT_EQ(server_->connection_count(), 0);
}

TEST(ServerCreate, RefusesInvalidOptions) {
    EXPECT_FALSE(Server::create({.port = 0}));  // no secret, no authenticator
    EXPECT_FALSE(Server::create({.port = 70000, .jwt_secret = "s"}));
    EXPECT_FALSE(Server::create({.jwt_secret = "s", .max_connections = 0}));
    EXPECT_FALSE(Server::create({.jwt_secret = "s", .socket_path = "socket"}));
    auto ok = Server::create({.port = 0, .jwt_secret = "s"});
    EXPECT_TRUE(ok);
}

TEST(ServerStart, FailsCleanlyWhenThePortIsTaken) {
    // Another program holds the port without SO_REUSEPORT.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(::listen(fd, 1), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    auto server = Server::create({.port = ntohs(addr.sin_port), .loops = 2, .jwt_secret = "s"});
    ASSERT_TRUE(server);
    const Status st = (*server)->start();
    EXPECT_FALSE(st.ok());
    EXPECT_EQ(st.code(), StatusCode::unavailable);
    EXPECT_NE(st.message().find("cannot listen"), std::string::npos);
    ::close(fd);
}

}  // namespace
}  // namespace quckrt
