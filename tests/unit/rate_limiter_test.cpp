#include "core/rate_limiter.hpp"

#include <gtest/gtest.h>

namespace quckrt::core {
namespace {

TEST(RateLimiter, AllowsABurstThenSaysWhenToRetry) {
    RateLimiter r(/*per_second=*/10, /*burst=*/3);
    EXPECT_EQ(r.take("alice", 0), 0);
    EXPECT_EQ(r.take("alice", 0), 0);
    EXPECT_EQ(r.take("alice", 0), 0);
    EXPECT_EQ(r.take("alice", 0), 100);   // one token every 100 ms
    EXPECT_EQ(r.take("alice", 60), 40);   // 0.6 of a token refilled
    EXPECT_EQ(r.take("alice", 100), 0);
}

TEST(RateLimiter, KeysAreIndependent) {
    RateLimiter r(1, 1);
    EXPECT_EQ(r.take("alice", 0), 0);
    EXPECT_GT(r.take("alice", 0), 0);
    EXPECT_EQ(r.take("bob", 0), 0);
}

TEST(RateLimiter, RefillNeverExceedsTheBurst) {
    RateLimiter r(100, 2);
    EXPECT_EQ(r.take("a", 0), 0);
    // A long pause refills to the burst, not beyond.
    EXPECT_EQ(r.take("a", 1'000'000), 0);
    EXPECT_EQ(r.take("a", 1'000'000), 0);
    EXPECT_GT(r.take("a", 1'000'000), 0);
}

TEST(RateLimiter, PruneForgetsOnlyFullBuckets) {
    RateLimiter r(10, 5);  // full again 500 ms after the last take
    r.take("old", 0);
    r.take("new", 400);
    r.prune(500);
    EXPECT_EQ(r.size(), 1u);
    r.prune(900);
    EXPECT_EQ(r.size(), 0u);
}

TEST(RateLimiter, ZeroRateDisablesLimiting) {
    RateLimiter r(0, 0);
    for (int i = 0; i < 1000; ++i) EXPECT_EQ(r.take("a", 0), 0);
}

}  // namespace
}  // namespace quckrt::core
