#include "operators/steps/aggregates.h"

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

void Accumulator::Save(SnapshotWriter& w) const {
  w.I64(count_);
  w.Bool(sum_is_float_);
  w.I64(int_sum_);
  w.F64(float_sum_);
  value_.Save(w);
  w.I64(value_time_);
  w.U64(value_arrival_);
  w.U64(distinct_.size());
  for (const auto& d : distinct_) w.Str(d);
  w.Str(collected_);
}

void Accumulator::Load(SnapshotReader& r) {
  count_ = r.I64();
  sum_is_float_ = r.Bool();
  int_sum_ = r.I64();
  float_sum_ = r.F64();
  value_.Load(r);
  value_time_ = r.I64();
  value_arrival_ = r.U64();
  distinct_.clear();
  for (uint64_t n = r.U64(); n > 0; --n) distinct_.emplace(r.Str());
  collected_.assign(r.Str());
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
    if (a.kind == Kind::kInt && b.kind == Kind::kInt) {
      *out = a.i < b.i ? -1 : a.i > b.i ? 1 : 0;
    } else {
      double x = a.as_double(), y = b.as_double();
      *out = x < y ? -1 : x > y ? 1 : 0;
    }
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

bool Accumulator::AddNumber(const Value& v, std::string* error) {
  if (!v.is_number()) {
    *error = "cannot sum " + std::string(KindName(v.kind));
    return false;
  }
  if (v.kind == Kind::kInt && !sum_is_float_) {
    int64_t r;
    if (!__builtin_add_overflow(int_sum_, v.i, &r)) {
      int_sum_ = r;
      return true;
    }
    // Past 64 bits the sum goes on as a float.
    sum_is_float_ = true;
    float_sum_ = static_cast<double>(int_sum_);
  }
  if (!sum_is_float_) {
    sum_is_float_ = true;
    float_sum_ = static_cast<double>(int_sum_);
  }
  float_sum_ += v.as_double();
  return true;
}

bool Accumulator::Add(const Value& v, int64_t event_time, uint64_t arrival, std::string* error) {
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
      if (!AddNumber(v, error)) {
        if (kind_ == AggregateKind::kAvg) *error = "cannot average " + std::string(KindName(v.kind));
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
      if ((kind_ == AggregateKind::kMin && c < 0) || (kind_ == AggregateKind::kMax && c > 0)) value_.Set(v);
      return true;
    }
    case AggregateKind::kFirst:
      // Earliest event time; among equal times the earliest arrival.
      if (value_.is_null() || event_time < value_time_) {
        value_.Set(v);
        value_time_ = event_time;
        value_arrival_ = arrival;
      }
      return true;
    case AggregateKind::kLast:
      // Latest event time; among equal times the latest arrival.
      if (value_.is_null() || event_time >= value_time_) {
        value_.Set(v);
        value_time_ = event_time;
        value_arrival_ = arrival;
      }
      return true;
    case AggregateKind::kCountDistinct:
      distinct_.insert(DistinctKey(v));
      return true;
    case AggregateKind::kCollect:
      if (!collected_.empty()) collected_.push_back(',');
      AppendJsonValue(v, &collected_);
      return true;
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
      if (o.sum_is_float_) {
        if (!AddNumber(Value::Float(o.float_sum_), error)) return false;
      } else if (!AddNumber(Value::Int(o.int_sum_), error)) {
        return false;
      }
      return true;
    case AggregateKind::kMin:
    case AggregateKind::kMax:
      if (o.value_.is_null()) return true;
      return Add(o.value_.Get(), 0, 0, error);
    case AggregateKind::kFirst:
      if (o.value_.is_null()) return true;
      if (value_.is_null() || o.value_time_ < value_time_ ||
          (o.value_time_ == value_time_ && o.value_arrival_ < value_arrival_)) {
        value_ = o.value_;
        value_time_ = o.value_time_;
        value_arrival_ = o.value_arrival_;
      }
      return true;
    case AggregateKind::kLast:
      if (o.value_.is_null()) return true;
      if (value_.is_null() || o.value_time_ > value_time_ ||
          (o.value_time_ == value_time_ && o.value_arrival_ > value_arrival_)) {
        value_ = o.value_;
        value_time_ = o.value_time_;
        value_arrival_ = o.value_arrival_;
      }
      return true;
    case AggregateKind::kCountDistinct:
      distinct_.insert(o.distinct_.begin(), o.distinct_.end());
      return true;
    case AggregateKind::kCollect:
      if (o.collected_.empty()) return true;
      if (!collected_.empty()) collected_.push_back(',');
      collected_ += o.collected_;
      return true;
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
      return sum_is_float_ ? Value::Float(float_sum_) : Value::Int(int_sum_);
    case AggregateKind::kAvg:
      if (count_ == 0) return Value::Null();
      return Value::Float((sum_is_float_ ? float_sum_ : static_cast<double>(int_sum_)) /
                          static_cast<double>(count_));
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
      char* p = arena.Allocate(collected_.size() + 2);
      p[0] = '[';
      if (!collected_.empty()) std::memcpy(p + 1, collected_.data(), collected_.size());
      p[collected_.size() + 1] = ']';
      return Value::List(std::string_view(p, collected_.size() + 2));
    }
  }
  return Value::Null();
}

}  // namespace streamrun
