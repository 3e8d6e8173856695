#include "wire/phoenix_v2.hpp"

#include <gtest/gtest.h>

namespace quckrt::wire {
namespace {

TEST(PhoenixV2Decode, JoinFrame) {
    auto f = decode_text(R"(["4","4","room:1","phx_join",{"since":42}])");
    ASSERT_TRUE(f) << f.error().to_string();
    EXPECT_EQ(f->join_ref, "\"4\"");
    EXPECT_EQ(f->ref, "\"4\"");
    EXPECT_EQ(f->topic, "room:1");
    EXPECT_EQ(f->event, "phx_join");
    EXPECT_EQ(f->payload.get_int("since"), 42);
}

TEST(PhoenixV2Decode, RefsKeepTheirJsonType) {
    auto f = decode_text(R"([null,7,"phoenix","heartbeat",{}])");
    ASSERT_TRUE(f);
    EXPECT_TRUE(is_null_ref(f->join_ref));
    EXPECT_EQ(f->ref, "7");
    EXPECT_EQ(encode_reply(f->join_ref, f->ref, f->topic, "ok", Json::object()),
              R"([null,7,"phoenix","phx_reply",{"status":"ok","response":{}}])");
}

TEST(PhoenixV2Decode, ExtraElementsAreIgnored) {
    auto f = decode_text(R"(["1","2","t","e",{},"extra",1])");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->event, "e");
}

TEST(PhoenixV2Decode, MalformedFramesAreRefusedWithAReason) {
    const char* cases[] = {
        "not json",
        R"({"topic":"t"})",
        R"(["1","2","t","e"])",
        R"(["1","2","t","e",[]])",
        R"(["1","2","t","e","payload"])",
        R"(["1","2",5,"e",{}])",
        R"(["1","2","t","",{}])",
        R"(["1","2","","e",{}])",
        R"([{},"2","t","e",{}])",
        R"(["1",true,"t","e",{}])",
        R"(["1","2","t","e",{}] trailing)",
        "",
    };
    for (const char* text : cases) {
        auto f = decode_text(text);
        EXPECT_FALSE(f) << text;
        if (!f) {
            EXPECT_EQ(f.error().code(), StatusCode::invalid_argument) << text;
        }
    }
}

TEST(PhoenixV2Encode, Frames) {
    Json payload = Json::object({{"body", "hi \"there\""}});
    EXPECT_EQ(encode_push("\"4\"", "room:1", "new_msg", payload),
              R"(["4",null,"room:1","new_msg",{"body":"hi \"there\""}])");
    EXPECT_EQ(encode_broadcast("room:1", "presence_diff", Json::object()),
              R"([null,null,"room:1","presence_diff",{}])");
    EXPECT_EQ(encode_close("\"4\"", "room:1"), R"(["4","4","room:1","phx_close",{}])");
    EXPECT_EQ(encode_error("\"4\"", "room:1", "channel_crash"),
              R"(["4","4","room:1","phx_error",{"reason":"channel_crash"}])");
    EXPECT_EQ(encode_reply("\"4\"", "\"5\"", "room:1", "queued", Json::object({{"n", 1}})),
              R"(["4","5","room:1","phx_reply",{"status":"queued","response":{"n":1}}])");
}

TEST(PhoenixV2Encode, OutputParsesBackAsTheSameFrame) {
    Json payload = Json::object({{"text", "ünïcødé \n\t"}, {"n", -3}, {"list", Json::array({1, 2})}});
    auto f = decode_text(encode_push("\"9\"", "a:b", "evt", payload));
    ASSERT_TRUE(f);
    EXPECT_EQ(f->join_ref, "\"9\"");
    EXPECT_TRUE(is_null_ref(f->ref));
    EXPECT_EQ(f->payload, payload);
}

// The client frame observed from phoenix.js 1.8.16 (shared/docs/phoenix-wire-protocol.md §3).
TEST(PhoenixV2Binary, DecodesTheObservedClientPush) {
    const std::string bytes("\x00\x01\x01\x06\x03"
                            "6"
                            "8"
                            "room:1"
                            "bin"
                            "\x01\x02\x03",
                            5 + 1 + 1 + 6 + 3 + 3);
    auto f = decode_binary(bytes);
    ASSERT_TRUE(f) << f.error().to_string();
    EXPECT_EQ(f->join_ref, "\"6\"");
    EXPECT_EQ(f->ref, "\"8\"");
    EXPECT_EQ(f->topic, "room:1");
    EXPECT_EQ(f->event, "bin");
    EXPECT_EQ(f->binary_payload, std::string("\x01\x02\x03", 3));
    EXPECT_TRUE(f->binary);
}

TEST(PhoenixV2Binary, RefusesOtherKindsAndBadLengths) {
    EXPECT_FALSE(decode_binary(std::string("\x01\x00\x00\x01\x01te", 7)));       // kind 1
    EXPECT_FALSE(decode_binary(std::string("\x02\x01\x01te", 5)));               // kind 2
    EXPECT_FALSE(decode_binary(std::string("\x00\x01\x01", 3)));                 // short header
    EXPECT_FALSE(decode_binary(std::string("\x00\x01\x01\x09\x03" "68ro", 9)));  // past the end
    EXPECT_FALSE(decode_binary(std::string("\x00\x00\x00\x00\x00", 5)));         // empty topic
}

TEST(PhoenixV2Binary, ServerLayouts) {
    auto push = encode_binary_push("\"6\"", "room:1", "bin", std::string("\x01\x02", 2));
    ASSERT_TRUE(push);
    EXPECT_EQ(*push, std::string("\x00\x01\x06\x03" "6room:1bin\x01\x02", 4 + 1 + 6 + 3 + 2));
    auto reply = encode_binary_reply("\"6\"", "\"8\"", "room:1", "ok", "xyz");
    ASSERT_TRUE(reply);
    EXPECT_EQ(*reply, std::string("\x01\x01\x01\x06\x02" "68room:1okxyz", 5 + 1 + 1 + 6 + 2 + 3));
    auto bcast = encode_binary_broadcast("room:1", "bin", "p");
    ASSERT_TRUE(bcast);
    EXPECT_EQ(*bcast, std::string("\x02\x06\x03room:1binp", 3 + 6 + 3 + 1));
    // A null join_ref is an empty field.
    auto nulljr = encode_binary_push("null", "t", "e", "");
    ASSERT_TRUE(nulljr);
    EXPECT_EQ(*nulljr, std::string("\x00\x00\x01\x01te", 6));
}

TEST(PhoenixV2Binary, FieldsOver255BytesAreAnErrorNotTruncated) {
    const std::string long_topic(256, 't');
    EXPECT_FALSE(encode_binary_broadcast(long_topic, "e", ""));
    EXPECT_FALSE(encode_binary_push("null", "t", long_topic, ""));
    EXPECT_TRUE(encode_binary_broadcast(std::string(255, 't'), "e", ""));
}

}  // namespace
}  // namespace quckrt::wire
