#include "core/presence_state.hpp"

#include <gtest/gtest.h>

namespace quckrt::core {
namespace {

Json meta(const char* device) { return Json::object({{"device", device}}); }

// The refs of key's metas in a {key: {metas: [...]}} object, in order.
std::vector<std::string> refs(const Json& diff, const char* key) {
    std::vector<std::string> out;
    const Json* k = diff.find(key);
    if (!k) return out;
    for (const Json& m : k->find("metas")->as_array()) out.emplace_back(m.get_string("phx_ref"));
    return out;
}

TEST(PresenceState, TrackListsTheMetaWithItsRefAndEmitsAJoin) {
    PresenceState s("n1");
    ASSERT_TRUE(s.track(1, "room:1", "alice", meta("web"), "r1"));
    Json list = s.list("room:1");
    ASSERT_EQ(refs(list, "alice"), std::vector<std::string>{"r1"});
    EXPECT_EQ(list.find("alice")->find("metas")->as_array()[0].get_string("device"), "web");

    auto diffs = s.take_diffs();
    ASSERT_EQ(diffs.size(), 1u);
    EXPECT_EQ(diffs[0].topic, "room:1");
    EXPECT_EQ(refs(diffs[0].joins, "alice"), std::vector<std::string>{"r1"});
    EXPECT_TRUE(diffs[0].leaves.is_object());  // always present, even when empty
    EXPECT_EQ(diffs[0].leaves.size(), 0u);
    EXPECT_EQ(diffs[0].came_online, std::vector<std::string>{"alice"});
    EXPECT_TRUE(s.take_diffs().empty());  // the window was reset
}

TEST(PresenceState, OneEntryPerOwner) {
    PresenceState s("n1");
    ASSERT_TRUE(s.track(1, "t", "alice", meta("web"), "r1"));
    EXPECT_FALSE(s.track(1, "t", "alice", meta("web"), "r2"));
    EXPECT_EQ(s.entry_count(), 1u);
}

TEST(PresenceState, SeveralDevicesUnderOneKeyAndTheLastLeaveGoesOffline) {
    PresenceState s("n1");
    s.track(1, "t", "alice", meta("web"), "r1");
    s.track(2, "t", "alice", meta("ios"), "r2");
    EXPECT_EQ(refs(s.list("t"), "alice"), (std::vector<std::string>{"r1", "r2"}));
    auto first = s.take_diffs();
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(first[0].came_online, std::vector<std::string>{"alice"});

    EXPECT_EQ(s.untrack(1), "alice");
    auto one_left = s.take_diffs();
    ASSERT_EQ(one_left.size(), 1u);
    EXPECT_EQ(refs(one_left[0].leaves, "alice"), std::vector<std::string>{"r1"});
    EXPECT_TRUE(one_left[0].went_offline.empty());  // the phone is still there
    EXPECT_TRUE(s.is_present("alice"));

    s.untrack(2);
    auto gone = s.take_diffs();
    ASSERT_EQ(gone.size(), 1u);
    EXPECT_EQ(gone[0].went_offline, std::vector<std::string>{"alice"});
    EXPECT_FALSE(s.is_present("alice"));
    EXPECT_EQ(s.list("t").size(), 0u);
    EXPECT_EQ(s.untrack(2), "");  // untracking twice is harmless
}

TEST(PresenceState, UpdateIsALeaveOfTheOldRefAndAJoinWithPhxRefPrev) {
    PresenceState s("n1");
    s.track(1, "t", "alice", meta("web"), "r1");
    s.take_diffs();
    ASSERT_TRUE(s.update(1, Json::object({{"device", "web"}, {"typing", true}}), "r2"));
    auto diffs = s.take_diffs();
    ASSERT_EQ(diffs.size(), 1u);
    EXPECT_EQ(refs(diffs[0].leaves, "alice"), std::vector<std::string>{"r1"});
    EXPECT_EQ(refs(diffs[0].joins, "alice"), std::vector<std::string>{"r2"});
    const Json& joined = diffs[0].joins.find("alice")->find("metas")->as_array()[0];
    EXPECT_EQ(joined.get_string("phx_ref_prev"), "r1");
    EXPECT_TRUE(joined.get_bool("typing"));
    EXPECT_TRUE(diffs[0].came_online.empty());
    EXPECT_TRUE(diffs[0].went_offline.empty());
    EXPECT_EQ(refs(s.list("t"), "alice"), std::vector<std::string>{"r2"});
    EXPECT_FALSE(s.update(99, Json::object(), "r3"));
}

TEST(PresenceState, JoinAndLeaveInsideOneWindowIsReportedAsALeaveOnly) {
    // A client may have received this ref in a presence_state snapshot during the window;
    // the leave removes it there and is ignored by clients that never saw it.
    PresenceState s("n1");
    s.track(1, "t", "bob", meta("web"), "r1");
    s.untrack(1);
    auto diffs = s.take_diffs();
    ASSERT_EQ(diffs.size(), 1u);
    EXPECT_EQ(diffs[0].joins.size(), 0u);
    EXPECT_EQ(refs(diffs[0].leaves, "bob"), std::vector<std::string>{"r1"});
    EXPECT_TRUE(diffs[0].came_online.empty());  // no flap: absent before and after
    EXPECT_TRUE(diffs[0].went_offline.empty());
}

TEST(PresenceState, ATabThatFlapsInsideAWindowDoesNotFlapOnlineStatus) {
    PresenceState s("n1");
    s.track(1, "t", "alice", meta("web"), "r1");
    s.take_diffs();
    s.untrack(1);
    s.track(2, "t", "alice", meta("web"), "r2");
    auto diffs = s.take_diffs();
    ASSERT_EQ(diffs.size(), 1u);
    EXPECT_TRUE(diffs[0].came_online.empty());
    EXPECT_TRUE(diffs[0].went_offline.empty());
    EXPECT_EQ(refs(diffs[0].leaves, "alice"), std::vector<std::string>{"r1"});
    EXPECT_EQ(refs(diffs[0].joins, "alice"), std::vector<std::string>{"r2"});
}

TEST(PresenceState, TopicsAreSeparateAndUserLookupSpansThem) {
    PresenceState s("n1");
    s.track(1, "a", "alice", meta("web"), "r1");
    s.track(2, "b", "alice", meta("ios"), "r2");
    s.track(3, "b", "bob", meta("web"), "r3");
    EXPECT_EQ(s.list("a").size(), 1u);
    EXPECT_EQ(s.list("b").size(), 2u);
    Json metas = s.metas_of("alice");
    ASSERT_EQ(metas.size(), 2u);
    EXPECT_EQ(s.present_keys(), (std::vector<std::string>{"alice", "bob"}));
    EXPECT_EQ(s.take_diffs().size(), 2u);
}

TEST(PresenceState, RemovingANodeLeavesAllItsEntriesInOneStep) {
    PresenceState s("n1");
    s.track(1, "t", "alice", meta("web"), "r1");
    s.merge_remote("n2", "t", "bob", meta("ios"), "x1");
    s.merge_remote("n2", "t", "bob", meta("ios"), "x1");  // delivered twice: merged once
    s.merge_remote("n2", "u", "carol", meta("web"), "x2");
    EXPECT_EQ(s.entry_count(), 3u);
    s.take_diffs();
    EXPECT_EQ(s.remove_node("n2"), 2u);
    EXPECT_EQ(s.entry_count(), 1u);
    auto diffs = s.take_diffs();
    ASSERT_EQ(diffs.size(), 2u);
    for (const auto& d : diffs) EXPECT_EQ(d.went_offline.size(), 1u) << d.topic;
    EXPECT_TRUE(s.is_present("alice"));
}

TEST(PresenceState, KeysThatLookLikeObjectInternalsAreOrdinaryKeys) {
    PresenceState s("n1");
    s.track(1, "t", "__proto__", meta("web"), "r1");
    s.track(2, "t", "constructor", meta("web"), "r2");
    s.track(3, "t", "123", meta("web"), "r3");
    Json list = s.list("t");
    EXPECT_EQ(list.size(), 3u);
    EXPECT_EQ(refs(list, "__proto__"), std::vector<std::string>{"r1"});
}

}  // namespace
}  // namespace quckrt::core
