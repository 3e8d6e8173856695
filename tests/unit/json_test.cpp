#include <quckrt/json.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace quckrt {
namespace {

using namespace std::string_literals;

Json parse_ok(std::string_view text, size_t max_depth = 64) {
    Result<Json> result = Json::parse(text, max_depth);
    EXPECT_TRUE(result.has_value())
        << "input: " << text << " error: " << result.error().to_string();
    return result ? *result : Json();
}

void expect_refused(std::string_view text, size_t max_depth = 64) {
    Result<Json> result = Json::parse(text, max_depth);
    EXPECT_FALSE(result.has_value()) << "accepted: " << text;
    if (!result) {
        EXPECT_EQ(result.error().code(), StatusCode::invalid_argument) << text;
    }
}

std::string nested_arrays(size_t depth) {
    return std::string(depth, '[') + std::string(depth, ']');
}

// ---- construction and types ----------------------------------------------------------------

TEST(JsonTest, ConstructorsPickTheRightType) {
    EXPECT_TRUE(Json().is_null());
    EXPECT_TRUE(Json(nullptr).is_null());
    EXPECT_TRUE(Json(true).is_bool());
    EXPECT_TRUE(Json(3).is_integer());
    EXPECT_TRUE(Json(int64_t{-3}).is_integer());
    EXPECT_TRUE(Json(uint32_t{3}).is_integer());
    EXPECT_TRUE(Json(2.5).is_number());
    EXPECT_FALSE(Json(2.5).is_integer());
    EXPECT_TRUE(Json("x").is_string());
    EXPECT_TRUE(Json("x"s).is_string());
    EXPECT_TRUE(Json(std::string_view("x")).is_string());
    EXPECT_TRUE(Json::array().is_array());
    EXPECT_TRUE(Json::object().is_object());
    EXPECT_EQ(Json(2.5).type(), Json::Type::number);
}

TEST(JsonTest, OtherIntegerTypesAreNotAmbiguous) {
    const size_t size = 12;
    EXPECT_EQ(Json(size).as_int(), 12);
    EXPECT_EQ(Json(7LL).as_int(), 7);
    EXPECT_EQ(Json(7ULL).as_int(), 7);
    EXPECT_EQ(Json(short{-2}).as_int(), -2);
    EXPECT_EQ(Json(std::numeric_limits<int64_t>::min()).as_int(),
              std::numeric_limits<int64_t>::min());
    // Above INT64_MAX there is no integer representation: a double, never a wrapped negative.
    const Json big(std::numeric_limits<uint64_t>::max());
    EXPECT_EQ(big.type(), Json::Type::number);
    EXPECT_DOUBLE_EQ(big.as_double(), 18446744073709551615.0);
    EXPECT_TRUE(Json(uint64_t{INT64_MAX}).is_integer());
}

TEST(JsonTest, HeaderExampleWorks) {
    Json reply = Json::object({{"id", "m1"}, {"count", 3}});
    reply["tags"] = Json::array({"a", "b"});
    EXPECT_EQ(reply.dump(), R"({"id":"m1","count":3,"tags":["a","b"]})");
    auto parsed = Json::parse(reply.dump());
    ASSERT_TRUE(parsed.has_value());
    ASSERT_NE(parsed->find("id"), nullptr);
    EXPECT_EQ(parsed->find("id")->as_string(), "m1");
    EXPECT_EQ(*parsed, reply);
}

// ---- accessors and mutation ------------------------------------------------------------------

TEST(JsonTest, FindAndGetHelpers) {
    const Json j = Json::object({{"s", "text"}, {"i", 5}, {"b", true}, {"d", 1.5}});
    EXPECT_EQ(j.get_string("s"), "text");
    EXPECT_EQ(j.get_int("i"), 5);
    EXPECT_TRUE(j.get_bool("b"));
    // Wrong type or missing: the fallback, never an abort.
    EXPECT_EQ(j.get_string("i", "fb"), "fb");
    EXPECT_EQ(j.get_int("s", -1), -1);
    EXPECT_EQ(j.get_int("d", -1), -1);
    EXPECT_FALSE(j.get_bool("missing"));
    EXPECT_EQ(j.get_string("missing"), "");
    EXPECT_EQ(j.find("missing"), nullptr);
    EXPECT_EQ(Json(3).find("s"), nullptr);
    EXPECT_EQ(Json::array({1}).get_int("0", 9), 9);
}

TEST(JsonTest, AsDoubleConvertsIntegers) {
    EXPECT_DOUBLE_EQ(Json(3).as_double(), 3.0);
    EXPECT_DOUBLE_EQ(Json(0.25).as_double(), 0.25);
}

TEST(JsonTest, SubscriptInsertsAndTurnsNullIntoObject) {
    Json j;
    j["a"] = 1;
    j["b"]["c"] = "deep";
    EXPECT_TRUE(j.is_object());
    EXPECT_EQ(j.dump(), R"({"a":1,"b":{"c":"deep"}})");
    j["a"] = 2;  // existing member is reused, not duplicated
    EXPECT_EQ(j.size(), 2u);
    EXPECT_EQ(j.get_int("a"), 2);
    Json& missing = j["new"];
    EXPECT_TRUE(missing.is_null());
    EXPECT_EQ(j.size(), 3u);
}

TEST(JsonTest, SetReplacesOrAppendsAndChains) {
    Json j = Json::object({{"a", 1}});
    j.set("b", 2).set("a", "one");
    EXPECT_EQ(j.dump(), R"({"a":"one","b":2})");
    Json from_null;
    from_null.set("x", true);
    EXPECT_EQ(from_null.dump(), R"({"x":true})");
}

TEST(JsonTest, PushBackAndSize) {
    Json j;
    j.push_back(1);
    j.push_back("two");
    j.push_back(Json::object());
    EXPECT_EQ(j.size(), 3u);
    EXPECT_EQ(j.dump(), R"([1,"two",{}])");
    EXPECT_EQ(Json("abc").size(), 0u);
    EXPECT_EQ(Json().size(), 0u);
    EXPECT_EQ(Json::object({{"k", 1}}).size(), 1u);
    j.as_array()[0] = 10;
    EXPECT_EQ(j.as_array()[0].as_int(), 10);
    Json o = Json::object({{"k", 1}});
    o.as_object()[0].second = false;
    EXPECT_EQ(o.dump(), R"({"k":false})");
}

TEST(JsonTest, Equality) {
    EXPECT_EQ(Json::array({1, "a"}), Json::array({1, "a"}));
    EXPECT_NE(Json(1), Json(1.0));  // integer and double are distinct types
    EXPECT_NE(Json::object({{"a", 1}, {"b", 2}}), Json::object({{"b", 2}, {"a", 1}}));
}

TEST(JsonDeathTest, WrongTypeAccessAborts) {
    EXPECT_DEATH((void)Json("x").as_int(), "as_int called on a string");
    EXPECT_DEATH((void)Json(1).as_string(), "as_string called on a integer");
    EXPECT_DEATH((void)Json(1.5).as_int(), "as_int called on a double");
    EXPECT_DEATH((void)Json().as_bool(), "as_bool called on a null");
    EXPECT_DEATH((void)Json::object().as_array(), "as_array called on a object");
    EXPECT_DEATH((void)Json::array().as_object(), "as_object called on a array");
    EXPECT_DEATH((void)Json("x").as_double(), "as_double called on a string");
    Json array = Json::array();
    EXPECT_DEATH(array["k"] = 1, "operator\\[\\] called on a array");
    EXPECT_DEATH(array.set("k", 1), "set called on a array");
    Json object = Json::object();
    EXPECT_DEATH(object.push_back(1), "push_back called on a object");
}

// ---- dump ------------------------------------------------------------------------------------

TEST(JsonDumpTest, Scalars) {
    EXPECT_EQ(Json().dump(), "null");
    EXPECT_EQ(Json(true).dump(), "true");
    EXPECT_EQ(Json(false).dump(), "false");
    EXPECT_EQ(Json(0).dump(), "0");
    EXPECT_EQ(Json(-17).dump(), "-17");
    EXPECT_EQ(Json(std::numeric_limits<int64_t>::max()).dump(), "9223372036854775807");
    EXPECT_EQ(Json(std::numeric_limits<int64_t>::min()).dump(), "-9223372036854775808");
    EXPECT_EQ(Json::array().dump(), "[]");
    EXPECT_EQ(Json::object().dump(), "{}");
}

TEST(JsonDumpTest, DoublesAreShortestAndStayDoubles) {
    EXPECT_EQ(Json(0.1).dump(), "0.1");
    EXPECT_EQ(Json(1.0).dump(), "1.0");
    EXPECT_EQ(Json(-0.0).dump(), "-0.0");
    EXPECT_EQ(Json(1e300).dump(), "1e+300");
    EXPECT_EQ(Json(123456.5).dump(), "123456.5");
    for (double d : {1.0, -0.0, 0.1, 1e21, 1e-7, 5e-324, 1.7976931348623157e308,
                     9007199254740993.0, 2.0 / 3.0}) {
        const std::string text = Json(d).dump();
        Json back = parse_ok(text);
        ASSERT_EQ(back.type(), Json::Type::number) << text;
        EXPECT_EQ(back.as_double(), d) << text;
        EXPECT_EQ(std::signbit(back.as_double()), std::signbit(d)) << text;
    }
}

TEST(JsonDumpTest, NonFiniteDoublesBecomeNull) {
    EXPECT_EQ(Json(std::nan("")).dump(), "null");
    EXPECT_EQ(Json(std::numeric_limits<double>::infinity()).dump(), "null");
    EXPECT_EQ(Json::array({-std::numeric_limits<double>::infinity()}).dump(), "[null]");
}

TEST(JsonDumpTest, StringEscapes) {
    EXPECT_EQ(Json("a\"b\\c/d").dump(), R"("a\"b\\c/d")");
    EXPECT_EQ(Json("\b\f\n\r\t").dump(), R"("\b\f\n\r\t")");
    EXPECT_EQ(Json("\x01\x1f").dump(), R"("\u0001\u001f")");
    EXPECT_EQ(Json("nul:\0!"s).dump(), R"("nul:\u0000!")");
    EXPECT_EQ(Json("\x7f").dump(), "\"\x7f\"");  // DEL is legal unescaped
    // Non-ASCII UTF-8 is written as is, not as \u escapes.
    EXPECT_EQ(Json("h\xC3\xA9llo \xF0\x9F\x98\x80 \xE2\x80\xA8").dump(),
              "\"h\xC3\xA9llo \xF0\x9F\x98\x80 \xE2\x80\xA8\"");
    EXPECT_EQ(Json::object({{"k\"ey\n", 1}}).dump(), R"({"k\"ey\n":1})");
}

TEST(JsonDumpTest, InvalidUtf8IsReplacedNotEmitted) {
    const std::string kReplacement = "\xEF\xBF\xBD";
    EXPECT_EQ(Json("a\xFF" "b").dump(), "\"a" + kReplacement + "b\"");
    // Truncated 3-byte sequence at the end: one replacement for the maximal subpart.
    EXPECT_EQ(Json("x\xE2\x82").dump(), "\"x" + kReplacement + "\"");
    // Overlong "/" and a UTF-8-encoded surrogate are not valid UTF-8 either.
    EXPECT_EQ(Json("\xC0\xAF").dump(), "\"" + kReplacement + kReplacement + "\"");
    EXPECT_EQ(Json("\xED\xA0\x80").dump(),
              "\"" + kReplacement + kReplacement + kReplacement + "\"");
    EXPECT_EQ(Json("\xF4\x90\x80\x80").dump().size(), 2 + 4 * kReplacement.size());
    // Whatever host code puts in, the output is parseable.
    EXPECT_TRUE(Json::parse(Json("\x80\xBF\xF8\xC3").dump()).has_value());
}

TEST(JsonDumpTest, AppendJsonStringAppends) {
    std::string out = "prefix:";
    append_json_string(out, "q\"");
    EXPECT_EQ(out, R"(prefix:"q\"")");
    std::string empty;
    append_json_string(empty, "");
    EXPECT_EQ(empty, R"("")");
}

TEST(JsonDumpTest, DumpToAppends) {
    std::string out = "x=";
    Json::array({1, 2}).dump_to(out);
    EXPECT_EQ(out, "x=[1,2]");
}

// ---- parse -----------------------------------------------------------------------------------

TEST(JsonParseTest, Scalars) {
    EXPECT_TRUE(parse_ok("null").is_null());
    EXPECT_EQ(parse_ok("true"), Json(true));
    EXPECT_EQ(parse_ok(" false "), Json(false));
    EXPECT_EQ(parse_ok("42"), Json(42));
    EXPECT_EQ(parse_ok("-42"), Json(-42));
    EXPECT_EQ(parse_ok("1.5"), Json(1.5));
    EXPECT_EQ(parse_ok("1e3"), Json(1000.0));
    EXPECT_EQ(parse_ok("\"s\""), Json("s"));
}

TEST(JsonParseTest, NegativeZero) {
    EXPECT_EQ(parse_ok("-0"), Json(0));  // an integer literal stays an integer
    const Json d = parse_ok("-0.0");
    ASSERT_EQ(d.type(), Json::Type::number);
    EXPECT_TRUE(std::signbit(d.as_double()));
}

TEST(JsonParseTest, NestedStructureKeepsKeyOrder) {
    const Json j = parse_ok(R"( { "z" : [1, {"y": null}], "a" : {"b": [true, false]} } )");
    EXPECT_EQ(j.dump(), R"({"z":[1,{"y":null}],"a":{"b":[true,false]}})");
    EXPECT_EQ(j.as_object()[0].first, "z");
    EXPECT_EQ(j.as_object()[1].first, "a");
}

TEST(JsonParseTest, DuplicateKeysLastValueWinsAtFirstPosition) {
    // What JSON.parse does in the browser, so server and client read the same object.
    EXPECT_EQ(parse_ok(R"({"a":1,"b":2,"a":3})").dump(), R"({"a":3,"b":2})");
    // Same through the hash-map path for large objects.
    std::string text = "{";
    for (int i = 0; i < 40; ++i) {
        text += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
    }
    text += R"("k3":"last","k39":"again"})";
    const Json j = parse_ok(text);
    EXPECT_EQ(j.size(), 40u);
    EXPECT_EQ(j.get_string("k3"), "last");
    EXPECT_EQ(j.get_string("k39"), "again");
    EXPECT_EQ(j.as_object()[3].first, "k3");
}

TEST(JsonParseTest, UnicodeEscapesDecodeToUtf8) {
    EXPECT_EQ(parse_ok(R"("\u00e9")").as_string(), "\xC3\xA9");
    EXPECT_EQ(parse_ok(R"("\ud83d\ude00")").as_string(), "\xF0\x9F\x98\x80");
    EXPECT_EQ(parse_ok(R"("\u2028")").as_string(), "\xE2\x80\xA8");
    EXPECT_EQ(parse_ok(R"("\"\\\/\b\f\n\r\t")").as_string(), "\"\\/\b\f\n\r\t");
    // An escaped NUL survives inside the string; the length is not cut at it.
    EXPECT_EQ(parse_ok(R"("a\u0000b")").as_string(), "a\0b"s);
    // Raw UTF-8 passes through.
    EXPECT_EQ(parse_ok("\"\xE6\x97\xA5\xE6\x9C\xAC\"").as_string(), "\xE6\x97\xA5\xE6\x9C\xAC");
}

TEST(JsonParseTest, LoneSurrogateEscapesAreRefused) {
    // They have no UTF-8 form; accepting them would hand host code invalid UTF-8.
    expect_refused(R"("\ud800")");
    expect_refused(R"("\udc00")");
    expect_refused(R"("\ud800\u0041")");
    expect_refused(R"("\ude00\ud83d")");
    expect_refused(R"("\ud800x")");
}

TEST(JsonParseTest, InvalidUtf8IsRefused) {
    expect_refused("\"\xFF\"");
    expect_refused("\"\xC0\xAF\"");        // overlong
    expect_refused("\"\xED\xA0\x80\"");    // encoded surrogate
    expect_refused("\"\xE2\x82\"");        // truncated sequence
    expect_refused("{\"\xFF\":1}");        // in a key
    const Result<Json> r = Json::parse("\"\xFF\"");
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message().find("UTF-8"), std::string::npos) << r.error().message();
}

TEST(JsonParseTest, MalformedInputIsRefused) {
    for (std::string_view text : {
             "", "   ", "{", "[", "[1,2", "{\"a\":", "{\"a\"}", "\"abc", "tru", "nul",
             "[1,]", "{\"a\":1,}", "[,1]", "{,}", "{\"a\" 1}", "{a:1}", "['a']",
             "NaN", "Infinity", "-Infinity", "[NaN]", "01", "1.", ".5", "+1", "1e", "0x10",
             "\"tab\there\"", "\"line\nbreak\"", "\"\\x41\"", "\"\\u12\"", "// c\n1", "/* c */1",
         }) {
        expect_refused(text);
    }
}

TEST(JsonParseTest, TrailingGarbageIsRefused) {
    expect_refused("[1] x");
    expect_refused("{} {}");
    expect_refused("1 2");
    expect_refused("\"a\"\"b\"");
    expect_refused("[1]]");
    expect_refused(std::string_view("[1]\0", 4));
    EXPECT_EQ(parse_ok(" [1] \n\t\r"), Json::array({1}));  // whitespace is fine
}

TEST(JsonParseTest, ParsesFromAViewThatIsNotNulTerminated) {
    const std::string buffer = "[1,2,3]garbage";
    EXPECT_EQ(parse_ok(std::string_view(buffer).substr(0, 7)), Json::array({1, 2, 3}));
}

TEST(JsonParseTest, IntegerRange) {
    EXPECT_EQ(parse_ok("9223372036854775807"), Json(std::numeric_limits<int64_t>::max()));
    EXPECT_EQ(parse_ok("-9223372036854775808"), Json(std::numeric_limits<int64_t>::min()));
    // Beyond int64: a double, like every JavaScript reader.
    const Json above = parse_ok("9223372036854775808");
    ASSERT_EQ(above.type(), Json::Type::number);
    EXPECT_EQ(above.as_double(), 9223372036854775808.0);
    EXPECT_EQ(parse_ok("18446744073709551615").type(), Json::Type::number);
}

TEST(JsonParseTest, HugeIntegersBecomeDoubles) {
    // JSON.stringify(1e20) writes "100000000000000000000"; it must not be refused.
    const Json j = parse_ok("100000000000000000000");
    ASSERT_EQ(j.type(), Json::Type::number);
    EXPECT_EQ(j.as_double(), 1e20);
    EXPECT_EQ(parse_ok("-9223372036854775809").type(), Json::Type::number);
    EXPECT_DOUBLE_EQ(parse_ok("123456789012345678901234567890").as_double(), 1.2345678901234568e29);
    // Only the oversized literal changes; neighbours and look-alike strings do not.
    const Json mixed = parse_ok(R"([1, 100000000000000000000, "100000000000000000000", -2,
                                    {"k\"": 99999999999999999999999}])");
    EXPECT_EQ(mixed.as_array()[0], Json(1));
    EXPECT_EQ(mixed.as_array()[1], Json(1e20));
    EXPECT_EQ(mixed.as_array()[2], Json("100000000000000000000"));
    EXPECT_EQ(mixed.as_array()[3], Json(-2));
    EXPECT_EQ(mixed.as_array()[4].find("k\"")->type(), Json::Type::number);
}

TEST(JsonParseTest, NumbersOutOfDoubleRangeAreRefused) {
    expect_refused("1e400");
    expect_refused("-1e400");
    expect_refused("1" + std::string(400, '0'));
    expect_refused("[100000000000000000000, 01]");  // the rewrite does not hide other errors
}

TEST(JsonParseTest, DepthLimit) {
    EXPECT_TRUE(Json::parse(nested_arrays(64)).has_value());
    const Result<Json> too_deep = Json::parse(nested_arrays(65));
    ASSERT_FALSE(too_deep.has_value());
    EXPECT_EQ(too_deep.error().code(), StatusCode::invalid_argument);
    EXPECT_NE(too_deep.error().message().find("deeper than 64"), std::string::npos)
        << too_deep.error().message();

    std::string objects;
    for (int i = 0; i < 3; ++i) objects += "{\"a\":";
    objects += "1}}}";
    EXPECT_TRUE(Json::parse(objects, 3).has_value());
    expect_refused(objects, 2);
    EXPECT_TRUE(Json::parse("[{\"a\":[]}]", 3).has_value());
    expect_refused("[{\"a\":[]}]", 2);
    // max_depth 0: scalars only.
    EXPECT_TRUE(Json::parse("7", 0).has_value());
    expect_refused("[]", 0);
}

TEST(JsonParseTest, VeryDeepInputFailsCleanly) {
    expect_refused(nested_arrays(100000));
    expect_refused(std::string(100000, '['));
    // Limits above the supported maximum (1024) are capped, not a stack overflow.
    EXPECT_TRUE(Json::parse(nested_arrays(1024), 100000).has_value());
    expect_refused(nested_arrays(1025), 100000);
    expect_refused(nested_arrays(5000), 100000);
}

TEST(JsonParseTest, RoundTrip) {
    const Json original = Json::object({
        {"text", "quote\" backslash\\ newline\n ctrl\x01 unicode \xC3\xA9\xF0\x9F\x98\x80"},
        {"int", std::numeric_limits<int64_t>::min()},
        {"double", 0.1},
        {"whole", 2.0},
        {"flags", Json::array({true, false, nullptr})},
        {"nested",
         Json::object({{"empty_array", Json::array()}, {"empty_object", Json::object()}})},
        {"", "empty key"},
    });
    const std::string text = original.dump();
    const Json back = parse_ok(text);
    EXPECT_EQ(back, original);
    EXPECT_EQ(back.dump(), text);
}

TEST(JsonParseTest, LargeDocumentThenSmallOnes) {
    // Exercises the parser buffer being dropped after a huge document and rebuilt.
    std::string big = "[";
    for (int i = 0; i < 200000; ++i) big += "\"0123456789\",";
    big += "1]";
    const Json j = parse_ok(big);
    EXPECT_EQ(j.size(), 200001u);
    EXPECT_EQ(parse_ok("{\"a\":1}").get_int("a"), 1);
}

TEST(JsonParseTest, ParallelParsesFromSeveralThreads) {
    std::vector<std::thread> threads;
    std::vector<int> failures(4, 0);
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([t, &failures] {
            for (int i = 0; i < 500; ++i) {
                const std::string text =
                    R"({"thread":)" + std::to_string(t) + R"(,"i":)" + std::to_string(i) + "}";
                Result<Json> r = Json::parse(text);
                if (!r || r->get_int("thread") != t || r->get_int("i") != i) ++failures[t];
            }
        });
    }
    for (auto& thread : threads) thread.join();
    for (int f : failures) EXPECT_EQ(f, 0);
}

}  // namespace
}  // namespace quckrt
