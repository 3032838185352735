#include "operators/steps/aggregates.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <unordered_set>
#include <utility>

#include "runner/record/json_writer.h"
#include "runner/record/value_key.h"

namespace streamrun {

const std::vector<std::string>& AggregateNames() {
  static const std::vector<std::string> kNames = {"count",          "sum",   "min",  "max",    "avg",
                                                  "count_distinct", "first", "last", "collect"};
  return kNames;
}

bool ParseAggregateKind(std::string_view name, bool has_argument, AggregateKind* kind) {
  if (name == "count")
    *kind = has_argument ? AggregateKind::kCount : AggregateKind::kCountAll;
  else if (name == "sum")
    *kind = AggregateKind::kSum;
  else if (name == "min")
    *kind = AggregateKind::kMin;
  else if (name == "max")
    *kind = AggregateKind::kMax;
  else if (name == "avg")
    *kind = AggregateKind::kAvg;
  else if (name == "count_distinct")
    *kind = AggregateKind::kCountDistinct;
  else if (name == "first")
    *kind = AggregateKind::kFirst;
  else if (name == "last")
    *kind = AggregateKind::kLast;
  else if (name == "collect")
    *kind = AggregateKind::kCollect;
  else
    return false;
  return true;
}

void StoredValue::Set(const Value& v) {
  kind_ = v.kind;
  switch (v.kind) {
    case Kind::kBool:
      b_ = v.b;
      break;
    case Kind::kInt:
      i_ = v.i;
      break;
    case Kind::kFloat:
      f_ = v.f;
      break;
    case Kind::kString:
    case Kind::kList:
    case Kind::kObject:
      text_.assign(v.text());
      break;
    case Kind::kNull:
      break;
  }
}

// A value as StoredValue saves it; the accumulator saves its value the same way.
void SaveValue(const Value& v, SnapshotWriter& w) {
  w.U64(static_cast<uint64_t>(v.kind));
  switch (v.kind) {
    case Kind::kNull:
      break;
    case Kind::kBool:
      w.Bool(v.b);
      break;
    case Kind::kInt:
      w.I64(v.i);
      break;
    case Kind::kFloat:
      w.F64(v.f);
      break;
    case Kind::kString:
    case Kind::kList:
    case Kind::kObject:
      w.Str(v.text());
      break;
  }
}

namespace {}  // namespace

void StoredValue::Save(SnapshotWriter& w) const { SaveValue(Get(), w); }

void StoredValue::Load(SnapshotReader& r) {
  const uint64_t kind = r.U64();
  if (kind > static_cast<uint64_t>(Kind::kObject)) throw SnapshotError("state snapshot: bad value kind");
  kind_ = static_cast<Kind>(kind);
  text_.clear();
  switch (kind_) {
    case Kind::kNull:
      break;
    case Kind::kBool:
      b_ = r.Bool();
      break;
    case Kind::kInt:
      i_ = r.I64();
      break;
    case Kind::kFloat:
      f_ = r.F64();
      break;
    case Kind::kString:
    case Kind::kList:
    case Kind::kObject:
      text_.assign(r.Str());
      break;
  }
}

namespace {

void SaveOrder(const RecordOrder& o, SnapshotWriter& w) {
  w.I64(o.time);
  w.I64(o.source);
  w.I64(o.topic);
  w.I64(o.partition);
  w.I64(o.offset);
  w.U64(o.key_hash);
  w.U64(o.arrival);
}

RecordOrder LoadOrder(SnapshotReader& r) {
  RecordOrder o;
  o.time = r.I64();
  o.source = static_cast<int32_t>(r.I64());
  o.topic = static_cast<int32_t>(r.I64());
  o.partition = static_cast<int32_t>(r.I64());
  o.offset = r.I64();
  o.key_hash = r.U64();
  o.arrival = r.U64();
  return o;
}

}  // namespace

Value StoredValue::Get() const {
  switch (kind_) {
    case Kind::kNull:
      return Value::Null();
    case Kind::kBool:
      return Value::Bool(b_);
    case Kind::kInt:
      return Value::Int(i_);
    case Kind::kFloat:
      return Value::Float(f_);
    case Kind::kString:
      return Value::String(text_);
    case Kind::kList:
      return Value::List(text_);
    case Kind::kObject:
      return Value::Object(text_);
  }
  return Value::Null();
}

namespace {

// -1, 0, 1; false if the two cannot be ordered (min/max over mixed types).
bool Compare(const Value& a, const Value& b, int* out) {
  if (a.is_number() && b.is_number()) {
    // NaN orders with nothing: it neither replaces a min/max nor is replaced
    // by a number after it (as `x < NaN` and `x > NaN` are both false).
    const int c = CompareNumbers(a, b);
    *out = c == 2 ? 0 : c;
    return true;
  }
  if (a.kind != b.kind) return false;
  if (a.kind == Kind::kString) {
    int c = a.text().compare(b.text());
    *out = c < 0 ? -1 : c > 0 ? 1 : 0;
    return true;
  }
  if (a.kind == Kind::kBool) {
    *out = a.b == b.b ? 0 : (a.b ? 1 : -1);
    return true;
  }
  return false;
}

// Distinct identity: 3 and 3.0 are the same value.
std::string DistinctKey(const Value& v) {
  std::string s;
  AppendValueKey(v, &s);
  return s;
}

}  // namespace

// ---- ExactSum ------------------------------------------------------------------

namespace {

constexpr int kMaxScale = 18;
constexpr int kMaxDigits = 18;

__int128 Pow10(int n) {
  __int128 r = 1;
  while (n-- > 0) r *= 10;
  return r;
}
// |decimal sums| stay below 10^36, far from the 1.7e38 an __int128 holds.
const __int128 kDecimalLimit = Pow10(36);

// A double's shortest round-trip decimal text as mantissa × 10^-scale. False
// if it needs more than kMaxDigits significant digits or a scale outside
// 0..kMaxScale, or is not finite.
bool DecimalOf(double d, __int128* mantissa, int* scale) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  if (ec != std::errc()) return false;
  const char* p = buf;
  bool negative = false;
  if (p < end && *p == '-') {
    negative = true;
    ++p;
  }
  __int128 m = 0;
  int digits = 0, fraction = 0;
  bool point = false, any = false;
  for (; p < end && *p != 'e'; ++p) {
    if (*p == '.') {
      point = true;
      continue;
    }
    if (*p < '0' || *p > '9') return false;  // inf, nan
    any = true;
    if (m != 0 || *p != '0') ++digits;
    m = m * 10 + (*p - '0');
    if (point) ++fraction;
    if (digits > kMaxDigits) return false;
  }
  if (!any) return false;
  int exponent = 0;
  if (p < end && *p == 'e') {
    auto r = std::from_chars(p + 1 + (p[1] == '+'), end, exponent);
    if (r.ec != std::errc()) return false;
  }
  int s = fraction - exponent;
  if (s < 0) {
    if (s < -kMaxScale * 2) return false;
    m *= Pow10(-s);
    s = 0;
  }
  if (s > kMaxScale || m >= kDecimalLimit) return false;
  *mantissa = negative ? -m : m;
  *scale = s;
  return true;
}

// The decimal `m` × 10^-scale as the nearest double (parsed from its text, so
// it is correctly rounded and prints back as that decimal when it can).
double DecimalToDouble(__int128 m, int scale) {
  char digits[64];
  int n = 0;
  const bool negative = m < 0;
  unsigned __int128 u = negative ? static_cast<unsigned __int128>(-m) : static_cast<unsigned __int128>(m);
  do {
    digits[n++] = static_cast<char>('0' + static_cast<int>(u % 10));
    u /= 10;
  } while (u != 0);
  std::string text = negative ? "-" : "";
  for (int i = n - 1; i >= 0; --i) text.push_back(digits[i]);
  text += "e-" + std::to_string(scale);
  double d = 0;
  std::from_chars(text.data(), text.data() + text.size(), d);
  return d;
}

}  // namespace

void ExactSum::ToDouble() {
  if (mode_ == Mode::kInt) double_ = static_cast<double>(int_);
  if (mode_ == Mode::kDecimal) double_ = DecimalToDouble(decimal_, scale_);
  mode_ = Mode::kDouble;
}

bool ExactSum::AddDecimal(__int128 m, int scale) {
  if (mode_ == Mode::kInt) {
    mode_ = Mode::kDecimal;
    decimal_ = int_;
    scale_ = 0;
  }
  if (scale > scale_) {
    const __int128 f = Pow10(scale - scale_);
    if (decimal_ >= kDecimalLimit / f || decimal_ <= -kDecimalLimit / f) return false;
    decimal_ *= f;
    scale_ = scale;
  } else if (scale < scale_) {
    m *= Pow10(scale_ - scale);  // |m| < 10^18 before: fits
  }
  const __int128 sum = decimal_ + m;
  if (sum >= kDecimalLimit || sum <= -kDecimalLimit) return false;
  decimal_ = sum;
  return true;
}

bool ExactSum::Add(const Value& v, std::string* error) {
  if (!v.is_number()) {
    *error = "cannot sum " + std::string(KindName(v.kind));
    return false;
  }
  any_ = true;
  if (mode_ == Mode::kDouble) {
    double_ += v.as_double();
    return true;
  }
  if (v.kind == Kind::kInt && mode_ == Mode::kInt) {
    int64_t sum = 0;
    if (__builtin_add_overflow(int_, v.i, &sum)) {  // the failed record leaves the sum as it was
      *error = "the sum overflows a 64-bit integer";
      return false;
    }
    int_ = sum;
    return true;
  }
  __int128 m = v.kind == Kind::kInt ? v.i : 0;
  int scale = 0;
  if ((v.kind == Kind::kInt || DecimalOf(v.f, &m, &scale)) && AddDecimal(m, scale)) return true;
  ToDouble();
  double_ += v.as_double();
  return true;
}

bool ExactSum::Merge(const ExactSum& o, std::string* error) {
  if (!o.any_) return true;
  switch (o.mode_) {
    case Mode::kInt:
      return Add(Value::Int(o.int_), error);
    case Mode::kDecimal:
      any_ = true;
      if (mode_ != Mode::kDouble && AddDecimal(o.decimal_, o.scale_)) return true;
      ToDouble();
      double_ += DecimalToDouble(o.decimal_, o.scale_);
      return true;
    case Mode::kDouble:
      any_ = true;
      ToDouble();
      double_ += o.double_;
      return true;
  }
  return true;
}

double ExactSum::AsDouble() const {
  switch (mode_) {
    case Mode::kInt:
      return static_cast<double>(int_);
    case Mode::kDecimal:
      return DecimalToDouble(decimal_, scale_);
    case Mode::kDouble:
      return double_;
  }
  return 0;
}

Value ExactSum::Result() const { return mode_ == Mode::kInt ? Value::Int(int_) : Value::Float(AsDouble()); }

// Format 3: the mode (with `any` in bit 2), then only what the mode uses.
void ExactSum::Save(SnapshotWriter& w) const {
  w.U64(static_cast<uint64_t>(mode_) | (any_ ? 4 : 0));
  switch (mode_) {
    case Mode::kInt:
      w.I64(int_);
      break;
    case Mode::kDecimal:
      w.U64(static_cast<uint64_t>(static_cast<unsigned __int128>(decimal_) >> 64));
      w.U64(static_cast<uint64_t>(static_cast<unsigned __int128>(decimal_)));
      w.U64(static_cast<uint64_t>(scale_));
      break;
    case Mode::kDouble:
      w.F64(double_);
      break;
  }
}

void ExactSum::Load(SnapshotReader& r, int format) {
  *this = ExactSum();
  uint64_t mode = r.U64();
  if (format >= 3) {
    any_ = (mode & 4) != 0;
    mode &= 3;
  }
  if (mode > static_cast<uint64_t>(Mode::kDouble)) throw SnapshotError("state snapshot: bad sum mode");
  mode_ = static_cast<Mode>(mode);
  int64_t scale = 0;
  auto decimal = [&] {
    const unsigned __int128 high = r.U64();
    decimal_ = static_cast<__int128>(high << 64 | r.U64());
  };
  if (format < 3) {  // format 2: every field, whatever the mode
    any_ = r.Bool();
    int_ = r.I64();
    decimal();
    scale = r.I64();
    double_ = r.F64();
  } else if (mode_ == Mode::kInt) {
    int_ = r.I64();
  } else if (mode_ == Mode::kDecimal) {
    decimal();
    scale = static_cast<int64_t>(r.U64());
  } else {
    double_ = r.F64();
  }
  if (scale < 0 || scale > kMaxScale || decimal_ >= kDecimalLimit || decimal_ <= -kDecimalLimit)
    throw SnapshotError("state snapshot: bad decimal sum");
  scale_ = static_cast<int>(scale);
}

// ---- Accumulator ----------------------------------------------------------------

namespace {

// The heap state of each kind (the only types heap<T>() is asked for):
//   sum, avg                  ExactSum (the count is inline)
//   min, max, first, last     Held, for text values and first/last's order
//   count_distinct            Distinct
//   collect                   Collected
// count() and count(x) have none.
struct Held {
  std::string text;   // a string, list or object value
  RecordOrder order;  // first, last: where the value stands
};
using Distinct = std::unordered_set<std::string>;
// Each value's JSON text, in RecordOrder.
using Collected = std::vector<std::pair<RecordOrder, std::string>>;

bool IsText(Kind k) { return k == Kind::kString || k == Kind::kList || k == Kind::kObject; }

// `*state`, or an empty T if the state was not made yet.
template <class T>
const T& OrEmpty(const T* state) {
  static const T kEmpty;
  return state ? *state : kEmpty;
}

}  // namespace

template <class T>
struct Accumulator::Heap final : HeapState {
  explicit Heap(T d) : data(std::move(d)) {}
  std::unique_ptr<HeapState> Clone() const override { return std::make_unique<Heap>(data); }
  T data;
};

// The kind says which T the heap state is (the table above), so the casts
// below are to the state's real type.
template <class T>
const T* Accumulator::heap() const {
  return heap_ ? &static_cast<const Heap<T>*>(heap_.get())->data : nullptr;
}

template <class T>
T& Accumulator::heap_or_new() {
  if (!heap_) heap_ = std::make_unique<Heap<T>>(T());
  return static_cast<Heap<T>*>(heap_.get())->data;
}

Accumulator::Accumulator(const Accumulator& o)
    : kind_(o.kind_),
      value_kind_(o.value_kind_),
      inline_(o.inline_),
      heap_(o.heap_ ? o.heap_->Clone() : nullptr) {}

Accumulator& Accumulator::operator=(const Accumulator& o) {
  if (this != &o) *this = Accumulator(o);
  return *this;
}

Value Accumulator::HeldValue() const {
  switch (value_kind_) {
    case Kind::kNull:
      return Value::Null();
    case Kind::kBool:
      return Value::Bool(inline_.b);
    case Kind::kInt:
      return Value::Int(inline_.i);
    case Kind::kFloat:
      return Value::Float(inline_.f);
    case Kind::kString:
      return Value::String(heap<Held>()->text);
    case Kind::kList:
      return Value::List(heap<Held>()->text);
    case Kind::kObject:
      return Value::Object(heap<Held>()->text);
  }
  return Value::Null();
}

void Accumulator::Hold(const Value& v) {
  value_kind_ = v.kind;
  switch (v.kind) {
    case Kind::kNull:
      break;
    case Kind::kBool:
      inline_.b = v.b;
      break;
    case Kind::kInt:
      inline_.i = v.i;
      break;
    case Kind::kFloat:
      inline_.f = v.f;
      break;
    case Kind::kString:
    case Kind::kList:
    case Kind::kObject:
      heap_or_new<Held>().text.assign(v.text());
      break;
  }
}

bool Accumulator::Add(const Value& v, const RecordOrder& order, std::string* error) {
  if (kind_ == AggregateKind::kCountAll) {
    ++inline_.count;
    return true;
  }
  if (v.is_null()) return true;
  switch (kind_) {
    case AggregateKind::kCountAll:
    case AggregateKind::kCount:
      ++inline_.count;
      return true;
    case AggregateKind::kSum:
    case AggregateKind::kAvg:
      if (!heap_or_new<ExactSum>().Add(v, error)) {
        if (kind_ == AggregateKind::kAvg && !v.is_number())
          *error = "cannot average " + std::string(KindName(v.kind));
        return false;
      }
      ++inline_.count;
      return true;
    case AggregateKind::kMin:
    case AggregateKind::kMax: {
      if (value_kind_ == Kind::kNull) {
        Hold(v);
        return true;
      }
      int c;
      const Value current = HeldValue();
      if (!Compare(v, current, &c)) {
        *error = std::string(kind_ == AggregateKind::kMin ? "min" : "max") + " cannot compare " +
                 std::string(KindName(v.kind)) + " with " + std::string(KindName(current.kind));
        return false;
      }
      // Equal numbers of two kinds (3 and 3.0): the integer, whichever came first.
      if ((kind_ == AggregateKind::kMin && c < 0) || (kind_ == AggregateKind::kMax && c > 0) ||
          (c == 0 && v.kind == Kind::kInt && current.kind == Kind::kFloat))
        Hold(v);
      return true;
    }
    case AggregateKind::kFirst:
    case AggregateKind::kLast: {
      // A first or last value always has its Held (for the order).
      const bool replaces =
          value_kind_ == Kind::kNull ||
          (kind_ == AggregateKind::kFirst ? order < heap<Held>()->order : heap<Held>()->order < order);
      if (replaces) {
        Hold(v);
        heap_or_new<Held>().order = order;
      }
      return true;
    }
    case AggregateKind::kCountDistinct:
      heap_or_new<Distinct>().insert(DistinctKey(v));
      return true;
    case AggregateKind::kCollect: {
      std::string text;
      AppendJsonValue(v, &text);
      // Usually the latest: insert from the back.
      Collected& collected = heap_or_new<Collected>();
      auto it = collected.end();
      while (it != collected.begin() && order < std::prev(it)->first) --it;
      collected.emplace(it, order, std::move(text));
      return true;
    }
  }
  return true;
}

bool Accumulator::Merge(const Accumulator& o, std::string* error) {
  switch (kind_) {
    case AggregateKind::kCountAll:
    case AggregateKind::kCount:
      inline_.count += o.inline_.count;
      return true;
    case AggregateKind::kSum:
    case AggregateKind::kAvg:
      inline_.count += o.inline_.count;
      if (const ExactSum* sum = o.heap<ExactSum>()) return heap_or_new<ExactSum>().Merge(*sum, error);
      return true;
    case AggregateKind::kMin:
    case AggregateKind::kMax:
      if (o.value_kind_ == Kind::kNull) return true;
      return Add(o.HeldValue(), RecordOrder{}, error);
    case AggregateKind::kFirst:
    case AggregateKind::kLast: {
      if (o.value_kind_ == Kind::kNull) return true;
      const RecordOrder& theirs = o.heap<Held>()->order;
      const bool replaces =
          value_kind_ == Kind::kNull ||
          (kind_ == AggregateKind::kFirst ? theirs < heap<Held>()->order : heap<Held>()->order < theirs);
      if (replaces) {
        Hold(o.HeldValue());
        heap_or_new<Held>().order = theirs;
      }
      return true;
    }
    case AggregateKind::kCountDistinct:
      if (const Distinct* theirs = o.heap<Distinct>())
        heap_or_new<Distinct>().insert(theirs->begin(), theirs->end());
      return true;
    case AggregateKind::kCollect: {
      const Collected* theirs = o.heap<Collected>();
      if (!theirs) return true;
      Collected& collected = heap_or_new<Collected>();
      const size_t middle = collected.size();
      collected.insert(collected.end(), theirs->begin(), theirs->end());
      std::inplace_merge(collected.begin(), collected.begin() + static_cast<std::ptrdiff_t>(middle),
                         collected.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      return true;
    }
  }
  return true;
}

Value Accumulator::Result(Arena& arena) const {
  switch (kind_) {
    case AggregateKind::kCountAll:
    case AggregateKind::kCount:
      return Value::Int(inline_.count);
    case AggregateKind::kSum:
    case AggregateKind::kAvg: {
      if (inline_.count == 0) return Value::Null();
      const ExactSum& sum = OrEmpty(heap<ExactSum>());
      if (kind_ == AggregateKind::kSum) return sum.Result();
      return Value::Float(sum.AsDouble() / static_cast<double>(inline_.count));
    }
    case AggregateKind::kMin:
    case AggregateKind::kMax:
    case AggregateKind::kFirst:
    case AggregateKind::kLast: {
      Value v = HeldValue();
      if (IsText(v.kind)) {
        std::string_view copy = arena.Copy(v.text());
        v.str = copy.data();
      }
      return v;
    }
    case AggregateKind::kCountDistinct:
      return Value::Int(static_cast<int64_t>(OrEmpty(heap<Distinct>()).size()));
    case AggregateKind::kCollect: {
      const Collected& collected = OrEmpty(heap<Collected>());
      size_t size = 2;
      for (const auto& item : collected) size += item.second.size() + 1;
      char* p = arena.Allocate(size);
      size_t n = 0;
      p[n++] = '[';
      for (size_t i = 0; i < collected.size(); ++i) {
        if (i > 0) p[n++] = ',';
        std::memcpy(p + n, collected[i].second.data(), collected[i].second.size());
        n += collected[i].second.size();
      }
      p[n++] = ']';
      return Value::List(std::string_view(p, n));
    }
  }
  return Value::Null();
}

// Format 3 saves what the kind uses: count(), count(x): the count; sum, avg:
// the count and the sum; min, max: the value; first, last: the value
// and its order; count_distinct: the distinct keys, sorted; collect: the
// values with their orders.
void Accumulator::Save(SnapshotWriter& w) const {
  switch (kind_) {
    case AggregateKind::kCountAll:
    case AggregateKind::kCount:
      w.I64(inline_.count);
      return;
    case AggregateKind::kSum:
    case AggregateKind::kAvg:
      w.I64(inline_.count);
      OrEmpty(heap<ExactSum>()).Save(w);
      return;
    case AggregateKind::kMin:
    case AggregateKind::kMax:
      SaveValue(HeldValue(), w);
      return;
    case AggregateKind::kFirst:
    case AggregateKind::kLast:
      SaveValue(HeldValue(), w);
      if (value_kind_ != Kind::kNull) SaveOrder(heap<Held>()->order, w);
      return;
    case AggregateKind::kCountDistinct: {
      const Distinct& distinct = OrEmpty(heap<Distinct>());
      std::vector<const std::string*> sorted;
      sorted.reserve(distinct.size());
      for (const auto& d : distinct) sorted.push_back(&d);
      std::sort(sorted.begin(), sorted.end(),
                [](const std::string* a, const std::string* b) { return *a < *b; });
      w.U64(sorted.size());
      for (const std::string* d : sorted) w.Str(*d);
      return;
    }
    case AggregateKind::kCollect: {
      const Collected& collected = OrEmpty(heap<Collected>());
      w.U64(collected.size());
      for (const auto& [order, text] : collected) {
        SaveOrder(order, w);
        w.Str(text);
      }
      return;
    }
  }
}

// Format 2 (the accumulator before this one had a field for every kind and
// saved them all: count, sum, value, order, distinct values, collected
// values) is read, and what the kind does not use is dropped.
void Accumulator::Load(SnapshotReader& r, int format) {
  int64_t count = 0;
  ExactSum sum;
  StoredValue value;
  RecordOrder order;
  Distinct distinct;
  Collected collected;
  auto load_collected = [&] {
    for (uint64_t n = r.Count(); n > 0; --n) {
      RecordOrder item_order = LoadOrder(r);
      collected.emplace_back(item_order, std::string(r.Str()));
    }
  };
  if (format < 3) {
    count = r.I64();
    sum.Load(r, format);
    value.Load(r);
    order = LoadOrder(r);
    for (uint64_t n = r.Count(); n > 0; --n) distinct.emplace(r.Str());
    load_collected();
  } else {
    switch (kind_) {
      case AggregateKind::kCountAll:
      case AggregateKind::kCount:
        count = r.I64();
        break;
      case AggregateKind::kSum:
      case AggregateKind::kAvg:
        count = r.I64();
        sum.Load(r, format);
        break;
      case AggregateKind::kMin:
      case AggregateKind::kMax:
        value.Load(r);
        break;
      case AggregateKind::kFirst:
      case AggregateKind::kLast:
        value.Load(r);
        if (!value.is_null()) order = LoadOrder(r);
        break;
      case AggregateKind::kCountDistinct:
        for (uint64_t n = r.Count(); n > 0; --n) distinct.emplace(r.Str());
        break;
      case AggregateKind::kCollect:
        load_collected();
        break;
    }
  }

  *this = Accumulator(kind_);
  switch (kind_) {
    case AggregateKind::kCountAll:
    case AggregateKind::kCount:
      inline_.count = count;
      break;
    case AggregateKind::kSum:
    case AggregateKind::kAvg:
      inline_.count = count;
      if (!sum.empty()) heap_ = std::make_unique<Heap<ExactSum>>(sum);  // else it stays unmade, as in Add
      break;
    case AggregateKind::kMin:
    case AggregateKind::kMax:
      Hold(value.Get());
      break;
    case AggregateKind::kFirst:
    case AggregateKind::kLast:
      if (value.is_null()) break;
      Hold(value.Get());
      heap_or_new<Held>().order = order;
      break;
    case AggregateKind::kCountDistinct:
      if (!distinct.empty()) heap_ = std::make_unique<Heap<Distinct>>(std::move(distinct));
      break;
    case AggregateKind::kCollect:
      if (!collected.empty()) heap_ = std::make_unique<Heap<Collected>>(std::move(collected));
      break;
  }
}

}  // namespace streamrun
