// Resume (issue 8): the recoverability decision, the wire shape of replayed events, the
// hold/release seam of Socket (driven through the embedding API, ordered by the loop's
// task queue rather than by time), and resume on the persisted chat channel.
#include <quckrt/quckrt.hpp>

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <condition_variable>

#include "chat/resume.hpp"
#include "support/ws_client.hpp"

namespace quckrt {
namespace {

using chat::decide_resume;
using chat::ResumeWindow;
using testing::WsClient;

// field(j, key): the member, or null.
Json field(const Json& j, std::string_view key) {
    const Json* v = j.find(key);
    return v ? *v : Json();
}

// ---- decide_resume ------------------------------------------------------------------------

constexpr int64_t kNow = 1'000'000'000;

// Events 1..n at times kNow - (n - seq) * 1000 (one per second, the last one now).
chat::EventTime one_per_second(int64_t n, int* calls = nullptr) {
    return [n, calls](int64_t seq) {
        if (calls) ++*calls;
        return kNow - (n - seq) * 1000;
    };
}

TEST(DecideResume, WithinTheWindowReplaysFromTheNextSeq) {
    auto d = decide_resume(40, {1, 100}, {.max_events = 1000, .max_age_ms = 0}, kNow,
                           one_per_second(100));
    EXPECT_TRUE(d.recovered);
    EXPECT_EQ(d.from_seq, 41);
    EXPECT_EQ(d.to_seq, 100);
}

TEST(DecideResume, NothingMissedIsRecoveredWithAnEmptyRange) {
    auto d = decide_resume(100, {1, 100}, {.max_events = 10, .max_age_ms = 1}, kNow + 10'000'000,
                           one_per_second(100));
    EXPECT_TRUE(d.recovered);
    EXPECT_EQ(d.from_seq, 101);
    EXPECT_EQ(d.to_seq, 100);
    // A new conversation: nothing yet, nothing missed.
    auto fresh = decide_resume(0, {1, 0}, {}, kNow, one_per_second(0));
    EXPECT_TRUE(fresh.recovered);
    EXPECT_EQ(fresh.from_seq, 1);
    EXPECT_EQ(fresh.to_seq, 0);
}

TEST(DecideResume, OlderThanTheCountWindowIsNotRecoveredAndSaysWhatIsAvailable) {
    const ResumeWindow w{.max_events = 10, .max_age_ms = 0};
    auto edge = decide_resume(90, {1, 100}, w, kNow, one_per_second(100));
    EXPECT_TRUE(edge.recovered) << "exactly max_events missed is still served";
    EXPECT_EQ(edge.from_seq, 91);
    auto d = decide_resume(89, {1, 100}, w, kNow, one_per_second(100));
    EXPECT_FALSE(d.recovered);
    EXPECT_EQ(d.reason, "out_of_window");
    EXPECT_EQ(d.first_seq, 91);
    EXPECT_EQ(d.last_seq, 100);
}

TEST(DecideResume, APrunedLogIsNotRecoveredBeforeItsStart) {
    auto d = decide_resume(10, {50, 100}, {.max_events = 1000, .max_age_ms = 0}, kNow,
                           one_per_second(100));
    EXPECT_FALSE(d.recovered);
    EXPECT_EQ(d.reason, "out_of_window");
    EXPECT_EQ(d.first_seq, 50);
    EXPECT_TRUE(decide_resume(49, {50, 100}, {.max_events = 1000, .max_age_ms = 0}, kNow,
                              one_per_second(100))
                    .recovered);
}

TEST(DecideResume, OlderThanTheAgeWindowFindsTheFirstYoungEnoughEvent) {
    int calls = 0;
    // 100 events one second apart, the last now; a 30.5 s window keeps seqs 70..100.
    const ResumeWindow w{.max_events = 1000, .max_age_ms = 30'500};
    auto d = decide_resume(10, {1, 100}, w, kNow, one_per_second(100, &calls));
    EXPECT_FALSE(d.recovered);
    EXPECT_EQ(d.reason, "out_of_window");
    EXPECT_EQ(d.first_seq, 70);
    EXPECT_LE(calls, 10) << "a binary search, not a scan";
    EXPECT_TRUE(decide_resume(69, {1, 100}, w, kNow, one_per_second(100)).recovered);
    EXPECT_FALSE(decide_resume(68, {1, 100}, w, kNow, one_per_second(100)).recovered);
    // Everything too old: only "nothing missed" is recoverable.
    auto all_old = decide_resume(99, {1, 100}, w, kNow + 3'600'000, one_per_second(100));
    EXPECT_FALSE(all_old.recovered);
    EXPECT_EQ(all_old.first_seq, 101);
}

TEST(DecideResume, AheadOfTheConversationIsNotRecovered) {
    auto d = decide_resume(101, {1, 100}, {}, kNow, one_per_second(100));
    EXPECT_FALSE(d.recovered);
    EXPECT_EQ(d.reason, "ahead");
    EXPECT_EQ(d.first_seq, 1);
    EXPECT_EQ(d.last_seq, 100);
}

// ---- wire shape and the replay filter -----------------------------------------------------

TEST(EventWire, ReplayedEventsHaveTheLiveNamesAndShapes) {
    ConversationEvent created{.conversation_id = "c", .seq = 3, .kind = EventKind::message_created,
                              .message_id = "m1", .actor_id = "alice", .created_at = 5000};
    created.message = Message{.id = "m1", .conversation_id = "c", .seq = 3, .sender_id = "alice",
                              .type = "text", .content = "hi", .created_at = 5000};
    auto [name, p] = chat::event_wire(created);
    EXPECT_EQ(name, "message:new");
    EXPECT_EQ(p.get_string("id"), "m1");
    EXPECT_EQ(p.get_int("seq"), 3);
    EXPECT_EQ(p.get_string("content"), "hi");

    ConversationEvent edited{.conversation_id = "c", .seq = 4, .kind = EventKind::message_edited,
                             .message_id = "m1", .actor_id = "alice", .created_at = 6000,
                             .payload = Json::object({{"content", "hello"}})};
    auto [ename, ep] = chat::event_wire(edited);
    EXPECT_EQ(ename, "message:edited");
    EXPECT_EQ(ep.get_string("messageId"), "m1");
    EXPECT_EQ(ep.get_int("seq"), 4);
    EXPECT_EQ(ep.get_string("userId"), "alice");
    EXPECT_EQ(ep.get_string("content"), "hello");
    EXPECT_EQ(ep.get_string("editedAt"), "1970-01-01T00:00:06.000Z");

    ConversationEvent react{.conversation_id = "c", .seq = 5, .kind = EventKind::reaction_removed,
                            .message_id = "m1", .actor_id = "bob",
                            .payload = Json::object({{"emoji", "👍"}})};
    auto [rname, rp] = chat::event_wire(react);
    EXPECT_EQ(rname, "message:reaction:removed");
    EXPECT_EQ(rp.get_string("emoji"), "👍");
    ConversationEvent del{.conversation_id = "c", .seq = 6, .kind = EventKind::message_deleted,
                          .message_id = "m1", .actor_id = "alice"};
    EXPECT_EQ(chat::event_wire(del).first, "message:deleted");
}

TEST(AlreadyReplayed, OnlySequencedChatEventsAtOrBelowTheCursor) {
    const Json at5 = Json::object({{"seq", 5}});
    EXPECT_TRUE(chat::already_replayed("message:new", at5, 5));
    EXPECT_TRUE(chat::already_replayed("message:reaction:added", at5, 9));
    EXPECT_FALSE(chat::already_replayed("message:new", at5, 4));
    EXPECT_FALSE(chat::already_replayed("typing", at5, 9)) << "not a sequenced event";
    EXPECT_FALSE(chat::already_replayed("message:read", Json::object({{"lastReadSeq", 1}}), 9));
    EXPECT_FALSE(chat::already_replayed("message:new", Json::object(), 9));
}

// ---- hold / release through the embedding API --------------------------------------------

constexpr const char* kSecret = "resume-test-secret";

std::string path_for(const std::string& sub) {
    return "/socket/websocket?vsn=2.0.0&token=" +
           *jwt::sign_hs256(kSecret, Json::object({{"sub", sub}}));
}

struct Refs {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<ChannelRef> refs;
    ChannelRef take() {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return !refs.empty(); });
        return refs.front();
    }
};

// A channel that holds broadcasts from its first moment, like a resuming chat channel.
class HoldingChannel final : public Channel {
public:
    explicit HoldingChannel(Refs& r) : r_(r) {}
    JoinResult join(const Json&, Socket&) override { return JoinResult::ok(); }
    void after_join(Socket& s) override {
        s.hold_broadcasts();
        std::lock_guard lock(r_.mu);
        r_.refs.push_back(s.self());
        r_.cv.notify_all();
    }

private:
    Refs& r_;
};

struct Frame {
    std::string event;
    Json payload;
};

std::optional<Frame> next_frame(WsClient& c) {
    auto m = c.next(5000);
    if (!m || m->opcode != 1) return std::nullopt;
    auto j = Json::parse(m->data);
    if (!j) return std::nullopt;
    return Frame{std::string((*j).as_array()[3].as_string()), (*j).as_array()[4]};
}

class HoldTest : public ::testing::Test {
protected:
    void start(ServerOptions o) {
        o.port = 0;
        o.loops = 1;
        o.jwt_secret = kSecret;
        o.builtin_chat = false;
        auto s = Server::create(std::move(o));
        ASSERT_TRUE(s) << s.error().to_string();
        server_ = std::move(*s);
        server_->channel("held:*", [this] { return std::make_unique<HoldingChannel>(refs_); });
        ASSERT_TRUE(server_->start().ok());
        ASSERT_EQ(client_.connect(server_->port(), path_for("u1")), 101);
        client_.send_text(R"(["1","1","held:x","phx_join",{}])");
        ASSERT_TRUE(client_.next_text_containing("\"status\":\"ok\""));
    }
    void TearDown() override {
        if (server_) {
            server_->stop();
            server_->wait();
        }
    }
    Refs refs_;
    WsClient client_;
    std::unique_ptr<Server> server_;
};

TEST_F(HoldTest, HeldBroadcastsGoOutAfterTheCatchUpMinusWhatItCarried) {
    start({});
    ChannelRef ref = refs_.take();
    // Server::broadcast and ChannelRef::post go through the same loop task queue, in order:
    // the three broadcasts reach the held subscription before the catch-up task runs.
    server_->broadcast("held:x", "message:new", Json::object({{"seq", 2}}));
    server_->broadcast("held:x", "typing", Json::object({{"userId", "u2"}}));
    server_->broadcast("held:x", "message:new", Json::object({{"seq", 4}}));
    ASSERT_TRUE(ref.post([](Socket& s) {
        for (int seq = 1; seq <= 3; ++seq)
            s.push("message:new", Json::object({{"seq", seq}, {"replayed", true}}));
        s.release_broadcasts([](std::string_view event, const Json& p) {
            return chat::already_replayed(event, p, 3);
        });
    }));
    server_->broadcast("held:x", "message:new", Json::object({{"seq", 5}}));

    std::vector<std::string> got;
    for (int i = 0; i < 6; ++i) {
        auto f = next_frame(client_);
        ASSERT_TRUE(f) << "frame " << i;
        got.push_back(f->event + ":" + std::to_string(f->payload.get_int("seq")) +
                      (f->payload.get_bool("replayed") ? "r" : ""));
    }
    EXPECT_EQ(got, (std::vector<std::string>{"message:new:1r", "message:new:2r", "message:new:3r",
                                             "typing:0", "message:new:4", "message:new:5"}));
    EXPECT_FALSE(client_.next(200)) << "seq 2 was replayed, so its live copy is dropped";
}

TEST_F(HoldTest, AHoldThatOutgrowsTheQueueLimitClosesLikeASlowConsumer) {
    start({.max_frame_bytes = 1024, .max_queued_bytes = 4096});
    (void)refs_.take();
    const std::string filler(900, 'x');
    for (int i = 0; i < 8; ++i)
        server_->broadcast("held:x", "message:new", Json::object({{"seq", i}, {"f", filler}}));
    std::optional<testing::WsMessage> m;
    while ((m = client_.next(5000)) && m->opcode != 8) {
        ADD_FAILURE() << "a held frame went out: " << m->data.substr(0, 60);
    }
    ASSERT_TRUE(m) << "expected a close frame";
    EXPECT_EQ(m->close_code(), 1013);
}

// ---- resume on the persisted chat channel -------------------------------------------------

class ResumeChatTest : public ::testing::Test {
protected:
    void start(int64_t max_events = 10000) {
        auto s = Server::create({.port = 0, .loops = 2, .jwt_secret = kSecret,
                                 .storage = "sqlite::memory:", .resume_max_events = max_events,
                                 .replay_page = 3, .send_rate_per_second = 0});
        ASSERT_TRUE(s) << s.error().to_string();
        server_ = std::move(*s);
        ASSERT_TRUE(server_->start().ok());
        ASSERT_TRUE(server_->chat()
                        ->create_conversation("c1", ConversationKind::group, {"alice", "bob"})
                        .ok());
    }
    void TearDown() override {
        if (server_) {
            server_->stop();
            server_->wait();
        }
    }
    std::unique_ptr<WsClient> connect(const std::string& user) {
        auto c = std::make_unique<WsClient>();
        EXPECT_EQ(c->connect(server_->port(), path_for(user)), 101);
        return c;
    }
    Json join(WsClient& c, const std::string& params) {
        c.send_text(R"(["1","1","chat:c1","phx_join",)" + params + "]");
        auto r = c.next_text_containing("\"phx_reply\"");
        return r ? (*Json::parse(*r)).as_array()[4] : Json();
    }
    Json push(WsClient& c, const std::string& event, const std::string& payload) {
        const std::string ref = std::to_string(++ref_);
        c.send_text(R"(["1",")" + ref + R"(","chat:c1",")" + event + "\"," + payload + "]");
        auto r = c.next_text_containing("[\"1\",\"" + ref + "\",\"chat:c1\",\"phx_reply\"");
        return r ? field((*Json::parse(*r)).as_array()[4], "response") : Json();
    }
    int ref_ = 1;
    std::unique_ptr<Server> server_;
};

TEST_F(ResumeChatTest, ARejoinWithLastSeqGetsEveryLaterEventInOrderThenLiveOnes) {
    start();
    auto alice = connect("alice");
    ASSERT_EQ(field(join(*alice, R"({"presence":false})"), "status").as_string(), "ok");
    std::string first_id;
    for (int i = 1; i <= 7; ++i) {
        Json m = push(*alice, "message:send", R"({"content":"m)" + std::to_string(i) + "\"}");
        ASSERT_EQ(m.get_int("seq"), i);
        if (i == 1) first_id = std::string(m.get_string("id"));
    }
    ASSERT_EQ(push(*alice, "message:edit",
                   R"({"messageId":")" + first_id + R"(","content":"edited"})")
                  .get_string("content"),
              "edited");  // seq 8

    auto bob = connect("bob");
    Json reply = join(*bob, R"({"presence":false,"last_seq":0})");
    ASSERT_EQ(field(reply, "status").as_string(), "ok") << reply.dump();
    const Json r = field(reply, "response");
    EXPECT_TRUE(r.get_bool("recovered"));
    EXPECT_EQ(r.get_int("from_seq"), 1);
    EXPECT_EQ(r.get_int("to_seq"), 8);
    // Pages of 3: 1-3, 4-6, 7-8. The replayed message 1 is in its current (edited) state.
    for (int seq = 1; seq <= 8; ++seq) {
        auto f = next_frame(*bob);
        ASSERT_TRUE(f) << "seq " << seq;
        EXPECT_EQ(f->payload.get_int("seq"), seq);
        EXPECT_EQ(f->event, seq == 8 ? "message:edited" : "message:new");
        if (seq == 1) {
            EXPECT_EQ(f->payload.get_string("content"), "edited");
        }
    }
    Json live = push(*alice, "message:send", R"({"content":"live"})");
    auto f = next_frame(*bob);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->event, "message:new");
    EXPECT_EQ(f->payload.get_int("seq"), 9);
    EXPECT_EQ(f->payload.get_string("content"), "live");
}

TEST_F(ResumeChatTest, LiveSendsDuringTheReplayArriveOnceAfterIt) {
    start();
    auto alice = connect("alice");
    ASSERT_EQ(field(join(*alice, R"({"presence":false})"), "status").as_string(), "ok");
    for (int i = 0; i < 30; ++i) push(*alice, "message:send", R"({"content":"before"})");
    auto bob = connect("bob");
    // Alice's sends are in flight (not awaited) while bob's join and replay run.
    bob->send_text(R"(["1","1","chat:c1","phx_join",{"presence":false,"last_seq":10}])");
    for (int i = 0; i < 30; ++i)
        alice->send_text(R"(["1","x)" + std::to_string(i) +
                         R"(","chat:c1","message:send",{"content":"during"}])");
    ASSERT_TRUE(bob->next_text_containing("\"phx_reply\""));
    for (int seq = 11; seq <= 60; ++seq) {
        auto f = next_frame(*bob);
        ASSERT_TRUE(f) << "seq " << seq;
        ASSERT_EQ(f->payload.get_int("seq"), seq) << "no gap, no duplicate, in order";
    }
    EXPECT_FALSE(bob->next(300)) << "nothing after seq 60";
}

TEST_F(ResumeChatTest, OutsideTheWindowOrAheadSaysRecoveredFalseWithTheRange) {
    start(/*max_events=*/5);
    auto alice = connect("alice");
    ASSERT_EQ(field(join(*alice, R"({"presence":false})"), "status").as_string(), "ok");
    for (int i = 0; i < 12; ++i) push(*alice, "message:send", R"({"content":"m"})");
    auto bob = connect("bob");
    Json bad = join(*bob, R"({"presence":false,"last_seq":-1})");
    EXPECT_EQ(field(bad, "status").as_string(), "error");
    EXPECT_EQ(field(bad, "response").get_string("reason"), "last_seq must be a non-negative integer");
    Json old = field(join(*bob, R"({"presence":false,"last_seq":3})"), "response");
    EXPECT_FALSE(old.get_bool("recovered", true));
    EXPECT_EQ(old.get_string("reason"), "out_of_window");
    EXPECT_EQ(old.get_int("first_seq"), 8);
    EXPECT_EQ(old.get_int("last_seq"), 12);
    Json ahead = field(join(*bob, R"({"presence":false,"last_seq":40})"), "response");
    EXPECT_FALSE(ahead.get_bool("recovered", true));
    EXPECT_EQ(ahead.get_string("reason"), "ahead");
    // Not recovered: no replay, but the channel is joined and live.
    push(*alice, "message:send", R"({"content":"after"})");
    auto f = bob->next_text_containing("\"message:new\"");
    ASSERT_TRUE(f);
    EXPECT_NE(f->find("\"seq\":13"), std::string::npos) << *f;
}

}  // namespace
}  // namespace quckrt
