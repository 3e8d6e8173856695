// RateLimiter: token buckets per key (a user id), driven by explicit time so tests step it.
// A bucket holds up to `burst` tokens and refills at `per_second`; take() spends one or
// says how long until one is available, which the error reply passes on as retryAfterMs.
//
// Not thread-safe; the owner serializes calls. Buckets idle long enough to be full again
// are dropped by prune(), so memory follows active senders, not all users ever seen.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace quckrt::core {

class RateLimiter {
public:
    RateLimiter(double per_second, double burst) : rate_(per_second), burst_(burst) {}

    // take(key, now_ms): 0 when a token was spent, otherwise the ms until one is available.
    int64_t take(std::string_view key, int64_t now_ms);

    // prune(now_ms): forget buckets that would be full by now.
    void prune(int64_t now_ms);
    size_t size() const { return buckets_.size(); }

private:
    struct Bucket {
        double tokens;
        int64_t updated_ms;
    };
    double rate_;
    double burst_;
    std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace quckrt::core
