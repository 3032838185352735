#pragma once
// The value of one field of one record (docs/expressions.md). Values are small and
// trivially copyable: strings and nested JSON point into memory owned by the
// batch (its arena or the raw record bytes), never into the heap per record.
#include <cstdint>
#include <cstring>
#include <string_view>

namespace streamrun {

enum class Kind : uint8_t {
  kNull,
  kBool,
  kInt,     // 64-bit signed
  kFloat,   // double
  kString,  // unescaped UTF-8 text
  kList,    // raw JSON text of an array, e.g. `[1,"a"]`
  kObject,  // raw JSON text of an object, e.g. `{"a":1}`
};

std::string_view KindName(Kind k);

struct Value {
  Kind kind = Kind::kNull;
  union {
    bool b;
    int64_t i;
    double f;
  };
  // kString: the text; kList/kObject: the raw JSON text.
  const char* str = nullptr;
  uint32_t len = 0;

  Value() : i(0) {}

  static Value Null() { return Value(); }
  static Value Bool(bool v) {
    Value x;
    x.kind = Kind::kBool;
    x.b = v;
    return x;
  }
  static Value Int(int64_t v) {
    Value x;
    x.kind = Kind::kInt;
    x.i = v;
    return x;
  }
  static Value Float(double v) {
    Value x;
    x.kind = Kind::kFloat;
    x.f = v;
    return x;
  }
  // `s` must outlive the value (arena, raw record or a compiled constant).
  static Value String(std::string_view s) { return Text(Kind::kString, s); }
  static Value List(std::string_view raw_json) { return Text(Kind::kList, raw_json); }
  static Value Object(std::string_view raw_json) { return Text(Kind::kObject, raw_json); }

  bool is_null() const { return kind == Kind::kNull; }
  bool is_number() const { return kind == Kind::kInt || kind == Kind::kFloat; }
  std::string_view text() const { return {str, len}; }
  double as_double() const { return kind == Kind::kInt ? static_cast<double>(i) : f; }

 private:
  static Value Text(Kind k, std::string_view s) {
    Value x;
    x.kind = k;
    x.str = s.data();
    x.len = static_cast<uint32_t>(s.size());
    return x;
  }
};

// Structural equality as in the expression language's `==` on non-null values:
// ints and floats compare numerically; lists and objects compare by JSON text.
bool ValuesEqual(const Value& a, const Value& b);

// Three-way comparison of two numbers (-1, 0, 1; 2 if either is NaN), exact
// for every int64 and double and between the two kinds: 2^53 + 1 is greater
// than 2^53 as a float. The one numeric order: expressions, aggregates
// (min/max) and top_n all use it.
int CompareNumbers(const Value& a, const Value& b);

}  // namespace streamrun
