#include <quckrt/status.hpp>

#include <memory>
#include <string>

#include <gtest/gtest.h>

namespace quckrt {
namespace {

TEST(StatusCodeTest, NamesAreSnakeCase) {
    EXPECT_EQ(to_string(StatusCode::ok), "ok");
    EXPECT_EQ(to_string(StatusCode::invalid_argument), "invalid_argument");
    EXPECT_EQ(to_string(StatusCode::not_found), "not_found");
    EXPECT_EQ(to_string(StatusCode::already_exists), "already_exists");
    EXPECT_EQ(to_string(StatusCode::permission_denied), "permission_denied");
    EXPECT_EQ(to_string(StatusCode::unauthenticated), "unauthenticated");
    EXPECT_EQ(to_string(StatusCode::resource_exhausted), "resource_exhausted");
    EXPECT_EQ(to_string(StatusCode::failed_precondition), "failed_precondition");
    EXPECT_EQ(to_string(StatusCode::unavailable), "unavailable");
    EXPECT_EQ(to_string(StatusCode::internal), "internal");
}

TEST(StatusCodeTest, OutOfRangeValueDoesNotCrash) {
    EXPECT_EQ(to_string(static_cast<StatusCode>(999)), "unknown");
}

TEST(StatusTest, DefaultIsOk) {
    Status status;
    EXPECT_TRUE(status.ok());
    EXPECT_EQ(status.code(), StatusCode::ok);
    EXPECT_EQ(status.message(), "");
    EXPECT_EQ(status.to_string(), "ok");
    EXPECT_TRUE(Status::ok_status().ok());
}

TEST(StatusTest, ErrorToStringHasCodeAndMessage) {
    Status status = invalid_argument("port must be a number");
    EXPECT_FALSE(status.ok());
    EXPECT_EQ(status.code(), StatusCode::invalid_argument);
    EXPECT_EQ(status.message(), "port must be a number");
    EXPECT_EQ(status.to_string(), "invalid_argument: port must be a number");
}

TEST(StatusTest, ShorthandsSetTheirCodes) {
    EXPECT_EQ(not_found("x").code(), StatusCode::not_found);
    EXPECT_EQ(unauthenticated("x").code(), StatusCode::unauthenticated);
    EXPECT_EQ(permission_denied("x").code(), StatusCode::permission_denied);
    EXPECT_EQ(resource_exhausted("x").code(), StatusCode::resource_exhausted);
    EXPECT_EQ(unavailable("x").code(), StatusCode::unavailable);
    EXPECT_EQ(internal_error("x").code(), StatusCode::internal);
    EXPECT_EQ(failed_precondition("x").code(), StatusCode::failed_precondition);
}

TEST(ResultTest, HoldsValue) {
    Result<int> result = 42;
    ASSERT_TRUE(result.has_value());
    EXPECT_TRUE(static_cast<bool>(result));
    EXPECT_EQ(*result, 42);
    EXPECT_EQ(result.value(), 42);
    EXPECT_TRUE(result.error().ok());
}

TEST(ResultTest, HoldsError) {
    Result<std::string> result = not_found("no such topic");
    EXPECT_FALSE(result.has_value());
    EXPECT_FALSE(static_cast<bool>(result));
    EXPECT_EQ(result.error().code(), StatusCode::not_found);
    EXPECT_EQ(result.error().message(), "no such topic");
}

TEST(ResultTest, ArrowAndMoveOnlyValues) {
    Result<std::string> text = std::string("hello");
    EXPECT_EQ(text->size(), 5u);

    Result<std::unique_ptr<int>> owned = std::make_unique<int>(7);
    std::unique_ptr<int> taken = *std::move(owned);
    ASSERT_NE(taken, nullptr);
    EXPECT_EQ(*taken, 7);
}

TEST(ResultDeathTest, ValueOnErrorAbortsWithTheStatus) {
    Result<int> result = unavailable("redis is down");
    EXPECT_DEATH((void)result.value(), "unavailable: redis is down");
    EXPECT_DEATH((void)*result, "redis is down");
}

}  // namespace
}  // namespace quckrt
