// Histogram: latency distribution with bounded memory and ~0.8% relative precision.
//
// A fan-out run records hundreds of thousands of samples per second, so samples are not
// stored: values go into log-linear buckets (128 linear sub-buckets per power of two), and
// percentiles are read back as the bucket midpoint. max() and min() are exact.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace quckrt::bench {

class Histogram {
  public:
    Histogram();

    void record(int64_t value);  // negative values count as 0
    void merge(const Histogram& other);

    uint64_t count() const { return count_; }
    int64_t max() const { return max_; }
    int64_t min() const { return count_ ? min_ : 0; }
    double mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0.0; }
    // percentile(q), q in [0, 100]: the value at or below which q% of samples fall; 0 when
    // empty.
    int64_t percentile(double q) const;

  private:
    static constexpr int kSubBits = 7;
    static constexpr uint64_t kSub = uint64_t{1} << kSubBits;
    static constexpr size_t kBuckets = (64 - kSubBits + 1) * kSub;

    static size_t bucket_of(uint64_t v);
    static uint64_t bucket_low(size_t b);
    static uint64_t bucket_width(size_t b);

    std::vector<uint64_t> counts_;
    uint64_t count_ = 0;
    int64_t min_ = 0;
    int64_t max_ = 0;
    __int128 sum_ = 0;
};

}  // namespace quckrt::bench
