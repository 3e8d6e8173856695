// The pure huddle state machine: every transition, and every refusal.
#include "huddles/huddle_registry.hpp"

#include <gtest/gtest.h>

namespace quckrt::huddles {
namespace {

constexpr int64_t kEmpty = 60'000;
constexpr int64_t kGrace = 10'000;

HuddleConfig config(size_t max = 3, int64_t grace_ms = kGrace) {
    return {.max_participants = max,
            .empty_timeout_ms = kEmpty,
            .max_message_bytes = 16,
            .max_invitees = 3,
            .grace_ms = grace_ms};
}

// events(outcome_effects, topic, event): the payloads of `event` on `topic`.
std::vector<Json> events(const std::vector<Effect>& effects, const std::string& topic,
                         const std::string& event) {
    std::vector<Json> out;
    for (const Effect& e : effects)
        if (e.topic == topic && e.event == event) out.push_back(e.payload);
    return out;
}

class HuddleRegistryTest : public ::testing::Test {
  protected:
    HuddleRegistry r{config()};

    // open(): huddle "h1" for conversation "c1", created by alice at t=1000.
    void open() { ASSERT_TRUE(r.create("h1", "c1", "alice", 1000).ok()); }
    Outcome join(const std::string& user, uint64_t conn, bool audio = true, bool video = false) {
        return r.join("h1", user, conn, audio, video, 2000);
    }
    // live(): open, alice (conn 1) and bob (conn 2) in.
    void live() {
        open();
        ASSERT_TRUE(join("alice", 1).ok());
        ASSERT_TRUE(join("bob", 2).ok());
    }
    Outcome screen(const std::string& user, uint64_t conn, std::optional<bool> set) {
        return r.change("h1", user, conn, {MediaChange::Kind::screen, set});
    }
    const Huddle& h() { return *r.find("h1"); }
};

// ---- create -------------------------------------------------------------------------------

TEST_F(HuddleRegistryTest, CreateOpensAnEmptyHuddleAndAnnouncesItOnTheConversation) {
    Outcome out = r.create("h1", "c1", "alice", 1000);
    ASSERT_TRUE(out.ok());
    EXPECT_TRUE(out.reply.get_bool("created"));
    EXPECT_EQ(out.reply.get_string("id"), "h1");
    EXPECT_EQ(out.reply.get_string("topic"), "huddle:h1");
    EXPECT_EQ(out.reply.get_string("conversationId"), "c1");
    EXPECT_EQ(out.reply.get_string("createdBy"), "alice");
    EXPECT_EQ(out.reply.get_int("createdAt"), 1000);
    EXPECT_EQ(out.reply.find("participants")->size(), 0u);
    EXPECT_TRUE(out.reply.find("screenSharer")->is_null());
    EXPECT_EQ(out.reply.get_int("maxParticipants"), 3);
    auto started = events(out.effects, "chat:c1", "huddle:started");
    ASSERT_EQ(started.size(), 1u);
    EXPECT_EQ(started[0], Json::object({{"huddleId", "h1"},
                                        {"conversationId", "c1"},
                                        {"createdBy", "alice"},
                                        {"createdAt", 1000},
                                        {"topic", "huddle:h1"}}));
    EXPECT_EQ(out.effects.size(), 1u);
    EXPECT_EQ(r.by_conversation("c1"), r.find("h1"));
}

TEST_F(HuddleRegistryTest, CreateForAConversationWithAHuddleAnswersThatHuddle) {
    open();
    Outcome again = r.create("h2", "c1", "bob", 5000);
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(again.reply.get_bool("created", true));
    EXPECT_EQ(again.reply.get_string("id"), "h1");
    EXPECT_EQ(again.reply.get_string("createdBy"), "alice");
    EXPECT_TRUE(again.effects.empty());
    EXPECT_EQ(r.find("h2"), nullptr);
    EXPECT_EQ(r.size(), 1u);
}

TEST_F(HuddleRegistryTest, CreateRefusesATakenIdAndEmptyIds) {
    open();
    Outcome taken = r.create("h1", "c2", "bob", 5000);
    EXPECT_EQ(taken.refused, reason::kHuddleExists);
    EXPECT_EQ(taken.reply.get_string("reason"), "huddle exists");
    EXPECT_TRUE(taken.effects.empty());
    EXPECT_EQ(r.by_conversation("c2"), nullptr);
    EXPECT_EQ(r.create("", "c2", "bob", 1).refused, reason::kInvalidPayload);
    EXPECT_EQ(r.create("h2", "", "bob", 1).refused, reason::kInvalidPayload);
    EXPECT_EQ(r.size(), 1u);
}

// ---- join ---------------------------------------------------------------------------------

TEST_F(HuddleRegistryTest, JoinOfAnUnknownHuddleIsRefused) {
    Outcome out = r.join("nope", "alice", 1, true, false, 1);
    EXPECT_EQ(out.refused, reason::kNotFound);
    EXPECT_EQ(out.reply, Json::object({{"reason", "not found"}}));
}

TEST_F(HuddleRegistryTest, FirstJoinAddsTheParticipantAndAnnouncesIt) {
    open();
    Outcome out = join("alice", 1, false, true);
    ASSERT_TRUE(out.ok());
    auto joined = events(out.effects, "huddle:h1", "huddle:participant:joined");
    ASSERT_EQ(joined.size(), 1u);
    EXPECT_EQ(joined[0], Json::object({{"userId", "alice"},
                                       {"audio", false},
                                       {"video", true},
                                       {"screen", false},
                                       {"handRaised", false},
                                       {"joinedAt", 2000},
                                       {"devices", 1},
                                       {"connected", true},
                                       {"huddleId", "h1"},
                                       {"participantCount", 1}}));
    const Json& participants = *out.reply.find("participants");
    ASSERT_EQ(participants.size(), 1u);
    EXPECT_EQ(participants.as_array()[0].get_string("userId"), "alice");
}

TEST_F(HuddleRegistryTest, ASecondDeviceIsTheSameParticipantAndIsNotAnnounced) {
    live();
    Outcome out = join("alice", 7);
    ASSERT_TRUE(out.ok());
    EXPECT_TRUE(out.effects.empty());
    EXPECT_EQ(h().participants.size(), 2u);
    EXPECT_EQ(h().participant("alice")->connections, (std::vector<uint64_t>{1, 7}));
    // the same connection again changes nothing
    EXPECT_TRUE(join("alice", 7).effects.empty());
    EXPECT_EQ(h().participant("alice")->connections.size(), 2u);
}

TEST_F(HuddleRegistryTest, JoinBeyondTheCapIsRefusedButAnotherDeviceIsNot) {
    live();
    ASSERT_TRUE(join("carol", 3).ok());
    Outcome full = join("dave", 4);
    EXPECT_EQ(full.refused, reason::kFull);
    EXPECT_EQ(full.reply, Json::object({{"reason", "huddle full"}, {"max", 3}}));
    EXPECT_TRUE(full.effects.empty());
    EXPECT_EQ(h().participant("dave"), nullptr);
    EXPECT_TRUE(join("carol", 5).ok());  // a device of someone inside
    // once someone leaves, there is room again
    r.leave("h1", "bob", 2);
    EXPECT_TRUE(join("dave", 4).ok());
}

// ---- leave --------------------------------------------------------------------------------

TEST_F(HuddleRegistryTest, LeaveOfUnknownThingsDoesNothing) {
    live();
    EXPECT_TRUE(r.leave("nope", "alice", 1).effects.empty());
    EXPECT_TRUE(r.leave("h1", "carol", 1).effects.empty());
    EXPECT_TRUE(r.leave("h1", "alice", 99).effects.empty());
    EXPECT_EQ(h().participants.size(), 2u);
}

TEST_F(HuddleRegistryTest, OneDeviceLeavingKeepsTheUser) {
    live();
    join("alice", 7);
    Outcome out = r.leave("h1", "alice", 1);
    EXPECT_TRUE(out.ok());
    EXPECT_TRUE(out.effects.empty());
    EXPECT_EQ(h().participant("alice")->connections, (std::vector<uint64_t>{7}));
}

TEST_F(HuddleRegistryTest, TheSharingDeviceLeavingFreesTheScreenEvenIfTheUserStays) {
    live();
    join("alice", 7);
    ASSERT_TRUE(screen("alice", 7, true).ok());
    Outcome out = r.leave("h1", "alice", 7);
    auto updated = events(out.effects, "huddle:h1", "huddle:participant:updated");
    ASSERT_EQ(updated.size(), 1u);
    EXPECT_FALSE(updated[0].get_bool("screen", true));
    EXPECT_TRUE(updated[0].find("screenSharer")->is_null());
    EXPECT_FALSE(h().screen.has_value());
    EXPECT_NE(h().participant("alice"), nullptr);
}

TEST_F(HuddleRegistryTest, LastDeviceLeavingRemovesTheParticipantAndFreesTheScreen) {
    live();
    ASSERT_TRUE(screen("bob", 2, true).ok());
    Outcome out = r.leave("h1", "bob", 2);
    auto left = events(out.effects, "huddle:h1", "huddle:participant:left");
    ASSERT_EQ(left.size(), 1u);
    EXPECT_EQ(left[0], Json::object({{"huddleId", "h1"},
                                     {"userId", "bob"},
                                     {"participantCount", 1},
                                     {"screenSharer", Json()},
                                     {"reason", "left"}}));
    EXPECT_EQ(out.effects.size(), 1u);
    EXPECT_EQ(h().participant("bob"), nullptr);
    EXPECT_TRUE(screen("alice", 1, true).ok());  // the lock is free
}

TEST_F(HuddleRegistryTest, LastParticipantLeavingRemovesTheHuddle) {
    live();
    r.leave("h1", "bob", 2);
    Outcome out = r.leave("h1", "alice", 1);
    ASSERT_EQ(events(out.effects, "huddle:h1", "huddle:participant:left").size(), 1u);
    Json ended = Json::object({{"huddleId", "h1"}, {"conversationId", "c1"}, {"reason", "empty"}});
    EXPECT_EQ(events(out.effects, "chat:c1", "huddle:ended"), std::vector<Json>{ended});
    EXPECT_EQ(events(out.effects, "huddle:h1", "huddle:ended"), std::vector<Json>{ended});
    EXPECT_EQ(r.find("h1"), nullptr);
    EXPECT_EQ(r.by_conversation("c1"), nullptr);
    EXPECT_EQ(r.size(), 0u);
    EXPECT_EQ(r.join("h1", "alice", 1, true, false, 3000).refused, reason::kNotFound);
    // the conversation may have a new huddle
    EXPECT_TRUE(r.create("h2", "c1", "bob", 4000).reply.get_bool("created"));
}

// ---- media --------------------------------------------------------------------------------

TEST_F(HuddleRegistryTest, ChangesOfUnknownHuddlesAndNonParticipantsAreRefused) {
    live();
    EXPECT_EQ(r.change("nope", "alice", 1, {MediaChange::Kind::audio, {}}).refused,
              reason::kNotFound);
    Outcome out = r.change("h1", "carol", 3, {MediaChange::Kind::hand, true});
    EXPECT_EQ(out.refused, reason::kNotParticipant);
    EXPECT_TRUE(out.effects.empty());
}

TEST_F(HuddleRegistryTest, AudioVideoAndHandToggleOrSetAndAnnounceOnlyChanges) {
    live();
    struct Case {
        MediaChange::Kind kind;
        const char* field;
        bool initial;
    };
    for (Case c : {Case{MediaChange::Kind::audio, "audio", true},
                   Case{MediaChange::Kind::video, "video", false},
                   Case{MediaChange::Kind::hand, "handRaised", false}}) {
        SCOPED_TRACE(c.field);
        Outcome flip = r.change("h1", "bob", 2, {c.kind, {}});
        ASSERT_TRUE(flip.ok());
        EXPECT_EQ(flip.reply.get_bool(c.field), !c.initial);
        auto updated = events(flip.effects, "huddle:h1", "huddle:participant:updated");
        ASSERT_EQ(updated.size(), 1u);
        EXPECT_EQ(updated[0].get_string("userId"), "bob");
        EXPECT_EQ(updated[0].get_bool(c.field), !c.initial);
        // setting the current value: ok, no event
        Outcome same = r.change("h1", "bob", 2, {c.kind, !c.initial});
        EXPECT_TRUE(same.ok());
        EXPECT_TRUE(same.effects.empty());
        Outcome back = r.change("h1", "bob", 2, {c.kind, c.initial});
        EXPECT_EQ(back.reply.get_bool(c.field), c.initial);
        EXPECT_EQ(back.effects.size(), 1u);
    }
}

TEST_F(HuddleRegistryTest, OnlyOneScreenShareAtATime) {
    live();
    Outcome on = screen("alice", 1, {});
    ASSERT_TRUE(on.ok());
    EXPECT_TRUE(on.reply.get_bool("screen"));
    EXPECT_EQ(on.reply.get_string("screenSharer"), "alice");
    auto updated = events(on.effects, "huddle:h1", "huddle:participant:updated");
    ASSERT_EQ(updated.size(), 1u);
    EXPECT_EQ(updated[0].get_string("screenSharer"), "alice");

    Outcome busy = screen("bob", 2, true);
    EXPECT_EQ(busy.refused, reason::kScreenInUse);
    EXPECT_EQ(busy.reply, Json::object({{"reason", "screen share in use"}, {"sharerId", "alice"}}));
    EXPECT_EQ(screen("bob", 2, {}).refused, reason::kScreenInUse);  // a flip means start for bob
    join("alice", 7);
    EXPECT_EQ(screen("alice", 7, true).refused, reason::kScreenInUse);  // her other device

    Outcome again = screen("alice", 1, true);  // the sharer asks again: nothing changes
    EXPECT_TRUE(again.ok());
    EXPECT_TRUE(again.effects.empty());
    Outcome not_sharing = screen("bob", 2, false);  // stop by someone who does not share
    EXPECT_TRUE(not_sharing.ok());
    EXPECT_TRUE(not_sharing.effects.empty());
    EXPECT_EQ(h().screen->first, "alice");

    Outcome off = screen("alice", 7, false);  // the sharer stops, from any device
    ASSERT_TRUE(off.ok());
    EXPECT_FALSE(off.reply.get_bool("screen", true));
    EXPECT_EQ(off.effects.size(), 1u);
    EXPECT_FALSE(h().screen.has_value());
    EXPECT_TRUE(screen("bob", 2, true).ok());
    EXPECT_EQ(h().screen->first, "bob");
}

// ---- message ------------------------------------------------------------------------------

TEST_F(HuddleRegistryTest, MessageGoesToEveryoneInTheHuddle) {
    live();
    Outcome out = r.message("h1", "bob", "hi all", "m1", 3000);
    ASSERT_TRUE(out.ok());
    Json expected = Json::object({{"huddleId", "h1"},
                                  {"id", "m1"},
                                  {"userId", "bob"},
                                  {"content", "hi all"},
                                  {"sentAt", 3000}});
    EXPECT_EQ(out.reply, expected);
    EXPECT_EQ(events(out.effects, "huddle:h1", "huddle:message:new"), std::vector<Json>{expected});
}

TEST_F(HuddleRegistryTest, MessageRefusals) {
    live();
    EXPECT_EQ(r.message("nope", "bob", "x", "m", 1).refused, reason::kNotFound);
    EXPECT_EQ(r.message("h1", "carol", "x", "m", 1).refused, reason::kNotParticipant);
    EXPECT_EQ(r.message("h1", "bob", "", "m", 1).refused, reason::kInvalidPayload);
    Outcome long_one = r.message("h1", "bob", std::string(17, 'x'), "m", 1);
    EXPECT_EQ(long_one.refused, reason::kInvalidPayload);
    EXPECT_TRUE(long_one.effects.empty());
    EXPECT_TRUE(r.message("h1", "bob", std::string(16, 'x'), "m", 1).ok());
}

// ---- invite -------------------------------------------------------------------------------

TEST_F(HuddleRegistryTest, InviteSendsToEachInviteesUserTopicAndSkipsParticipants) {
    live();
    Outcome out = r.invite("h1", "alice", {"carol", "bob", "carol"}, 5000);
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(out.reply,
              Json::object(
                  {{"huddleId", "h1"},
                   {"invited", Json::array({"carol"})},
                   {"skipped", Json::array({Json::object(
                                   {{"userId", "bob"}, {"reason", "already in the huddle"}})})}}));
    Json invite = Json::object({{"huddleId", "h1"},
                                {"conversationId", "c1"},
                                {"topic", "huddle:h1"},
                                {"invitedBy", "alice"},
                                {"invitedAt", 5000}});
    EXPECT_EQ(events(out.effects, "user:carol", "huddle:invite"), std::vector<Json>{invite});
    EXPECT_EQ(out.effects.size(), 1u);  // once, though listed twice
    // the admin (no actor) invites with invitedBy null
    Outcome admin = r.invite("h1", "", {"carol"}, 6000);
    ASSERT_EQ(admin.effects.size(), 1u);
    EXPECT_TRUE(admin.effects[0].payload.find("invitedBy")->is_null());
}

TEST_F(HuddleRegistryTest, InviteRefusals) {
    live();
    EXPECT_EQ(r.invite("nope", "alice", {"carol"}, 1).refused, reason::kNotFound);
    EXPECT_EQ(r.invite("h1", "carol", {"dave"}, 1).refused, reason::kNotParticipant);
    EXPECT_EQ(r.invite("h1", "alice", {}, 1).refused, reason::kInvalidPayload);
    EXPECT_EQ(r.invite("h1", "alice", {"a", "b", "c", "d"}, 1).refused, reason::kInvalidPayload);
    Outcome empty_id = r.invite("h1", "alice", {"carol", ""}, 1);
    EXPECT_EQ(empty_id.refused, reason::kInvalidPayload);
    EXPECT_TRUE(empty_id.effects.empty());
}

// ---- expire -------------------------------------------------------------------------------

TEST_F(HuddleRegistryTest, AHuddleNobodyJoinsExpires) {
    open();
    ASSERT_TRUE(r.create("h2", "c2", "bob", 1000).ok());
    ASSERT_TRUE(r.join("h2", "bob", 9, true, false, 2000).ok());
    EXPECT_TRUE(r.expire(1000 + kEmpty - 1).empty());
    EXPECT_NE(r.find("h1"), nullptr);
    auto effects = r.expire(1000 + kEmpty);
    Json ended =
        Json::object({{"huddleId", "h1"}, {"conversationId", "c1"}, {"reason", "expired"}});
    EXPECT_EQ(events(effects, "chat:c1", "huddle:ended"), std::vector<Json>{ended});
    EXPECT_EQ(r.find("h1"), nullptr);
    EXPECT_EQ(r.by_conversation("c1"), nullptr);
    EXPECT_NE(r.find("h2"), nullptr);  // it has a participant
    EXPECT_TRUE(r.expire(1000 + 10 * kEmpty).empty());
}

// ---- reconnect grace ----------------------------------------------------------------------

TEST_F(HuddleRegistryTest, DisconnectOfTheLastDeviceKeepsTheUserReconnectingAndFreesTheScreen) {
    live();
    ASSERT_TRUE(screen("bob", 2, true).ok());
    ASSERT_TRUE(r.change("h1", "bob", 2, {MediaChange::Kind::hand, true}).ok());
    Outcome out = r.disconnect("h1", "bob", 2, 3000);
    ASSERT_TRUE(out.ok());
    // one event says both: bob is reconnecting, and his screen share is over
    ASSERT_EQ(out.effects.size(), 1u);
    EXPECT_EQ(out.effects[0].topic, "huddle:h1");
    EXPECT_EQ(out.effects[0].event, "huddle:participant:updated");
    EXPECT_EQ(out.effects[0].payload, Json::object({{"userId", "bob"},
                                                    {"audio", true},
                                                    {"video", false},
                                                    {"screen", false},
                                                    {"handRaised", true},
                                                    {"joinedAt", 2000},
                                                    {"devices", 0},
                                                    {"connected", false},
                                                    {"huddleId", "h1"},
                                                    {"screenSharer", Json()}}));
    const Participant* bob = h().participant("bob");
    ASSERT_NE(bob, nullptr);
    EXPECT_EQ(bob->grace_until, 3000 + kGrace);
    EXPECT_FALSE(bob->connected());
    EXPECT_EQ(h().participants.size(), 2u);
    EXPECT_TRUE(screen("alice", 1, true).ok());  // the lock did not wait for the grace
    // describe shows him, not connected
    const Json d = r.describe(h());
    const auto& ps = d.find("participants")->as_array();
    ASSERT_EQ(ps.size(), 2u);
    EXPECT_FALSE(ps[1].get_bool("connected", true));
    EXPECT_TRUE(ps[0].get_bool("connected", false));
    // his old connection is gone: leaving or disconnecting it again does nothing
    EXPECT_TRUE(r.leave("h1", "bob", 2).effects.empty());
    EXPECT_TRUE(r.disconnect("h1", "bob", 2, 4000).effects.empty());
    EXPECT_EQ(h().participant("bob")->grace_until, 3000 + kGrace);  // not pushed back
}

TEST_F(HuddleRegistryTest, DisconnectOfOneDeviceOfSeveralIsNoGrace) {
    live();
    join("alice", 7);
    ASSERT_TRUE(screen("alice", 7, true).ok());
    Outcome out = r.disconnect("h1", "alice", 7, 3000);
    // only the screen freed, as for a leave; she is still connected on device 1
    auto updated = events(out.effects, "huddle:h1", "huddle:participant:updated");
    ASSERT_EQ(updated.size(), 1u);
    EXPECT_TRUE(updated[0].get_bool("connected", false));
    EXPECT_FALSE(updated[0].get_bool("screen", true));
    EXPECT_EQ(out.effects.size(), 1u);
    EXPECT_FALSE(h().participant("alice")->grace_until.has_value());
    EXPECT_TRUE(r.disconnect("h1", "alice", 1, 3000).effects.size() == 1u);  // now the last
    EXPECT_TRUE(h().participant("alice")->grace_until.has_value());
    // unknown huddle, user or connection: nothing
    EXPECT_TRUE(r.disconnect("nope", "bob", 2, 1).effects.empty());
    EXPECT_TRUE(r.disconnect("h1", "carol", 2, 1).effects.empty());
    EXPECT_TRUE(r.disconnect("h1", "bob", 99, 1).effects.empty());
}

TEST_F(HuddleRegistryTest, RejoinWithinTheGraceRestoresTheSameParticipant) {
    live();
    ASSERT_TRUE(r.change("h1", "bob", 2, {MediaChange::Kind::hand, true}).ok());
    ASSERT_TRUE(r.change("h1", "bob", 2, {MediaChange::Kind::audio, false}).ok());
    ASSERT_EQ(r.disconnect("h1", "bob", 2, 3000).effects.size(), 1u);
    // phoenix.js rejoins with its original params (audio on): the kept state wins
    Outcome back = r.join("h1", "bob", 9, true, true, 3000 + kGrace - 1);
    ASSERT_TRUE(back.ok());
    EXPECT_TRUE(events(back.effects, "huddle:h1", "huddle:participant:joined").empty());
    auto updated = events(back.effects, "huddle:h1", "huddle:participant:updated");
    ASSERT_EQ(updated.size(), 1u);
    EXPECT_EQ(back.effects.size(), 1u);
    EXPECT_EQ(updated[0], Json::object({{"userId", "bob"},
                                        {"audio", false},
                                        {"video", false},
                                        {"screen", false},
                                        {"handRaised", true},
                                        {"joinedAt", 2000},
                                        {"devices", 1},
                                        {"connected", true},
                                        {"huddleId", "h1"},
                                        {"screenSharer", Json()}}));
    const auto& ps = back.reply.find("participants")->as_array();
    ASSERT_EQ(ps.size(), 2u);
    EXPECT_EQ(ps[1].get_string("userId"), "bob");  // his place in the join order too
    EXPECT_TRUE(ps[1].get_bool("connected", false));
    const Participant* bob = h().participant("bob");
    EXPECT_FALSE(bob->grace_until.has_value());
    EXPECT_EQ(bob->connections, (std::vector<uint64_t>{9}));
    // the grace is over: its deadline passing changes nothing
    EXPECT_TRUE(r.expire(3000 + 10 * kGrace).empty());
    EXPECT_NE(h().participant("bob"), nullptr);
    // and a second device of a connected user is still silent
    EXPECT_TRUE(join("bob", 10).effects.empty());
}

TEST_F(HuddleRegistryTest, ARejoinOvertakingTheCloseIsJustASecondDevice) {
    // The reconnect may reach another loop before this one notices the old socket closed.
    live();
    EXPECT_TRUE(join("bob", 9).effects.empty());
    Outcome late_close = r.disconnect("h1", "bob", 2, 3000);
    EXPECT_TRUE(late_close.effects.empty());
    EXPECT_FALSE(h().participant("bob")->grace_until.has_value());
    EXPECT_TRUE(h().participant("bob")->connected());
}

TEST_F(HuddleRegistryTest, ARejoinBeforeExpireRanIsRestoredEvenPastTheDeadline) {
    // expire() runs on a ~1 s tick: the grace is at least grace_ms, never less.
    live();
    r.disconnect("h1", "bob", 2, 3000);
    Outcome back = r.join("h1", "bob", 9, true, false, 3000 + kGrace + 500);
    ASSERT_TRUE(back.ok());
    EXPECT_TRUE(events(back.effects, "huddle:h1", "huddle:participant:joined").empty());
    EXPECT_EQ(events(back.effects, "huddle:h1", "huddle:participant:updated").size(), 1u);
    EXPECT_TRUE(r.expire(3000 + kGrace + 500).empty());
}

TEST_F(HuddleRegistryTest, GraceExpiryRemovesTheParticipantAndALaterJoinIsFresh) {
    live();
    ASSERT_TRUE(r.change("h1", "bob", 2, {MediaChange::Kind::hand, true}).ok());
    r.disconnect("h1", "bob", 2, 3000);
    EXPECT_TRUE(r.expire(3000 + kGrace - 1).empty());
    EXPECT_NE(h().participant("bob"), nullptr);
    auto effects = r.expire(3000 + kGrace);
    ASSERT_EQ(effects.size(), 1u);
    EXPECT_EQ(effects[0].topic, "huddle:h1");
    EXPECT_EQ(effects[0].event, "huddle:participant:left");
    EXPECT_EQ(effects[0].payload, Json::object({{"huddleId", "h1"},
                                                {"userId", "bob"},
                                                {"participantCount", 1},
                                                {"screenSharer", Json()},
                                                {"reason", "disconnected"}}));
    EXPECT_EQ(h().participant("bob"), nullptr);
    EXPECT_TRUE(r.expire(3000 + kGrace).empty());  // once
    // too late: a new participant, announced as joined, with fresh state
    Outcome again = r.join("h1", "bob", 9, true, false, 20'000);
    ASSERT_TRUE(again.ok());
    auto joined = events(again.effects, "huddle:h1", "huddle:participant:joined");
    ASSERT_EQ(joined.size(), 1u);
    EXPECT_FALSE(joined[0].get_bool("handRaised", true));
    EXPECT_EQ(joined[0].get_int("joinedAt"), 20'000);
    EXPECT_EQ(joined[0].get_int("participantCount"), 2);
}

TEST_F(HuddleRegistryTest, AUserAloneInGraceKeepsTheHuddleUntilTheGraceEnds) {
    open();
    ASSERT_TRUE(join("alice", 1).ok());
    Outcome out = r.disconnect("h1", "alice", 1, 3000);
    EXPECT_TRUE(events(out.effects, "huddle:h1", "huddle:participant:left").empty());
    EXPECT_TRUE(events(out.effects, "chat:c1", "huddle:ended").empty());
    ASSERT_NE(r.find("h1"), nullptr);
    // not "nobody joined" either, however old the huddle is
    ASSERT_LT(3000 + kGrace - 1, 1000 + kEmpty);
    EXPECT_TRUE(r.expire(3000 + kGrace - 1).empty());
    // the conversation's huddle is still this one
    Outcome create = r.create("h2", "c1", "bob", 4000);
    EXPECT_FALSE(create.reply.get_bool("created", true));
    EXPECT_EQ(create.reply.get_string("id"), "h1");

    auto effects = r.expire(3000 + kGrace);
    ASSERT_EQ(effects.size(), 3u);
    EXPECT_EQ(effects[0].event, "huddle:participant:left");
    EXPECT_EQ(effects[0].payload.get_string("reason"), "disconnected");
    EXPECT_EQ(effects[0].payload.get_int("participantCount"), 0);
    Json ended = Json::object({{"huddleId", "h1"}, {"conversationId", "c1"}, {"reason", "empty"}});
    EXPECT_EQ(events(effects, "huddle:h1", "huddle:ended"), std::vector<Json>{ended});
    EXPECT_EQ(events(effects, "chat:c1", "huddle:ended"), std::vector<Json>{ended});
    EXPECT_EQ(r.find("h1"), nullptr);
    EXPECT_EQ(r.by_conversation("c1"), nullptr);
    EXPECT_EQ(r.join("h1", "alice", 5, true, false, 3000 + kGrace).refused, reason::kNotFound);
}

TEST_F(HuddleRegistryTest, EveryoneInGraceEndsTheHuddleOnceInJoinOrder) {
    live();
    r.disconnect("h1", "bob", 2, 3000);
    r.disconnect("h1", "alice", 1, 3500);
    EXPECT_TRUE(r.expire(3000 + kGrace).size() == 1u);  // bob's ran out, alice's not yet
    ASSERT_NE(r.find("h1"), nullptr);
    auto effects = r.expire(3500 + kGrace);
    ASSERT_EQ(effects.size(), 3u);
    EXPECT_EQ(effects[0].payload.get_string("userId"), "alice");
    EXPECT_EQ(effects[1].event, "huddle:ended");
    EXPECT_EQ(r.size(), 0u);

    // the same deadline: both go in one expire, in join order, then one end
    ASSERT_TRUE(r.create("h1", "c1", "alice", 1000).ok());
    ASSERT_TRUE(join("alice", 1).ok());
    ASSERT_TRUE(join("bob", 2).ok());
    r.disconnect("h1", "alice", 1, 5000);
    r.disconnect("h1", "bob", 2, 5000);
    effects = r.expire(5000 + kGrace);
    std::vector<std::string> seen;
    for (const Effect& e : effects)
        seen.push_back(e.topic + " " + e.event + " " +
                       std::string(e.payload.get_string("userId", "")));
    EXPECT_EQ(seen, (std::vector<std::string>{"huddle:h1 huddle:participant:left alice",
                                              "huddle:h1 huddle:participant:left bob",
                                              "huddle:h1 huddle:ended ",
                                              "chat:c1 huddle:ended "}));
}

TEST_F(HuddleRegistryTest, AReconnectingParticipantHoldsTheirPlaceUnderTheCap) {
    live();
    ASSERT_TRUE(join("carol", 3).ok());  // 3 of 3
    r.disconnect("h1", "carol", 3, 3000);
    Outcome full = join("dave", 4);
    EXPECT_EQ(full.refused, reason::kFull);
    EXPECT_TRUE(full.effects.empty());
    // carol herself comes back although the huddle is full: it is her place
    EXPECT_TRUE(join("carol", 5).ok());
    r.disconnect("h1", "carol", 5, 4000);
    EXPECT_EQ(join("dave", 4).refused, reason::kFull);
    r.expire(4000 + kGrace);
    EXPECT_TRUE(join("dave", 4).ok());  // her place is free once her grace ran out
}

TEST_F(HuddleRegistryTest, AnExplicitLeaveDuringSomeoneElsesGraceIsImmediate) {
    live();
    r.disconnect("h1", "bob", 2, 3000);
    Outcome out = r.leave("h1", "alice", 1);
    auto left = events(out.effects, "huddle:h1", "huddle:participant:left");
    ASSERT_EQ(left.size(), 1u);
    EXPECT_EQ(left[0].get_string("userId"), "alice");
    EXPECT_EQ(left[0].get_string("reason"), "left");
    EXPECT_EQ(left[0].get_int("participantCount"), 1);
    EXPECT_EQ(out.effects.size(), 1u);  // bob still counts: the huddle lives on
    ASSERT_NE(r.find("h1"), nullptr);
    EXPECT_EQ(h().participant("alice"), nullptr);
    // bob comes back to the huddle, alone now
    ASSERT_TRUE(join("bob", 9).ok());
    EXPECT_EQ(h().participants.size(), 1u);
    // and his explicit leave ends it at once
    Outcome last = r.leave("h1", "bob", 9);
    EXPECT_EQ(events(last.effects, "chat:c1", "huddle:ended").size(), 1u);
    EXPECT_EQ(r.find("h1"), nullptr);
}

TEST_F(HuddleRegistryTest, AReconnectingParticipantIsSkippedByInvitesAndMayStillBeInvitedLater) {
    live();
    r.disconnect("h1", "bob", 2, 3000);
    Outcome out = r.invite("h1", "alice", {"bob"}, 3500);
    ASSERT_TRUE(out.ok());
    EXPECT_TRUE(out.effects.empty());
    EXPECT_EQ(out.reply.find("skipped")->size(), 1u);
    r.expire(3000 + kGrace);
    EXPECT_EQ(r.invite("h1", "alice", {"bob"}, 20'000).effects.size(), 1u);
}

TEST(HuddleRegistryNoGraceTest, WithGraceZeroADisconnectLeavesAtOnce) {
    HuddleRegistry r(config(3, 0));
    ASSERT_TRUE(r.create("h1", "c1", "alice", 1000).ok());
    ASSERT_TRUE(r.join("h1", "alice", 1, true, false, 2000).ok());
    ASSERT_TRUE(r.join("h1", "bob", 2, true, false, 2000).ok());
    Outcome bob = r.disconnect("h1", "bob", 2, 3000);
    auto left = events(bob.effects, "huddle:h1", "huddle:participant:left");
    ASSERT_EQ(left.size(), 1u);
    EXPECT_EQ(left[0].get_string("reason"), "disconnected");
    EXPECT_EQ(bob.effects.size(), 1u);
    EXPECT_EQ(r.find("h1")->participant("bob"), nullptr);
    Outcome alice = r.disconnect("h1", "alice", 1, 3000);
    EXPECT_EQ(events(alice.effects, "chat:c1", "huddle:ended").size(), 1u);
    EXPECT_EQ(r.find("h1"), nullptr);
}

// ---- describe -----------------------------------------------------------------------------

TEST_F(HuddleRegistryTest, DescribeListsParticipantsInJoinOrderWithTheSharer) {
    live();
    join("alice", 7);
    screen("bob", 2, true);
    r.change("h1", "alice", 1, {MediaChange::Kind::hand, true});
    Json d = r.describe(h());
    EXPECT_EQ(d.get_string("screenSharer"), "bob");
    const auto& ps = d.find("participants")->as_array();
    ASSERT_EQ(ps.size(), 2u);
    EXPECT_EQ(ps[0].get_string("userId"), "alice");
    EXPECT_EQ(ps[0].get_int("devices"), 2);
    EXPECT_TRUE(ps[0].get_bool("handRaised"));
    EXPECT_FALSE(ps[0].get_bool("screen", true));
    EXPECT_EQ(ps[1].get_string("userId"), "bob");
    EXPECT_TRUE(ps[1].get_bool("screen"));
}

}  // namespace
}  // namespace quckrt::huddles
