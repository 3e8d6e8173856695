#include "histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace quckrt::bench {

Histogram::Histogram() : counts_(kBuckets, 0) {}

size_t Histogram::bucket_of(uint64_t v) {
    if (v < 2 * kSub) return static_cast<size_t>(v);
    const int exponent = std::bit_width(v) - 1;            // >= kSubBits + 1
    const uint64_t mantissa = v >> (exponent - kSubBits);  // in [kSub, 2*kSub)
    return static_cast<size_t>((exponent - kSubBits + 1) * kSub + (mantissa - kSub));
}

uint64_t Histogram::bucket_low(size_t b) {
    if (b < 2 * kSub) return b;
    const uint64_t group = b / kSub;
    const int exponent = static_cast<int>(group) + kSubBits - 1;
    return (kSub + b % kSub) << (exponent - kSubBits);
}

uint64_t Histogram::bucket_width(size_t b) {
    if (b < 2 * kSub) return 1;
    const int exponent = static_cast<int>(b / kSub) + kSubBits - 1;
    return uint64_t{1} << (exponent - kSubBits);
}

void Histogram::record(int64_t value) {
    if (value < 0) value = 0;
    ++counts_[bucket_of(static_cast<uint64_t>(value))];
    if (count_ == 0 || value < min_) min_ = value;
    if (value > max_) max_ = value;
    ++count_;
    sum_ += value;
}

void Histogram::merge(const Histogram& other) {
    if (other.count_ == 0) return;
    for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    min_ = count_ ? std::min(min_, other.min_) : other.min_;
    max_ = std::max(max_, other.max_);
    count_ += other.count_;
    sum_ += other.sum_;
}

int64_t Histogram::percentile(double q) const {
    if (count_ == 0) return 0;
    q = std::clamp(q, 0.0, 100.0);
    uint64_t rank = static_cast<uint64_t>(std::ceil(q / 100.0 * static_cast<double>(count_)));
    rank = std::clamp<uint64_t>(rank, 1, count_);
    if (rank == count_) return max_;
    uint64_t seen = 0;
    for (size_t b = 0; b < kBuckets; ++b) {
        seen += counts_[b];
        if (seen >= rank) {
            const uint64_t mid = bucket_low(b) + bucket_width(b) / 2;
            return std::clamp(static_cast<int64_t>(mid), min_, max_);
        }
    }
    return max_;
}

}  // namespace quckrt::bench
