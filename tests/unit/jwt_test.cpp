#include <quckrt/auth.hpp>

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <mbedtls/md.h>

namespace quckrt {
namespace {

constexpr std::string_view kSecret = "s3cret-key-for-tests";
constexpr int64_t kNow = 1'700'000'000;

// Builds a token from raw header and payload JSON, signed with HMAC-SHA256 independently of
// the code under test, so tests can forge exactly the header an attacker would send.
std::string hmac_b64(std::string_view secret, std::string_view input) {
    std::array<unsigned char, 32> mac{};
    const int rc = mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
                                   reinterpret_cast<const unsigned char*>(secret.data()),
                                   secret.size(),
                                   reinterpret_cast<const unsigned char*>(input.data()),
                                   input.size(), mac.data());
    EXPECT_EQ(rc, 0);
    return jwt::base64url_encode(std::string_view(reinterpret_cast<const char*>(mac.data()), 32));
}

std::string raw_token(std::string_view header_json, std::string_view payload_json,
                      std::string_view secret = kSecret) {
    std::string input = jwt::base64url_encode(header_json) + "." +
                        jwt::base64url_encode(payload_json);
    return input + "." + hmac_b64(secret, input);
}

std::string token_with_payload(std::string_view payload_json) {
    return raw_token(R"({"alg":"HS256","typ":"JWT"})", payload_json);
}

std::string signed_token(const Json& claims, std::string_view secret = kSecret) {
    Result<std::string> token = jwt::sign_hs256(secret, claims);
    EXPECT_TRUE(token.has_value()) << token.error().to_string();
    return token ? *token : std::string();
}

// The reason text, checked for what a user relies on: the failed check, and no secret or
// token material (tokens and keys must never reach logs).
void expect_refused(std::string_view token, std::string_view reason, int64_t now = kNow,
                    int64_t leeway = 0) {
    const Result<Claims> result = jwt::verify_hs256(kSecret, token, now, leeway);
    ASSERT_FALSE(result.has_value()) << "accepted a token that should fail: " << reason;
    EXPECT_EQ(result.error().code(), StatusCode::unauthenticated);
    EXPECT_NE(result.error().message().find(reason), std::string::npos)
        << "expected '" << reason << "' in '" << result.error().message() << "'";
    const std::string message = result.error().message();  // error() returns a copy
    EXPECT_EQ(message.find(kSecret), std::string::npos);
    size_t start = 0;
    while (start < token.size()) {
        size_t end = token.find('.', start);
        if (end == std::string_view::npos) end = token.size();
        const std::string_view segment = token.substr(start, end - start);
        if (segment.size() >= 8) {
            EXPECT_EQ(message.find(segment), std::string::npos) << "message echoes the token";
        }
        start = end + 1;
    }
}

Claims expect_accepted(std::string_view token, int64_t now = kNow, int64_t leeway = 0) {
    Result<Claims> result = jwt::verify_hs256(kSecret, token, now, leeway);
    EXPECT_TRUE(result.has_value()) << result.error().to_string();
    return result ? *result : Claims{};
}

std::string replace_segment(std::string_view token, int index, std::string_view segment) {
    std::vector<std::string> parts;
    size_t start = 0;
    for (;;) {
        const size_t dot = token.find('.', start);
        parts.emplace_back(token.substr(start, dot - start));
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    parts[static_cast<size_t>(index)] = segment;
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) out += (i ? "." : "") + parts[i];
    return out;
}

// ---- base64 ----------------------------------------------------------------------------------

TEST(Base64Test, EncodeRfc4648VectorsWithoutPadding) {
    EXPECT_EQ(jwt::base64url_encode(""), "");
    EXPECT_EQ(jwt::base64url_encode("f"), "Zg");
    EXPECT_EQ(jwt::base64url_encode("fo"), "Zm8");
    EXPECT_EQ(jwt::base64url_encode("foo"), "Zm9v");
    EXPECT_EQ(jwt::base64url_encode("foob"), "Zm9vYg");
    EXPECT_EQ(jwt::base64url_encode("fooba"), "Zm9vYmE");
    EXPECT_EQ(jwt::base64url_encode("foobar"), "Zm9vYmFy");
    EXPECT_EQ(jwt::base64url_encode("\xFB\xFF"), "-_8");  // url alphabet, not "+/8="
}

TEST(Base64Test, DecodeAcceptsBothAlphabetsWithOrWithoutPadding) {
    EXPECT_EQ(*jwt::base64_decode_any(""), "");
    EXPECT_EQ(*jwt::base64_decode_any("Zm9vYg=="), "foob");
    EXPECT_EQ(*jwt::base64_decode_any("Zm9vYg"), "foob");
    EXPECT_EQ(*jwt::base64_decode_any("Zm9vYmE="), "fooba");
    EXPECT_EQ(*jwt::base64_decode_any("Zm9vYmE"), "fooba");
    EXPECT_EQ(*jwt::base64_decode_any("Zm9vYmFy"), "foobar");
    EXPECT_EQ(*jwt::base64_decode_any("-_8"), "\xFB\xFF");
    EXPECT_EQ(*jwt::base64_decode_any("+/8="), "\xFB\xFF");
    EXPECT_EQ(*jwt::base64_decode_any("+/8"), "\xFB\xFF");
}

TEST(Base64Test, DecodeRefusesBadInput) {
    for (std::string_view bad : {
             "Zm9vY",      // 5 characters: len % 4 == 1 is impossible
             "Z",          //
             "Zm9vYg=",    // padding that does not complete a quantum
             "Zm9vY===",   // too much padding
             "Zm9vYmE==",  // padding where none is needed
             "Zg=", "=", "==", "====",
             "Zm=9vYg=",   // '=' in the middle
             "Zm9v!",      "Zm 9v", "Zm9v\n", "Zm9\xC3\xA9",
         }) {
        const Result<std::string> result = jwt::base64_decode_any(bad);
        EXPECT_FALSE(result.has_value()) << "accepted: " << bad;
        if (!result) {
            EXPECT_EQ(result.error().code(), StatusCode::invalid_argument);
        }
    }
    EXPECT_FALSE(jwt::base64_decode_any(std::string_view("Zm9v\0", 5)).has_value());
}

TEST(Base64Test, AllByteValuesRoundTrip) {
    std::string bytes;
    for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
    for (size_t len = 0; len <= bytes.size(); len += 37) {
        const std::string_view slice = std::string_view(bytes).substr(0, len);
        Result<std::string> back = jwt::base64_decode_any(jwt::base64url_encode(slice));
        ASSERT_TRUE(back.has_value());
        EXPECT_EQ(*back, slice);
    }
}

// ---- signing ---------------------------------------------------------------------------------

TEST(JwtSignTest, MatchesAnIndependentImplementation) {
    // Expected token computed with Python's hmac + base64 for the same claims text.
    const Json claims = Json::object({{"sub", "alice"}, {"exp", 2000000000}, {"room", "lobby"}});
    EXPECT_EQ(signed_token(claims, "s3cret"),
              "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
              "eyJzdWIiOiJhbGljZSIsImV4cCI6MjAwMDAwMDAwMCwicm9vbSI6ImxvYmJ5In0."
              "lNkWi9Ou3oWeq4eke1ocm7pk4KkUAHcdVVc_q68X6-0");
}

TEST(JwtSignTest, RefusesNonObjectClaimsAndEmptySecret) {
    EXPECT_EQ(jwt::sign_hs256(kSecret, Json::array({1})).error().code(),
              StatusCode::invalid_argument);
    EXPECT_EQ(jwt::sign_hs256(kSecret, Json("sub")).error().code(), StatusCode::invalid_argument);
    EXPECT_EQ(jwt::sign_hs256("", Json::object({{"sub", "a"}})).error().code(),
              StatusCode::invalid_argument);
}

// ---- verification: accepted tokens -----------------------------------------------------------

TEST(JwtVerifyTest, AcceptsWellKnownJwtIoToken) {
    const std::string token =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
        "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
        "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
    Result<Claims> claims = jwt::verify_hs256("your-256-bit-secret", token, kNow);
    ASSERT_TRUE(claims.has_value()) << claims.error().to_string();
    EXPECT_EQ(claims->user_id, "1234567890");
    EXPECT_EQ(claims->expires_at, 0);
    EXPECT_EQ(claims->claims.get_string("name"), "John Doe");
}

TEST(JwtVerifyTest, SignedTokenRoundTrips) {
    const Json payload =
        Json::object({{"sub", "alice"}, {"exp", kNow + 60}, {"roles", Json::array({"admin"})}});
    const Claims claims = expect_accepted(signed_token(payload));
    EXPECT_EQ(claims.user_id, "alice");
    EXPECT_EQ(claims.expires_at, kNow + 60);
    EXPECT_EQ(claims.claims, payload);
}

TEST(JwtVerifyTest, TypIsIgnoredAndOtherHeaderFieldsAllowed) {
    expect_accepted(raw_token(R"({"alg":"HS256"})", R"({"sub":"a"})"));
    expect_accepted(raw_token(R"({"typ":"at+jwt","alg":"HS256","kid":"k1"})", R"({"sub":"a"})"));
}

TEST(JwtVerifyTest, NumericSubBecomesDecimalString) {
    EXPECT_EQ(expect_accepted(token_with_payload(R"({"sub":42})")).user_id, "42");
    EXPECT_EQ(expect_accepted(token_with_payload(R"({"sub":-7})")).user_id, "-7");
}

// ---- verification: structure -----------------------------------------------------------------

TEST(JwtVerifyTest, WrongNumberOfSegments) {
    const std::string good = signed_token(Json::object({{"sub", "a"}}));
    const std::string header_payload = good.substr(0, good.rfind('.'));
    expect_refused(header_payload, "malformed token");           // 2 segments
    expect_refused(good + ".extra", "malformed token");          // 4 segments
    expect_refused(good + ".", "malformed token");
    expect_refused("abc", "malformed token");
    expect_refused("..", "malformed token header");
    expect_refused("...", "malformed token");
}

TEST(JwtVerifyTest, EmptyTokenIsMissing) { expect_refused("", "missing token"); }

TEST(JwtVerifyTest, BadBase64IsRefused) {
    const std::string good = signed_token(Json::object({{"sub", "a"}}));
    const std::string header = good.substr(0, good.find('.'));
    expect_refused(replace_segment(good, 0, header + "!"), "malformed token header");
    expect_refused(replace_segment(good, 0, "*" + header.substr(1)), "malformed token header");
    // The JWS form only: no standard alphabet and no padding.
    const std::string payload = jwt::base64url_encode(R"({"sub":"a"})");  // 11 bytes -> 15 chars
    expect_refused(replace_segment(good, 1, payload + "="), "invalid signature");
    std::string signature = good.substr(good.rfind('.') + 1);
    expect_refused(replace_segment(good, 2, signature + "="), "invalid signature");
    for (char& c : signature) {
        if (c == '-') c = '+';
        if (c == '_') c = '/';
    }
    if (signature != good.substr(good.rfind('.') + 1)) {
        expect_refused(replace_segment(good, 2, signature), "invalid signature");
    }
    expect_refused(replace_segment(good, 2, "AAAA$AAA"), "invalid signature");
}

TEST(JwtVerifyTest, SignatureOfWrongLengthIsRefused) {
    const std::string good = signed_token(Json::object({{"sub", "a"}}));
    const std::string signature = good.substr(good.rfind('.') + 1);
    expect_refused(replace_segment(good, 2, ""), "invalid signature");
    expect_refused(replace_segment(good, 2, signature.substr(0, 40)), "invalid signature");
    expect_refused(replace_segment(good, 2, signature + "AAAA"), "invalid signature");
}

TEST(JwtVerifyTest, NonCanonicalSignatureEncodingIsRefused) {
    // 32 bytes encode to 43 characters whose last one carries 2 unused bits. Setting them
    // decodes to the same bytes; refusing keeps one spelling per token.
    const std::string good = signed_token(Json::object({{"sub", "a"}}));
    std::string signature = good.substr(good.rfind('.') + 1);
    ASSERT_EQ(signature.size(), 43u);
    const std::string alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const size_t value = alphabet.find(signature.back());
    ASSERT_EQ(value & 3u, 0u);
    signature.back() = alphabet[value | 1u];
    expect_refused(replace_segment(good, 2, signature), "invalid signature");
}

TEST(JwtVerifyTest, TokenOverSizeLimitIsRefused) {
    const std::string big(9000, 'x');
    expect_refused(signed_token(Json::object({{"sub", "a"}, {"pad", big}})), "token too large");
    // Large but plausible tokens still work.
    const std::string medium(5000, 'x');
    expect_accepted(signed_token(Json::object({{"sub", "a"}, {"pad", medium}})));
}

// ---- verification: signature and algorithm ---------------------------------------------------

TEST(JwtVerifyTest, WrongSecretIsRefused) {
    expect_refused(signed_token(Json::object({{"sub", "a"}}), "another-secret"),
                   "invalid signature");
}

TEST(JwtVerifyTest, TamperedPayloadIsRefused) {
    const std::string good = signed_token(Json::object({{"sub", "alice"}}));
    expect_refused(replace_segment(good, 1, jwt::base64url_encode(R"({"sub":"admin"})")),
                   "invalid signature");
}

TEST(JwtVerifyTest, TamperedHeaderIsRefused) {
    const std::string good = signed_token(Json::object({{"sub", "alice"}}));
    expect_refused(
        replace_segment(good, 0, jwt::base64url_encode(R"({"alg":"HS256","typ":"JWS"})")),
        "invalid signature");
}

TEST(JwtVerifyTest, AlgNoneIsRefused) {
    const std::string header = jwt::base64url_encode(R"({"alg":"none","typ":"JWT"})");
    const std::string payload = jwt::base64url_encode(R"({"sub":"admin"})");
    expect_refused(header + "." + payload + ".", "unsupported alg");
    // Even carrying a valid HMAC under the shared secret.
    expect_refused(raw_token(R"({"alg":"none"})", R"({"sub":"admin"})"), "unsupported alg");
    expect_refused(raw_token(R"({"alg":"None"})", R"({"sub":"admin"})"), "unsupported alg");
    expect_refused(raw_token(R"({"alg":"NONE"})", R"({"sub":"admin"})"), "unsupported alg");
}

TEST(JwtVerifyTest, OtherAlgorithmsAreRefusedEvenWithAValidHmac) {
    for (std::string_view header : {
             R"({"alg":"HS512"})", R"({"alg":"HS384"})", R"({"alg":"RS256"})",
             R"({"alg":"ES256"})", R"({"alg":"hs256"})", R"({"alg":"HS256 "})",
             R"({"alg":""})", R"({"alg":null})", R"({"alg":256})", R"({"alg":["HS256"]})",
             R"({"typ":"JWT"})", R"({})",
         }) {
        expect_refused(raw_token(header, R"({"sub":"a"})"), "unsupported alg");
    }
}

TEST(JwtVerifyTest, DuplicateAlgUsesTheLastValueLikeJsonParse) {
    expect_refused(raw_token(R"({"alg":"HS256","alg":"none"})", R"({"sub":"a"})"),
                   "unsupported alg");
}

TEST(JwtVerifyTest, CritHeaderIsRefused) {
    expect_refused(raw_token(R"({"alg":"HS256","crit":["exp"],"exp":1})", R"({"sub":"a"})"),
                   "crit");
}

TEST(JwtVerifyTest, HeaderMustBeAJsonObject) {
    expect_refused(raw_token(R"(["HS256"])", R"({"sub":"a"})"), "malformed token header");
    expect_refused(raw_token(R"("HS256")", R"({"sub":"a"})"), "malformed token header");
    expect_refused(raw_token(R"({"alg":"HS256")", R"({"sub":"a"})"), "malformed token header");
    expect_refused(raw_token("\xFF", R"({"sub":"a"})"), "malformed token header");
}

// ---- verification: claims --------------------------------------------------------------------

TEST(JwtVerifyTest, PayloadMustBeAJsonObject) {
    expect_refused(token_with_payload(R"(["sub","a"])"), "JSON object");
    expect_refused(token_with_payload(R"("a")"), "JSON object");
    expect_refused(token_with_payload("42"), "JSON object");
    expect_refused(token_with_payload(R"({"sub":"a")"), "JSON object");
    expect_refused(token_with_payload(""), "JSON object");
}

TEST(JwtVerifyTest, SubIsRequiredAndNonEmpty) {
    expect_refused(token_with_payload(R"({"name":"a"})"), "no sub");
    expect_refused(token_with_payload(R"({"sub":""})"), "sub is empty");
    expect_refused(token_with_payload(R"({"sub":null})"), "sub must be a string");
    expect_refused(token_with_payload(R"({"sub":true})"), "sub must be a string");
    expect_refused(token_with_payload(R"({"sub":1.5})"), "sub must be a string");
    expect_refused(token_with_payload(R"({"sub":{"id":"a"}})"), "sub must be a string");
}

TEST(JwtVerifyTest, ExpiredTokenIsRefused) {
    expect_refused(signed_token(Json::object({{"sub", "a"}, {"exp", kNow - 3600}})),
                   "token expired");
}

TEST(JwtVerifyTest, ExpBoundaryAndLeeway) {
    const std::string token = signed_token(Json::object({{"sub", "a"}, {"exp", kNow}}));
    // Valid while now < exp + leeway.
    expect_accepted(token, kNow - 1);
    expect_refused(token, "token expired", kNow);
    expect_accepted(token, kNow, 1);
    expect_accepted(token, kNow + 29, 30);
    expect_refused(token, "token expired", kNow + 30, 30);
}

TEST(JwtVerifyTest, FractionalExpCountsFromTheExactInstant) {
    const std::string token = token_with_payload(R"({"sub":"a","exp":1700000000.5})");
    EXPECT_EQ(expect_accepted(token, kNow).expires_at, kNow + 1);
    expect_refused(token, "token expired", kNow + 1);
}

TEST(JwtVerifyTest, NotYetValidToken) {
    const std::string token = signed_token(Json::object({{"sub", "a"}, {"nbf", kNow + 10}}));
    expect_refused(token, "token not yet valid", kNow);
    expect_refused(token, "token not yet valid", kNow + 9);
    expect_accepted(token, kNow + 10);
    expect_accepted(token, kNow, 10);
    expect_refused(token, "token not yet valid", kNow, 9);
}

TEST(JwtVerifyTest, ExpAndNbfMustBeNumbers) {
    expect_refused(token_with_payload(R"({"sub":"a","exp":"1800000000"})"), "invalid exp");
    expect_refused(token_with_payload(R"({"sub":"a","exp":null})"), "invalid exp");
    expect_refused(token_with_payload(R"({"sub":"a","nbf":true})"), "invalid nbf");
    expect_refused(token_with_payload(R"({"sub":"a","nbf":[1]})"), "invalid nbf");
}

TEST(JwtVerifyTest, ExtremeTimesDoNotOverflow) {
    constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
    constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
    const std::string far = signed_token(Json::object({{"sub", "a"}, {"exp", kMax}}));
    EXPECT_EQ(expect_accepted(far, kNow, kMax).expires_at, kMax);
    expect_refused(signed_token(Json::object({{"sub", "a"}, {"exp", kMin}})), "token expired",
                   kNow, kMax);
    expect_refused(token_with_payload(R"({"sub":"a","exp":-1e300})"), "token expired");
    expect_accepted(token_with_payload(R"({"sub":"a","exp":1e300})"));
    expect_accepted(signed_token(Json::object({{"sub", "a"}, {"nbf", kMin}})), kMax, kMax);
    expect_refused(token_with_payload(R"({"sub":"a","nbf":1e300})"), "not yet valid");
}

// ---- authenticator ---------------------------------------------------------------------------

TEST(JwtAuthenticatorTest, RefusesBadOptions) {
    EXPECT_EQ(make_jwt_authenticator({}).error().code(), StatusCode::invalid_argument);
    EXPECT_EQ(make_jwt_authenticator({.hs256_secret = "k", .leeway_seconds = -1}).error().code(),
              StatusCode::invalid_argument);
}

TEST(JwtAuthenticatorTest, HeaderExampleWorks) {
    auto auth = make_jwt_authenticator({.hs256_secret = "s3cret"});
    ASSERT_TRUE(auth.has_value());
    std::string token = *jwt::sign_hs256(
        "s3cret", Json::object({{"sub", "alice"}, {"exp", jwt::now_seconds() + 3600}}));
    Result<Claims> claims = (*auth)->authenticate({.token = token});
    ASSERT_TRUE(claims.has_value()) << claims.error().to_string();
    EXPECT_EQ(claims->user_id, "alice");
    EXPECT_GT(claims->expires_at, jwt::now_seconds());
}

TEST(JwtAuthenticatorTest, MissingToken) {
    auto auth = *make_jwt_authenticator({.hs256_secret = "s3cret"});
    const Result<Claims> claims = auth->authenticate({});
    ASSERT_FALSE(claims.has_value());
    EXPECT_EQ(claims.error().code(), StatusCode::unauthenticated);
    EXPECT_EQ(claims.error().message(), "missing token");
}

TEST(JwtAuthenticatorTest, RequireExp) {
    auto strict = *make_jwt_authenticator({.hs256_secret = "s3cret", .require_exp = true});
    auto lax = *make_jwt_authenticator({.hs256_secret = "s3cret"});
    const std::string no_exp = *jwt::sign_hs256("s3cret", Json::object({{"sub", "a"}}));
    const std::string with_exp = *jwt::sign_hs256(
        "s3cret", Json::object({{"sub", "a"}, {"exp", jwt::now_seconds() + 600}}));
    const Result<Claims> refused = strict->authenticate({.token = no_exp});
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code(), StatusCode::unauthenticated);
    EXPECT_NE(refused.error().message().find("exp"), std::string::npos);
    EXPECT_TRUE(strict->authenticate({.token = with_exp}).has_value());
    EXPECT_TRUE(lax->authenticate({.token = no_exp}).has_value());
}

TEST(JwtAuthenticatorTest, UsesCurrentTimeAndLeeway) {
    const std::string recently_expired = *jwt::sign_hs256(
        "s3cret", Json::object({{"sub", "a"}, {"exp", jwt::now_seconds() - 30}}));
    auto strict = *make_jwt_authenticator({.hs256_secret = "s3cret"});
    auto lenient = *make_jwt_authenticator({.hs256_secret = "s3cret", .leeway_seconds = 300});
    const Result<Claims> refused = strict->authenticate({.token = recently_expired});
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().message(), "token expired");
    EXPECT_TRUE(lenient->authenticate({.token = recently_expired}).has_value());
}

TEST(JwtAuthenticatorTest, WrongSecretIsUnauthenticated) {
    auto auth = *make_jwt_authenticator({.hs256_secret = "s3cret"});
    const std::string token = *jwt::sign_hs256("other", Json::object({{"sub", "a"}}));
    const Result<Claims> claims = auth->authenticate({.token = token});
    ASSERT_FALSE(claims.has_value());
    EXPECT_EQ(claims.error().code(), StatusCode::unauthenticated);
}

TEST(JwtNowTest, IsCurrentUnixTime) {
    EXPECT_GT(jwt::now_seconds(), 1'600'000'000);
    EXPECT_LT(jwt::now_seconds(), 4'000'000'000);
}

}  // namespace
}  // namespace quckrt
