// CallManager: client events in, effects out through the sinks, time from a ManualClock.
#include "calls/call_manager.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <utility>

#include "core/clock.hpp"

namespace quckrt::calls {
namespace {

struct Sent {
    std::string user, event;
    Json payload;
};

struct RecordingPush final : PushSink {
    std::mutex mu;
    std::vector<Sent> got;
    void notify(std::string_view user, std::string_view kind, const Json& payload) override {
        std::lock_guard lock(mu);
        got.push_back({std::string(user), std::string(kind), payload});
    }
};

class CallManagerTest : public ::testing::Test {
protected:
    CallManagerTest() {
        CallSinks sinks;
        sinks.send = [this](const std::string& u, std::string_view e, const Json& p) {
            sent_.push_back({u, std::string(e), p});
        };
        sinks.store = [this](const RecordWrite& w) { records_.push_back(w); };
        sinks.push = push_;
        manager_ = std::make_unique<CallManager>(
            CallConfig{.ring_timeout_ms = 60'000, .grace_ms = 10'000,
                       .ice_servers = ice_servers_json("stun:a:3478", "turn:t:3478", "u", "p")},
            clock_, std::move(sinks), [this](int64_t) { return "call-" + std::to_string(++ids_); });
    }
    Answer act(const std::string& user, std::string_view event, Json payload) {
        auto a = manager_->handle(user, event, payload);
        EXPECT_TRUE(a.has_value()) << event;
        return a ? *a : Answer{"none", Json()};
    }
    std::vector<Sent> take() { return std::exchange(sent_, {}); }

    core::ManualClock clock_{1'000'000};
    std::shared_ptr<RecordingPush> push_ = std::make_shared<RecordingPush>();
    std::vector<Sent> sent_;
    std::vector<RecordWrite> records_;
    int ids_ = 0;
    std::unique_ptr<CallManager> manager_;
};

TEST(IceServers, RtcIceServerShapeFromTheConfiguredUrls) {
    Json s = ice_servers_json("stun:a:3478, stun:b:3478", "turn:t:3478?transport=udp", "user",
                              "secret");
    ASSERT_EQ(s.size(), 2u);
    EXPECT_EQ(s.as_array()[0], Json::object({{"urls", Json::array({"stun:a:3478", "stun:b:3478"})}}));
    EXPECT_EQ(s.as_array()[1],
              Json::object({{"urls", Json::array({"turn:t:3478?transport=udp"})},
                            {"username", "user"},
                            {"credential", "secret"}}));
    EXPECT_EQ(ice_servers_json("", "", "", "").size(), 0u);
    EXPECT_EQ(ice_servers_json("", "turn:t", "", "").as_array()[0],
              Json::object({{"urls", Json::array({"turn:t"})}}));
}

TEST_F(CallManagerTest, AFullCallThroughTheSinks) {
    manager_->connected("alice");
    manager_->connected("bob");
    Answer init = act("alice", "call:initiate", Json::object({{"calleeId", "bob"}, {"media", "video"}}));
    ASSERT_TRUE(init.ok()) << init.reply.dump();
    EXPECT_EQ(init.reply.get_string("callId"), "call-1");
    auto sent = take();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].user, "bob");
    EXPECT_EQ(sent[0].event, "call:incoming");
    EXPECT_EQ(*sent[0].payload.find("iceServers"), manager_->ice_servers());
    EXPECT_EQ(sent[0].payload.get_int("startedAt"), 1'000'000);
    EXPECT_EQ(manager_->ringing_for("bob")->get_string("callId"), "call-1");
    EXPECT_FALSE(manager_->ringing_for("alice"));

    clock_.advance(2000);
    ASSERT_TRUE(act("bob", "call:answer", Json::object({{"callId", "call-1"}})).ok());
    sent = take();
    ASSERT_EQ(sent.size(), 2u);
    EXPECT_EQ(sent[0].event, "call:answered");
    EXPECT_FALSE(manager_->ringing_for("bob"));
    EXPECT_EQ(manager_->current_call("alice").get_string("state"), "active");

    Json offer = Json::object({{"callId", "call-1"}, {"sdp", Json::object({{"type", "offer"}})}});
    ASSERT_TRUE(act("alice", "webrtc:offer", offer).ok());
    sent = take();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].user, "bob");
    EXPECT_EQ(sent[0].event, "webrtc:offer");
    EXPECT_EQ(*sent[0].payload.find("sdp"), *offer.find("sdp"));

    clock_.advance(42'000);
    Answer end = act("bob", "call:end", Json::object({{"callId", "call-1"}}));
    ASSERT_TRUE(end.ok());
    EXPECT_EQ(end.reply.get_int("duration"), 42);
    sent = take();
    ASSERT_EQ(sent.size(), 2u);
    EXPECT_EQ(sent[1].payload.get_int("durationMs"), 42'000);

    ASSERT_EQ(records_.size(), 3u);  // insert ringing, update active, update completed
    EXPECT_TRUE(records_[0].insert);
    EXPECT_EQ(records_[1].record.outcome, "active");
    EXPECT_EQ(records_[2].record.outcome, "completed");
    EXPECT_EQ(records_[2].record.ended_at, 1'044'000);
    EXPECT_TRUE(manager_->current_call("alice").is_null());
    EXPECT_EQ(manager_->live_calls(), 0u);
    EXPECT_TRUE(push_->got.empty());
}

TEST_F(CallManagerTest, SignalingEventsNeedTheirFields) {
    manager_->connected("alice");
    ASSERT_TRUE(act("alice", "call:initiate", Json::object({{"calleeId", "bob"}})).ok());
    Answer no_sdp = act("alice", "webrtc:answer", Json::object({{"callId", "call-1"}}));
    EXPECT_EQ(no_sdp.refused, reason::kInvalidPayload);
    EXPECT_EQ(no_sdp.reply.get_string("detail"), "sdp required");
    Answer no_candidate = act("alice", "webrtc:ice-candidate", Json::object({{"callId", "call-1"}}));
    EXPECT_EQ(no_candidate.reply.get_string("detail"), "candidate required");
    EXPECT_EQ(act("alice", "call:initiate", Json::object({{"calleeId", "carol"}})).refused,
              reason::kAlreadyInCall);
    EXPECT_FALSE(manager_->handle("alice", "call:dance", Json::object()).has_value());
    EXPECT_FALSE(manager_->handle("alice", "history", Json::object()).has_value());
}

TEST_F(CallManagerTest, InitiateValidatesItsPayload) {
    EXPECT_EQ(act("alice", "call:initiate", Json::object()).refused, reason::kInvalidCallee);
    EXPECT_EQ(act("alice", "call:initiate", Json::object({{"calleeId", 7}})).refused,
              reason::kInvalidCallee);
    EXPECT_EQ(act("alice", "call:initiate", Json::object({{"calleeId", "bob"}, {"media", 1}})).refused,
              reason::kInvalidMedia);
    EXPECT_EQ(act("alice", "call:initiate", Json()).refused, reason::kInvalidCallee);
    EXPECT_TRUE(sent_.empty());
    EXPECT_TRUE(records_.empty());
}

TEST_F(CallManagerTest, SteppingTheClockMissesTheCallAndNotifiesAnOfflineCallee) {
    manager_->connected("alice");
    ASSERT_TRUE(act("alice", "call:initiate", Json::object({{"calleeId", "bob"}})).ok());
    ASSERT_EQ(push_->got.size(), 1u);
    EXPECT_EQ(push_->got[0].user, "bob");
    EXPECT_EQ(push_->got[0].event, "call:incoming");
    take();

    clock_.advance(59'999);
    manager_->expire();
    EXPECT_TRUE(sent_.empty());
    clock_.advance(1);
    manager_->expire();
    auto sent = take();
    ASSERT_EQ(sent.size(), 2u);
    EXPECT_EQ(sent[0].event, "call:missed");
    EXPECT_EQ(sent[1].event, "call:missed");
    ASSERT_EQ(push_->got.size(), 2u);
    EXPECT_EQ(push_->got[1].event, "call:missed");
    EXPECT_EQ(push_->got[1].payload.get_string("callId"), "call-1");
    EXPECT_EQ(records_.back().record.outcome, "missed");
    EXPECT_EQ(manager_->live_calls(), 0u);
}

TEST_F(CallManagerTest, SteppingTheClockThroughTheGrace) {
    manager_->connected("alice");
    manager_->connected("bob");
    ASSERT_TRUE(act("alice", "call:initiate", Json::object({{"calleeId", "bob"}})).ok());
    ASSERT_TRUE(act("bob", "call:answer", Json::object({{"callId", "call-1"}})).ok());
    take();

    manager_->disconnected("alice");
    clock_.advance(9'000);
    manager_->connected("alice");  // back within the grace: resumed
    EXPECT_EQ(manager_->current_call("alice").get_string("callId"), "call-1");
    clock_.advance(60'000);
    manager_->expire();
    EXPECT_TRUE(sent_.empty());

    manager_->disconnected("alice");
    clock_.advance(10'000);
    manager_->expire();
    auto sent = take();
    ASSERT_EQ(sent.size(), 2u);
    EXPECT_EQ(sent[0].event, "call:ended");
    EXPECT_EQ(sent[0].payload.get_string("reason"), "disconnected");
    EXPECT_EQ(manager_->live_calls(), 0u);
}

TEST_F(CallManagerTest, HttpInviteAndDescribe) {
    manager_->connected("alice");
    ASSERT_TRUE(act("alice", "call:initiate", Json::object({{"calleeId", "bob"}})).ok());
    take();
    EXPECT_TRUE(manager_->is_party("call-1", "bob"));
    EXPECT_FALSE(manager_->is_party("call-1", "carol"));
    EXPECT_FALSE(manager_->describe("nope"));
    EXPECT_EQ(manager_->describe("call-1")->get_string("state"), "ringing");
    Answer a = manager_->invite("call-1", "bob", "alice");
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(take().size(), 1u);
    EXPECT_EQ(push_->got.size(), 2u);  // initiate + invite, bob offline both times
    EXPECT_EQ(manager_->invite("call-1", "carol", "").refused, reason::kOneToOne);
}

TEST_F(CallManagerTest, WithoutSinksNothingBreaks) {
    CallManager bare(CallConfig{}, clock_, CallSinks{});
    ASSERT_TRUE(bare.handle("a", "call:initiate", Json::object({{"calleeId", "b"}}))->ok());
    clock_.advance(60'000);
    bare.expire();
    EXPECT_EQ(bare.live_calls(), 0u);
}

}  // namespace
}  // namespace quckrt::calls
