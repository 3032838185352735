#include "operators/steps/aggregates.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

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

void StoredValue::Save(SnapshotWriter& w) const {
  w.U64(static_cast<uint64_t>(kind_));
  switch (kind_) {
    case Kind::kNull:
      break;
    case Kind::kBool:
      w.Bool(b_);
      break;
    case Kind::kInt:
      w.I64(i_);
      break;
    case Kind::kFloat:
      w.F64(f_);
      break;
    case Kind::kString:
    case Kind::kList:
    case Kind::kObject:
      w.Str(text_);
      break;
  }
}

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

void Accumulator::Save(SnapshotWriter& w) const {
  w.I64(count_);
  sum_.Save(w);
  value_.Save(w);
  SaveOrder(value_order_, w);
  w.U64(distinct_.size());
  for (const auto& d : distinct_) w.Str(d);
  w.U64(collected_.size());
  for (const auto& [order, text] : collected_) {
    SaveOrder(order, w);
    w.Str(text);
  }
}

void Accumulator::Load(SnapshotReader& r) {
  count_ = r.I64();
  sum_.Load(r);
  value_.Load(r);
  value_order_ = LoadOrder(r);
  distinct_.clear();
  for (uint64_t n = r.U64(); n > 0; --n) distinct_.emplace(r.Str());
  collected_.clear();
  for (uint64_t n = r.U64(); n > 0; --n) {
    RecordOrder order = LoadOrder(r);
    collected_.emplace_back(order, std::string(r.Str()));
  }
}

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

void ExactSum::Save(SnapshotWriter& w) const {
  w.U64(static_cast<uint64_t>(mode_));
  w.Bool(any_);
  w.I64(int_);
  w.U64(static_cast<uint64_t>(static_cast<unsigned __int128>(decimal_) >> 64));
  w.U64(static_cast<uint64_t>(static_cast<unsigned __int128>(decimal_)));
  w.I64(scale_);
  w.F64(double_);
}

void ExactSum::Load(SnapshotReader& r) {
  const uint64_t mode = r.U64();
  if (mode > static_cast<uint64_t>(Mode::kDouble)) throw SnapshotError("state snapshot: bad sum mode");
  mode_ = static_cast<Mode>(mode);
  any_ = r.Bool();
  int_ = r.I64();
  const unsigned __int128 high = r.U64();
  decimal_ = static_cast<__int128>(high << 64 | r.U64());
  const int64_t scale = r.I64();
  if (scale < 0 || scale > kMaxScale || decimal_ >= kDecimalLimit || decimal_ <= -kDecimalLimit)
    throw SnapshotError("state snapshot: bad decimal sum");
  scale_ = static_cast<int>(scale);
  double_ = r.F64();
}

// ---- Accumulator ----------------------------------------------------------------

bool Accumulator::Add(const Value& v, const RecordOrder& order, std::string* error) {
  if (kind_ == AggregateKind::kCountAll) {
    ++count_;
    return true;
  }
  if (v.is_null()) return true;
  switch (kind_) {
    case AggregateKind::kCountAll:
    case AggregateKind::kCount:
      ++count_;
      return true;
    case AggregateKind::kSum:
    case AggregateKind::kAvg:
      if (!sum_.Add(v, error)) {
        if (kind_ == AggregateKind::kAvg && !v.is_number())
          *error = "cannot average " + std::string(KindName(v.kind));
        return false;
      }
      ++count_;
      return true;
    case AggregateKind::kMin:
    case AggregateKind::kMax: {
      if (value_.is_null()) {
        value_.Set(v);
        return true;
      }
      int c;
      Value current = value_.Get();
      if (!Compare(v, current, &c)) {
        *error = std::string(kind_ == AggregateKind::kMin ? "min" : "max") + " cannot compare " +
                 std::string(KindName(v.kind)) + " with " + std::string(KindName(current.kind));
        return false;
      }
      // Equal numbers of two kinds (3 and 3.0): the integer, whichever came first.
      if ((kind_ == AggregateKind::kMin && c < 0) || (kind_ == AggregateKind::kMax && c > 0) ||
          (c == 0 && v.kind == Kind::kInt && current.kind == Kind::kFloat))
        value_.Set(v);
      return true;
    }
    case AggregateKind::kFirst:
      if (value_.is_null() || order < value_order_) {
        value_.Set(v);
        value_order_ = order;
      }
      return true;
    case AggregateKind::kLast:
      if (value_.is_null() || value_order_ < order) {
        value_.Set(v);
        value_order_ = order;
      }
      return true;
    case AggregateKind::kCountDistinct:
      distinct_.insert(DistinctKey(v));
      return true;
    case AggregateKind::kCollect: {
      std::string text;
      AppendJsonValue(v, &text);
      // Usually the latest: insert from the back.
      auto it = collected_.end();
      while (it != collected_.begin() && order < std::prev(it)->first) --it;
      collected_.emplace(it, order, std::move(text));
      return true;
    }
  }
  return true;
}

bool Accumulator::Merge(const Accumulator& o, std::string* error) {
  switch (kind_) {
    case AggregateKind::kCountAll:
    case AggregateKind::kCount:
      count_ += o.count_;
      return true;
    case AggregateKind::kSum:
    case AggregateKind::kAvg:
      count_ += o.count_;
      return sum_.Merge(o.sum_, error);
    case AggregateKind::kMin:
    case AggregateKind::kMax:
      if (o.value_.is_null()) return true;
      return Add(o.value_.Get(), RecordOrder{}, error);
    case AggregateKind::kFirst:
      if (o.value_.is_null()) return true;
      if (value_.is_null() || o.value_order_ < value_order_) {
        value_ = o.value_;
        value_order_ = o.value_order_;
      }
      return true;
    case AggregateKind::kLast:
      if (o.value_.is_null()) return true;
      if (value_.is_null() || value_order_ < o.value_order_) {
        value_ = o.value_;
        value_order_ = o.value_order_;
      }
      return true;
    case AggregateKind::kCountDistinct:
      distinct_.insert(o.distinct_.begin(), o.distinct_.end());
      return true;
    case AggregateKind::kCollect: {
      const size_t middle = collected_.size();
      collected_.insert(collected_.end(), o.collected_.begin(), o.collected_.end());
      std::inplace_merge(collected_.begin(), collected_.begin() + static_cast<std::ptrdiff_t>(middle),
                         collected_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      return true;
    }
  }
  return true;
}

Value Accumulator::Result(Arena& arena) const {
  switch (kind_) {
    case AggregateKind::kCountAll:
    case AggregateKind::kCount:
      return Value::Int(count_);
    case AggregateKind::kSum:
      if (count_ == 0) return Value::Null();
      return sum_.Result();
    case AggregateKind::kAvg:
      if (count_ == 0) return Value::Null();
      return Value::Float(sum_.AsDouble() / static_cast<double>(count_));
    case AggregateKind::kMin:
    case AggregateKind::kMax:
    case AggregateKind::kFirst:
    case AggregateKind::kLast: {
      Value v = value_.Get();
      if (v.kind == Kind::kString || v.kind == Kind::kList || v.kind == Kind::kObject) {
        std::string_view copy = arena.Copy(v.text());
        v.str = copy.data();
      }
      return v;
    }
    case AggregateKind::kCountDistinct:
      return Value::Int(static_cast<int64_t>(distinct_.size()));
    case AggregateKind::kCollect: {
      size_t size = 2;
      for (const auto& item : collected_) size += item.second.size() + 1;
      char* p = arena.Allocate(size);
      size_t n = 0;
      p[n++] = '[';
      for (size_t i = 0; i < collected_.size(); ++i) {
        if (i > 0) p[n++] = ',';
        std::memcpy(p + n, collected_[i].second.data(), collected_[i].second.size());
        n += collected_[i].second.size();
      }
      p[n++] = ']';
      return Value::List(std::string_view(p, n));
    }
  }
  return Value::Null();
}

}  // namespace streamrun
