// Unit tests of the expression language (runner/expr, docs/expressions.md).
#include "runner/expr/expr.h"

#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <vector>

// Counts heap allocations so a test can check that evaluation makes none.
#include "tests/unit/counting_new.h"

namespace {

using streamrun::Arena;
using streamrun::Kind;
using streamrun::Value;
using namespace streamrun::expr;

// A record with named top-level fields; the resolver maps `name.rest` to the
// slot of `name` with subpath `rest`, and unknown names to slot -1.
struct Env {
  std::vector<std::string> names;
  std::vector<Value> slots;
  std::vector<std::vector<std::string>> resolver_calls;
  std::vector<std::unique_ptr<Expression>> keep;  // values may point into constants
  Arena arena;
  EvalContext ctx;

  Env() { ctx.arena = &arena; }

  void Set(const std::string& name, Value v) {
    names.push_back(name);
    slots.push_back(v);
  }

  Resolver resolver() {
    return [this](const std::vector<std::string>& path) {
      resolver_calls.push_back(path);
      FieldSlot s;
      for (size_t i = 0; i < names.size(); ++i) {
        if (names[i] == path[0]) {
          s.slot = static_cast<int>(i);
          s.subpath.assign(path.begin() + 1, path.end());
        }
      }
      return s;
    };
  }

  Expression& Compile(const std::string& text) {
    CompileError err;
    auto e = streamrun::expr::Compile(text, resolver(), &err);
    REQUIRE_MESSAGE(e != nullptr, text << " -> compile error at " << err.offset << ": " << err.message);
    keep.push_back(std::move(e));
    return *keep.back();
  }

  Value Eval(const std::string& text) {
    Expression& e = Compile(text);
    ctx.error.clear();
    Value v;
    bool ok = e.Eval(slots.data(), ctx, &v);
    REQUIRE_MESSAGE(ok, text << " -> record error: " << ctx.error);
    return v;
  }

  // The result as JSON text, so checks also see the type (2 vs 2.0 vs "2").
  std::string Json(const std::string& text) {
    std::string out;
    AppendJson(Eval(text), &out);
    return out;
  }

  // The record error message (the evaluation must fail).
  std::string Error(const std::string& text) {
    Expression& e = Compile(text);
    ctx.error.clear();
    Value v;
    bool ok = e.Eval(slots.data(), ctx, &v);
    std::string json;
    if (ok) AppendJson(v, &json);
    REQUIRE_MESSAGE(!ok, text << " -> expected a record error, got " << json);
    CHECK_FALSE(ctx.error.empty());
    return ctx.error;
  }
};

CompileError CompileFails(const std::string& text) {
  CompileError err;
  auto e = Compile(
      text,
      [](const std::vector<std::string>&) {
        return FieldSlot{0, {}};
      },
      &err);
  REQUIRE_MESSAGE(e == nullptr, text << " -> expected a compile error");
  CHECK_FALSE(err.message.empty());
  return err;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string ToJson(const Value& v) {
  std::string s;
  AppendJson(v, &s);
  return s;
}

}  // namespace

TEST_CASE("literals") {
  Env env;
  CHECK(env.Json("42") == "42");
  CHECK(env.Json("1.5") == "1.5");
  CHECK(env.Json("1e3") == "1000.0");
  CHECK(env.Json("2.5e-3") == "0.0025");
  CHECK(env.Json("'text'") == "\"text\"");
  CHECK(env.Json("\"text\"") == "\"text\"");
  CHECK(env.Json(R"('it\'s\n\t\\ \u00e9 \"q\"')") == "\"it's\\n\\t\\\\ \xC3\xA9 \\\"q\\\"\"");
  CHECK(env.Json(R"("\ud83d\ude00")") == "\"\xF0\x9F\x98\x80\"");
  CHECK(env.Json(R"('\d+\.')") == R"("\\d+\\.")");  // unknown escapes keep the backslash
  CHECK(env.Json(R"(regex_match('a12', '\d\d'))") == "true");
  CHECK(env.Json("true") == "true");
  CHECK(env.Json("false") == "false");
  CHECK(env.Json("null") == "null");
  CHECK(env.Json("[1, 'a', [2, null], 1.0]") == R"([1,"a",[2,null],1.0])");
  CHECK(env.Json("[]") == "[]");
  CHECK(env.Json("-9223372036854775808") == "-9223372036854775808");
  CHECK(env.Json("9223372036854775807") == "9223372036854775807");
  CHECK(env.Eval("'x'").kind == Kind::kString);
  CHECK(env.Eval("[1]").kind == Kind::kList);
}

TEST_CASE("precedence and associativity") {
  Env env;
  CHECK(env.Json("1 + 2 * 3") == "7");
  CHECK(env.Json("(1 + 2) * 3") == "9");
  CHECK(env.Json("2 - 3 - 4") == "-5");
  CHECK(env.Json("24 / 4 / 2") == "3.0");
  CHECK(env.Json("-2 * 3") == "-6");
  CHECK(env.Json("- (2 + 3)") == "-5");
  CHECK(env.Json("--2") == "2");
  CHECK(env.Json("1 + 2 == 3") == "true");
  CHECK(env.Json("not 1 == 2") == "true");  // not binds looser than ==
  CHECK(env.Json("! 1 == 2") == "true");
  CHECK(env.Json("true or false and false") == "true");  // and binds tighter than or
  CHECK(env.Json("(true or false) and false") == "false");
  CHECK(env.Json("not true or true") == "true");
  CHECK(env.Json("not (true or true)") == "false");
  CHECK(env.Json("false && false || true") == "true");
  CHECK(env.Json("1 < 2 and 2 < 3") == "true");
  CHECK(env.Json("2 in [1, 2] and 3 not in [1, 2]") == "true");
  CHECK(env.Json("null is null and 1 is not null") == "true");
  CHECK(env.Json("1 + 1 in [2]") == "true");
  CHECK(env.Json("-1 + 3 * 2 % 4") == "1");
}

TEST_CASE("arithmetic") {
  Env env;
  CHECK(env.Json("7 / 2") == "3.5");
  CHECK(env.Json("6 / 3") == "2.0");  // `/` always gives a float
  CHECK(env.Json("7 % 3") == "1");
  CHECK(env.Json("-7 % 3") == "-1");
  CHECK(env.Json("1 + 0.5") == "1.5");
  CHECK(env.Json("2 * 1.5") == "3.0");
  CHECK(env.Json("1.5 - 2") == "-0.5");
  CHECK(env.Json("-9223372036854775808 % -1") == "0");
  CHECK(env.Json("1e308 * 10") == "null");  // inf is written as null
}

TEST_CASE("arithmetic type errors and faults are record errors") {
  Env env;
  env.Set("s", Value::String("a"));
  env.Set("i", Value::Int(0));
  CHECK(env.Error("'a' * 2") == "cannot multiply string by int");
  CHECK(env.Error("s * 2") == "cannot multiply string by int");
  CHECK(Contains(env.Error("'a' + 'b'"), "concat"));
  CHECK(env.Error("1 - true") == "cannot subtract bool from int");
  CHECK(env.Error("[1] / 2") == "cannot divide list by int");
  CHECK(env.Error("1 / 0") == "division by zero");
  CHECK(env.Error("1 / i") == "division by zero");
  CHECK(env.Error("1.5 / 0.0") == "division by zero");
  CHECK(env.Error("5 % i") == "modulo by zero");
  CHECK(Contains(env.Error("5.5 % 2"), "'%' needs two ints"));
  CHECK(Contains(env.Error("9223372036854775807 + 1"), "overflow"));
  CHECK(Contains(env.Error("-9223372036854775807 - 2"), "overflow"));
  CHECK(Contains(env.Error("4611686018427387904 * 2"), "overflow"));
  CHECK(Contains(env.Error("-(-9223372036854775808)"), "overflow"));
  CHECK(env.Error("-'a'") == "cannot negate string");
}

TEST_CASE("null rules") {
  Env env;
  env.Set("n", Value::Null());
  env.Set("one", Value::Int(1));
  // arithmetic with null gives null, even before a type check
  CHECK(env.Json("n + 1") == "null");
  CHECK(env.Json("1 * null") == "null");
  CHECK(env.Json("null * 'a'") == "null");
  CHECK(env.Json("-n") == "null");
  CHECK(env.Json("n / 0") == "null");
  // a comparison with null is false
  CHECK(env.Json("n == null") == "false");
  CHECK(env.Json("null == null") == "false");
  CHECK(env.Json("n != 1") == "false");
  CHECK(env.Json("n < 1") == "false");
  CHECK(env.Json("n >= 1") == "false");
  CHECK(env.Json("n is null") == "true");
  CHECK(env.Json("n is not null") == "false");
  CHECK(env.Json("one is null") == "false");
  CHECK(env.Json("missing is null") == "true");  // unresolved field: slot -1
  // and/or/not treat null as false
  CHECK(env.Json("n and true") == "false");
  CHECK(env.Json("true and n") == "false");
  CHECK(env.Json("n or true") == "true");
  CHECK(env.Json("n or n") == "false");
  CHECK(env.Json("not n") == "true");
  CHECK(env.Json("not null") == "true");
  // functions: any null argument gives null, except coalesce and if
  CHECK(env.Json("lower(n)") == "null");
  CHECK(env.Json("concat('a', n)") == "null");
  CHECK(env.Json("length(n)") == "null");
  CHECK(env.Json("coalesce(n, 2)") == "2");
  CHECK(env.Json("if(n, 1, 2)") == "2");
  CHECK(env.Json("hash(n)") == "null");
}

TEST_CASE("logic") {
  Env env;
  env.Set("zero", Value::Int(0));
  CHECK(env.Json("true and true") == "true");
  CHECK(env.Json("true and false") == "false");
  CHECK(env.Json("false or true") == "true");
  CHECK(env.Json("!true") == "false");
  CHECK(Contains(env.Error("1 and true"), "'and' needs bool operands, got int"));
  CHECK(Contains(env.Error("false or 'x'"), "'or' needs bool operands, got string"));
  CHECK(Contains(env.Error("not 1"), "'not' needs a bool, got int"));
  // short circuit: the right side is not evaluated
  CHECK(env.Json("false and 1 / zero > 0") == "false");
  CHECK(env.Json("true or 'x' * 2 == 1") == "true");
  CHECK(env.Error("true and 1 / zero > 0") == "division by zero");
}

TEST_CASE("comparisons") {
  Env env;
  env.Set("lst", Value::List("[1,  2]"));
  env.Set("obj", Value::Object(R"({"a": 1})"));
  CHECK(env.Json("1 == 1.0") == "true");
  CHECK(env.Json("1 != 1.0") == "false");
  CHECK(env.Json("1 < 1.5") == "true");
  CHECK(env.Json("2 <= 2") == "true");
  CHECK(env.Json("3 > 2.5") == "true");
  CHECK(env.Json("2 >= 2.5") == "false");
  // int vs float is exact, not rounded through double
  CHECK(env.Json("9007199254740993 > 9007199254740992.0") == "true");
  CHECK(env.Json("9007199254740993 == 9007199254740992.0") == "false");
  CHECK(env.Json("'abc' < 'abd'") == "true");
  CHECK(env.Json("'b' > 'abc'") == "true");
  CHECK(env.Json("'B' < 'a'") == "true");  // bytewise
  CHECK(env.Json("'a' == 'a'") == "true");
  CHECK(env.Json("true == true") == "true");
  CHECK(env.Json("false < true") == "true");
  // incompatible types: == is false, != is true, ordering is an error
  CHECK(env.Json("1 == '1'") == "false");
  CHECK(env.Json("1 != '1'") == "true");
  CHECK(env.Json("true == 1") == "false");
  CHECK(env.Error("'a' < 1") == "cannot compare string with int using '<'");
  CHECK(env.Error("lst >= lst") == "cannot compare list with list using '>='");
  // lists and objects compare by JSON text, ignoring whitespace
  CHECK(env.Json("lst == [1, 2]") == "true");
  CHECK(env.Json("lst == [2, 1]") == "false");
  CHECK(env.Json(R"(obj == obj)") == "true");
  CHECK(env.Json("lst == obj") == "false");
  CHECK(env.Json("1 <> 2") == "true");
}

TEST_CASE("in and not in") {
  Env env;
  env.Set("tags", Value::List(R"(["a", "b\"q", 3, 2.5, true, null, [1, 2], {"k": 1}])"));
  env.Set("s", Value::String("b"));
  env.Set("n", Value::Null());
  env.Set("x", Value::Int(2));
  env.Set("y", Value::Int(3));
  CHECK(env.Json("2 in [1, 2, 3]") == "true");
  CHECK(env.Json("4 in [1, 2, 3]") == "false");
  CHECK(env.Json("4 not in [1, 2, 3]") == "true");
  CHECK(env.Json("2 not in [1, 2, 3]") == "false");
  CHECK(env.Json("1.0 in [1]") == "true");
  CHECK(env.Json("s in ['a', 'b']") == "true");
  CHECK(env.Json("s in ['a', 'c']") == "false");
  CHECK(env.Json("x in [y, x]") == "true");  // non-constant elements
  CHECK(env.Json("x in [y, n]") == "false");
  CHECK(env.Json("1 in []") == "false");
  // null never matches; `null not in` is false too
  CHECK(env.Json("null in [null]") == "false");
  CHECK(env.Json("n in [1]") == "false");
  CHECK(env.Json("n not in [1]") == "false");
  // a list-valued field
  CHECK(env.Json("'a' in tags") == "true");
  CHECK(env.Json("'b\"q' in tags") == "true");  // JSON escapes are decoded
  CHECK(env.Json("'c' in tags") == "false");
  CHECK(env.Json("'c' not in tags") == "true");
  CHECK(env.Json("3 in tags") == "true");
  CHECK(env.Json("3.0 in tags") == "true");
  CHECK(env.Json("2.5 in tags") == "true");
  CHECK(env.Json("true in tags") == "true");
  CHECK(env.Json("false in tags") == "false");
  CHECK(env.Json("[1,2] in tags") == "true");
  CHECK(env.Json("[2,1] in tags") == "false");
  CHECK(env.Json("'3' in tags") == "false");
  CHECK(env.Json("'a' in n") == "false");
  CHECK(env.Error("'a' in s") == "right side of 'in' must be a list, got string");
  CHECK(env.Json("'a' in missing") == "false");
}

TEST_CASE("subpath navigation into list and object values") {
  Env env;
  env.Set("user",
          Value::Object(R"({"name": "Ann", "tags": ["x", "y"], "n": {"d": 1.5, "big": 18446744073709551616},
      "esc": "a\"b\u00e9", "ok": true, "nothing": null, "count": -7, "deep": {"list": [{"v": 10}, {"v": 20}]}})"));
  env.Set("odd name", Value::Object(R"({"x": 5})"));
  env.Set("arr", Value::List(R"([10, "s", [1, 2]])"));
  env.Set("str", Value::String("plain"));
  env.Set("bad", Value::Object(R"({"a": )"));
  CHECK(env.Json("user.name") == "\"Ann\"");
  CHECK(env.Eval("user.name").kind == Kind::kString);
  CHECK(env.Json("user.tags") == R"(["x", "y"])");
  CHECK(env.Eval("user.tags").kind == Kind::kList);
  CHECK(env.Json("user.n") == R"({"d": 1.5, "big": 18446744073709551616})");
  CHECK(env.Eval("user.n").kind == Kind::kObject);
  CHECK(env.Json("user.n.d") == "1.5");
  CHECK(env.Json("user.n.big") == "18446744073709551616.0");  // too big for int64: a float
  CHECK(env.Json("user.esc") == "\"a\\\"b\xC3\xA9\"");
  CHECK(env.Eval("user.esc").len == 5);  // unescaped: a " b é(2 bytes)
  CHECK(env.Json("user.ok") == "true");
  CHECK(env.Json("user.count") == "-7");
  CHECK(env.Json("user.count * 2") == "-14");
  CHECK(env.Json("user.nothing") == "null");
  CHECK(env.Json("user.missing") == "null");
  CHECK(env.Json("user.name.first") == "null");  // a string has no fields
  CHECK(env.Json("user.tags.`1`") == "\"y\"");
  CHECK(env.Json("user.tags.`5`") == "null");
  CHECK(env.Json("user.deep.list.`1`.v") == "20");
  CHECK(env.Json("arr.`0`") == "10");
  CHECK(env.Json("arr.`2`") == "[1, 2]");
  CHECK(env.Json("arr.x") == "null");
  CHECK(env.Json("str.x") == "null");
  CHECK(env.Json("`odd name`.x") == "5");
  CHECK(env.Json("length(user.tags)") == "2");
  CHECK(env.Json("'y' in user.tags") == "true");
  CHECK(env.Json("upper(user.name)") == "\"ANN\"");
  CHECK(Contains(env.Error("bad.a"), "invalid JSON"));
}

TEST_CASE("field resolution: once per distinct path, in order") {
  Env env;
  env.Set("a", Value::Int(2));
  env.Set("b", Value::Object(R"({"c": 3})"));
  Expression& e = env.Compile("a + a * b.c + a + `b`.c");
  CHECK(env.resolver_calls.size() == 2);
  REQUIRE(e.fields().size() == 2);
  CHECK(e.fields()[0] == std::vector<std::string>{"a"});
  CHECK(e.fields()[1] == std::vector<std::string>{"b", "c"});
  CHECK(e.text() == "a + a * b.c + a + `b`.c");
  CHECK(env.Json("a + a * b.c + a + `b`.c") == "13");
}

TEST_CASE("IsFieldRef") {
  Env env;
  env.Set("page_url", Value::String("/"));
  CHECK(env.Compile("page_url").IsFieldRef());
  CHECK(env.Compile("page_url.x").IsFieldRef());
  CHECK(env.Compile("(page_url)").IsFieldRef());
  CHECK(env.Compile("missing").IsFieldRef());
  CHECK_FALSE(env.Compile("page_url + 1").IsFieldRef());
  CHECK_FALSE(env.Compile("1").IsFieldRef());
  CHECK_FALSE(env.Compile("lower(page_url)").IsFieldRef());
}

TEST_CASE("string functions") {
  Env env;
  env.Set("s", Value::String("Hello"));
  CHECK(env.Json("lower('AbC')") == "\"abc\"");
  CHECK(env.Json("upper('abc-1')") == "\"ABC-1\"");
  CHECK(env.Json("upper('\xC3\xA9"
                 "a')") ==
        "\"\xC3\xA9"
        "A\"");  // ASCII letters only
  CHECK(env.Json("lower(s)") == "\"hello\"");
  CHECK(env.Json("upper(s)") == "\"HELLO\"");
  CHECK(env.Error("lower(1)") == "lower() expects a string, got int");
  CHECK(env.Json("length('h\xC3\xA9llo')") == "5");  // code points, not bytes
  CHECK(env.Json("length('')") == "0");
  CHECK(env.Json("length([1, [2, 3], 'x'])") == "3");
  CHECK(env.Json("length([])") == "0");
  CHECK(Contains(env.Error("length(5)"), "length() expects a string, list or object, got int"));
  CHECK(env.Json("contains('hello', 'ell')") == "true");
  CHECK(env.Json("contains('hello', 'xyz')") == "false");
  CHECK(env.Json("contains('hello', '')") == "true");
  CHECK(env.Error("contains('hello', 1)") == "contains() argument 2 must be a string, got int");
  CHECK(env.Json("starts_with(s, 'He')") == "true");
  CHECK(env.Json("starts_with(s, 'he')") == "false");
  CHECK(env.Json("ends_with(s, 'llo')") == "true");
  CHECK(env.Json("ends_with(s, 'Hell')") == "false");
  CHECK(env.Json("substr('h\xC3\xA9llo', 1, 3)") == "\"\xC3\xA9ll\"");
  CHECK(env.Json("substr('hello', 2)") == "\"llo\"");
  CHECK(env.Json("substr('hello', 0, 1)") == "\"h\"");
  CHECK(env.Json("substr('hello', -3)") == "\"llo\"");
  CHECK(env.Json("substr('hello', -3, 2)") == "\"ll\"");
  CHECK(env.Json("substr('hello', -10, 2)") == "\"he\"");
  CHECK(env.Json("substr('hi', 5)") == "\"\"");
  CHECK(env.Json("substr('hello', 1, 0)") == "\"\"");
  CHECK(env.Json("substr('hello', 1, -1)") == "\"\"");
  CHECK(env.Json("substr('hello', 3, 100)") == "\"lo\"");
  CHECK(env.Error("substr('abc', '1')") == "substr() argument 2 must be an int, got string");
  CHECK(env.Json("concat('a', 'b', 'c')") == "\"abc\"");
  CHECK(env.Json("concat('a', 1, 2.0, true, [1, 2])") == "\"a12.0true[1,2]\"");
  CHECK(env.Json("concat('x')") == "\"x\"");
  CHECK(env.Json("concat(s, ':', length(s))") == "\"Hello:5\"");
  CHECK(env.Json("concat('', '')") == "\"\"");
  CHECK(env.Json("concat(1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18)") ==
        "\"123456789101112131415161718\"");
  CHECK(env.Json("regex_match('abc123', '[0-9]+')") == "true");  // search, not full match
  CHECK(env.Json("regex_match('abc', '^b')") == "false");
  CHECK(env.Json("regex_match(s, '^H.*o$')") == "true");
  CHECK(env.Error("regex_match(1, 'x')") == "regex_match() argument 1 must be a string, got int");
}

TEST_CASE("numeric functions") {
  Env env;
  CHECK(env.Json("abs(-3)") == "3");
  CHECK(env.Json("abs(3)") == "3");
  CHECK(env.Json("abs(-2.5)") == "2.5");
  CHECK(env.Error("abs('a')") == "abs() expects a number, got string");
  CHECK(Contains(env.Error("abs(-9223372036854775808)"), "overflow"));
  CHECK(env.Json("round(2.5)") == "3.0");
  CHECK(env.Json("round(-2.5)") == "-3.0");
  CHECK(env.Json("round(2.4)") == "2.0");
  CHECK(env.Json("round(3.14159, 2)") == "3.14");
  CHECK(env.Json("round(1234.5, -2)") == "1200.0");
  CHECK(env.Json("round(7)") == "7");
  CHECK(env.Json("round(7, 2)") == "7");
  CHECK(env.Json("round(1250, -2)") == "1300");
  CHECK(env.Json("round(1249, -2)") == "1200");
  CHECK(env.Json("round(-1250, -2)") == "-1300");
  CHECK(env.Json("round(-1249, -2)") == "-1200");
  CHECK(env.Error("round(1.5, 1.0)") == "round() argument 2 must be an int, got float");
  CHECK(env.Json("floor(1.7)") == "1.0");
  CHECK(env.Json("floor(-1.5)") == "-2.0");
  CHECK(env.Json("floor(3)") == "3");
  CHECK(env.Json("ceil(1.2)") == "2.0");
  CHECK(env.Json("ceil(-1.2)") == "-1.0");
  CHECK(env.Json("ceil(3)") == "3");
  CHECK(env.Error("floor('1')") == "floor() expects a number, got string");
}

TEST_CASE("conversions") {
  Env env;
  CHECK(env.Json("to_int('42')") == "42");
  CHECK(env.Json("to_int('-42')") == "-42");
  CHECK(env.Json("to_int('+7')") == "7");
  CHECK(env.Json("to_int('4.9')") == "4");
  CHECK(env.Json("to_int('1e3')") == "1000");
  CHECK(env.Json("to_int(4.9)") == "4");
  CHECK(env.Json("to_int(-4.9)") == "-4");
  CHECK(env.Json("to_int(true)") == "1");
  CHECK(env.Json("to_int(7)") == "7");
  CHECK(Contains(env.Error("to_int('abc')"), "cannot convert string 'abc' to int"));
  CHECK(Contains(env.Error("to_int('12abc')"), "cannot convert"));
  CHECK(Contains(env.Error("to_int('')"), "cannot convert"));
  CHECK(Contains(env.Error("to_int(1e30)"), "out of range"));
  CHECK(Contains(env.Error("to_int([1])"), "to_int() expects"));
  CHECK(env.Json("to_float('1.5')") == "1.5");
  CHECK(env.Json("to_float('2')") == "2.0");
  CHECK(env.Json("to_float(2)") == "2.0");
  CHECK(env.Json("to_float(false)") == "0.0");
  CHECK(Contains(env.Error("to_float('x')"), "cannot convert string 'x' to float"));
  CHECK(env.Json("to_string(1.0)") == "\"1.0\"");
  CHECK(env.Json("to_string(0.1)") == "\"0.1\"");
  CHECK(env.Json("to_string(42)") == "\"42\"");
  CHECK(env.Json("to_string(true)") == "\"true\"");
  CHECK(env.Json("to_string('s')") == "\"s\"");
  CHECK(env.Json("to_string([1, 'a'])") == R"("[1,\"a\"]")");
  CHECK(env.Eval("to_string(5)").kind == Kind::kString);
}

TEST_CASE("coalesce and if") {
  Env env;
  env.Set("a", Value::String("A"));
  env.Set("n", Value::Null());
  env.Set("zero", Value::Int(0));
  CHECK(env.Json("coalesce(n, null, 3)") == "3");
  CHECK(env.Json("coalesce(a, 'd')") == "\"A\"");
  CHECK(env.Json("coalesce(n)") == "null");
  CHECK(env.Json("coalesce(n, missing)") == "null");
  CHECK(env.Json("coalesce(a, 1 / zero)") == "\"A\"");  // lazy
  CHECK(env.Json("if(true, 1, 2)") == "1");
  CHECK(env.Json("if(false, 1, 2)") == "2");
  CHECK(env.Json("if(a == 'A', 'yes', 'no')") == "\"yes\"");
  CHECK(env.Json("if(true, 1, 1 / zero)") == "1");  // lazy
  CHECK(env.Error("if(false, 1, 1 / zero)") == "division by zero");
  CHECK(env.Error("if(1, 1, 2)") == "if() condition must be a bool, got int");
}

namespace {
int64_t Fnv1a(std::string_view s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<int64_t>(h);
}
}  // namespace

TEST_CASE("hash is stable FNV-1a over tag + canonical text") {
  Env env;
  env.Set("lst", Value::List(R"([1, "a b"])"));
  CHECK(env.Eval("hash('a')").i == Fnv1a("sa"));
  CHECK(env.Eval("hash(42)").i == Fnv1a("n42"));
  CHECK(env.Eval("hash(1.5)").i == Fnv1a("n1.5"));
  CHECK(env.Eval("hash(true)").i == Fnv1a("btrue"));
  CHECK(env.Eval("hash(lst)").i == Fnv1a(R"(l[1,"a b"])"));
  // a fixed value: the same on every run and machine
  CHECK(Fnv1a("a") == static_cast<int64_t>(0xaf63dc4c8601ec8cull));  // the published FNV-1a 64 vector
  CHECK(env.Eval("hash('')").i == static_cast<int64_t>(0xaf63ee4c86020b22ull));  // FNV-1a("s")
  CHECK(env.Json("hash(1) == hash(1.0)") == "true");                             // equal values hash equally
  CHECK(env.Json("hash('1') != hash(1)") == "true");
  CHECK(env.Json("hash(lst) == hash([1,'a b'])") == "true");
  CHECK(env.Json("hash('a') != hash('b')") == "true");
  CHECK(env.Eval("hash('a')").kind == Kind::kInt);
}

TEST_CASE("now() reads the context and is never folded") {
  Env env;
  Expression& e = env.Compile("now() + 1");
  Value v;
  env.ctx.now_ms = 1000;
  REQUIRE(e.Eval(env.slots.data(), env.ctx, &v));
  CHECK(v.i == 1001);
  env.ctx.now_ms = 5000;
  REQUIRE(e.Eval(env.slots.data(), env.ctx, &v));
  CHECK(v.i == 5001);
}

TEST_CASE("compile errors carry offsets and clear messages") {
  CompileError e;
  e = CompileFails("1 +");
  CHECK(e.offset == 3);
  CHECK(Contains(e.message, "expected an expression"));
  e = CompileFails("lowr(x)");
  CHECK(e.offset == 0);
  CHECK(e.message == "unknown function 'lowr', did you mean 'lower'?");
  e = CompileFails("x + LOWER(x)");
  CHECK(e.offset == 4);
  CHECK(Contains(e.message, "did you mean 'lower'"));
  e = CompileFails("frobnicate(x)");
  CHECK(e.message == "unknown function 'frobnicate'");
  e = CompileFails("a + lower(x, y)");
  CHECK(e.offset == 4);
  CHECK(Contains(e.message, "lower() takes 1 argument, got 2"));
  e = CompileFails("substr('a')");
  CHECK(Contains(e.message, "takes 2 to 3 arguments"));
  e = CompileFails("concat()");
  CHECK(Contains(e.message, "at least 1 argument"));
  e = CompileFails("now(1)");
  CHECK(Contains(e.message, "now() takes 0 arguments"));
  e = CompileFails("lower(x");
  CHECK(e.offset == 7);
  CHECK(Contains(e.message, "expected ')' after arguments"));
  e = CompileFails("lower(x y)");
  CHECK(e.offset == 8);
  e = CompileFails("(1 + 2");
  CHECK(e.offset == 6);
  CHECK(Contains(e.message, "expected ')'"));
  e = CompileFails("1 + 2)");
  CHECK(e.offset == 5);
  e = CompileFails("a = 1");
  CHECK(e.offset == 2);
  CHECK(Contains(e.message, "'=='"));
  e = CompileFails("'\\ud800'");
  CHECK(Contains(e.message, "surrogate"));
  e = CompileFails("'\\u12'");
  CHECK(Contains(e.message, "4 hex digits"));
  e = CompileFails("x == 'abc");
  CHECK(e.offset == 5);
  CHECK(Contains(e.message, "unterminated string"));
  e = CompileFails("1 < 2 < 3");
  CHECK(e.offset == 6);
  CHECK(Contains(e.message, "cannot be chained"));
  e = CompileFails("a is 1");
  CHECK(e.offset == 5);
  CHECK(Contains(e.message, "expected 'null'"));
  e = CompileFails("a b");
  CHECK(e.offset == 2);
  e = CompileFails("regex_match(s, p)");
  CHECK(e.offset == 15);
  CHECK(Contains(e.message, "string literal"));
  e = CompileFails("regex_match(s, 'h' + s)");
  CHECK(e.offset == 15);
  e = CompileFails("regex_match(s, '(')");
  CHECK(e.offset == 15);
  CHECK(Contains(e.message, "invalid regular expression"));
  e = CompileFails("9223372036854775808");
  CHECK(Contains(e.message, "out of range"));
  e = CompileFails("99999999999999999999");
  CHECK(e.offset == 0);
  e = CompileFails("a.");
  CHECK(e.offset == 2);
  CHECK(Contains(e.message, "field name after '.'"));
  e = CompileFails("[1, 2");
  CHECK(e.offset == 5);
  CHECK(Contains(e.message, "']'"));
  e = CompileFails("");
  CHECK(e.offset == 0);
  e = CompileFails("x in");
  CHECK(e.offset == 4);
  e = CompileFails("and");
  CHECK(e.offset == 0);
  e = CompileFails("`unterminated");
  CHECK(e.offset == 0);
  e = CompileFails("a # b");
  CHECK(e.offset == 2);
  e = CompileFails(std::string(1000, '(') + "1" + std::string(1000, ')'));
  CHECK(Contains(e.message, "nested too deeply"));
}

TEST_CASE("constant folding keeps errors for run time") {
  Env env;
  // Folds: no field, no error
  CHECK(env.Json("concat('a', 'b') == 'ab'") == "true");
  // Does not fold into a compile error: `1/0` in a branch that never runs is fine
  CHECK(env.Json("if(false, 1 / 0, 2)") == "2");
  CHECK(env.Error("1 / 0") == "division by zero");
  // regex pattern may be a constant expression
  CHECK(env.Json("regex_match('ab', concat('^', 'a'))") == "true");
}

TEST_CASE("EvalPredicate") {
  Env env;
  env.Set("x", Value::Int(2));
  env.Set("n", Value::Null());
  bool keep = true;
  REQUIRE(env.Compile("x > 1").EvalPredicate(env.slots.data(), env.ctx, &keep));
  CHECK(keep);
  REQUIRE(env.Compile("x > 5").EvalPredicate(env.slots.data(), env.ctx, &keep));
  CHECK_FALSE(keep);
  keep = true;
  REQUIRE(env.Compile("n").EvalPredicate(env.slots.data(), env.ctx, &keep));
  CHECK_FALSE(keep);
  keep = true;
  REQUIRE(env.Compile("n > 1").EvalPredicate(env.slots.data(), env.ctx, &keep));
  CHECK_FALSE(keep);
  env.ctx.error.clear();
  CHECK_FALSE(env.Compile("x + 1").EvalPredicate(env.slots.data(), env.ctx, &keep));
  CHECK(env.ctx.error == "filter expression gave int, expected bool");
  env.ctx.error.clear();
  CHECK_FALSE(env.Compile("'a' * x").EvalPredicate(env.slots.data(), env.ctx, &keep));
  CHECK(env.ctx.error == "cannot multiply string by int");
}

TEST_CASE("AppendJson") {
  CHECK(ToJson(Value::Null()) == "null");
  CHECK(ToJson(Value::Bool(true)) == "true");
  CHECK(ToJson(Value::Int(-12)) == "-12");
  CHECK(ToJson(Value::Int(std::numeric_limits<int64_t>::min())) == "-9223372036854775808");
  CHECK(ToJson(Value::Float(0.1)) == "0.1");
  CHECK(ToJson(Value::Float(2.0)) == "2.0");
  CHECK(ToJson(Value::Float(-0.0)) == "-0.0");
  CHECK(ToJson(Value::Float(1e20)) == "1e+20");
  CHECK(ToJson(Value::Float(1.0 / 3)) == "0.3333333333333333");
  CHECK(ToJson(Value::Float(123456.789)) == "123456.789");
  CHECK(ToJson(Value::Float(std::nan(""))) == "null");
  CHECK(ToJson(Value::Float(std::numeric_limits<double>::infinity())) == "null");
  CHECK(ToJson(Value::String("plain")) == "\"plain\"");
  CHECK(ToJson(Value::String("q\"b\\s/")) == "\"q\\\"b\\\\s/\"");
  CHECK(ToJson(Value::String("a\nb\tc\r")) == "\"a\\nb\\tc\\r\"");
  CHECK(ToJson(Value::String(std::string_view("\x01\x1f\0", 3))) == "\"\\u0001\\u001f\\u0000\"");
  CHECK(ToJson(Value::String("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80")) ==
        "\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"");
  CHECK(ToJson(Value::String("a\xFF"
                             "b")) ==
        "\"a\xEF\xBF\xBD"
        "b\"");                                                // invalid byte -> U+FFFD
  CHECK(ToJson(Value::String("\xC3")) == "\"\xEF\xBF\xBD\"");  // truncated sequence
  CHECK(ToJson(Value::String("\xED\xA0\x80")) == "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");  // surrogate
  CHECK(ToJson(Value::String("")) == "\"\"");
  CHECK(ToJson(Value::List("[1, 2]")) == "[1, 2]");
  CHECK(ToJson(Value::Object(R"({"a":1})")) == R"({"a":1})");
  std::string out = "x=";
  AppendJson(Value::Int(1), &out);
  CHECK(out == "x=1");  // appends
}

TEST_CASE("ParseFieldPath") {
  std::vector<std::string> p;
  REQUIRE(ParseFieldPath("a.b.c", &p));
  CHECK(p == std::vector<std::string>{"a", "b", "c"});
  REQUIRE(ParseFieldPath("page_url", &p));
  CHECK(p == std::vector<std::string>{"page_url"});
  REQUIRE(ParseFieldPath("`odd name`.x", &p));
  CHECK(p == std::vector<std::string>{"odd name", "x"});
  REQUIRE(ParseFieldPath("a.`b``c`", &p));
  CHECK(p == std::vector<std::string>{"a", "b`c"});
  REQUIRE(ParseFieldPath("a.in", &p));  // keywords are fine after a dot
  CHECK(p == std::vector<std::string>{"a", "in"});
  REQUIRE(ParseFieldPath("`null`", &p));
  CHECK(p == std::vector<std::string>{"null"});
  CHECK_FALSE(ParseFieldPath("a + b", &p));
  CHECK_FALSE(ParseFieldPath("null", &p));
  CHECK_FALSE(ParseFieldPath("true", &p));
  CHECK_FALSE(ParseFieldPath("lower(a)", &p));
  CHECK_FALSE(ParseFieldPath("a.", &p));
  CHECK_FALSE(ParseFieldPath("", &p));
  CHECK_FALSE(ParseFieldPath("1", &p));
  CHECK_FALSE(ParseFieldPath("'a'", &p));
}

TEST_CASE("ValuesEqual and KindName") {
  using streamrun::KindName;
  using streamrun::ValuesEqual;
  CHECK(KindName(Kind::kNull) == "null");
  CHECK(KindName(Kind::kFloat) == "float");
  CHECK(KindName(Kind::kObject) == "object");
  CHECK(ValuesEqual(Value::Int(3), Value::Float(3.0)));
  CHECK_FALSE(ValuesEqual(Value::Int(3), Value::Float(3.5)));
  CHECK_FALSE(ValuesEqual(Value::Int(3), Value::String("3")));
  CHECK(ValuesEqual(Value::Null(), Value::Null()));
  CHECK(ValuesEqual(Value::List("[1, \"a b\"]"), Value::List("[1,\"a b\"]")));
  CHECK_FALSE(ValuesEqual(Value::List("[\"a b\"]"), Value::List("[\"ab\"]")));  // spaces inside strings count
  CHECK_FALSE(ValuesEqual(Value::List("[1]"), Value::Object("[1]")));
  CHECK_FALSE(ValuesEqual(Value::Float(std::nan("")), Value::Float(std::nan(""))));
}

TEST_CASE("evaluation makes no heap allocation once warm") {
  long probe = g_allocations.load();
  auto boxed = std::make_unique<int>(1);
  REQUIRE(g_allocations.load() > probe);  // the counter works
  Env env;
  env.Set("url", Value::String("/Products/Item?id=7"));
  env.Set("price", Value::Float(19.5));
  env.Set("qty", Value::Int(3));
  env.Set("user", Value::Object(R"({"name": "Ann", "tags": ["vip", "new"]})"));
  const char* exprs[] = {
      "url is not null and lower(url) != '/home' and price * qty > 10",
      "concat(upper(user.name), ':', qty, ':', price)",
      "'vip' in user.tags and qty in [1, 2, 3] and length(url) > 3",
      "substr(url, 1, 8) == 'Products' or starts_with(url, '/x')",
      "if(qty % 2 == 1, round(price / 3, 2), coalesce(user.nothing, 0.0)) + hash(url) % 10",
      "to_string(price) == '19.5' and to_int('42') == 42 and abs(-qty) == 3",
  };
  for (const char* text : exprs) {
    Expression& e = env.Compile(text);
    Value v;
    for (int warm = 0; warm < 3; ++warm) {
      env.arena.Reset();
      REQUIRE_MESSAGE(e.Eval(env.slots.data(), env.ctx, &v), text << ": " << env.ctx.error);
    }
    long before = g_allocations.load();
    for (int k = 0; k < 100; ++k) {
      env.arena.Reset();
      bool ok = e.Eval(env.slots.data(), env.ctx, &v);
      if (!ok) break;
    }
    CHECK_MESSAGE(g_allocations.load() - before == 0, text);
  }
}

TEST_CASE("regex_match: literal patterns take the fast path with the same results") {
  Env env;
  env.Set("s", Value::String("/products/item.html"));
  env.Set("empty", Value::String(""));
  struct Case {
    const char* expr;
    const char* want;
  } cases[] = {
      {"regex_match(s, '^/products')", "true"},
      {"regex_match(s, '^products')", "false"},
      {"regex_match(s, 'item')", "true"},
      {"regex_match(s, 'html$')", "true"},
      {"regex_match(s, 'item$')", "false"},
      {"regex_match(s, '^/products/item.html$')", "true"},  // '.' is a metacharacter: the regex path
      {"regex_match(s, '^/products/item_html$')", "false"},
      {"regex_match(s, '^/products/item')", "true"},
      {"regex_match(s, '')", "true"},
      {"regex_match(empty, '^$')", "true"},
      {"regex_match(s, '^$')", "false"},
      {"regex_match(s, 'i[a-z]+m')", "true"},
      {"regex_match(s, '\\.html$')", "true"},
      {"regex_match(s, 'PRODUCTS')", "false"},
  };
  for (const auto& c : cases) CHECK_MESSAGE(env.Json(c.expr) == c.want, std::string(c.expr));
  Expression& e = env.Compile("regex_match(s, '^/products')");
  Value v;
  REQUIRE(e.Eval(env.slots.data(), env.ctx, &v));
  long before = g_allocations.load();
  for (int k = 0; k < 100; ++k) REQUIRE(e.Eval(env.slots.data(), env.ctx, &v));
  CHECK(g_allocations.load() - before == 0);
}

TEST_CASE("limits: an expression's operators are bounded, so no tree outgrows the stack") {
  std::string ors = "a == 1";
  for (int i = 0; i < 1000; ++i) ors += " or a == 1";
  Env f;
  f.Compile(ors);  // 1000 `or`: the limit (a comparison adds no depth beyond its own)
  CHECK(Contains(CompileFails(ors + " or a == 1").message, "expression too long: more than 1000 operators"));
  std::string sum = "a";
  for (int i = 0; i < 200000; ++i) sum += " + a";
  CHECK(Contains(CompileFails(sum).message, "more than 1000 operators"));
  CHECK(Contains(CompileFails(std::string(10000, '(') + "a" + std::string(10000, ')')).message,
                 "nested too deeply"));
}

TEST_CASE("regex_match runs in linear time: no input can overflow the stack or backtrack") {
  Env f;
  std::string dashes;
  for (int i = 0; i < 10000; ++i) dashes += "a-";
  f.Set("s", Value::String(dashes));
  CHECK(f.Json("regex_match(s, '^([a-z]|-)+$')") == "true");
  f.Set("s", Value::String(std::string(27, 'a') + "!"));
  CHECK(f.Json("regex_match(s, '^(a+)+$')") == "false");
  CHECK(Contains(CompileFails("regex_match(s, '(a')").message, "invalid regular expression"));
}
