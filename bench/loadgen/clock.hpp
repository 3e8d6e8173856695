// Time and randomness for the load generator.
#pragma once

#include <cstdint>
#include <ctime>

namespace quckrt::bench {

constexpr int64_t kNsPerUs = 1'000;
constexpr int64_t kNsPerMs = 1'000'000;
constexpr int64_t kNsPerSec = 1'000'000'000;

// now_ns(): CLOCK_MONOTONIC in nanoseconds. Publishers and subscribers live in this one
// process, so a timestamp written into a message is directly comparable on receipt.
inline int64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t{ts.tv_sec} * kNsPerSec + ts.tv_nsec;
}

inline int64_t seconds_to_ns(double s) { return static_cast<int64_t>(s * 1e9); }

// Rng: xorshift64*. WebSocket masking keys and handshake nonces only need to be
// unpredictable to intermediaries, not cryptographically strong, and this costs a few ns.
class Rng {
  public:
    explicit Rng(uint64_t seed) : state_(seed ? seed : 0x9e3779b97f4a7c15ULL) {}
    uint64_t next() {
        state_ ^= state_ >> 12;
        state_ ^= state_ << 25;
        state_ ^= state_ >> 27;
        return state_ * 0x2545f4914f6cdd1dULL;
    }

  private:
    uint64_t state_;
};

}  // namespace quckrt::bench
