#include "core/hub.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace quckrt::core {
namespace {

struct RecordingSink : FrameSink {
    std::vector<wire::FramePtr> frames;
    void deliver(const wire::FramePtr& f) override { frames.push_back(f); }
};

TEST(Hub, FanoutReachesEverySubscriberWithTheSameBytes) {
    Hub hub;
    RecordingSink a, b, c;
    Subscription sa{&a}, sb{&b}, sc{&c};
    hub.subscribe("room:1", sa);
    hub.subscribe("room:1", sb);
    hub.subscribe("room:2", sc);
    auto frame = wire::make_text_frame("[null,null,\"room:1\",\"e\",{}]");
    EXPECT_EQ(hub.fanout("room:1", frame), 2u);
    ASSERT_EQ(a.frames.size(), 1u);
    ASSERT_EQ(b.frames.size(), 1u);
    EXPECT_TRUE(c.frames.empty());
    // Encoded once: both subscribers hold the very same frame object.
    EXPECT_EQ(a.frames[0].get(), frame.get());
    EXPECT_EQ(b.frames[0].get(), frame.get());
}

TEST(Hub, FanoutSkipsOnlyTheExcludedSubscription) {
    Hub hub;
    RecordingSink conn;  // one connection, two subscriptions would be two channels
    RecordingSink other;
    Subscription mine{&conn}, theirs{&other};
    hub.subscribe("t", mine);
    hub.subscribe("t", theirs);
    EXPECT_EQ(hub.fanout("t", wire::make_text_frame("x"), &mine), 1u);
    EXPECT_TRUE(conn.frames.empty());
    EXPECT_EQ(other.frames.size(), 1u);
}

TEST(Hub, UnsubscribeKeepsTheOthersAndDropsEmptyTopics) {
    Hub hub;
    std::vector<RecordingSink> sinks(5);
    std::vector<Subscription> subs(5);
    for (size_t i = 0; i < subs.size(); ++i) {
        subs[i].sink = &sinks[i];
        hub.subscribe("t", subs[i]);
    }
    hub.unsubscribe("t", subs[1]);
    hub.unsubscribe("t", subs[3]);
    EXPECT_FALSE(subs[1].subscribed);
    EXPECT_EQ(hub.subscriber_count("t"), 3u);
    hub.fanout("t", wire::make_text_frame("x"));
    for (size_t i : {0u, 2u, 4u}) EXPECT_EQ(sinks[i].frames.size(), 1u) << i;
    for (size_t i : {1u, 3u}) EXPECT_TRUE(sinks[i].frames.empty()) << i;
    for (size_t i : {0u, 2u, 4u}) hub.unsubscribe("t", subs[i]);
    EXPECT_EQ(hub.topic_count(), 0u);
    EXPECT_EQ(hub.fanout("t", wire::make_text_frame("x")), 0u);
}

TEST(Hub, UnsubscribeTwiceIsHarmless) {
    Hub hub;
    RecordingSink s;
    Subscription a{&s}, b{&s};
    hub.subscribe("t", a);
    hub.subscribe("t", b);
    hub.unsubscribe("t", a);
    hub.unsubscribe("t", a);
    EXPECT_EQ(hub.subscriber_count("t"), 1u);
    EXPECT_EQ(hub.fanout("t", wire::make_text_frame("x")), 1u);
}

TEST(Hub, ManySubscribersChurn) {
    Hub hub;
    RecordingSink s;
    std::vector<Subscription> subs(2000);
    for (auto& sub : subs) {
        sub.sink = &s;
        hub.subscribe("big", sub);
    }
    for (size_t i = 0; i < subs.size(); i += 2) hub.unsubscribe("big", subs[i]);
    EXPECT_EQ(hub.fanout("big", wire::make_text_frame("x")), 1000u);
    EXPECT_EQ(s.frames.size(), 1000u);
}

}  // namespace
}  // namespace quckrt::core
