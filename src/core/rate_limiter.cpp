#include "core/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace quckrt::core {

int64_t RateLimiter::take(std::string_view key, int64_t now_ms) {
    if (rate_ <= 0) return 0;  // disabled
    auto [it, inserted] = buckets_.try_emplace(std::string(key), Bucket{burst_, now_ms});
    Bucket& b = it->second;
    if (!inserted && now_ms > b.updated_ms) {
        b.tokens = std::min(burst_, b.tokens + (now_ms - b.updated_ms) * rate_ / 1000.0);
        b.updated_ms = now_ms;
    }
    if (b.tokens >= 1.0) {
        b.tokens -= 1.0;
        return 0;
    }
    return static_cast<int64_t>(std::ceil((1.0 - b.tokens) * 1000.0 / rate_));
}

void RateLimiter::prune(int64_t now_ms) {
    if (rate_ <= 0) return;
    const double full_after_ms = burst_ * 1000.0 / rate_;
    std::erase_if(buckets_, [&](const auto& kv) {
        return now_ms - kv.second.updated_ms >= full_after_ms;
    });
}

}  // namespace quckrt::core
