// Window aggregates (operators/steps/aggregates.h): results, rejected values,
// merges, and checkpoint bytes. The expected bytes below were written by the
// accumulator before it was made compact (it then held a field for every kind
// and saved them all): checkpoints of that build (tests/compat/) hold exactly
// these bytes, so they must load, give the same result and save back unchanged.
#include "operators/steps/aggregates.h"

#include <doctest/doctest.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <unordered_set>
#include <vector>

#include "runner/record/arena.h"
#include "runner/record/value_key.h"

using namespace streamrun;

// A count() accumulator is one of these per open (key, window): keep it small.
static_assert(sizeof(Accumulator) <= 24, "Accumulator grew: windows keep one per aggregate per open window");

namespace {

using K = AggregateKind;

RecordOrder Order(int64_t time, uint64_t arrival = 0) {
  RecordOrder o;
  o.time = time;
  o.arrival = arrival;
  return o;
}

struct Input {
  Value value;
  RecordOrder order;
};
Input In(Value v, RecordOrder order = {}) { return {v, order}; }

const double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string Describe(const Value& v) {
  switch (v.kind) {
    case Kind::kNull:
      return "null";
    case Kind::kBool:
      return v.b ? "bool:true" : "bool:false";
    case Kind::kInt:
      return "int:" + std::to_string(v.i);
    case Kind::kFloat: {
      if (std::isnan(v.f)) return "float:nan";
      char buf[64];
      auto end = std::to_chars(buf, buf + sizeof buf, v.f).ptr;
      return "float:" + std::string(buf, end);
    }
    case Kind::kString:
      return "string:" + std::string(v.text());
    case Kind::kList:
      return "list:" + std::string(v.text());
    case Kind::kObject:
      return "object:" + std::string(v.text());
  }
  return "?";
}

std::string Hex(const std::string& bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string s;
  for (unsigned char c : bytes) {
    s.push_back(kDigits[c >> 4]);
    s.push_back(kDigits[c & 15]);
  }
  return s;
}

std::string Unhex(const std::string& hex) {
  std::string s;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    s.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return s;
}

std::string Saved(const Accumulator& a) {
  std::string s;
  SnapshotWriter w(&s);
  a.Save(w);
  return s;
}

std::string ResultOf(const Accumulator& a) {
  Arena arena;
  return Describe(a.Result(arena));
}

// A new accumulator fed `inputs`; the reasons of the rejected ones in `errors`.
Accumulator Feed(K kind, const std::vector<Input>& inputs, std::vector<std::string>* errors = nullptr) {
  Accumulator a(kind);
  for (const Input& in : inputs) {
    std::string error;
    if (!a.Add(in.value, in.order, &error)) {
      REQUIRE(errors != nullptr);
      errors->push_back(error);
    }
  }
  return a;
}

// Loaded from bytes of `format` (2: the layout checkpoints had before format 3).
Accumulator Loaded(K kind, const std::string& bytes, int format = 3) {
  Accumulator a(kind);
  SnapshotReader r(bytes);
  a.Load(r, format);
  CHECK(r.done());
  return a;
}

// `a` gives `result`; `hex` (format 2, as checkpoints before format 3 held
// it) loads as the same state; and `a`, what it saves, its copies and moves
// all agree.
void CheckState(K kind, const Accumulator& a, const std::string& result, const std::string& hex) {
  CHECK(ResultOf(a) == result);
  const std::string saved = Saved(a);
  const Accumulator old = Loaded(kind, Unhex(hex), 2);
  CHECK(ResultOf(old) == result);
  CHECK(Hex(Saved(old)) == Hex(saved));
  const Accumulator loaded = Loaded(kind, saved);
  CHECK(ResultOf(loaded) == result);
  CHECK(Hex(Saved(loaded)) == Hex(saved));
  Accumulator copy(a);
  CHECK(Hex(Saved(copy)) == Hex(saved));
  Accumulator assigned(kind);
  assigned = copy;
  CHECK(Hex(Saved(assigned)) == Hex(saved));
  Accumulator moved(std::move(copy));
  CHECK(Hex(Saved(moved)) == Hex(saved));
  Accumulator move_assigned(kind);
  move_assigned = std::move(moved);
  CHECK(ResultOf(move_assigned) == result);
  CHECK(Hex(Saved(move_assigned)) == Hex(saved));
}

// Fed `inputs`: `result`, no value rejected; `hex`: the same state in format 2.
void Check(K kind, const std::vector<Input>& inputs, const std::string& result, const std::string& hex) {
  CAPTURE(result);
  CheckState(kind, Feed(kind, inputs), result, hex);
}

// `b` merged into `a`.
Accumulator Merged(K kind, const std::vector<Input>& a, const std::vector<Input>& b,
                   std::string* error = nullptr) {
  Accumulator x = Feed(kind, a);
  const Accumulator y = Feed(kind, b);
  std::string e;
  const bool ok = x.Merge(y, &e);
  if (error)
    *error = e;
  else
    CHECK(ok);
  return x;
}

// Format-2 bytes of a count_distinct state (count, sum, value, order, set,
// list), built here: format 2 saved the set in its iteration order.
std::string DistinctBytes(const std::unordered_set<std::string>& set) {
  std::string s;
  SnapshotWriter w(&s);
  w.I64(0);
  for (int field = 0; field < 6; ++field) w.U64(0);  // an empty format-2 sum: mode .. scale
  w.F64(0);
  StoredValue().Save(w);
  const RecordOrder o;
  for (int64_t field : {o.time, int64_t{o.source}, int64_t{o.topic}, int64_t{o.partition}, o.offset})
    w.I64(field);
  w.U64(o.key_hash);
  w.U64(o.arrival);
  w.U64(set.size());
  for (const auto& d : set) w.Str(d);
  w.U64(0);
  return s;
}

std::unordered_set<std::string> KeysOf(const std::vector<Value>& values) {
  std::unordered_set<std::string> set;
  for (const Value& v : values) {
    std::string key;
    AppendValueKey(v, &key);
    set.insert(key);
  }
  return set;
}

// The empty parts of the saved layout: sum, value, order, set, list.
const std::string kNoSum =
    "000000000000"
    "0000000000000000";
const std::string kNoValue = "00";
const std::string kNoOrder = "00010100000000";
const std::string kNoLists = "0000";

}  // namespace

TEST_CASE("count() and count(x)") {
  Check(K::kCountAll, {}, "int:0", "00" + kNoSum + kNoValue + kNoOrder + kNoLists);
  Check(K::kCountAll, {In(Value::Int(1)), In(Value::Null()), In(Value::String("a"))}, "int:3",
        "06" + kNoSum + kNoValue + kNoOrder + kNoLists);
  Check(K::kCount, {In(Value::Int(1)), In(Value::Null()), In(Value::String("a")), In(Value::List("[1]"))},
        "int:3", "06" + kNoSum + kNoValue + kNoOrder + kNoLists);
  std::vector<Input> many(200, In(Value::Bool(true)));
  Check(K::kCount, many, "int:200", "9003" + kNoSum + kNoValue + kNoOrder + kNoLists);
}

TEST_CASE("sum and avg") {
  Check(K::kSum, {}, "null", "00000000000000000000000000000000000101000000000000");
  Check(K::kSum, {In(Value::Null())}, "null", "00000000000000000000000000000000000101000000000000");
  Check(K::kSum,
        {In(Value::Int(1)), In(Value::Int(2)), In(Value::Null()), In(Value::Int(-3)), In(Value::Int(10))},
        "int:10", "08000114000000000000000000000000000101000000000000");
  Check(K::kSum, {In(Value::Int(0))}, "int:0", "02000100000000000000000000000000000101000000000000");
  Check(K::kSum, {In(Value::Float(27.08)), In(Value::Float(0.1)), In(Value::Float(0.2))}, "float:27.38",
        "0601010000b21504000000000000000000000101000000000000");
  Check(K::kSum, {In(Value::Int(1)), In(Value::Float(0.5))}, "float:1.5",
        "04010102000f02000000000000000000000101000000000000");
  Check(K::kSum, {In(Value::Float(-1e20)), In(Value::Int(7))}, "float:-1e+20",
        "04010100faffffffffffffffff018780c0e7a9baa89c940100000000000000000000000101000000000000");
  Check(K::kSum, {In(Value::Float(0.1)), In(Value::Float(1e-30)), In(Value::Int(2))}, "float:2.1",
        "06020100000102cdcccccccccc004000000101000000000000");
  Check(K::kSum, {In(Value::Int(1)), In(Value::Float(kNaN))}, "float:nan",
        "04020102000000000000000000f87f00000101000000000000");

  std::vector<std::string> errors;
  Accumulator overflow =
      Feed(K::kSum, {In(Value::Int(std::numeric_limits<int64_t>::max())), In(Value::Int(1))}, &errors);
  CHECK(errors == std::vector<std::string>{"the sum overflows a 64-bit integer"});
  CheckState(K::kSum, overflow, "int:9223372036854775807",
             "020001feffffffffffffffff01000000000000000000000000000101000000000000");

  errors.clear();
  Accumulator text =
      Feed(K::kSum, {In(Value::String("a")), In(Value::Int(4)), In(Value::List("[]"))}, &errors);
  CHECK(errors == std::vector<std::string>{"cannot sum string", "cannot sum list"});
  CheckState(K::kSum, text, "int:4", "02000108000000000000000000000000000101000000000000");

  Check(K::kAvg, {}, "null", "00000000000000000000000000000000000101000000000000");
  Check(K::kAvg, {In(Value::Int(1)), In(Value::Int(2)), In(Value::Int(2)), In(Value::Null())},
        "float:1.6666666666666667", "0600010a000000000000000000000000000101000000000000");
  Check(K::kAvg, {In(Value::Float(0.1)), In(Value::Float(0.2))}, "float:0.15",
        "04010100000302000000000000000000000101000000000000");
  errors.clear();
  Accumulator avg =
      Feed(K::kAvg, {In(Value::Int(3)), In(Value::Object("{}")), In(Value::Bool(false))}, &errors);
  CHECK(errors == std::vector<std::string>{"cannot average object", "cannot average bool"});
  CheckState(K::kAvg, avg, "float:3", "02000106000000000000000000000000000101000000000000");
}

TEST_CASE("min and max") {
  Check(K::kMin, {}, "null", "00000000000000000000000000000000000101000000000000");
  Check(K::kMin, {In(Value::Null())}, "null", "00000000000000000000000000000000000101000000000000");
  Check(K::kMin, {In(Value::Int(3)), In(Value::Int(1)), In(Value::Null()), In(Value::Int(2))}, "int:1",
        "0000000000000000000000000000000202000101000000000000");
  Check(K::kMax, {In(Value::Int(3)), In(Value::Int(-100)), In(Value::Int(2))}, "int:3",
        "0000000000000000000000000000000206000101000000000000");
  Check(K::kMin, {In(Value::Float(-1.5)), In(Value::Float(-2.25)), In(Value::Int(0))}, "float:-2.25",
        "0000000000000000000000000000000300000000000002c0000101000000000000");
  // Equal numbers of two kinds: the integer, whichever came first.
  Check(K::kMin, {In(Value::Float(3.0)), In(Value::Int(3))}, "int:3",
        "0000000000000000000000000000000206000101000000000000");
  Check(K::kMax, {In(Value::Int(3)), In(Value::Float(3.0))}, "int:3",
        "0000000000000000000000000000000206000101000000000000");
  // Exact between kinds: 2^53 + 1 is above 2^53.0.
  Check(K::kMax, {In(Value::Float(9007199254740992.0)), In(Value::Int(9007199254740993))},
        "int:9007199254740993", "000000000000000000000000000000028280808080808020000101000000000000");
  Check(K::kMin, {In(Value::Int(9007199254740993)), In(Value::Float(9007199254740992.0))},
        "float:9007199254740992", "000000000000000000000000000000030000000000004043000101000000000000");
  // NaN orders with nothing.
  Check(K::kMin, {In(Value::Float(1.0)), In(Value::Float(kNaN))}, "float:1",
        "00000000000000000000000000000003000000000000f03f000101000000000000");
  Check(K::kMax, {In(Value::Float(kNaN)), In(Value::Float(2.0))}, "float:nan",
        "00000000000000000000000000000003000000000000f87f000101000000000000");
  Check(K::kMin, {In(Value::Float(kNaN)), In(Value::Int(1))}, "int:1",
        "0000000000000000000000000000000202000101000000000000");
  Check(K::kMin, {In(Value::String("b")), In(Value::String("a")), In(Value::String("c"))}, "string:a",
        "000000000000000000000000000000040161000101000000000000");
  Check(K::kMax, {In(Value::String("b")), In(Value::String("a")), In(Value::String("c"))}, "string:c",
        "000000000000000000000000000000040163000101000000000000");
  Check(K::kMax, {In(Value::String("")), In(Value::String(""))},
        "string:", "0000000000000000000000000000000400000101000000000000");
  const std::string long_text(300, 'z');
  Check(K::kMax, {In(Value::String("a")), In(Value::String(long_text))}, "string:" + long_text,
        "00000000000000000000000000000004ac027a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a"
        "7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a"
        "7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a"
        "7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a"
        "7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a"
        "7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a"
        "7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a000101000000000000");
  Check(K::kMin, {In(Value::Bool(true)), In(Value::Bool(false))}, "bool:false",
        "0000000000000000000000000000000100000101000000000000");
  Check(K::kMax, {In(Value::Bool(false)), In(Value::Bool(true))}, "bool:true",
        "0000000000000000000000000000000101000101000000000000");
  Check(K::kMax, {In(Value::Object("{\"a\":1}"))}, "object:{\"a\":1}",
        "00000000000000000000000000000006077b2261223a317d000101000000000000");

  std::vector<std::string> errors;
  Accumulator mixed = Feed(K::kMin, {In(Value::Int(1)), In(Value::String("a")), In(Value::Int(0))}, &errors);
  CHECK(errors == std::vector<std::string>{"min cannot compare string with int"});
  CheckState(K::kMin, mixed, "int:0", "0000000000000000000000000000000200000101000000000000");
  errors.clear();
  Accumulator lists =
      Feed(K::kMax, {In(Value::List("[1]")), In(Value::List("[0]")), In(Value::Float(1))}, &errors);
  CHECK(errors ==
        std::vector<std::string>{"max cannot compare list with list", "max cannot compare float with list"});
  CheckState(K::kMax, lists, "list:[1]", "00000000000000000000000000000005035b315d000101000000000000");
}

TEST_CASE("first and last: by record order, not arrival") {
  RecordOrder full;
  full.time = -5;
  full.source = 2;
  full.topic = 1;
  full.partition = 7;
  full.offset = 123456;
  full.key_hash = 0xfedcba9876543210;
  full.arrival = 99;
  const std::vector<Input> inputs = {
      In(Value::Int(10), Order(5)),    In(Value::String("b"), Order(3, 2)),
      In(Value::Int(30), Order(3, 1)), In(Value::Null(), Order(1)),
      In(Value::Float(2.5), Order(8)), In(Value::Object("{\"k\":[]}"), Order(8))};
  Check(K::kFirst, {}, "null", "00000000000000000000000000000000000101000000000000");
  Check(K::kLast, {In(Value::Null(), Order(4))}, "null",
        "00000000000000000000000000000000000101000000000000");
  Check(K::kFirst, inputs, "int:30", "000000000000000000000000000000023c060101000000010000");
  Check(K::kLast, inputs, "float:2.5",
        "000000000000000000000000000000030000000000000440100101000000000000");  // the first of two at equal
                                                                                // order
  Check(K::kFirst, {In(Value::String("late"), Order(9)), In(Value::String("early"), Order(1))},
        "string:early", "00000000000000000000000000000004056561726c79020101000000000000");
  Check(K::kLast, {In(Value::String("x"), full), In(Value::Bool(false), Order(-6))}, "string:x",
        "0000000000000000000000000000000401780904020e80890f90e4d0b287d3aeeefe01630000");
  Check(K::kFirst, {In(Value::Bool(true), full), In(Value::List("[null]"), Order(-5))}, "list:[null]",
        "00000000000000000000000000000005065b6e756c6c5d090101000000000000");
  Check(K::kLast, {In(Value::List("[1,2]"), Order(0)), In(Value::Int(-1), Order(0, 1))}, "int:-1",
        "0000000000000000000000000000000201000101000000010000");
}

TEST_CASE("count_distinct") {
  Check(K::kCountDistinct, {}, "int:0", "00" + kNoSum + kNoValue + kNoOrder + kNoLists);
  Check(K::kCountDistinct, {In(Value::Int(1)), In(Value::Float(1.0)), In(Value::Null())}, "int:1",
        "0000000000000000000000000000000000010100000000010369313b00");
  Check(K::kCountDistinct, {In(Value::String("abc"))}, "int:1",
        "0000000000000000000000000000000000010100000000010673333b61626300");

  const std::vector<Value> values = {Value::Int(1),     Value::String("1"), Value::Int(2),
                                     Value::Float(2.0), Value::String("a"), Value::List("[1]"),
                                     Value::Null(),     Value::Bool(true)};
  std::vector<Input> inputs;
  for (const Value& v : values) inputs.push_back(In(v));
  const Accumulator a = Feed(K::kCountDistinct, inputs);
  CHECK(ResultOf(a) == "int:6");
  const auto keys = KeysOf({Value::Int(1), Value::String("1"), Value::Int(2), Value::String("a"),
                            Value::List("[1]"), Value::Bool(true)});
  const std::string bytes = DistinctBytes(keys);  // format 2
  CHECK(Saved(Accumulator(a)) == Saved(a));
  // Format 3 saves the set sorted: the same set, the same bytes, however it
  // was filled.
  const Accumulator loaded = Loaded(K::kCountDistinct, bytes, 2);
  CHECK(ResultOf(loaded) == "int:6");
  CHECK(Saved(loaded) == Saved(a));
  CHECK(Saved(Loaded(K::kCountDistinct, Saved(a))) == Saved(a));
}

TEST_CASE("collect: JSON texts in record order") {
  Check(K::kCollect, {}, "list:[]", "00000000000000000000000000000000000101000000000000");
  Check(K::kCollect,
        {In(Value::Int(1), Order(3)), In(Value::String("a\"b"), Order(1)), In(Value::Null(), Order(2)),
         In(Value::List("[1,2]"), Order(2)), In(Value::Object("{\"k\":\"v\"}"), Order(5)),
         In(Value::Float(1.5), Order(3)), In(Value::Bool(false), Order(3, 1)),
         In(Value::Float(kNaN), Order(0))},
        "list:[null,\"a\\\"b\",[1,2],1,1.5,false,{\"k\":\"v\"}]",
        "0000000000000000000000000000000000010100000000000700010100000000046e756c6c020101000000000622615c2262"
        "2204010100000000055b312c325d0601010000000001310601010000000003312e35060101000000010566616c73650a0101"
        "00000000097b226b223a2276227d");
}

TEST_CASE("merging windows") {
  const std::vector<Input> none;
  std::string error;
  CheckState(K::kCountAll, Merged(K::kCountAll, {In(Value::Null()), In(Value::Int(1))}, {In(Value::Int(2))}),
             "int:3", "06" + kNoSum + kNoValue + kNoOrder + kNoLists);
  CheckState(K::kCount, Merged(K::kCount, none, {In(Value::Int(2))}), "int:1",
             "02" + kNoSum + kNoValue + kNoOrder + kNoLists);

  CheckState(K::kSum, Merged(K::kSum, {In(Value::Int(2))}, {In(Value::Float(0.25)), In(Value::Int(1))}),
             "float:3.25", "0601010400c50204000000000000000000000101000000000000");
  CheckState(K::kSum, Merged(K::kSum, none, {In(Value::Int(5))}), "int:5",
             "0200010a000000000000000000000000000101000000000000");
  CheckState(K::kSum, Merged(K::kSum, {In(Value::Int(5))}, none), "int:5",
             "0200010a000000000000000000000000000101000000000000");
  CheckState(K::kSum, Merged(K::kSum, {In(Value::Float(1e-30))}, {In(Value::Float(0.5))}), "float:0.5",
             "04020100000000000000000000e03f00000101000000000000");
  CheckState(K::kSum, Merged(K::kSum, {In(Value::Float(0.5))}, {In(Value::Float(1e-30))}), "float:0.5",
             "04020100000502000000000000e03f00000101000000000000");
  Accumulator overflow =
      Merged(K::kSum, {In(Value::Int(std::numeric_limits<int64_t>::max()))}, {In(Value::Int(1))}, &error);
  CHECK(error == "the sum overflows a 64-bit integer");
  CheckState(K::kSum, overflow, "int:9223372036854775807",
             "040001feffffffffffffffff01000000000000000000000000000101000000000000");
  CheckState(K::kAvg, Merged(K::kAvg, {In(Value::Int(1))}, {In(Value::Int(2)), In(Value::Int(6))}), "float:3",
             "06000112000000000000000000000000000101000000000000");

  CheckState(K::kMin, Merged(K::kMin, {In(Value::Int(5))}, {In(Value::Int(2))}), "int:2",
             "0000000000000000000000000000000204000101000000000000");
  CheckState(K::kMin, Merged(K::kMin, {In(Value::Int(5))}, none), "int:5",
             "000000000000000000000000000000020a000101000000000000");
  CheckState(K::kMax, Merged(K::kMax, none, {In(Value::String("a"))}), "string:a",
             "000000000000000000000000000000040161000101000000000000");
  CheckState(K::kMax, Merged(K::kMax, {In(Value::String("b"))}, {In(Value::String("c"))}), "string:c",
             "000000000000000000000000000000040163000101000000000000");
  error.clear();
  Accumulator mixed = Merged(K::kMax, {In(Value::Int(1))}, {In(Value::String("c"))}, &error);
  CHECK(error == "max cannot compare string with int");
  CheckState(K::kMax, mixed, "int:1", "0000000000000000000000000000000202000101000000000000");

  CheckState(K::kFirst,
             Merged(K::kFirst, {In(Value::Int(1), Order(5))},
                    {In(Value::String("s"), Order(4)), In(Value::Int(3), Order(6))}),
             "string:s", "000000000000000000000000000000040173080101000000000000");
  CheckState(K::kFirst, Merged(K::kFirst, {In(Value::String("s"), Order(4))}, {In(Value::Int(1), Order(5))}),
             "string:s", "000000000000000000000000000000040173080101000000000000");
  CheckState(K::kLast, Merged(K::kLast, {In(Value::Int(1), Order(5))}, {In(Value::String("s"), Order(4))}),
             "int:1", "00000000000000000000000000000002020a0101000000000000");
  CheckState(K::kLast, Merged(K::kLast, none, {In(Value::Float(0.5), Order(4))}), "float:0.5",
             "00000000000000000000000000000003000000000000e03f080101000000000000");
  CheckState(K::kLast, Merged(K::kLast, {In(Value::Float(0.5), Order(4))}, none), "float:0.5",
             "00000000000000000000000000000003000000000000e03f080101000000000000");

  const Accumulator distinct =
      Merged(K::kCountDistinct, {In(Value::Int(1))}, {In(Value::Float(1.0)), In(Value::Int(2))});
  CHECK(ResultOf(distinct) == "int:2");
  auto keys = KeysOf({Value::Int(1)});
  const auto other = KeysOf({Value::Float(1.0), Value::Int(2)});
  keys.insert(other.begin(), other.end());
  CHECK(Saved(distinct) == Saved(Loaded(K::kCountDistinct, DistinctBytes(keys), 2)));

  CheckState(K::kCollect,
             Merged(K::kCollect, {In(Value::Int(1), Order(1)), In(Value::Int(3), Order(3))},
                    {In(Value::Int(2), Order(2)), In(Value::Int(4), Order(4)), In(Value::Int(0), Order(0))}),
             "list:[0,1,2,3,4]",
             "00000000000000000000000000000000000101000000000005000101000000000130020101000000000131040101000"
             "000000132060101000000000133080101000000000134");
}

TEST_CASE("a restored accumulator goes on as the original") {
  struct Case {
    K kind;
    std::vector<Input> before, after;
  };
  const std::vector<Case> cases = {
      {K::kCount, {In(Value::Int(1))}, {In(Value::Int(1))}},
      {K::kSum, {In(Value::Float(0.1))}, {In(Value::Float(0.2))}},
      {K::kAvg, {In(Value::Int(1))}, {In(Value::Float(0.5))}},
      {K::kMin, {In(Value::String("b"))}, {In(Value::String("a"))}},
      {K::kMax, {In(Value::Float(1))}, {In(Value::Int(1))}},
      {K::kFirst, {In(Value::String("x"), Order(2))}, {In(Value::Int(1), Order(1))}},
      {K::kLast, {In(Value::String("x"), Order(2))}, {In(Value::Int(1), Order(1))}},
      {K::kCountDistinct, {In(Value::Int(1))}, {In(Value::Int(1)), In(Value::Int(2))}},
      {K::kCollect, {In(Value::Int(1), Order(2))}, {In(Value::Int(2), Order(1))}},
  };
  for (const Case& c : cases) {
    Accumulator original = Feed(c.kind, c.before);
    Accumulator restored = Loaded(c.kind, Saved(original));
    Accumulator merged_into(c.kind);
    std::string error;
    CHECK(merged_into.Merge(restored, &error));
    for (const Input& in : c.after) {
      CHECK(original.Add(in.value, in.order, &error));
      CHECK(restored.Add(in.value, in.order, &error));
      CHECK(merged_into.Add(in.value, in.order, &error));
    }
    CHECK(ResultOf(restored) == ResultOf(original));
    CHECK(ResultOf(merged_into) == ResultOf(original));
    if (c.kind != K::kCountDistinct) {
      CHECK(Saved(restored) == Saved(original));
      CHECK(Saved(merged_into) == Saved(original));
    }
  }
}

TEST_CASE("damaged accumulator bytes are refused") {
  const std::string count = Unhex("06" + kNoSum + kNoValue + kNoOrder + kNoLists);
  for (K kind : {K::kCount, K::kMin, K::kFirst, K::kCollect}) {
    Accumulator a(kind);
    SnapshotReader truncated(std::string_view(count).substr(0, count.size() - 1));
    CHECK_THROWS_AS(a.Load(truncated, 2), SnapshotError);
    std::string bad_value = count;
    bad_value[1 + 14] = 7;  // the value's kind
    SnapshotReader value_reader(bad_value);
    CHECK_THROWS_AS(a.Load(value_reader, 2), SnapshotError);
    std::string bad_mode = count;
    bad_mode[1] = 3;  // the sum's mode
    SnapshotReader mode_reader(bad_mode);
    CHECK_THROWS_AS(a.Load(mode_reader, 2), SnapshotError);
  }
}
