// HS256 JSON Web Tokens (RFC 7519 / RFC 7515 compact serialization) through mbedTLS, plus
// the base64 helpers they need.
//
// Verification order matters: the header is read only to refuse anything but HS256 (so no
// `alg: none` or algorithm confusion), the signature is checked next, and the payload is
// parsed only once it is known to come from a holder of the secret.

#include <quckrt/auth.hpp>

#include <array>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>

#include <mbedtls/md.h>
// mbedTLS 2.28 ships this header without extern "C" guards (md.h has them).
extern "C" {
#include <mbedtls/constant_time.h>
}

namespace quckrt::jwt {
namespace {

// Real tokens are a few hundred bytes; refuse absurd input before decoding or hashing it.
constexpr size_t kMaxTokenBytes = 8 * 1024;
constexpr size_t kHs256Bytes = 32;
// Headers hold a handful of flat fields; claims may nest a little (roles, metadata).
constexpr size_t kMaxHeaderDepth = 4;
constexpr size_t kMaxClaimsDepth = 16;

// base64url of {"alg":"HS256","typ":"JWT"}: the only header this module signs with.
constexpr std::string_view kHs256Header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

constexpr char kUrlAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr int kInvalid = -1;

constexpr std::array<int, 256> make_decode_table(bool url_only) {
    std::array<int, 256> table{};
    for (int& entry : table) entry = kInvalid;
    for (int i = 0; i < 64; ++i) table[static_cast<unsigned char>(kUrlAlphabet[i])] = i;
    if (!url_only) {
        table['+'] = 62;
        table['/'] = 63;
    }
    return table;
}

constexpr std::array<int, 256> kAnyTable = make_decode_table(false);
constexpr std::array<int, 256> kUrlTable = make_decode_table(true);

// strict: the JWS form only (url alphabet, no padding, unused trailing bits zero), so each
// token has exactly one spelling. Otherwise: either alphabet, optional correct padding.
std::optional<std::string> decode_base64(std::string_view text, bool strict) {
    const std::array<int, 256>& table = strict ? kUrlTable : kAnyTable;
    if (!strict && !text.empty() && text.back() == '=') {
        // Padding is only correct when it completes the last quantum of four characters.
        if (text.size() % 4 != 0) return std::nullopt;
        text.remove_suffix(1);
        if (text.back() == '=') {
            text.remove_suffix(1);
            if (text.size() % 4 != 2) return std::nullopt;
        } else if (text.size() % 4 != 3) {
            return std::nullopt;
        }
    }
    // One leftover character carries only 6 bits: not a whole byte, so no encoder makes it.
    if (text.size() % 4 == 1) return std::nullopt;
    std::string out;
    out.reserve(text.size() / 4 * 3 + 2);
    uint32_t bits = 0;
    int bit_count = 0;
    for (const char c : text) {
        const int value = table[static_cast<unsigned char>(c)];
        if (value == kInvalid) return std::nullopt;
        bits = (bits << 6) | static_cast<uint32_t>(value);
        bit_count += 6;
        if (bit_count >= 8) {
            bit_count -= 8;
            out += static_cast<char>((bits >> bit_count) & 0xFF);
        }
    }
    if (strict && (bits & ((1u << bit_count) - 1)) != 0) return std::nullopt;
    return out;
}

bool hmac_sha256(std::string_view key, std::string_view data,
                 std::array<unsigned char, kHs256Bytes>& out) {
    const mbedtls_md_info_t* info = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    if (info == nullptr) return false;
    return mbedtls_md_hmac(info, reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                           reinterpret_cast<const unsigned char*>(data.data()), data.size(),
                           out.data()) == 0;
}

int64_t saturating_add(int64_t a, int64_t b) {
    int64_t sum = 0;
    if (!__builtin_add_overflow(a, b, &sum)) return sum;
    return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
}

// A NumericDate as whole seconds, rounded up: for integer `now`, `now >= t` holds exactly
// when `now >= ceil(t)`, so fractional exp/nbf (some issuers write them) compare exactly.
int64_t numeric_date(const Json& value) {
    if (value.is_integer()) return value.as_int();
    const double d = std::ceil(value.as_double());
    constexpr double kTwoTo63 = 9223372036854775808.0;
    if (d >= kTwoTo63) return std::numeric_limits<int64_t>::max();
    if (d < -kTwoTo63) return std::numeric_limits<int64_t>::min();
    return static_cast<int64_t>(d);
}

}  // namespace

int64_t now_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string base64url_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    size_t i = 0;
    const auto at = [&](size_t k) {
        return static_cast<uint32_t>(static_cast<unsigned char>(bytes[k]));
    };
    for (; i + 3 <= bytes.size(); i += 3) {
        const uint32_t group = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
        out += kUrlAlphabet[(group >> 18) & 63];
        out += kUrlAlphabet[(group >> 12) & 63];
        out += kUrlAlphabet[(group >> 6) & 63];
        out += kUrlAlphabet[group & 63];
    }
    const size_t rest = bytes.size() - i;
    if (rest == 1) {
        const uint32_t group = at(i) << 16;
        out += kUrlAlphabet[(group >> 18) & 63];
        out += kUrlAlphabet[(group >> 12) & 63];
    } else if (rest == 2) {
        const uint32_t group = (at(i) << 16) | (at(i + 1) << 8);
        out += kUrlAlphabet[(group >> 18) & 63];
        out += kUrlAlphabet[(group >> 12) & 63];
        out += kUrlAlphabet[(group >> 6) & 63];
    }
    return out;
}

Result<std::string> base64_decode_any(std::string_view text) {
    std::optional<std::string> decoded = decode_base64(text, /*strict=*/false);
    if (!decoded) return invalid_argument("invalid base64");
    return std::move(*decoded);
}

Result<std::string> sign_hs256(std::string_view secret, const Json& claims) {
    if (secret.empty()) return invalid_argument("HS256 secret must be non-empty");
    if (!claims.is_object()) return invalid_argument("JWT claims must be a JSON object");
    std::string token(kHs256Header);
    token += '.';
    token += base64url_encode(claims.dump());
    std::array<unsigned char, kHs256Bytes> mac{};
    if (!hmac_sha256(secret, token, mac)) return internal_error("HMAC-SHA256 failed");
    token += '.';
    token += base64url_encode(
        std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
    return token;
}

Result<Claims> verify_hs256(std::string_view secret, std::string_view token, int64_t now,
                            int64_t leeway_seconds) {
    // Messages below name the failed check only: tokens end up in logs otherwise.
    if (secret.empty()) return invalid_argument("HS256 secret must be non-empty");
    if (token.empty()) return unauthenticated("missing token");
    if (token.size() > kMaxTokenBytes) return unauthenticated("token too large");

    const size_t dot1 = token.find('.');
    const size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
        return unauthenticated("malformed token: expected three segments");
    }
    const std::string_view header_part = token.substr(0, dot1);
    const std::string_view payload_part = token.substr(dot1 + 1, dot2 - dot1 - 1);
    const std::string_view signature_part = token.substr(dot2 + 1);
    const std::string_view signing_input = token.substr(0, dot2);

    const std::optional<std::string> header_text = decode_base64(header_part, true);
    if (!header_text) return unauthenticated("malformed token header");
    const Result<Json> header = Json::parse(*header_text, kMaxHeaderDepth);
    if (!header || !header->is_object()) return unauthenticated("malformed token header");
    const Json* alg = header->find("alg");
    if (alg == nullptr || !alg->is_string() || alg->as_string() != "HS256") {
        return unauthenticated("unsupported alg");
    }
    // RFC 7515 4.1.11: extensions listed in crit must be understood; we understand none.
    if (header->find("crit") != nullptr) return unauthenticated("unsupported crit header");

    const std::optional<std::string> signature = decode_base64(signature_part, true);
    std::array<unsigned char, kHs256Bytes> expected{};
    if (!signature || signature->size() != kHs256Bytes) {
        return unauthenticated("invalid signature");
    }
    if (!hmac_sha256(secret, signing_input, expected)) {
        return internal_error("HMAC-SHA256 failed");
    }
    // Constant time, so the comparison does not reveal how many leading bytes matched.
    if (mbedtls_ct_memcmp(expected.data(), signature->data(), kHs256Bytes) != 0) {
        return unauthenticated("invalid signature");
    }

    const std::optional<std::string> payload_text = decode_base64(payload_part, true);
    if (!payload_text) return unauthenticated("malformed token payload");
    Result<Json> payload = Json::parse(*payload_text, kMaxClaimsDepth);
    if (!payload || !payload->is_object()) {
        return unauthenticated("token claims must be a JSON object");
    }

    Claims claims;
    const Json* sub = payload->find("sub");
    if (sub == nullptr) return unauthenticated("token has no sub");
    if (sub->is_string()) {
        if (sub->as_string().empty()) return unauthenticated("token sub is empty");
        claims.user_id = sub->as_string();
    } else if (sub->is_integer()) {
        // Many apps put a numeric database id in sub; the user id is its decimal text.
        claims.user_id = std::to_string(sub->as_int());
    } else {
        return unauthenticated("token sub must be a string");
    }

    if (const Json* exp = payload->find("exp")) {
        if (!exp->is_number()) return unauthenticated("invalid exp claim");
        const int64_t expires_at = numeric_date(*exp);
        if (now >= saturating_add(expires_at, leeway_seconds)) {
            return unauthenticated("token expired");
        }
        claims.expires_at = expires_at;
    }
    if (const Json* nbf = payload->find("nbf")) {
        if (!nbf->is_number()) return unauthenticated("invalid nbf claim");
        if (saturating_add(now, leeway_seconds) < numeric_date(*nbf)) {
            return unauthenticated("token not yet valid");
        }
    }
    claims.claims = std::move(*payload);
    return claims;
}

}  // namespace quckrt::jwt
