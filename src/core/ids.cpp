#include "core/ids.hpp"

#include <array>
#include <cstdio>
#include <ctime>
#include <random>

namespace quckrt::core {
namespace {

uint64_t random_u64() {
    // One generator per thread, seeded from the OS: no lock, and distinct across threads.
    thread_local std::mt19937_64 gen{std::random_device{}()};
    return gen();
}

}  // namespace

std::string make_uuid_v7(int64_t unix_ms) {
    std::array<uint8_t, 16> b{};
    const auto ms = static_cast<uint64_t>(unix_ms);
    for (int i = 0; i < 6; ++i) b[i] = static_cast<uint8_t>(ms >> (40 - 8 * i));
    const uint64_t r1 = random_u64(), r2 = random_u64();
    for (int i = 6; i < 16; ++i) b[i] = static_cast<uint8_t>((i < 11 ? r1 : r2) >> (8 * (i % 8)));
    b[6] = static_cast<uint8_t>(0x70 | (b[6] & 0x0F));  // version 7
    b[8] = static_cast<uint8_t>(0x80 | (b[8] & 0x3F));  // RFC 4122 variant
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
        out += kHex[b[i] >> 4];
        out += kHex[b[i] & 0xF];
    }
    return out;
}

std::string iso8601_utc(int64_t unix_ms) {
    const time_t secs = static_cast<time_t>(unix_ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(unix_ms % 1000));
    return buf;
}

}  // namespace quckrt::core
