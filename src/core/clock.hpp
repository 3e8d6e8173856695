// Clock: where core feature state (calls, huddles) gets the time. Core code takes `now_ms`
// as an argument; the layer that drives it (a manager, the server's tick) reads a Clock, so
// tests step time with a ManualClock instead of sleeping.
//
// Thread affinity: now_ms() from any thread.
//
// Example:
//   core::ManualClock clock(1'000);
//   manager.initiate(...);          // reads clock.now_ms() == 1000
//   clock.advance(60'000);
//   manager.expire();               // the ring timeout has passed
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace quckrt::core {

class Clock {
public:
    virtual ~Clock() = default;
    // now_ms(): milliseconds since the unix epoch (SystemClock) or since whatever the test
    // chose (ManualClock). Only differences and ordering matter to timers; stored records
    // use the value as a unix timestamp.
    virtual int64_t now_ms() const = 0;
};

// SystemClock: wall-clock unix milliseconds. A wall-clock step moves pending timers with it
// (a ring timeout may end a second early or late); stored call times stay meaningful.
class SystemClock final : public Clock {
public:
    int64_t now_ms() const override {
        using namespace std::chrono;
        return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
    }
};

// ManualClock: time moves only when a test says so.
class ManualClock final : public Clock {
public:
    explicit ManualClock(int64_t start_ms = 0) : now_(start_ms) {}
    int64_t now_ms() const override { return now_.load(); }
    void advance(int64_t ms) { now_.fetch_add(ms); }
    void set(int64_t ms) { now_.store(ms); }

private:
    std::atomic<int64_t> now_;
};

}  // namespace quckrt::core
