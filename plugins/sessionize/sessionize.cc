// sessionize: session windows as an operator plugin. Per key, records closer
// than `gap` in event time form one session [first, last + gap); a session
// fires when the watermark passes its end, takes late records (and fires again)
// until end + allowed_lateness, and records later than that go to the `.late`
// output. Its rows are the built-in `window: {session: ...}` step's, to the
// field: the key's fields, window_start, window_end, the aggregates. A
// differential test holds it to that (tests/cli/plugins.sh): it exercises the
// whole state-and-timer ABI (value state, event-time timers registered and
// deleted, the current key's fields, late output, record errors).
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <stdexcept>
#include <streamrun/sdk.hpp>
#include <string>
#include <vector>

namespace sdk = streamrun::sdk;

namespace {

const char* const kSchema = R"schema({
  "type": "object",
  "properties": {
    "gap": {"type": "string", "format": "duration",
            "description": "A session ends after this long without a record of its key"},
    "allowed_lateness": {"type": "string", "format": "duration", "default": "0s",
            "description": "How long after its end a session still takes late records"},
    "aggregate": {
      "type": "object",
      "description": "Output fields: NAME: {fn, field, equals}",
      "additionalProperties": {
        "type": "object",
        "properties": {
          "fn": {"enum": ["count", "sum", "min", "max", "count_distinct", "collect"]},
          "field": {"type": "string", "description": "The field it reads (count without one counts records)"},
          "equals": {"type": "string", "description": "Only records whose field equals this (count)"}
        },
        "required": ["fn"]
      }
    }
  },
  "required": ["gap", "aggregate"]
})schema";

enum class Fn : uint8_t { kCount, kSum, kMin, kMax, kCountDistinct, kCollect };

// Bytes out and in, for the state.
struct Writer {
  std::string& out;
  template <typename T>
  void Put(const T& v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void Text(const std::string& s) {
    Put<uint32_t>(static_cast<uint32_t>(s.size()));
    out += s;
  }
};
struct Reader {
  std::string_view in;
  template <typename T>
  T Get() {
    if (in.size() < sizeof(T)) throw std::runtime_error("sessionize: damaged state");
    T v;
    std::memcpy(&v, in.data(), sizeof v);
    in.remove_prefix(sizeof v);
    return v;
  }
  std::string Text() {
    const uint32_t n = Get<uint32_t>();
    if (in.size() < n) throw std::runtime_error("sessionize: damaged state");
    std::string s(in.substr(0, n));
    in.remove_prefix(n);
    return s;
  }
};

// Where a record stands among records of equal event time (as the built-in
// orders collect): its time, then where it was read.
struct Order {
  int64_t time = 0;
  int32_t source = 0, topic = 0, partition = 0;
  int64_t offset = 0;
  bool operator<(const Order& o) const {
    if (time != o.time) return time < o.time;
    if (source != o.source) return source < o.source;
    if (topic != o.topic) return topic < o.topic;
    if (partition != o.partition) return partition < o.partition;
    return offset < o.offset;
  }
};

// A record's argument, owned (host values are borrowed until the next call).
struct Arg {
  sr_kind kind = SR_NULL;
  int64_t i = 0;
  double f = 0;
  std::string text;
  bool is_number() const { return kind == SR_INT || kind == SR_FLOAT; }
  double as_double() const { return kind == SR_FLOAT ? f : static_cast<double>(i); }
};

// A float whose shortest decimal form has at most 18 significant digits, as
// mantissa × 10^-scale: sums of decimal amounts stay exact, as the built-in's.
bool DecimalOf(double d, __int128* mantissa, int* scale) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  if (ec != std::errc()) return false;
  const char* p = buf;
  bool negative = false;
  if (*p == '-') {
    negative = true;
    ++p;
  }
  __int128 m = 0;
  int digits = 0, fraction = 0;
  bool point = false;
  for (; p < end && *p != 'e'; ++p) {
    if (*p == '.') {
      point = true;
      continue;
    }
    if (*p < '0' || *p > '9') return false;
    if (m != 0 || *p != '0') ++digits;
    m = m * 10 + (*p - '0');
    if (point) ++fraction;
    if (digits > 18) return false;
  }
  int exponent = 0;
  if (p < end && *p == 'e') exponent = std::atoi(p + 1);
  int s = fraction - exponent;
  while (s < 0) {
    m *= 10;
    ++s;
    if (++digits > 18) return false;
  }
  if (s > 36) return false;
  *mantissa = negative ? -m : m;
  *scale = s;
  return true;
}

__int128 Pow10(int n) {
  __int128 p = 1;
  while (n-- > 0) p *= 10;
  return p;
}

double DecimalToDouble(__int128 v, int scale) {
  const bool negative = v < 0;
  unsigned __int128 u = negative ? static_cast<unsigned __int128>(-v) : static_cast<unsigned __int128>(v);
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(u % 10)));
    u /= 10;
  } while (u > 0);
  while (static_cast<int>(digits.size()) <= scale) digits.insert(digits.begin(), '0');
  if (scale > 0) digits.insert(digits.end() - scale, '.');
  if (negative) digits.insert(digits.begin(), '-');
  return std::strtod(digits.c_str(), nullptr);
}

// One aggregate of one session.
struct Agg {
  int64_t count = 0;
  // sum: an integer while every input is one, then an exact decimal, then a double.
  uint8_t mode = 0;
  int64_t isum = 0;
  __int128 dec = 0;
  int32_t scale = 0;
  double dbl = 0;
  Arg held;                                              // min, max
  std::vector<std::string> distinct;                     // count_distinct: sorted
  std::vector<std::pair<Order, std::string>> collected;  // collect: (order, JSON text)

  void Encode(Writer& w) const {
    w.Put(count);
    w.Put(mode);
    w.Put(isum);
    w.Put(dec);
    w.Put(scale);
    w.Put(dbl);
    w.Put(held.kind);
    w.Put(held.i);
    w.Put(held.f);
    w.Text(held.text);
    w.Put<uint32_t>(static_cast<uint32_t>(distinct.size()));
    for (const auto& d : distinct) w.Text(d);
    w.Put<uint32_t>(static_cast<uint32_t>(collected.size()));
    for (const auto& [o, t] : collected) {
      w.Put(o);
      w.Text(t);
    }
  }
  void Decode(Reader& r) {
    count = r.Get<int64_t>();
    mode = r.Get<uint8_t>();
    isum = r.Get<int64_t>();
    dec = r.Get<__int128>();
    scale = r.Get<int32_t>();
    dbl = r.Get<double>();
    held.kind = r.Get<sr_kind>();
    held.i = r.Get<int64_t>();
    held.f = r.Get<double>();
    held.text = r.Text();
    distinct.resize(r.Get<uint32_t>());
    for (auto& d : distinct) d = r.Text();
    collected.resize(r.Get<uint32_t>());
    for (auto& [o, t] : collected) {
      o = r.Get<Order>();
      t = r.Text();
    }
  }

  void ToDouble() {
    if (mode == 2) return;
    dbl = mode == 0 ? static_cast<double>(isum) : DecimalToDouble(dec, scale);
    mode = 2;
  }
  bool AddDecimal(__int128 m, int s) {
    if (mode == 0) {
      mode = 1;
      dec = isum;
      scale = 0;
    }
    const __int128 limit = Pow10(36);
    if (s > scale) {
      const __int128 f = Pow10(s - scale);
      if (dec >= limit / f || dec <= -limit / f) return false;
      dec *= f;
      scale = s;
    } else if (s < scale) {
      m *= Pow10(scale - s);
    }
    const __int128 sum = dec + m;
    if (sum >= limit || sum <= -limit) return false;
    dec = sum;
    return true;
  }
  void AddSum(const Arg& v) {
    if (!v.is_number())
      throw std::runtime_error("cannot sum a " + std::string(v.kind == SR_STRING ? "string" : "non-number"));
    if (mode == 2) {
      dbl += v.as_double();
    } else if (v.kind == SR_INT && mode == 0) {
      if (__builtin_add_overflow(isum, v.i, &isum))
        throw std::runtime_error("the sum overflows a 64-bit integer");
    } else {
      __int128 m = v.kind == SR_INT ? v.i : 0;
      int s = 0;
      if (!((v.kind == SR_INT || DecimalOf(v.f, &m, &s)) && AddDecimal(m, s))) {
        ToDouble();
        dbl += v.as_double();
      }
    }
    ++count;
  }
  void MergeSum(const Agg& o) {
    if (o.count == 0) return;
    count += o.count;
    if (o.mode == 0) {
      Arg a;
      a.kind = SR_INT;
      a.i = o.isum;
      --count;
      AddSum(a);
    } else if (o.mode == 1 && mode != 2) {
      if (!AddDecimal(o.dec, o.scale)) {
        ToDouble();
        dbl += DecimalToDouble(o.dec, o.scale);
      }
    } else {
      ToDouble();
      dbl += o.mode == 1   ? DecimalToDouble(o.dec, o.scale)
             : o.mode == 0 ? static_cast<double>(o.isum)
                           : o.dbl;
    }
  }
};

// -1, 0, 1: numbers by value, strings by bytes; false if they cannot compare.
bool Compare(const Arg& a, const Arg& b, int* c) {
  if (a.is_number() && b.is_number()) {
    if (a.kind == SR_INT && b.kind == SR_INT) {
      *c = a.i < b.i ? -1 : a.i > b.i;
      return true;
    }
    const double x = a.as_double(), y = b.as_double();
    *c = x < y ? -1 : x > y;
    return true;
  }
  if (a.kind == SR_STRING && b.kind == SR_STRING) {
    *c = a.text < b.text ? -1 : a.text > b.text;
    return true;
  }
  return false;
}

// A value as JSON text, for collect.
std::string JsonOf(const Arg& v) {
  switch (v.kind) {
    case SR_NULL:
      return "null";
    case SR_BOOL:
      return v.i ? "true" : "false";
    case SR_INT:
      return std::to_string(v.i);
    case SR_FLOAT: {
      char buf[64];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.f);
      std::string s(buf, end);
      if (s.find_first_of(".eE") == std::string::npos && s.find_first_of("0123456789") != std::string::npos)
        s += ".0";
      return s;
    }
    case SR_STRING: {
      std::string s = "\"";
      for (unsigned char c : v.text) {
        if (c == '"' || c == '\\') {
          s += '\\';
          s += static_cast<char>(c);
        } else if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          s += buf;
        } else {
          s += static_cast<char>(c);
        }
      }
      return s + "\"";
    }
    default:
      return v.text;  // lists and objects: their JSON text
  }
}

struct Session {
  int64_t start = 0, end = 0;
  bool fired = false;
  std::vector<Agg> aggs;
};

// The sessions of one key, in start order (they never overlap).
struct Sessions {
  std::vector<Session> list;
  void Encode(std::string& out) const {
    out.clear();
    Writer w{out};
    w.Put<uint32_t>(static_cast<uint32_t>(list.size()));
    for (const auto& s : list) {
      w.Put(s.start);
      w.Put(s.end);
      w.Put<uint8_t>(s.fired);
      w.Put<uint32_t>(static_cast<uint32_t>(s.aggs.size()));
      for (const auto& a : s.aggs) a.Encode(w);
    }
  }
  static Sessions Decode(std::string_view bytes) {
    Sessions out;
    Reader r{bytes};
    out.list.resize(r.Get<uint32_t>());
    for (auto& s : out.list) {
      s.start = r.Get<int64_t>();
      s.end = r.Get<int64_t>();
      s.fired = r.Get<uint8_t>() != 0;
      s.aggs.resize(r.Get<uint32_t>());
      for (auto& a : s.aggs) a.Decode(r);
    }
    return out;
  }
};

struct AggSpec {
  std::string name;
  Fn fn = Fn::kCount;
  bool has_field = false;
  sdk::FieldRef field;
  bool has_equals = false;
  std::string equals;
};

class Sessionize : public sdk::Operator {
 public:
  Sessionize(const sdk::Json& config, sdk::Context& ctx)
      : gap_(config["gap"].Int()), lateness_(config["allowed_lateness"].Int()) {
    if (gap_ <= 0) throw std::runtime_error("gap must be more than 0");
    if (lateness_ < 0) throw std::runtime_error("allowed_lateness must not be negative");
    static const char* const kNames[] = {"count", "sum", "min", "max", "count_distinct", "collect"};
    for (const auto& [name, spec] : config["aggregate"].Items()) {
      AggSpec a;
      a.name = name;
      const std::string& fn = spec["fn"].Str();
      for (int k = 0; k < 6; ++k)
        if (fn == kNames[k]) a.fn = static_cast<Fn>(k);
      a.has_field = spec.Has("field");
      if (a.has_field) a.field = ctx.DeclareField(spec["field"].Str());
      a.has_equals = spec.Has("equals");
      a.equals = spec["equals"].Str();
      if (!a.has_field && a.fn != Fn::kCount)
        throw std::runtime_error("aggregate " + name + ": " + fn + " needs a field");
      if (a.has_equals && (a.fn != Fn::kCount || !a.has_field))
        throw std::runtime_error("aggregate " + name + ": equals goes with fn: count and a field");
      aggs_.push_back(std::move(a));
    }
    if (aggs_.empty()) throw std::runtime_error("aggregate needs at least one field");
  }

  void Open(sdk::Context& ctx) override { sessions_ = ctx.DeclareValue<Sessions>("sessions"); }

  void ProcessRecord(sdk::Record& record, sdk::Context& ctx) override {
    const sr_record_meta meta = record.Meta();
    const int64_t t = meta.event_time;
    const int64_t watermark = ctx.Watermark();
    args_.resize(aggs_.size());
    for (size_t a = 0; a < aggs_.size(); ++a) {
      if (!aggs_[a].has_field) continue;
      const sdk::Value v = record[aggs_[a].field];
      Arg& arg = args_[a];
      arg.kind = v.kind();
      arg.i = v.raw().i;
      arg.f = v.raw().f;
      arg.text.assign(v.Str());
    }
    const Order order{t, meta.source, meta.topic, meta.partition, meta.offset};

    Sessions state = sessions_.Get().value_or(Sessions{});
    auto& list = state.list;
    int64_t start = t, end = t + gap_;
    size_t first = list.size(), last = 0;
    for (size_t w = 0; w < list.size() && list[w].start < t + gap_; ++w)
      if (list[w].end > t) {
        first = std::min(first, w);
        last = w + 1;
        start = std::min(start, list[w].start);
        end = std::max(end, list[w].end);
      }
    if (watermark != SR_NO_TIME && end + lateness_ <= watermark) {
      record.EmitLate();
      return;
    }
    size_t at;
    if (last == first + 1 && list[first].start == start && list[first].end == end) {
      at = first;  // inside one session that it does not extend
    } else {
      Session merged;
      merged.start = start;
      merged.end = end;
      merged.aggs.resize(aggs_.size());
      bool was_fired = false;
      for (size_t w = first; w < last; ++w) {
        for (size_t a = 0; a < aggs_.size(); ++a) Merge(aggs_[a], merged.aggs[a], list[w].aggs[a]);
        was_fired |= list[w].fired;
        Unschedule(ctx, list[w]);
      }
      if (first < last)
        list.erase(list.begin() + static_cast<long>(first), list.begin() + static_cast<long>(last));
      merged.fired = was_fired && merged.end <= watermark;
      auto it = std::lower_bound(list.begin(), list.end(), start,
                                 [](const Session& s, int64_t v) { return s.start < v; });
      at = static_cast<size_t>(it - list.begin());
      list.insert(it, std::move(merged));
      Schedule(ctx, list[at]);
    }
    std::string error;
    for (size_t a = 0; a < aggs_.size() && error.empty(); ++a) {
      try {
        Add(aggs_[a], list[at].aggs[a], args_[a], order);
      } catch (const std::exception& e) {
        error = "aggregate " + aggs_[a].name + ": " + e.what();
      }
    }
    if (error.empty() && list[at].end <= watermark) {
      list[at].fired = true;  // a late record: the session fires again
      EmitRow(ctx, list[at]);
    }
    sessions_.Put(state);
    if (!error.empty()) throw std::runtime_error(error);  // the record fails; the session stays
  }

  void OnTimer(const sdk::Timer& timer, sdk::Context& ctx) override {
    auto got = sessions_.Get();
    if (!got) return;
    Sessions state = std::move(*got);
    auto& list = state.list;
    auto it = std::find_if(list.begin(), list.end(), [&](const Session& s) { return s.start == timer.tag; });
    if (it == list.end()) return;
    if (timer.time == it->end && !it->fired) {
      it->fired = true;
      EmitRow(ctx, *it);
    }
    if (timer.time == it->end + lateness_) list.erase(it);
    if (list.empty())
      sessions_.Clear();
    else
      sessions_.Put(state);
  }

 private:
  void Schedule(sdk::Context& ctx, const Session& s) {
    ctx.RegisterEventTimer(s.end, s.start);
    ctx.RegisterEventTimer(s.end + lateness_, s.start);
  }
  void Unschedule(sdk::Context& ctx, const Session& s) {
    ctx.DeleteEventTimer(s.end, s.start);
    ctx.DeleteEventTimer(s.end + lateness_, s.start);
  }

  static void Add(const AggSpec& spec, Agg& agg, const Arg& v, const Order& order) {
    if (spec.fn == Fn::kCount && !spec.has_field) {
      ++agg.count;
      return;
    }
    if (v.kind == SR_NULL) return;
    switch (spec.fn) {
      case Fn::kCount:
        if (!spec.has_equals || (v.kind == SR_STRING && v.text == spec.equals)) ++agg.count;
        return;
      case Fn::kSum:
        agg.AddSum(v);
        return;
      case Fn::kMin:
      case Fn::kMax: {
        if (agg.held.kind == SR_NULL) {
          agg.held = v;
          return;
        }
        int c = 0;
        if (!Compare(v, agg.held, &c)) throw std::runtime_error("cannot compare these values");
        if ((spec.fn == Fn::kMin && c < 0) || (spec.fn == Fn::kMax && c > 0) ||
            (c == 0 && v.kind == SR_INT && agg.held.kind == SR_FLOAT))
          agg.held = v;
        return;
      }
      case Fn::kCountDistinct: {
        const std::string key = JsonOf(v);
        auto it = std::lower_bound(agg.distinct.begin(), agg.distinct.end(), key);
        if (it == agg.distinct.end() || *it != key) agg.distinct.insert(it, key);
        return;
      }
      case Fn::kCollect: {
        auto it = agg.collected.end();
        while (it != agg.collected.begin() && order < std::prev(it)->first) --it;
        agg.collected.emplace(it, order, JsonOf(v));
        return;
      }
    }
  }

  static void Merge(const AggSpec& spec, Agg& into, const Agg& from) {
    switch (spec.fn) {
      case Fn::kCount:
        into.count += from.count;
        return;
      case Fn::kSum:
        into.MergeSum(from);
        return;
      case Fn::kMin:
      case Fn::kMax:
        if (from.held.kind != SR_NULL) Add(spec, into, from.held, Order{});
        return;
      case Fn::kCountDistinct:
        for (const auto& d : from.distinct) {
          auto it = std::lower_bound(into.distinct.begin(), into.distinct.end(), d);
          if (it == into.distinct.end() || *it != d) into.distinct.insert(it, d);
        }
        return;
      case Fn::kCollect: {
        std::vector<std::pair<Order, std::string>> all;
        std::merge(into.collected.begin(), into.collected.end(), from.collected.begin(), from.collected.end(),
                   std::back_inserter(all), [](const auto& a, const auto& b) { return a.first < b.first; });
        into.collected = std::move(all);
        return;
      }
    }
  }

  void EmitRow(sdk::Context& ctx, const Session& s) {
    auto row = ctx.Build();
    row.SetKeyFields().Set("window_start", s.start).Set("window_end", s.end);
    for (size_t a = 0; a < aggs_.size(); ++a) {
      const AggSpec& spec = aggs_[a];
      const Agg& agg = s.aggs[a];
      switch (spec.fn) {
        case Fn::kCount:
          row.Set(spec.name, agg.count);
          break;
        case Fn::kSum:
          if (agg.count == 0)
            row.Set(spec.name, sdk::Value::Null());
          else if (agg.mode == 0)
            row.Set(spec.name, agg.isum);
          else
            row.Set(spec.name, agg.mode == 1 ? DecimalToDouble(agg.dec, agg.scale) : agg.dbl);
          break;
        case Fn::kMin:
        case Fn::kMax: {
          const Arg& h = agg.held;
          sr_value v{};
          v.kind = h.kind;
          v.i = h.i;
          v.f = h.f;
          v.str = h.text.data();
          v.len = h.text.size();
          row.Set(spec.name, sdk::Value(v));
          break;
        }
        case Fn::kCountDistinct:
          row.Set(spec.name, static_cast<int64_t>(agg.distinct.size()));
          break;
        case Fn::kCollect: {
          list_json_ = "[";
          for (size_t i = 0; i < agg.collected.size(); ++i) {
            if (i) list_json_ += ',';
            list_json_ += agg.collected[i].second;
          }
          list_json_ += ']';
          row.Set(spec.name, sdk::Value::ListJson(list_json_));
          break;
        }
      }
    }
    row.Emit(s.end - 1);
  }

  int64_t gap_;
  int64_t lateness_;
  std::vector<AggSpec> aggs_;
  std::vector<Arg> args_;
  std::string list_json_;
  sdk::ValueState<Sessions> sessions_;
};

const sr_operator kSessionize = sdk::MakeOperator<Sessionize, SR_OP_KEYED | SR_OP_LATE_OUTPUT>(
    "sessionize", "1.0.0", "Session windows per key: rows like window: {session: GAP}", kSchema);

}  // namespace

STREAMRUN_PLUGIN("sessionize", "1.0.0", &kSessionize)
