#include "runner/record/value.h"

#include <cmath>

namespace streamrun {
namespace {

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Equality of two JSON texts ignoring whitespace outside strings, so `[1, 2]`
// from a record equals the list literal `[1,2]`. Numbers compare by text.
bool JsonTextEqual(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  bool in_string = false;
  while (true) {
    if (!in_string) {
      while (i < a.size() && IsJsonSpace(a[i])) ++i;
      while (j < b.size() && IsJsonSpace(b[j])) ++j;
    }
    if (i == a.size() || j == b.size()) return i == a.size() && j == b.size();
    if (a[i] != b[j]) return false;
    if (in_string && a[i] == '\\') {  // the escaped byte is copied as is
      ++i;
      ++j;
      if (i == a.size() || j == b.size()) return i == a.size() && j == b.size();
      if (a[i] != b[j]) return false;
    } else if (a[i] == '"') {
      in_string = !in_string;
    }
    ++i;
    ++j;
  }
}

// Exact int64 vs double equality (no rounding of large ints).
bool IntEqualsFloat(int64_t i, double f) {
  if (!std::isfinite(f)) return false;
  if (f < -9223372036854775808.0 || f >= 9223372036854775808.0) return false;
  double t = std::trunc(f);
  if (t != f) return false;
  return static_cast<int64_t>(t) == i;
}

}  // namespace

std::string_view KindName(Kind k) {
  switch (k) {
    case Kind::kNull:
      return "null";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kFloat:
      return "float";
    case Kind::kString:
      return "string";
    case Kind::kList:
      return "list";
    case Kind::kObject:
      return "object";
  }
  return "unknown";
}

bool ValuesEqual(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.kind == Kind::kInt && b.kind == Kind::kInt) return a.i == b.i;
    if (a.kind == Kind::kFloat && b.kind == Kind::kFloat) return a.f == b.f;
    if (a.kind == Kind::kInt) return IntEqualsFloat(a.i, b.f);
    return IntEqualsFloat(b.i, a.f);
  }
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Kind::kNull:
      return true;
    case Kind::kBool:
      return a.b == b.b;
    case Kind::kString:
      return a.text() == b.text();
    case Kind::kList:
    case Kind::kObject:
      return JsonTextEqual(a.text(), b.text());
    default:
      return false;
  }
}

int CompareNumbers(const Value& a, const Value& b) {
  if (a.kind == Kind::kInt && b.kind == Kind::kInt) return a.i < b.i ? -1 : (a.i > b.i ? 1 : 0);
  if (a.kind == Kind::kFloat && b.kind == Kind::kFloat) {
    if (std::isnan(a.f) || std::isnan(b.f)) return 2;
    return a.f < b.f ? -1 : (a.f > b.f ? 1 : 0);
  }
  // int vs float, exactly: compare the int with the float's integral part, then
  // let the fraction decide.
  bool flip = a.kind == Kind::kFloat;
  int64_t i = flip ? b.i : a.i;
  double f = flip ? a.f : b.f;
  int r;
  if (std::isnan(f)) return 2;
  if (f >= 9223372036854775808.0) {
    r = -1;
  } else if (f < -9223372036854775808.0) {
    r = 1;
  } else {
    double t = std::trunc(f);
    int64_t ti = static_cast<int64_t>(t);
    if (i != ti) {
      r = i < ti ? -1 : 1;
    } else {
      double frac = f - t;
      r = frac > 0 ? -1 : (frac < 0 ? 1 : 0);
    }
  }
  return flip ? -r : r;
}

}  // namespace streamrun
