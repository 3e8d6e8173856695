// The pure call state machine: every transition, and every refusal.
#include "calls/call_state.hpp"

#include <gtest/gtest.h>

namespace quckrt::calls {
namespace {

constexpr int64_t kRing = 60'000;
constexpr int64_t kGrace = 10'000;

CallConfig config() {
    return {.ring_timeout_ms = kRing,
            .grace_ms = kGrace,
            .ice_servers = Json::array({Json::object({{"urls", Json::array({"stun:s:3478"})}})})};
}

// sends_to(effects, user, event): the payloads of `event` sent to `user`.
std::vector<Json> sends_to(const Effects& e, const std::string& user, const std::string& event) {
    std::vector<Json> out;
    for (const Send& s : e.sends)
        if (s.user_id == user && s.event == event) out.push_back(s.payload);
    return out;
}

class CallStateTest : public ::testing::Test {
protected:
    CallRegistry r{config()};

    // ring(): alice calls bob (both connected) at t=1000 as "c1"; returns the outcome.
    Outcome ring(const std::string& media = "audio") {
        r.connected("alice");
        r.connected("bob");
        Outcome out = r.initiate("alice", "bob", media, "c1", 1000);
        EXPECT_TRUE(out.ok()) << out.refused;
        return out;
    }
    void activate() {
        ring();
        ASSERT_TRUE(r.answer("bob", "c1", 3000).ok());
    }
    void expect_free(const std::string& user) { EXPECT_EQ(r.call_of(user), nullptr) << user; }
};

// ---- initiate -----------------------------------------------------------------------------

TEST_F(CallStateTest, InitiateRingsEveryDeviceOfTheCalleeAndStoresARingingRecord) {
    Outcome out = ring("video");
    auto incoming = sends_to(out.effects, "bob", "call:incoming");
    ASSERT_EQ(incoming.size(), 1u);
    EXPECT_EQ(incoming[0].get_string("callId"), "c1");
    EXPECT_EQ(incoming[0].get_string("callerId"), "alice");
    EXPECT_EQ(incoming[0].get_string("media"), "video");
    EXPECT_EQ(*incoming[0].find("iceServers"), config().ice_servers);
    EXPECT_EQ(out.effects.sends.size(), 1u);     // nothing to the caller
    EXPECT_TRUE(out.effects.notifies.empty());  // bob is connected
    ASSERT_EQ(out.effects.records.size(), 1u);
    EXPECT_TRUE(out.effects.records[0].insert);
    EXPECT_EQ(out.effects.records[0].record.outcome, "ringing");
    EXPECT_EQ(out.effects.records[0].record.started_at, 1000);
    EXPECT_EQ(out.effects.records[0].record.media, "video");
    EXPECT_EQ(out.reply.get_string("state"), "ringing");
    EXPECT_EQ(r.call_of("alice")->id, "c1");
    EXPECT_EQ(r.call_of("bob")->id, "c1");
    EXPECT_TRUE(r.call_of("bob")->callee.video);
}

TEST_F(CallStateTest, InitiateToAnOfflineCalleeAlsoGoesToThePushSink) {
    r.connected("alice");
    Outcome out = r.initiate("alice", "bob", "audio", "c1", 0);
    ASSERT_TRUE(out.ok());
    ASSERT_EQ(out.effects.notifies.size(), 1u);
    EXPECT_EQ(out.effects.notifies[0].user_id, "bob");
    EXPECT_EQ(out.effects.notifies[0].kind, "call:incoming");
    EXPECT_EQ(sends_to(out.effects, "bob", "call:incoming").size(), 1u);
}

TEST_F(CallStateTest, InitiateRefusesBadCalleeMediaAndSelf) {
    EXPECT_EQ(r.initiate("alice", "", "audio", "c1", 0).refused, reason::kInvalidCallee);
    EXPECT_EQ(r.initiate("alice", "bob", "screen", "c1", 0).refused, reason::kInvalidMedia);
    EXPECT_EQ(r.initiate("alice", "bob", "", "c1", 0).refused, reason::kInvalidMedia);
    Outcome self = r.initiate("alice", "alice", "audio", "c1", 0);
    EXPECT_EQ(self.refused, reason::kSelf);
    EXPECT_EQ(self.reply.get_string("reason"), reason::kSelf);
    EXPECT_TRUE(self.effects.empty());
    EXPECT_EQ(r.size(), 0u);
}

TEST_F(CallStateTest, ACallerAlreadyInACallCannotStartAnother) {
    ring();
    for (const std::string other : {"carol", "bob"}) {
        Outcome out = r.initiate("alice", other, "audio", "c2", 2000);
        EXPECT_EQ(out.refused, reason::kAlreadyInCall);
        EXPECT_EQ(out.reply.get_string("callId"), "c1");
        EXPECT_TRUE(out.effects.empty());
    }
    // the callee of a ringing call is in it too
    EXPECT_EQ(r.initiate("bob", "carol", "audio", "c3", 2000).refused, reason::kAlreadyInCall);
    EXPECT_EQ(r.size(), 1u);
}

TEST_F(CallStateTest, ACalleeInACallIsBusyAndTheBusyCallIsStored) {
    ring();
    for (const std::string target : {"bob", "alice"}) {  // callee and caller of c1
        Outcome out = r.initiate("carol", target, "audio", "c2", 2000);
        EXPECT_EQ(out.refused, reason::kBusy);
        EXPECT_EQ(out.reply.get_string("reason"), "busy");
        EXPECT_EQ(out.reply.get_string("callId"), "c2");
        EXPECT_TRUE(out.effects.sends.empty());
        ASSERT_EQ(out.effects.records.size(), 1u);
        const RecordWrite& w = out.effects.records[0];
        EXPECT_TRUE(w.insert);
        EXPECT_EQ(w.record.outcome, "busy");
        EXPECT_EQ(w.record.caller_id, "carol");
        EXPECT_EQ(w.record.callee_id, target);
        EXPECT_EQ(w.record.ended_at, 2000);
    }
    expect_free("carol");
    EXPECT_EQ(r.size(), 1u);
}

// ---- answer -------------------------------------------------------------------------------

TEST_F(CallStateTest, AnswerMakesTheCallActiveAndTellsBothSides) {
    ring();
    Outcome out = r.answer("bob", "c1", 3000);
    ASSERT_TRUE(out.ok()) << out.refused;
    // the caller, and every device of the callee (the others stop ringing)
    ASSERT_EQ(sends_to(out.effects, "alice", "call:answered").size(), 1u);
    ASSERT_EQ(sends_to(out.effects, "bob", "call:answered").size(), 1u);
    EXPECT_EQ(sends_to(out.effects, "alice", "call:answered")[0].get_int("answeredAt"), 3000);
    ASSERT_EQ(out.effects.records.size(), 1u);
    EXPECT_FALSE(out.effects.records[0].insert);
    EXPECT_EQ(out.effects.records[0].record.outcome, "active");
    EXPECT_EQ(out.effects.records[0].record.answered_at, 3000);
    EXPECT_EQ(out.reply.get_string("state"), "active");
    EXPECT_EQ(r.find("c1")->status, CallStatus::active);
}

TEST_F(CallStateTest, AnswerRefusals) {
    ring();
    EXPECT_EQ(r.answer("bob", "", 2000).refused, reason::kCallIdRequired);
    EXPECT_EQ(r.answer("bob", "nope", 2000).refused, reason::kNotFound);
    EXPECT_EQ(r.answer("carol", "c1", 2000).refused, reason::kNotAParty);
    EXPECT_EQ(r.answer("alice", "c1", 2000).refused, reason::kNotCallee);
    EXPECT_EQ(r.find("c1")->status, CallStatus::ringing);
    ASSERT_TRUE(r.answer("bob", "c1", 2000).ok());
    Outcome again = r.answer("bob", "c1", 2500);
    EXPECT_EQ(again.refused, reason::kNotRinging);
    EXPECT_TRUE(again.effects.empty());
}

// ---- reject -------------------------------------------------------------------------------

TEST_F(CallStateTest, RejectEndsARingingCallForBothSides) {
    ring();
    Outcome out = r.reject("bob", "c1", 2000);
    ASSERT_TRUE(out.ok());
    ASSERT_EQ(sends_to(out.effects, "alice", "call:rejected").size(), 1u);
    EXPECT_EQ(sends_to(out.effects, "alice", "call:rejected")[0].get_string("rejectedBy"), "bob");
    EXPECT_EQ(sends_to(out.effects, "bob", "call:rejected").size(), 1u);
    ASSERT_EQ(out.effects.records.size(), 1u);
    EXPECT_EQ(out.effects.records[0].record.outcome, "rejected");
    EXPECT_EQ(out.effects.records[0].record.ended_at, 2000);
    EXPECT_EQ(r.size(), 0u);
    expect_free("alice");
    expect_free("bob");
    EXPECT_TRUE(r.initiate("alice", "bob", "audio", "c2", 2100).ok());  // free again
}

TEST_F(CallStateTest, RejectRefusals) {
    ring();
    EXPECT_EQ(r.reject("bob", "", 2000).refused, reason::kCallIdRequired);
    EXPECT_EQ(r.reject("bob", "nope", 2000).refused, reason::kNotFound);
    EXPECT_EQ(r.reject("carol", "c1", 2000).refused, reason::kNotAParty);
    EXPECT_EQ(r.reject("alice", "c1", 2000).refused, reason::kNotCallee);
    ASSERT_TRUE(r.answer("bob", "c1", 2000).ok());
    EXPECT_EQ(r.reject("bob", "c1", 2500).refused, reason::kNotRinging);
    EXPECT_EQ(r.size(), 1u);
}

// ---- end ----------------------------------------------------------------------------------

TEST_F(CallStateTest, EitherPartyEndsAnActiveCallWithItsDuration) {
    for (const std::string ender : {"alice", "bob"}) {
        CallRegistry fresh{config()};
        r = std::move(fresh);
        activate();
        Outcome out = r.end(ender, "c1", 3000 + 65'500);
        ASSERT_TRUE(out.ok()) << out.refused;
        for (const std::string who : {"alice", "bob"}) {
            auto ended = sends_to(out.effects, who, "call:ended");
            ASSERT_EQ(ended.size(), 1u);
            EXPECT_EQ(ended[0].get_string("endedBy"), ender);
            EXPECT_EQ(ended[0].get_string("reason"), "ended");
            EXPECT_EQ(ended[0].get_int("duration"), 65);
            EXPECT_EQ(ended[0].get_int("durationMs"), 65'500);
        }
        EXPECT_EQ(out.reply.get_int("duration"), 65);
        EXPECT_EQ(out.reply.get_string("outcome"), "completed");
        ASSERT_EQ(out.effects.records.size(), 1u);
        EXPECT_EQ(out.effects.records[0].record.outcome, "completed");
        EXPECT_EQ(out.effects.records[0].record.answered_at, 3000);
        EXPECT_EQ(out.effects.records[0].record.ended_at, 68'500);
        EXPECT_EQ(r.size(), 0u);
        expect_free("alice");
        expect_free("bob");
    }
}

TEST_F(CallStateTest, TheCallerEndingARingingCallCancelsIt) {
    ring();
    Outcome out = r.end("alice", "c1", 5000);
    ASSERT_TRUE(out.ok());
    auto ended = sends_to(out.effects, "bob", "call:ended");
    ASSERT_EQ(ended.size(), 1u);
    EXPECT_EQ(ended[0].get_string("reason"), "cancelled");
    EXPECT_EQ(ended[0].get_int("duration"), 0);
    EXPECT_EQ(out.effects.records.at(0).record.outcome, "cancelled");
    EXPECT_EQ(r.size(), 0u);
}

TEST_F(CallStateTest, TheCalleeEndingARingingCallRejectsIt) {
    ring();
    Outcome out = r.end("bob", "c1", 5000);
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(sends_to(out.effects, "alice", "call:rejected").size(), 1u);
    EXPECT_TRUE(sends_to(out.effects, "alice", "call:ended").empty());
    EXPECT_EQ(out.effects.records.at(0).record.outcome, "rejected");
    EXPECT_EQ(r.size(), 0u);
}

TEST_F(CallStateTest, EndRefusals) {
    activate();
    EXPECT_EQ(r.end("alice", "", 4000).refused, reason::kCallIdRequired);
    EXPECT_EQ(r.end("alice", "nope", 4000).refused, reason::kNotFound);
    EXPECT_EQ(r.end("carol", "c1", 4000).refused, reason::kNotAParty);
    ASSERT_TRUE(r.end("alice", "c1", 4000).ok());
    EXPECT_EQ(r.end("bob", "c1", 4100).refused, reason::kNotFound);  // already ended
}

// ---- relay and toggles --------------------------------------------------------------------

TEST_F(CallStateTest, RelayForwardsThePayloadToThePeerOnlyWithCallIdAndFrom) {
    ring();  // signaling may start while it rings
    Json offer = Json::object({{"callId", "c1"},
                               {"sdp", Json::object({{"type", "offer"}, {"sdp", "v=0\r\n"}})},
                               {"from", "mallory"}});  // a spoofed sender is overwritten
    Outcome out = r.relay("alice", "c1", "webrtc:offer", offer);
    ASSERT_TRUE(out.ok());
    ASSERT_EQ(out.effects.sends.size(), 1u);
    EXPECT_EQ(out.effects.sends[0].user_id, "bob");
    EXPECT_EQ(out.effects.sends[0].event, "webrtc:offer");
    const Json& fwd = out.effects.sends[0].payload;
    EXPECT_EQ(*fwd.find("sdp"), *offer.find("sdp"));
    EXPECT_EQ(fwd.get_string("from"), "alice");
    EXPECT_EQ(fwd.get_string("callId"), "c1");
    EXPECT_TRUE(out.effects.records.empty());

    ASSERT_TRUE(r.answer("bob", "c1", 2000).ok());
    Outcome back = r.relay("bob", "c1", "webrtc:ice-candidate",
                           Json::object({{"callId", "c1"}, {"candidate", Json()}}));
    ASSERT_TRUE(back.ok());
    ASSERT_EQ(back.effects.sends.size(), 1u);
    EXPECT_EQ(back.effects.sends[0].user_id, "alice");
    EXPECT_TRUE(back.effects.sends[0].payload.find("candidate")->is_null());
}

TEST_F(CallStateTest, RelayRefusals) {
    activate();
    const Json p = Json::object({{"sdp", "x"}});
    EXPECT_EQ(r.relay("alice", "", "webrtc:offer", p).refused, reason::kCallIdRequired);
    EXPECT_EQ(r.relay("alice", "nope", "webrtc:offer", p).refused, reason::kNotFound);
    Outcome stranger = r.relay("carol", "c1", "webrtc:offer", p);
    EXPECT_EQ(stranger.refused, reason::kNotAParty);
    EXPECT_TRUE(stranger.effects.empty());
    EXPECT_EQ(r.relay("alice", "c1", "webrtc:offer", Json("x")).refused, reason::kInvalidPayload);
    ASSERT_TRUE(r.end("alice", "c1", 5000).ok());
    EXPECT_EQ(r.relay("alice", "c1", "webrtc:offer", p).refused, reason::kNotFound);
}

TEST_F(CallStateTest, TogglesRecordMediaStateAndRelayIt) {
    activate();
    Outcome out = r.toggle("bob", "c1", "call:toggle-audio", Json::object({{"enabled", false}}));
    ASSERT_TRUE(out.ok());
    ASSERT_EQ(out.effects.sends.size(), 1u);
    EXPECT_EQ(out.effects.sends[0].user_id, "alice");
    EXPECT_EQ(out.effects.sends[0].event, "call:toggle-audio");
    EXPECT_FALSE(out.effects.sends[0].payload.get_bool("enabled", true));
    EXPECT_EQ(out.effects.sends[0].payload.get_string("from"), "bob");
    EXPECT_FALSE(r.find("c1")->callee.audio);
    EXPECT_TRUE(r.find("c1")->caller.audio);
    ASSERT_TRUE(r.toggle("alice", "c1", "call:toggle-video", Json::object({{"enabled", true}})).ok());
    EXPECT_TRUE(r.find("c1")->caller.video);
    EXPECT_FALSE(r.find("c1")->callee.video);

    Json participants = *r.describe(*r.find("c1")).find("participants");
    EXPECT_FALSE(participants.as_array()[1].get_bool("audio", true));
    EXPECT_TRUE(participants.as_array()[0].get_bool("video"));
}

TEST_F(CallStateTest, ToggleRefusals) {
    activate();
    const Json on = Json::object({{"enabled", true}});
    EXPECT_EQ(r.toggle("bob", "", "call:toggle-audio", on).refused, reason::kCallIdRequired);
    EXPECT_EQ(r.toggle("bob", "nope", "call:toggle-audio", on).refused, reason::kNotFound);
    EXPECT_EQ(r.toggle("carol", "c1", "call:toggle-audio", on).refused, reason::kNotAParty);
    EXPECT_EQ(r.toggle("bob", "c1", "call:toggle-audio", Json::object()).refused,
              reason::kInvalidPayload);
    EXPECT_EQ(r.toggle("bob", "c1", "call:toggle-audio", Json::object({{"enabled", "no"}})).refused,
              reason::kInvalidPayload);
    EXPECT_TRUE(r.find("c1")->callee.audio);
}

// ---- ring timeout -------------------------------------------------------------------------

TEST_F(CallStateTest, AnUnansweredCallIsMissedAtTheRingTimeout) {
    ring();
    EXPECT_TRUE(r.expire(1000 + kRing - 1).empty());
    Effects out = r.expire(1000 + kRing);
    EXPECT_EQ(sends_to(out, "alice", "call:missed").size(), 1u);
    ASSERT_EQ(sends_to(out, "bob", "call:missed").size(), 1u);
    EXPECT_EQ(sends_to(out, "bob", "call:missed")[0].get_string("callerId"), "alice");
    EXPECT_TRUE(out.notifies.empty());  // bob is connected
    ASSERT_EQ(out.records.size(), 1u);
    EXPECT_EQ(out.records[0].record.outcome, "missed");
    EXPECT_EQ(out.records[0].record.ended_at, 1000 + kRing);
    EXPECT_EQ(r.size(), 0u);
    EXPECT_TRUE(r.expire(1000 + 2 * kRing).empty());
}

TEST_F(CallStateTest, AMissedCallOfAnOfflineCalleeGoesToThePushSink) {
    r.connected("alice");
    ASSERT_TRUE(r.initiate("alice", "bob", "audio", "c1", 0).ok());
    Effects out = r.expire(kRing);
    ASSERT_EQ(out.notifies.size(), 1u);
    EXPECT_EQ(out.notifies[0].user_id, "bob");
    EXPECT_EQ(out.notifies[0].kind, "call:missed");
}

TEST_F(CallStateTest, AnActiveCallDoesNotTimeOut) {
    activate();
    EXPECT_TRUE(r.expire(1000 + 10 * kRing).empty());
    EXPECT_EQ(r.size(), 1u);
}

// ---- disconnect grace ---------------------------------------------------------------------

TEST_F(CallStateTest, APartyGoneLongerThanTheGraceEndsTheActiveCall) {
    activate();
    r.disconnected("bob", 10'000);
    EXPECT_FALSE(r.online("bob"));
    EXPECT_TRUE(r.expire(10'000 + kGrace - 1).empty());
    Effects out = r.expire(10'000 + kGrace);
    for (const std::string who : {"alice", "bob"}) {
        auto ended = sends_to(out, who, "call:ended");
        ASSERT_EQ(ended.size(), 1u);
        EXPECT_EQ(ended[0].get_string("reason"), "disconnected");
        EXPECT_EQ(ended[0].get_string("endedBy"), "bob");
        EXPECT_EQ(ended[0].get_int("durationMs"), 10'000 + kGrace - 3000);
    }
    EXPECT_EQ(out.records.at(0).record.outcome, "completed");
    EXPECT_EQ(r.size(), 0u);
}

TEST_F(CallStateTest, RejoiningWithinTheGraceKeepsTheCall) {
    activate();
    r.disconnected("alice", 10'000);
    r.connected("alice");
    EXPECT_TRUE(r.expire(10'000 + 5 * kGrace).empty());
    EXPECT_EQ(r.find("c1")->status, CallStatus::active);
    EXPECT_FALSE(r.find("c1")->caller.grace_until.has_value());
}

TEST_F(CallStateTest, OnlyTheLastChannelOfAUserStartsTheGrace) {
    activate();
    r.connected("bob");  // a second device
    r.disconnected("bob", 10'000);
    EXPECT_TRUE(r.online("bob"));
    EXPECT_TRUE(r.expire(10'000 + 5 * kGrace).empty());
    r.disconnected("bob", 100'000);
    EXPECT_EQ(r.expire(100'000 + kGrace).sends.size(), 2u);
    r.disconnected("bob", 200'000);  // more leaves than joins: ignored
    EXPECT_FALSE(r.online("bob"));
}

TEST_F(CallStateTest, ACalleeWithNoChannelKeepsRingingButAGoneCallerCancels) {
    ring();
    r.disconnected("bob", 2000);  // the callee may answer from another device later
    EXPECT_TRUE(r.expire(2000 + kGrace).empty());
    EXPECT_EQ(r.size(), 1u);

    r.disconnected("alice", 3000);
    Effects out = r.expire(3000 + kGrace);
    auto ended = sends_to(out, "bob", "call:ended");
    ASSERT_EQ(ended.size(), 1u);
    EXPECT_EQ(ended[0].get_string("reason"), "disconnected");
    EXPECT_EQ(out.records.at(0).record.outcome, "cancelled");
    EXPECT_EQ(r.size(), 0u);
}

TEST_F(CallStateTest, GraceOfADisconnectedUserWithNoCallDoesNothing) {
    r.connected("carol");
    r.disconnected("carol", 0);
    EXPECT_TRUE(r.expire(kGrace * 10).empty());
}

// ---- invite (HTTP) ------------------------------------------------------------------------

TEST_F(CallStateTest, InviteRingsTheCalleeAgain) {
    ring();
    for (const std::string actor : {"", "alice", "bob"}) {  // admin or either party
        Outcome out = r.invite("c1", actor == "bob" ? "bob" : "", actor);
        ASSERT_TRUE(out.ok()) << out.refused;
        ASSERT_EQ(sends_to(out.effects, "bob", "call:incoming").size(), 1u);
        EXPECT_TRUE(out.effects.notifies.empty());
        EXPECT_EQ(out.reply.get_string("invited"), "bob");
    }
    r.disconnected("bob", 2000);
    Outcome offline = r.invite("c1", "", "");
    ASSERT_EQ(offline.effects.notifies.size(), 1u);
    EXPECT_EQ(offline.effects.notifies[0].kind, "call:incoming");
}

TEST_F(CallStateTest, InviteRefusals) {
    ring();
    EXPECT_EQ(r.invite("", "", "").refused, reason::kCallIdRequired);
    EXPECT_EQ(r.invite("nope", "", "").refused, reason::kNotFound);
    EXPECT_EQ(r.invite("c1", "", "carol").refused, reason::kNotAParty);
    EXPECT_EQ(r.invite("c1", "carol", "alice").refused, reason::kOneToOne);
    EXPECT_EQ(r.invite("c1", "alice", "").refused, reason::kOneToOne);
    ASSERT_TRUE(r.answer("bob", "c1", 2000).ok());
    Outcome active = r.invite("c1", "", "alice");
    EXPECT_EQ(active.refused, reason::kNotRinging);
    EXPECT_TRUE(active.effects.empty());
}

// ---- describe -----------------------------------------------------------------------------

TEST_F(CallStateTest, DescribeListsBothPartiesWithTheirRoles) {
    ring();
    Json d = r.describe(*r.find("c1"));
    EXPECT_EQ(d.get_string("callId"), "c1");
    EXPECT_EQ(d.get_string("state"), "ringing");
    EXPECT_TRUE(d.find("answeredAt")->is_null());
    const auto& ps = d.find("participants")->as_array();
    ASSERT_EQ(ps.size(), 2u);
    EXPECT_EQ(ps[0].get_string("userId"), "alice");
    EXPECT_EQ(ps[0].get_string("role"), "caller");
    EXPECT_TRUE(ps[0].get_bool("joined"));
    EXPECT_EQ(ps[1].get_string("role"), "callee");
    EXPECT_FALSE(ps[1].get_bool("joined", true));
    EXPECT_TRUE(ps[1].get_bool("connected"));
    ASSERT_TRUE(r.answer("bob", "c1", 2000).ok());
    d = r.describe(*r.find("c1"));
    EXPECT_EQ(d.get_string("state"), "active");
    EXPECT_TRUE(d.find("participants")->as_array()[1].get_bool("joined"));
    EXPECT_EQ(d.get_int("answeredAt"), 2000);
}

}  // namespace
}  // namespace quckrt::calls
