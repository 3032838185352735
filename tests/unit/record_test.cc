// The record path: decoding projected fields, re-encoding through views, CSV.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "runner/cli/commands.h"
#include "runner/record/arena.h"
#include "runner/record/batch.h"
#include "runner/record/csv.h"
#include "runner/record/json_decoder.h"
#include "runner/record/json_writer.h"
#include "runner/record/record_view.h"
#include "runner/record/status.h"
#include "runner/record/value.h"
#include "runner/record/value_key.h"

using namespace streamrun;

namespace {

struct Decoded {
  bool ok;
  std::string error;
  Value row[8];
};

// Decodes `json` with the given paths projected to slots 0, 1, 2...
Decoded DecodeWith(Arena& arena, const std::string& json,
                   std::initializer_list<std::vector<std::string>> paths) {
  ProjectionNode root;
  int slot = 0;
  for (const auto& p : paths) root.At(p).slot = slot++;
  JsonDecoder decoder(root);
  Decoded d;
  std::string_view text = arena.Copy(json, JsonPadding());
  d.ok = decoder.Decode(text, d.row, arena, &d.error);
  return d;
}

std::string Json(const Value& v) {
  std::string s;
  AppendJsonValue(v, &s);
  return s;
}

}  // namespace

TEST_CASE("decoder extracts only projected fields, with their types") {
  Arena arena;
  auto d = DecodeWith(arena, R"({"a":1,"b":2.5,"c":"x","d":true,"e":null,"f":[1,2],"g":{"h":1},"zz":9})",
                      {{"a"}, {"b"}, {"c"}, {"d"}, {"e"}, {"f"}, {"g"}, {"missing"}});
  REQUIRE(d.ok);
  CHECK(d.row[0].kind == Kind::kInt);
  CHECK(d.row[0].i == 1);
  CHECK(d.row[1].kind == Kind::kFloat);
  CHECK(d.row[1].f == 2.5);
  CHECK(d.row[2].kind == Kind::kString);
  CHECK(d.row[2].text() == "x");
  CHECK(d.row[3].kind == Kind::kBool);
  CHECK(d.row[4].kind == Kind::kNull);
  CHECK(d.row[5].kind == Kind::kList);
  CHECK(d.row[5].text() == "[1,2]");
  CHECK(d.row[6].kind == Kind::kObject);
  CHECK(d.row[6].text() == R"({"h":1})");
  CHECK(d.row[7].kind == Kind::kNull);
}

TEST_CASE("decoder follows nested paths, also when the parent is read whole") {
  Arena arena;
  auto d = DecodeWith(arena, R"({"user":{"id":"u1","geo":{"country":"DE"}},"n":3})",
                      {{"user", "id"}, {"user", "geo", "country"}, {"user"}, {"n", "x"}});
  REQUIRE(d.ok);
  CHECK(d.row[0].text() == "u1");
  CHECK(d.row[1].text() == "DE");
  CHECK(d.row[2].kind == Kind::kObject);
  CHECK(d.row[3].kind == Kind::kNull);  // n is not an object: n.x is missing
}

TEST_CASE("strings with escapes are unescaped; plain ones point into the record") {
  Arena arena;
  std::string json = R"({"plain":"abc","esc":"a\"b\\c\u00e9\n"})";
  auto d = DecodeWith(arena, json, {{"plain"}, {"esc"}});
  REQUIRE(d.ok);
  CHECK(d.row[0].text() == "abc");
  CHECK(d.row[1].text() == "a\"b\\c\xc3\xa9\n");
  CHECK(Json(d.row[1]) == R"("a\"b\\cé\n")");
}

TEST_CASE("escaped keys match their unescaped names") {
  Arena arena;
  auto d = DecodeWith(arena, R"({"p\u0061ge":"/x"})", {{"page"}});
  REQUIRE(d.ok);
  CHECK(d.row[0].text() == "/x");
}

TEST_CASE("malformed records are rejected with a reason") {
  Arena arena;
  for (const char* bad : {R"({"a":)", "[1,2]", "42", "", R"({"a":1} x)", R"({"a":1}{"b":2})",
                          "{\"a\":\"\xff\"}", R"({"a":[1,2})", "nul"}) {
    CAPTURE(bad);
    auto d = DecodeWith(arena, bad, {{"a"}});
    CHECK_FALSE(d.ok);
    CHECK_FALSE(d.error.empty());
  }
  CHECK(DecodeWith(arena, "{\"a\":\"\xff\"}", {{"a"}}).error == "invalid UTF-8");
  CHECK(DecodeWith(arena, "[1]", {{"a"}}).error == "record is not a JSON object");
}

TEST_CASE("integers beyond 64 bits become floats") {
  Arena arena;
  auto d =
      DecodeWith(arena, R"({"big":123456789012345678901234,"neg":-9223372036854775808})", {{"big"}, {"neg"}});
  REQUIRE(d.ok);
  CHECK(d.row[0].kind == Kind::kFloat);
  CHECK(d.row[1].kind == Kind::kInt);
  CHECK(d.row[1].i == INT64_MIN);
}

TEST_CASE("a 10 MB record decodes") {
  Arena arena;
  std::string json = "{\"id\":7,\"blob\":\"" + std::string(10 << 20, 'x') + "\"}";
  auto d = DecodeWith(arena, json, {{"id"}, {"blob"}});
  REQUIRE(d.ok);
  CHECK(d.row[0].i == 7);
  CHECK(d.row[1].len == (10u << 20));
}

TEST_CASE("open views override in place, remove, and append") {
  Value row[2];
  row[0] = Value::String("NEW");
  row[1] = Value::Int(5);
  RecordView view;
  view.fields = {ViewField{"b", 0}, ViewField{"added", 1}};
  view.removed = {"c"};
  std::string out;
  EncodeJson(view, row, R"({ "a" : [1, {"x":"}"}] , "b":"old","c":{"d":1},"e":"q\"uote"})", &out);
  CHECK(out == R"({"a":[1, {"x":"}"}],"b":"NEW","e":"q\"uote","added":5})");
}

TEST_CASE("closed views write exactly their fields") {
  Value row[2];
  row[0] = Value::Float(2.0);
  RecordView view;
  view.closed = true;
  view.fields = {ViewField{"x", 0}, ViewField{"y", 1}};
  std::string out;
  EncodeJson(view, row, R"({"ignored":1})", &out);
  CHECK(out == R"({"x":2.0,"y":null})");
}

TEST_CASE("JSON strings are escaped, invalid UTF-8 replaced") {
  std::string out;
  AppendJsonString("a\x01\"\\\t\xc3\xa9\xff", &out);
  CHECK(out == "\"a\\u0001\\\"\\\\\\t\xc3\xa9\xef\xbf\xbd\"");
  CHECK(IsValidUtf8("\xc3\xa9"));
  CHECK_FALSE(IsValidUtf8("\xc3"));
  CHECK_FALSE(IsValidUtf8("\xed\xa0\x80"));  // a UTF-16 surrogate
}

TEST_CASE("floats keep a fractional part; non-finite become null") {
  CHECK(Json(Value::Float(2.0)) == "2.0");
  CHECK(Json(Value::Float(0.1)) == "0.1");
  CHECK(Json(Value::Float(1e21)) == "1e+21");
  CHECK(Json(Value::Float(1.0 / 0.0)) == "null");
  CHECK(Json(Value::Int(-3)) == "-3");
}

TEST_CASE("CSV lines become typed JSON objects") {
  std::vector<std::string> header = {"a", "b", "c", "d", "e"};
  std::string json, error;
  REQUIRE(CsvToJson(header, R"(1,2.5,,"x,""y""",true)", &json, &error));
  CHECK(json == R"({"a":1,"b":2.5,"c":null,"d":"x,\"y\"","e":true})");
  CHECK_FALSE(CsvToJson(header, "1,2", &json, &error));
  CHECK(error.find("2 fields") != std::string::npos);
  CHECK_FALSE(CsvToJson(header, R"(1,"open,3,4,5)", &json, &error));
  CHECK(CsvOpenQuote(R"(a,"b)"));
  CHECK_FALSE(CsvOpenQuote(R"(a,"b")"));
}

TEST_CASE("batches compact rows and keep their columns together") {
  Batch b(2);
  for (int i = 0; i < 4; ++i) {
    uint32_t r = b.AddRow("raw" + std::to_string(i) == "" ? "" : "r", RecordPosition{0, 0, i, i + 1}, i * 10);
    b.row(r)[0] = Value::Int(i);
    b.set_key_hash(r, static_cast<uint64_t>(i));
  }
  b.Compact({1, 0, 0, 1});
  REQUIRE(b.size() == 2);
  CHECK(b.row(0)[0].i == 0);
  CHECK(b.row(1)[0].i == 3);
  CHECK(b.event_time(1) == 30);
  CHECK(b.position(1).line == 4);
  CHECK(b.key_hash(1) == 3);
}

TEST_CASE("the arena reuses its memory after Reset") {
  Arena arena(1024);
  arena.Allocate(100);
  arena.Allocate(2000);  // a chunk of its own
  size_t reserved = arena.bytes_reserved();
  arena.Reset();
  CHECK(arena.bytes_reserved() <= reserved);
  char* p = arena.Allocate(10);
  CHECK(p != nullptr);
}

TEST_CASE("a path step through a list picks the element by index") {
  Arena arena;
  auto d = DecodeWith(arena, R"({"items":[{"price":2.5},{"price":4}],"arr":[10,[30]],"s":"x"})",
                      {{"items", "1", "price"}, {"arr", "1", "0"}, {"arr", "5"}, {"s", "0"}});
  REQUIRE(d.ok);
  CHECK(d.row[0].i == 4);
  CHECK(d.row[1].i == 30);
  CHECK(d.row[2].is_null());
  CHECK(d.row[3].is_null());
}

TEST_CASE("value keys: equal exactly for values == holds equal, and self-delimiting") {
  auto key = [](std::initializer_list<Value> vs) {
    std::string s;
    for (const auto& v : vs) AppendValueKey(v, &s);
    return s;
  };
  CHECK(key({Value::Int(3)}) == key({Value::Float(3.0)}));
  CHECK(key({Value::Int(3)}) != key({Value::Float(3.5)}));
  CHECK(key({Value::Int(3)}) != key({Value::String("3")}));
  CHECK(key({Value::List("[1, 2]")}) == key({Value::List("[1,2]")}));
  CHECK(key({Value::List("[\"a b\"]")}) != key({Value::List("[\"ab\"]")}));
  CHECK(key({Value::List("[1]")}) != key({Value::Object("{}")}));
  CHECK(key({Value::Null()}) != key({Value::Bool(false)}));
  // Concatenated keys of several fields cannot collide by shifting text between them.
  CHECK(key({Value::String("a;s1;b"), Value::String("c")}) !=
        key({Value::String("a"), Value::String("b;s1;c")}));
  CHECK(key({Value::String("ab"), Value::String("")}) != key({Value::String("a"), Value::String("b")}));
}

TEST_CASE("numbers compare exactly across ints and floats, above 2^53 too") {
  using streamrun::CompareNumbers;
  using streamrun::Value;
  CHECK(CompareNumbers(Value::Int(9007199254740993), Value::Float(9007199254740992.0)) == 1);
  CHECK(CompareNumbers(Value::Float(9007199254740992.0), Value::Int(9007199254740993)) == -1);
  CHECK(CompareNumbers(Value::Int(3), Value::Float(3.0)) == 0);
  CHECK(CompareNumbers(Value::Int(3), Value::Float(3.5)) == -1);
  CHECK(CompareNumbers(Value::Int(-3), Value::Float(-3.5)) == 1);
  CHECK(CompareNumbers(Value::Int(INT64_MAX), Value::Float(9223372036854775808.0)) == -1);
  CHECK(CompareNumbers(Value::Int(INT64_MIN), Value::Float(-9223372036854775808.0)) == 0);
  CHECK(CompareNumbers(Value::Int(1), Value::Float(std::nan(""))) == 2);
  CHECK(streamrun::SaturatingAdd(INT64_MAX - 1, 5) == streamrun::kEndOfTime);
  CHECK(streamrun::SaturatingAdd(INT64_MIN + 1, -5) == streamrun::kNoTime);
  CHECK(streamrun::SaturatingAdd(10, -5) == 5);
}

TEST_CASE("an error keeps its kind, and the command reports it by kind") {
  using namespace streamrun;
  try {
    throw InternalError("a state that cannot be");
  } catch (const std::exception& e) {
    const auto* err = dynamic_cast<const Error*>(&e);
    REQUIRE(err != nullptr);
    CHECK(err->kind() == ErrorKind::kInternal);
    CHECK(cli::DescribeRunError(*err).rfind("internal error: a state that cannot be (a bug in streamrun",
                                            0) == 0);
    CHECK(cli::ExitStatusOf(*err) == cli::kExitRunFailure);
  }
  const Error config(ErrorKind::kConfig, "runtime.state: backend rocksdb needs 'path'");
  CHECK(cli::ExitStatusOf(config) == cli::kExitConfigError);
  CHECK(cli::DescribeRunError(config) == "runtime.state: backend rocksdb needs 'path'");
  CHECK(std::string(ErrorKindName(ErrorKind::kRecord)) == "record");
  CHECK(ExternalError("x").kind() == ErrorKind::kExternal);
}
