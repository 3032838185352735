#pragma once
// The aggregate functions of a window (SPEC section 4): count(), count(x), sum,
// min, max, avg, count_distinct, first, last, collect. Every function but
// count() ignores null values. An accumulator owns its strings, so it outlives
// the batches that fed it.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "runner/record/arena.h"
#include "runner/record/value.h"
#include "runner/state/snapshot.h"

namespace streamrun {

enum class AggregateKind {
  kCountAll,
  kCount,
  kSum,
  kMin,
  kMax,
  kAvg,
  kCountDistinct,
  kFirst,
  kLast,
  kCollect
};

// Parses a function name; false if unknown.
bool ParseAggregateKind(std::string_view name, bool has_argument, AggregateKind* kind);
const std::vector<std::string>& AggregateNames();

// A value that owns its text.
class StoredValue {
 public:
  void Set(const Value& v);
  Value Get() const;
  bool is_null() const { return kind_ == Kind::kNull; }
  void Save(SnapshotWriter& w) const;
  void Load(SnapshotReader& r);

 private:
  Kind kind_ = Kind::kNull;
  union {
    bool b_;
    int64_t i_;
    double f_;
  };
  std::string text_;
};

class Accumulator {
 public:
  explicit Accumulator(AggregateKind kind) : kind_(kind) {}
  // Adds one record's value (its event time and arrival sequence order first/last).
  // False with a reason for a value the function cannot take (sum of a string...).
  bool Add(const Value& v, int64_t event_time, uint64_t arrival, std::string* error);
  // Folds `other` (a merged session window's accumulator) into this one. `other`
  // covers later event times than this one for collect's order when `other_later`.
  bool Merge(const Accumulator& other, std::string* error);
  // The current result; strings are copied into `arena`.
  Value Result(Arena& arena) const;
  // Checkpoints: everything but the kind, which the window's config gives.
  void Save(SnapshotWriter& w) const;
  void Load(SnapshotReader& r);

 private:
  AggregateKind kind_;
  int64_t count_ = 0;
  bool sum_is_float_ = false;
  int64_t int_sum_ = 0;
  double float_sum_ = 0;
  StoredValue value_;  // min, max, first, last
  int64_t value_time_ = 0;
  uint64_t value_arrival_ = 0;
  std::unordered_set<std::string> distinct_;
  std::string collected_;  // JSON list items, comma separated

  bool AddNumber(const Value& v, std::string* error);
};

}  // namespace streamrun
