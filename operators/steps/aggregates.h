#pragma once
// The aggregate functions of a window (docs/time-and-windows.md): count(), count(x), sum,
// min, max, avg, count_distinct, first, last, collect. Every function but
// count() ignores null values. An accumulator owns its strings, so it outlives
// the batches that fed it.
#include <cstdint>
#include <memory>
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
// Writes a value as StoredValue::Save does (its kind, then what the kind
// holds); StoredValue::Load reads it back.
void SaveValue(const Value& v, SnapshotWriter& w);

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
  // Checkpoints: Save writes format 3; Load reads format 3 or 2 (worker_state.h).
  void Save(SnapshotWriter& w) const;
  void Load(SnapshotReader& r, int format = 3);

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

// One aggregate of one open window: windows keep one per aggregate per open
// (key, window), so it is small (24 bytes). The kind, 8 inline bytes (the count,
// or a min/max/first/last value that is not text) and, only for what does not
// fit there, one heap object of the kind's own type (see aggregates.cc).
class Accumulator {
 public:
  explicit Accumulator(AggregateKind kind) : kind_(kind) {}
  Accumulator(const Accumulator& o);
  Accumulator& operator=(const Accumulator& o);
  Accumulator(Accumulator&&) noexcept = default;
  Accumulator& operator=(Accumulator&&) noexcept = default;
  ~Accumulator() = default;

  // Adds one record's value; `order` places it among records of equal event
  // time for first, last and collect (RecordOrder, batch.h).
  // False with a reason for a value the function cannot take (sum of a string...).
  bool Add(const Value& v, const RecordOrder& order, std::string* error);
  // Folds `other` (a merged session window's accumulator) into this one.
  bool Merge(const Accumulator& other, std::string* error);
  // The current result; strings are copied into `arena`.
  Value Result(Arena& arena) const;
  // Checkpoints: everything but the kind, which the window's config gives.
  // Save writes format 3 (what the kind uses); Load reads format 3 or 2.
  void Save(SnapshotWriter& w) const;
  void Load(SnapshotReader& r, int format = 3);

 private:
  // What a kind keeps on the heap: a Heap<T>, T of the kind's own type
  // (aggregates.cc), made when first needed.
  struct HeapState {
    virtual ~HeapState() = default;
    virtual std::unique_ptr<HeapState> Clone() const = 0;
  };
  template <class T>
  struct Heap;
  template <class T>
  const T* heap() const;  // null if not made yet
  template <class T>
  T& heap_or_new();
  // min, max, first, last: the value held.
  Value HeldValue() const;
  void Hold(const Value& v);

  AggregateKind kind_;
  // min, max, first, last: the kind of the value held (null: none yet).
  Kind value_kind_ = Kind::kNull;
  union Inline {
    int64_t count;  // count(), count(x), sum, avg
    bool b;         // min, max, first, last: a value that is not text
    int64_t i;
    double f;
  } inline_ = {0};
  std::unique_ptr<HeapState> heap_;
};

}  // namespace streamrun
