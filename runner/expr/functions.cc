// The built-in functions (docs/expressions.md). Unless noted, a function returns null
// when any argument is null (like SQL); coalesce() and if() are lazy and look at
// nulls themselves. Strings a function produces go to the batch arena.
#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "runner/expr/json_util.h"
#include "runner/expr/node.h"

namespace streamrun::expr {
namespace {

using Impl = bool (*)(const Value* args, int n, EvalContext& ctx, Value* out);

std::string Kn(const Value& v) { return std::string(KindName(v.kind)); }

bool ArgError(EvalContext& ctx, std::string_view fn, int index, int n, std::string_view expected,
              const Value& got) {
  if (n == 1) return Fail(ctx, std::string(fn) + "() expects " + std::string(expected) + ", got " + Kn(got));
  return Fail(ctx, std::string(fn) + "() argument " + std::to_string(index + 1) + " must be " +
                       std::string(expected) + ", got " + Kn(got));
}

#define REQUIRE_KIND(fn, k, kind_, expected)                                        \
  do {                                                                              \
    if (args[k].kind != (kind_)) return ArgError(ctx, fn, k, n, expected, args[k]); \
  } while (0)

#define REQUIRE_NUMBER(fn, k)                                                      \
  do {                                                                             \
    if (!args[k].is_number()) return ArgError(ctx, fn, k, n, "a number", args[k]); \
  } while (0)

// Text form of a value for to_string()/concat(): strings as they are, numbers as
// in JSON (floats keep ".0"), lists/objects as their JSON text.
bool ToText(EvalContext& ctx, const Value& v, Value* out) {
  char buf[kNumberBufSize];
  switch (v.kind) {
    case Kind::kString:
      *out = v;
      return true;
    case Kind::kList:
    case Kind::kObject:
      *out = Value::String(v.text());
      return true;
    case Kind::kBool:
      *out = Value::String(v.b ? "true" : "false");
      return true;
    case Kind::kInt:
      return ArenaString(ctx, std::string_view(buf, FormatInt(v.i, buf)), out);
    case Kind::kFloat:
      if (std::isnan(v.f)) {
        *out = Value::String("nan");
        return true;
      }
      if (std::isinf(v.f)) {
        *out = Value::String(v.f > 0 ? "inf" : "-inf");
        return true;
      }
      return ArenaString(ctx, std::string_view(buf, FormatFloat(v.f, buf)), out);
    case Kind::kNull:
      SetNull(out);
      return true;
  }
  return false;
}

// ---- strings ----

template <bool kUpper>
bool CaseMap(const Value* args, int n, EvalContext& ctx, Value* out) {
  constexpr std::string_view fn = kUpper ? "upper" : "lower";
  REQUIRE_KIND(fn, 0, Kind::kString, "a string");
  std::string_view s = args[0].text();
  size_t first = 0;
  auto needs_change = [](char c) { return kUpper ? (c >= 'a' && c <= 'z') : (c >= 'A' && c <= 'Z'); };
  while (first < s.size() && !needs_change(s[first])) ++first;
  if (first == s.size()) {  // nothing to change: no copy
    *out = args[0];
    return true;
  }
  char* p = ArenaAlloc(ctx, s.size());
  if (p == nullptr) return false;
  std::memcpy(p, s.data(), s.size());
  for (size_t i = first; i < s.size(); ++i)
    if (needs_change(p[i])) p[i] = static_cast<char>(p[i] ^ 0x20);
  *out = Value::String(std::string_view(p, s.size()));
  return true;
}

bool Length(const Value* args, int n, EvalContext& ctx, Value* out) {
  const Value& v = args[0];
  if (v.kind == Kind::kString) {
    SetInt(out, static_cast<int64_t>(Utf8Length(v.text())));
    return true;
  }
  if (v.kind == Kind::kList || v.kind == Kind::kObject) {
    int64_t count;
    if (!JsonCount(v, ctx, &count)) return false;
    SetInt(out, count);
    return true;
  }
  return ArgError(ctx, "length", 0, n, "a string, list or object", v);
}

bool Contains(const Value* args, int n, EvalContext& ctx, Value* out) {
  REQUIRE_KIND("contains", 0, Kind::kString, "a string");
  REQUIRE_KIND("contains", 1, Kind::kString, "a string");
  SetBool(out, args[0].text().find(args[1].text()) != std::string_view::npos);
  return true;
}

bool StartsWith(const Value* args, int n, EvalContext& ctx, Value* out) {
  REQUIRE_KIND("starts_with", 0, Kind::kString, "a string");
  REQUIRE_KIND("starts_with", 1, Kind::kString, "a string");
  SetBool(out, args[0].text().starts_with(args[1].text()));
  return true;
}

bool EndsWith(const Value* args, int n, EvalContext& ctx, Value* out) {
  REQUIRE_KIND("ends_with", 0, Kind::kString, "a string");
  REQUIRE_KIND("ends_with", 1, Kind::kString, "a string");
  SetBool(out, args[0].text().ends_with(args[1].text()));
  return true;
}

// substr(s, start[, len]): code points, 0-based; a negative start counts from the
// end; out-of-range positions are clamped; a negative len gives ''.
bool Substr(const Value* args, int n, EvalContext& ctx, Value* out) {
  REQUIRE_KIND("substr", 0, Kind::kString, "a string");
  REQUIRE_KIND("substr", 1, Kind::kInt, "an int");
  if (n == 3) REQUIRE_KIND("substr", 2, Kind::kInt, "an int");
  std::string_view s = args[0].text();
  int64_t start = args[1].i;
  if (start < 0) {
    int64_t len = static_cast<int64_t>(Utf8Length(s));
    start = start < -len ? 0 : len + start;
  }
  size_t b = Utf8Offset(s, static_cast<size_t>(start));
  size_t e = s.size();
  if (n == 3) {
    int64_t len = args[2].i;
    if (len <= 0) {
      e = b;
    } else {
      e = b + Utf8Offset(s.substr(b), static_cast<size_t>(len));
    }
  }
  *out = Value::String(s.substr(b, e - b));  // a view of the argument: no copy
  return true;
}

bool Concat(const Value* args, int n, EvalContext& ctx, Value* out) {
  constexpr int kStack = 16;
  Value stack[kStack];
  Value* parts = stack;
  if (n > kStack) {
    parts = reinterpret_cast<Value*>(ArenaAlloc(ctx, sizeof(Value) * static_cast<size_t>(n)));
    if (parts == nullptr) return false;
  }
  size_t total = 0;
  for (int k = 0; k < n; ++k) {
    if (!ToText(ctx, args[k], &parts[k])) return false;
    total += parts[k].len;
  }
  if (n == 1) {
    *out = parts[0];
    return true;
  }
  char* p = ArenaAlloc(ctx, total);
  if (p == nullptr) return false;
  size_t at = 0;
  for (int k = 0; k < n; ++k) {
    if (parts[k].len) std::memcpy(p + at, parts[k].str, parts[k].len);
    at += parts[k].len;
  }
  *out = Value::String(std::string_view(p, total));
  return true;
}

// ---- numbers ----

bool Abs(const Value* args, int n, EvalContext& ctx, Value* out) {
  REQUIRE_NUMBER("abs", 0);
  if (args[0].kind == Kind::kInt) {
    if (args[0].i == std::numeric_limits<int64_t>::min()) return Fail(ctx, "integer overflow in abs()");
    SetInt(out, args[0].i < 0 ? -args[0].i : args[0].i);
  } else {
    SetFloat(out, std::fabs(args[0].f));
  }
  return true;
}

// round(x[, digits]): half away from zero; keeps the type of x. Negative digits
// round to tens, hundreds...
bool Round(const Value* args, int n, EvalContext& ctx, Value* out) {
  REQUIRE_NUMBER("round", 0);
  int64_t digits = 0;
  if (n == 2) {
    REQUIRE_KIND("round", 1, Kind::kInt, "an int");
    digits = args[1].i;
  }
  if (args[0].kind == Kind::kInt) {
    int64_t x = args[0].i;
    if (digits >= 0) {
      *out = args[0];
      return true;
    }
    if (digits < -18) {
      SetInt(out, 0);
      return true;
    }
    int64_t p = 1;
    for (int64_t k = 0; k < -digits; ++k) p *= 10;
    int64_t q = x / p, r = x % p;
    if (r >= 0 ? r >= p - r : -r >= p + r) q += x < 0 ? -1 : 1;
    int64_t res;
    if (__builtin_mul_overflow(q, p, &res)) return Fail(ctx, "integer overflow in round()");
    SetInt(out, res);
    return true;
  }
  double x = args[0].f;
  if (digits == 0 || !std::isfinite(x)) {
    SetFloat(out, std::round(x));
    if (!std::isfinite(x)) *out = args[0];
    return true;
  }
  if (digits > 308) {
    *out = args[0];
    return true;
  }
  if (digits < -308) {
    SetFloat(out, 0.0 * x);
    return true;
  }
  double m = std::pow(10.0, static_cast<double>(digits));
  double scaled = x * m;
  if (!std::isfinite(scaled)) {
    *out = args[0];
    return true;
  }
  SetFloat(out, std::round(scaled) / m);
  return true;
}

template <bool kCeil>
bool FloorCeil(const Value* args, int n, EvalContext& ctx, Value* out) {
  REQUIRE_NUMBER(kCeil ? "ceil" : "floor", 0);
  if (args[0].kind == Kind::kInt) {
    *out = args[0];
  } else {
    SetFloat(out, kCeil ? std::ceil(args[0].f) : std::floor(args[0].f));
  }
  return true;
}

bool FloatToInt(EvalContext& ctx, double f, Value* out) {
  if (!std::isfinite(f) || f >= 9223372036854775808.0 || f < -9223372036854775808.0) {
    char buf[kNumberBufSize];
    std::string text =
        std::isfinite(f) ? std::string(buf, FormatFloat(f, buf)) : (std::isnan(f) ? "nan" : "inf");
    return Fail(ctx, "cannot convert float " + text + " to int: out of range");
  }
  SetInt(out, static_cast<int64_t>(std::trunc(f)));
  return true;
}

// to_int: floats truncate toward zero; strings are parsed (an int, else a float
// that is then truncated); bools give 1/0.
bool ToInt(const Value* args, int n, EvalContext& ctx, Value* out) {
  const Value& v = args[0];
  switch (v.kind) {
    case Kind::kInt:
      *out = v;
      return true;
    case Kind::kFloat:
      return FloatToInt(ctx, v.f, out);
    case Kind::kBool:
      SetInt(out, v.b ? 1 : 0);
      return true;
    case Kind::kString: {
      std::string_view s = v.text();
      if (!s.empty() && s[0] == '+') s.remove_prefix(1);
      const char* b = s.data();
      const char* e = b + s.size();
      int64_t i;
      auto ri = std::from_chars(b, e, i);
      if (!s.empty() && ri.ec == std::errc() && ri.ptr == e) {
        SetInt(out, i);
        return true;
      }
      double d;
      auto rd = std::from_chars(b, e, d);
      if (s.empty() || rd.ec != std::errc() || rd.ptr != e)
        return Fail(ctx,
                    "to_int(): cannot convert string '" + std::string(v.text().substr(0, 64)) + "' to int");
      return FloatToInt(ctx, d, out);
    }
    default:
      return ArgError(ctx, "to_int", 0, n, "a number, string or bool", v);
  }
}

bool ToFloat(const Value* args, int n, EvalContext& ctx, Value* out) {
  const Value& v = args[0];
  switch (v.kind) {
    case Kind::kInt:
      SetFloat(out, static_cast<double>(v.i));
      return true;
    case Kind::kFloat:
      *out = v;
      return true;
    case Kind::kBool:
      SetFloat(out, v.b ? 1.0 : 0.0);
      return true;
    case Kind::kString: {
      std::string_view s = v.text();
      if (!s.empty() && s[0] == '+') s.remove_prefix(1);
      double d;
      auto r = std::from_chars(s.data(), s.data() + s.size(), d);
      if (s.empty() || r.ptr != s.data() + s.size() ||
          (r.ec != std::errc() && r.ec != std::errc::result_out_of_range))
        return Fail(
            ctx, "to_float(): cannot convert string '" + std::string(v.text().substr(0, 64)) + "' to float");
      if (r.ec == std::errc::result_out_of_range) d = std::strtod(std::string(s).c_str(), nullptr);
      SetFloat(out, d);
      return true;
    }
    default:
      return ArgError(ctx, "to_float", 0, n, "a number, string or bool", v);
  }
}

bool ToString(const Value* args, int n, EvalContext& ctx, Value* out) { return ToText(ctx, args[0], out); }

// ---- hash ----

constexpr uint64_t kFnvOffset = 14695981039346656037ull;
constexpr uint64_t kFnvPrime = 1099511628211ull;

inline uint64_t Fnv(uint64_t h, std::string_view s) {
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= kFnvPrime;
  }
  return h;
}

// FNV-1a 64 over a type tag and the value's canonical text (documented in
// docs/expressions.md so other tools can reproduce it): 'n' + the number (a float
// with an integral value within int64 hashes like that int), 's' + the string's
// bytes, 'b' + true/false, 'l'/'o' + the JSON text without whitespace outside strings.
bool Hash(const Value* args, int n, EvalContext& ctx, Value* out) {
  const Value& v = args[0];
  uint64_t h = kFnvOffset;
  char buf[kNumberBufSize];
  switch (v.kind) {
    case Kind::kNull:
      SetNull(out);
      return true;
    case Kind::kBool:
      h = Fnv(Fnv(h, "b"), v.b ? "true" : "false");
      break;
    case Kind::kInt:
      h = Fnv(Fnv(h, "n"), std::string_view(buf, FormatInt(v.i, buf)));
      break;
    case Kind::kFloat: {
      h = Fnv(h, "n");
      double f = v.f;
      if (std::isnan(f)) {
        h = Fnv(h, "nan");
      } else if (std::isinf(f)) {
        h = Fnv(h, f > 0 ? "inf" : "-inf");
      } else if (std::trunc(f) == f && f >= -9223372036854775808.0 && f < 9223372036854775808.0) {
        h = Fnv(h, std::string_view(buf, FormatInt(static_cast<int64_t>(f), buf)));
      } else {
        h = Fnv(h, std::string_view(buf, FormatFloat(f, buf)));
      }
      break;
    }
    case Kind::kString:
      h = Fnv(Fnv(h, "s"), v.text());
      break;
    case Kind::kList:
    case Kind::kObject: {
      h = Fnv(h, v.kind == Kind::kList ? "l" : "o");
      bool in_string = false, escaped = false;
      for (char c : v.text()) {
        if (in_string) {
          if (escaped) {
            escaped = false;
          } else if (c == '\\') {
            escaped = true;
          } else if (c == '"') {
            in_string = false;
          }
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
          continue;
        } else if (c == '"') {
          in_string = true;
        }
        h ^= static_cast<unsigned char>(c);
        h *= kFnvPrime;
      }
      break;
    }
  }
  SetInt(out, static_cast<int64_t>(h));
  return true;
}

bool Now(const Value*, int, EvalContext& ctx, Value* out) {
  SetInt(out, ctx.now_ms);
  return true;
}

// ---- call nodes ----

class CallNode final : public Node {
 public:
  CallNode(int offset, Impl impl, bool pure, std::vector<NodePtr> args)
      : Node(offset), impl_(impl), pure_(pure), args_(std::move(args)) {}

  bool Eval(const Value* slots, EvalContext& ctx, Value* out) const override {
    constexpr size_t kStack = 8;
    Value stack[kStack];
    Value* vals = stack;
    const size_t n = args_.size();
    if (n > kStack) {
      vals = reinterpret_cast<Value*>(ArenaAlloc(ctx, sizeof(Value) * n));
      if (vals == nullptr) return false;
    }
    for (size_t k = 0; k < n; ++k) {
      if (!args_[k]->Eval(slots, ctx, &vals[k])) return false;
      if (vals[k].is_null()) {  // any null argument: null
        SetNull(out);
        return true;
      }
    }
    return impl_(vals, static_cast<int>(n), ctx, out);
  }
  bool Pure() const override { return pure_; }

 private:
  Impl impl_;
  bool pure_;
  std::vector<NodePtr> args_;
};

class CoalesceNode final : public Node {
 public:
  CoalesceNode(int offset, std::vector<NodePtr> args) : Node(offset), args_(std::move(args)) {}
  bool Eval(const Value* slots, EvalContext& ctx, Value* out) const override {
    for (const auto& a : args_) {
      if (!a->Eval(slots, ctx, out)) return false;
      if (!out->is_null()) return true;
    }
    SetNull(out);
    return true;
  }

 private:
  std::vector<NodePtr> args_;
};

// if(cond, a, b): a when cond is true; b when it is false or null. Lazy.
class IfNode final : public Node {
 public:
  IfNode(int offset, std::vector<NodePtr> args) : Node(offset), args_(std::move(args)) {}
  bool Eval(const Value* slots, EvalContext& ctx, Value* out) const override {
    Value c;
    if (!args_[0]->Eval(slots, ctx, &c)) return false;
    if (c.kind != Kind::kBool && c.kind != Kind::kNull)
      return Fail(ctx, "if() condition must be a bool, got " + Kn(c));
    bool take = c.kind == Kind::kBool && c.b;
    return args_[take ? 1 : 2]->Eval(slots, ctx, out);
  }

 private:
  std::vector<NodePtr> args_;
};

// The memory one compiled pattern may use (RE2's budget; a pattern that needs
// more is a configuration error).
constexpr int64_t kRegexMaxMemory = 8 << 20;

// regex_match(s, pattern): RE2 syntax with search semantics (the pattern may
// match anywhere; anchor it with ^ and $). RE2 matches in time linear in the
// text with bounded memory, so no record can make a match run away or overflow
// the stack (docs/trust-and-limits.md); it has no backreferences or
// lookaround. A pattern that is a plain literal, optionally anchored
// (`^/products`, `.html$`), is matched by a substring search.
class RegexNode final : public Node {
 public:
  RegexNode(int offset, NodePtr subject, std::unique_ptr<re2::RE2> re, std::string_view pattern)
      : Node(offset), subject_(std::move(subject)), re_(std::move(re)) {
    std::string_view p = pattern;
    bool start = !p.empty() && p.front() == '^';
    if (start) p.remove_prefix(1);
    bool end = !p.empty() && p.back() == '$';
    if (end) p.remove_suffix(1);
    if (p.find_first_of("\\^$.|?*+()[]{}") == std::string_view::npos) {
      literal_mode_ = true;
      literal_.assign(p);
      anchor_start_ = start;
      anchor_end_ = end;
    }
  }

  bool Eval(const Value* slots, EvalContext& ctx, Value* out) const override {
    Value s;
    if (!subject_->Eval(slots, ctx, &s)) return false;
    if (s.is_null()) {
      *out = s;
      return true;
    }
    if (s.kind != Kind::kString) return Fail(ctx, "regex_match() argument 1 must be a string, got " + Kn(s));
    if (literal_mode_) {
      std::string_view text = s.text();
      bool match;
      if (anchor_start_ && anchor_end_) {
        match = text == literal_;
      } else if (anchor_start_) {
        match = text.starts_with(literal_);
      } else if (anchor_end_) {
        match = text.ends_with(literal_);
      } else {
        match = text.find(literal_) != std::string_view::npos;
      }
      SetBool(out, match);
      return true;
    }
    SetBool(out, re2::RE2::PartialMatch(re2::StringPiece(s.str, s.len), *re_));
    return true;
  }

 private:
  NodePtr subject_;
  std::unique_ptr<re2::RE2> re_;  // const after compiling: RE2 matches from many threads
  bool literal_mode_ = false;
  bool anchor_start_ = false;
  bool anchor_end_ = false;
  std::string literal_;
};

enum class Special { kNone, kCoalesce, kIf, kRegex };

struct FunctionSpec {
  std::string_view name;
  int min_args;
  int max_args;  // -1: any number
  Impl impl;
  Special special = Special::kNone;
  bool pure = true;
  std::string_view signature;
};

constexpr FunctionSpec kFunctions[] = {
    {"lower", 1, 1, CaseMap<false>, Special::kNone, true, "lower(s)"},
    {"upper", 1, 1, CaseMap<true>, Special::kNone, true, "upper(s)"},
    {"length", 1, 1, Length, Special::kNone, true, "length(s | list | object)"},
    {"contains", 2, 2, Contains, Special::kNone, true, "contains(s, part)"},
    {"starts_with", 2, 2, StartsWith, Special::kNone, true, "starts_with(s, prefix)"},
    {"ends_with", 2, 2, EndsWith, Special::kNone, true, "ends_with(s, suffix)"},
    {"substr", 2, 3, Substr, Special::kNone, true, "substr(s, start[, len])"},
    {"concat", 1, -1, Concat, Special::kNone, true, "concat(a, b, ...)"},
    {"coalesce", 1, -1, nullptr, Special::kCoalesce, true, "coalesce(a, b, ...)"},
    {"if", 3, 3, nullptr, Special::kIf, true, "if(cond, then, else)"},
    {"abs", 1, 1, Abs, Special::kNone, true, "abs(x)"},
    {"round", 1, 2, Round, Special::kNone, true, "round(x[, digits])"},
    {"floor", 1, 1, FloorCeil<false>, Special::kNone, true, "floor(x)"},
    {"ceil", 1, 1, FloorCeil<true>, Special::kNone, true, "ceil(x)"},
    {"to_int", 1, 1, ToInt, Special::kNone, true, "to_int(x)"},
    {"to_float", 1, 1, ToFloat, Special::kNone, true, "to_float(x)"},
    {"to_string", 1, 1, ToString, Special::kNone, true, "to_string(x)"},
    {"regex_match", 2, 2, nullptr, Special::kRegex, true, "regex_match(s, 'pattern')"},
    {"hash", 1, 1, Hash, Special::kNone, true, "hash(x)"},
    {"now", 0, 0, Now, Special::kNone, false, "now()"},
};

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string ArgCountText(const FunctionSpec& f) {
  auto plural = [](int k) { return std::to_string(k) + (k == 1 ? " argument" : " arguments"); };
  if (f.max_args < 0) return "at least " + plural(f.min_args);
  if (f.min_args == f.max_args) return plural(f.min_args);
  return std::to_string(f.min_args) + " to " + plural(f.max_args);
}

}  // namespace

std::vector<std::string_view> FunctionNames() {
  std::vector<std::string_view> names;
  for (const auto& f : kFunctions) names.push_back(f.name);
  return names;
}

NodePtr MakeCall(int offset, std::string_view name, int name_end, std::vector<NodePtr> args,
                 CompileError* error) {
  const FunctionSpec* spec = nullptr;
  for (const auto& f : kFunctions)
    if (f.name == name) spec = &f;
  if (spec == nullptr) {
    std::string msg = "unknown function '" + std::string(name) + "'";
    std::string_view best;
    size_t best_d = 3;
    std::string lowered(name);
    for (char& c : lowered)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c ^ 0x20);
    for (const auto& f : kFunctions) {
      size_t d = f.name == lowered ? 0 : EditDistance(name, f.name);
      if (d < best_d && d < std::max<size_t>(name.size(), 2)) {
        best_d = d;
        best = f.name;
      }
    }
    if (!best.empty()) msg += ", did you mean '" + std::string(best) + "'?";
    error->offset = offset;
    error->message = std::move(msg);
    return nullptr;
  }
  const int n = static_cast<int>(args.size());
  if (n < spec->min_args || (spec->max_args >= 0 && n > spec->max_args)) {
    error->offset = offset;
    error->message = std::string(name) + "() takes " + ArgCountText(*spec) + ", got " + std::to_string(n) +
                     " (" + std::string(spec->signature) + ")";
    return nullptr;
  }
  switch (spec->special) {
    case Special::kCoalesce:
      return std::make_unique<CoalesceNode>(offset, std::move(args));
    case Special::kIf:
      return std::make_unique<IfNode>(offset, std::move(args));
    case Special::kRegex: {
      const Node& pattern = *args[1];
      if (!pattern.IsConst() || static_cast<const ConstNode&>(pattern).value().kind != Kind::kString) {
        error->offset = pattern.offset();
        error->message = "regex_match() pattern must be a string literal";
        return nullptr;
      }
      std::string_view text = static_cast<const ConstNode&>(pattern).value().text();
      re2::RE2::Options options(re2::RE2::Quiet);
      options.set_max_mem(kRegexMaxMemory);
      auto re = std::make_unique<re2::RE2>(re2::StringPiece(text.data(), text.size()), options);
      if (!re->ok()) {
        error->offset = pattern.offset();
        error->message = "invalid regular expression: " + re->error();
        return nullptr;
      }
      return std::make_unique<RegexNode>(offset, std::move(args[0]), std::move(re), text);
    }
    case Special::kNone:
      break;
  }
  return std::make_unique<CallNode>(offset, spec->impl, spec->pure, std::move(args));
}

}  // namespace streamrun::expr
