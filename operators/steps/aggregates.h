#pragma once
// The aggregate functions of a window (docs/time-and-windows.md): count(), count(x), sum,
// min, max, avg, count_distinct, first, last, collect. Every function but
// count() ignores null values. An accumulator owns its strings, so it outlives
// the batches that fed it.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "runner/record/arena.h"
#include "runner/record/batch.h"
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

// sum and avg: exact while they can be. Integers add as 64-bit integers (an
// overflow is a record error). A float input whose shortest decimal form has
// at most 18 significant digits (27.08, 1.5e3) adds exactly as a scaled
// integer, so a sum of decimal amounts prints as the decimal a person expects
// and does not depend on the order records came in. Any other float (or a sum
// past 36 digits) turns the sum into a double from then on.
class ExactSum {
 public:
  // False with a reason if the value is not a number or an integer sum overflows.
  bool Add(const Value& v, std::string* error);
  bool Merge(const ExactSum& o, std::string* error);
  bool empty() const { return mode_ == Mode::kInt && int_ == 0 && !any_; }
  Value Result() const;  // an int while every input was one, else a float
  double AsDouble() const;
  void Save(SnapshotWriter& w) const;
  void Load(SnapshotReader& r);

 private:
  enum class Mode : uint8_t { kInt, kDecimal, kDouble };
  void ToDouble();
  bool AddDecimal(__int128 mantissa, int scale);
  Mode mode_ = Mode::kInt;
  bool any_ = false;
  int64_t int_ = 0;
  __int128 decimal_ = 0;  // the sum × 10^scale_
  int scale_ = 0;
  double double_ = 0;
};

class Accumulator {
 public:
  explicit Accumulator(AggregateKind kind) : kind_(kind) {}
  // Adds one record's value; `order` places it among records of equal event
  // time for first, last and collect (RecordOrder, batch.h).
  // False with a reason for a value the function cannot take (sum of a string...).
  bool Add(const Value& v, const RecordOrder& order, std::string* error);
  // Folds `other` (a merged session window's accumulator) into this one.
  bool Merge(const Accumulator& other, std::string* error);
  // The current result; strings are copied into `arena`.
  Value Result(Arena& arena) const;
  // Checkpoints: everything but the kind, which the window's config gives.
  void Save(SnapshotWriter& w) const;
  void Load(SnapshotReader& r);

 private:
  AggregateKind kind_;
  int64_t count_ = 0;
  ExactSum sum_;
  StoredValue value_;        // min, max, first, last
  RecordOrder value_order_;  // first, last: where value_ stands
  std::unordered_set<std::string> distinct_;
  // collect: each value's JSON text, in RecordOrder.
  std::vector<std::pair<RecordOrder, std::string>> collected_;
};

}  // namespace streamrun
