#include "core/typing_tracker.hpp"

#include <gtest/gtest.h>

namespace quckrt::core {
namespace {

TEST(TypingTracker, AStartExpiresUnlessRenewedOrStopped) {
    TypingTracker t(5000);
    const TypingTracker::Key alice{"c1", "alice"}, bob{"c1", "bob"};
    EXPECT_TRUE(t.start(alice, 0));
    EXPECT_TRUE(t.start(bob, 1000));
    EXPECT_FALSE(t.start(alice, 3000));  // renewed: now until 8000
    EXPECT_TRUE(t.expire(4999).empty());
    auto expired = t.expire(6000);
    ASSERT_EQ(expired.size(), 1u);
    EXPECT_EQ(expired[0], bob);
    EXPECT_TRUE(t.stop(alice));
    EXPECT_FALSE(t.stop(alice));
    EXPECT_TRUE(t.expire(100000).empty());
    EXPECT_EQ(t.size(), 0u);
}

}  // namespace
}  // namespace quckrt::core
