#pragma once
// Metric cells: counters, gauges and histograms that one thread writes and any
// thread reads. The writer (a worker, on the record path) does a relaxed load
// and store, never a read-modify-write, so no cache line is shared between
// writers and nothing locks; a scrape reads with relaxed loads and may see a
// value a moment old (docs/architecture.md "Metrics"). Copying a cell copies
// its value, so a struct of cells (RunStats) can still be returned and summed.
#include <array>
#include <atomic>
#include <cstdint>
#include <limits>

namespace streamrun::metrics {

// A count that only grows. One writer.
class Counter {
 public:
  Counter() = default;
  Counter(const Counter& o) : v_(o.load()) {}
  Counter& operator=(const Counter& o) {
    v_.store(o.load(), std::memory_order_relaxed);
    return *this;
  }
  Counter& operator+=(uint64_t n) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    return *this;
  }
  Counter& operator++() { return *this += 1; }
  uint64_t load() const { return v_.load(std::memory_order_relaxed); }
  operator uint64_t() const { return load(); }  // NOLINT: reads like the plain count it replaced

 private:
  std::atomic<uint64_t> v_{0};
};

// A value set from time to time. One writer.
template <typename T>
class Gauge {
 public:
  explicit Gauge(T initial = T{}) : v_(initial) {}
  Gauge(const Gauge& o) : v_(o.load()) {}
  Gauge& operator=(const Gauge& o) {
    v_.store(o.load(), std::memory_order_relaxed);
    return *this;
  }
  void set(T v) { v_.store(v, std::memory_order_relaxed); }
  T load() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<T> v_;
};

// A histogram of seconds with fixed bucket bounds (kBounds; the last bucket is
// +Inf). One writer; Observe costs a short scan over the bounds.
class Histogram {
 public:
  static constexpr std::array<double, 14> kBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                     1,     2.5,  5,     10,   30,  60,   300};
  Histogram() = default;
  Histogram(const Histogram& o) { *this = o; }
  Histogram& operator=(const Histogram& o) {
    for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] = o.buckets_[i];
    sum_micros_ = o.sum_micros_;
    return *this;
  }
  // Observations gathered without touching the shared cells (a batch's
  // rows), added with Add: one store per bucket per batch, not per row.
  struct Local {
    std::array<uint64_t, kBounds.size() + 1> counts{};
    uint64_t sum_micros = 0;
    bool any = false;
    void Observe(double seconds, uint64_t n = 1) {
      if (!(seconds >= 0)) seconds = 0;  // a clock step back, or NaN
      size_t b = 0;
      while (b < kBounds.size() && seconds > kBounds[b]) ++b;
      counts[b] += n;
      sum_micros += static_cast<uint64_t>(seconds * 1e6) * n;
      any = true;
    }
  };
  // `n` observations of `seconds`.
  void Observe(double seconds, uint64_t n = 1) {
    Local local;
    local.Observe(seconds, n);
    Add(local);
  }
  void Add(const Local& local) {
    if (!local.any) return;
    for (size_t b = 0; b < buckets_.size(); ++b)
      if (local.counts[b] != 0) buckets_[b] += local.counts[b];
    sum_micros_ += local.sum_micros;
  }
  // Count in bucket b alone (not cumulative); b == kBounds.size() is +Inf.
  uint64_t bucket(size_t b) const { return buckets_[b]; }
  uint64_t count() const {
    uint64_t n = 0;
    for (const auto& c : buckets_) n += c;
    return n;
  }
  double sum() const { return static_cast<double>(sum_micros_.load()) / 1e6; }

 private:
  std::array<Counter, kBounds.size() + 1> buckets_;
  Counter sum_micros_;
};

// No watermark yet, for a Gauge<int64_t> that holds one.
inline constexpr int64_t kNoWatermark = std::numeric_limits<int64_t>::min();

// A watermark worth showing: set, and not the end of time of a finished input.
inline bool FiniteWatermark(int64_t ms) {
  return ms > std::numeric_limits<int64_t>::min() / 2 && ms < std::numeric_limits<int64_t>::max() / 2;
}

}  // namespace streamrun::metrics
