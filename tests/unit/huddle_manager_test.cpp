// The thread-safe HuddleManager: ids, the clock, publishing, the order of a join's
// admission and its events, and concurrent joins.
#include "huddles/huddle_manager.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace quckrt::huddles {
namespace {

struct Published {
    std::string topic;
    std::string event;
    Json payload;
};

class HuddleManagerTest : public ::testing::Test {
  protected:
    core::ManualClock clock_{1000};
    std::mutex mu_;
    std::vector<Published> log_;  // guarded by mu_
    int next_id_ = 0;
    HuddleManager m_{{.max_participants = 50, .empty_timeout_ms = 5000, .grace_ms = 2000},
                     clock_,
                     [this](const std::string& topic, std::string_view event, const Json& p) {
                         std::lock_guard lock(mu_);
                         log_.push_back({topic, std::string(event), p});
                     },
                     [this](int64_t now) {
                         return "id" + std::to_string(++next_id_) + "@" + std::to_string(now);
                     }};

    std::vector<std::string> names() {
        std::lock_guard lock(mu_);
        std::vector<std::string> out;
        for (const auto& p : log_) out.push_back(p.topic + " " + p.event);
        return out;
    }
};

TEST_F(HuddleManagerTest, CreateUsesTheIdGeneratorAndTheClockAndPublishes) {
    Outcome out = m_.create("c1", "alice");
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(out.reply.get_string("id"), "id1@1000");
    EXPECT_EQ(out.reply.get_int("createdAt"), 1000);
    EXPECT_EQ(names(), std::vector<std::string>{"chat:c1 huddle:started"});
    EXPECT_EQ(m_.conversation_of("id1@1000"), "c1");
    EXPECT_EQ(m_.size(), 1u);
    EXPECT_FALSE(m_.describe("nope").has_value());
}

TEST_F(HuddleManagerTest, AdmittedRunsBeforeTheJoinsEventsAndOnlyOnSuccess) {
    const std::string id(m_.create("c1", "alice").reply.get_string("id"));
    std::vector<std::string> seen_at_admission;
    Outcome out = m_.join(id, "alice", m_.next_connection(), true, false, [&](const Outcome& o) {
        EXPECT_TRUE(o.ok());
        seen_at_admission = names();
    });
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(seen_at_admission, std::vector<std::string>{"chat:c1 huddle:started"});
    EXPECT_EQ(names().back(), "huddle:" + id + " huddle:participant:joined");
    bool called = false;
    EXPECT_EQ(
        m_.join("nope", "bob", 9, true, false, [&](const Outcome&) { called = true; }).refused,
        reason::kNotFound);
    EXPECT_FALSE(called);
    EXPECT_TRUE(m_.is_participant(id, "alice"));
    EXPECT_FALSE(m_.is_participant(id, "bob"));
}

TEST_F(HuddleManagerTest, MessagesGetFreshIdsAndTheTime) {
    const std::string id(m_.create("c1", "alice").reply.get_string("id"));
    m_.join(id, "alice", 1, true, false);
    clock_.advance(500);
    Outcome msg = m_.message(id, "alice", "hello");
    EXPECT_EQ(msg.reply.get_string("id"), "id2@1500");
    EXPECT_EQ(msg.reply.get_int("sentAt"), 1500);
    EXPECT_EQ(names().back(), "huddle:" + id + " huddle:message:new");
}

TEST_F(HuddleManagerTest, ExpireFollowsTheClock) {
    const std::string id(m_.create("c1", "alice").reply.get_string("id"));
    clock_.advance(4999);
    m_.expire();
    EXPECT_TRUE(m_.describe(id).has_value());
    clock_.advance(1);
    m_.expire();
    EXPECT_FALSE(m_.describe(id).has_value());
    EXPECT_EQ(names().back(), "chat:c1 huddle:ended");
}

TEST_F(HuddleManagerTest, LeaveOfTheLastParticipantPublishesTheEnd) {
    const std::string id(m_.create("c1", "alice").reply.get_string("id"));
    const uint64_t conn = m_.next_connection();
    m_.join(id, "alice", conn, true, false);
    m_.leave(id, "alice", conn);
    auto n = names();
    ASSERT_GE(n.size(), 3u);
    EXPECT_EQ(n[n.size() - 3], "huddle:" + id + " huddle:participant:left");
    EXPECT_EQ(n.back(), "chat:c1 huddle:ended");
    EXPECT_EQ(m_.size(), 0u);
}

TEST_F(HuddleManagerTest, DisconnectGraceRunsOnTheClockFromTheDisconnect) {
    const std::string id(m_.create("c1", "alice").reply.get_string("id"));
    const uint64_t conn = m_.next_connection();
    m_.join(id, "alice", conn, true, false);
    clock_.advance(500);  // t=1500: the grace runs from the disconnect, not the join
    m_.disconnect(id, "alice", conn);
    EXPECT_EQ(names().back(), "huddle:" + id + " huddle:participant:updated");
    EXPECT_TRUE(m_.is_participant(id, "alice"));
    clock_.advance(1999);
    m_.expire();
    EXPECT_TRUE(m_.describe(id).has_value());
    clock_.advance(1);  // t=3500
    m_.expire();
    EXPECT_FALSE(m_.describe(id).has_value());
    auto n = names();
    ASSERT_GE(n.size(), 3u);
    EXPECT_EQ(n[n.size() - 3], "huddle:" + id + " huddle:participant:left");
    EXPECT_EQ(n.back(), "chat:c1 huddle:ended");
}

TEST_F(HuddleManagerTest, ARejoinWithinTheGraceCancelsIt) {
    const std::string id(m_.create("c1", "alice").reply.get_string("id"));
    const uint64_t first = m_.next_connection();
    m_.join(id, "alice", first, true, false);
    m_.disconnect(id, "alice", first);
    clock_.advance(1999);
    Outcome back = m_.join(id, "alice", m_.next_connection(), true, false);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(names().back(), "huddle:" + id + " huddle:participant:updated");
    const size_t before = names().size();
    clock_.advance(60'000);
    m_.expire();
    EXPECT_TRUE(m_.describe(id).has_value());
    EXPECT_EQ(names().size(), before);  // nothing left, nothing ended
}

TEST(HuddleManagerRateTest, MessagesAndInvitesArePerUserRateLimited) {
    core::ManualClock clock(0);
    HuddleManager m({.rate_per_second = 1, .rate_burst = 2}, clock, {});
    const std::string id(m.create("c1", "alice").reply.get_string("id"));
    m.join(id, "alice", 1, true, false);
    m.join(id, "bob", 2, true, false);
    EXPECT_TRUE(m.message(id, "alice", "1").ok());
    EXPECT_TRUE(m.invite(id, "alice", {"carol"}).ok());
    Outcome third = m.message(id, "alice", "3");
    EXPECT_EQ(third.refused, reason::kRateLimited);
    EXPECT_EQ(third.reply.get_int("retryAfterMs"), 1000);
    EXPECT_TRUE(m.message(id, "bob", "b").ok());    // per user
    EXPECT_TRUE(m.invite(id, "", {"carol"}).ok());  // the admin is not limited
    clock.advance(1000);
    EXPECT_TRUE(m.message(id, "alice", "4").ok());
}

TEST_F(HuddleManagerTest, ConcurrentJoinsAndLeavesStayConsistent) {
    const std::string id(m_.create("c1", "host").reply.get_string("id"));
    m_.join(id, "host", m_.next_connection(), true, false);  // keeps the huddle alive
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([this, id, t] {
            const std::string user = "u" + std::to_string(t);
            for (int i = 0; i < 200; ++i) {
                const uint64_t conn = m_.next_connection();
                ASSERT_TRUE(m_.join(id, user, conn, true, false).ok());
                m_.change(id, user, conn, {MediaChange::Kind::screen, true});
                m_.leave(id, user, conn);
            }
        });
    for (auto& t : threads) t.join();
    auto d = m_.describe(id);
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->find("participants")->size(), 1u);
    EXPECT_TRUE(d->find("screenSharer")->is_null());
    // every join was announced and every leave too
    int joined = 0, left = 0;
    for (const auto& n : names()) {
        joined += n.ends_with("participant:joined");
        left += n.ends_with("participant:left");
    }
    EXPECT_EQ(joined, 1 + 8 * 200);
    EXPECT_EQ(left, 8 * 200);
}

}  // namespace
}  // namespace quckrt::huddles
