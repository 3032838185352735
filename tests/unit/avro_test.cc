// The Avro format: schemas (.avsc) loaded and checked, records encoded to the
// same bytes libavro writes and decoded from bytes libavro wrote, schema
// evolution (writer resolved to reader), projection slots (always compared
// with what the JSON decoder reads back from the decoded text), logical
// types, and malformed input failing cleanly.
#include <avro.h>
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "runner/format/codec.h"
#include "runner/format/record_builder.h"
#include "runner/format/varint.h"
#include "runner/record/arena.h"
#include "runner/record/json_decoder.h"
#include "runner/record/json_writer.h"

using namespace streamrun;
using namespace streamrun::format;

// Counts heap allocations so a test can check that DecodeSlots makes none.
#include "tests/unit/counting_new.h"

namespace {

constexpr int kSlots = 16;

// The repository's root, from this file's path.
std::string Root() {
  std::string f = __FILE__;
  return f.substr(0, f.rfind("tests/unit/"));
}

std::shared_ptr<const Schema> Parse(std::string_view text) {
  std::string error;
  auto s = ParseAvroSchema(text, &error);
  INFO(error);
  REQUIRE(s);
  return s;
}

std::shared_ptr<const Schema> Load(const std::string& name) {
  std::string error;
  auto s = LoadAvroSchema(Root() + "schemas/" + name, &error);
  INFO(error);
  REQUIRE(s);
  return s;
}

std::string ParseError(std::string_view text) {
  std::string error;
  auto s = ParseAvroSchema(text, &error);
  CHECK(!s);
  return error;
}

struct Encoded {
  bool ok;
  std::string bytes, error;
};

Encoded TryEncode(const Schema& schema, std::string_view json) {
  std::string padded(json);
  padded.append(JsonPadding(), '\0');
  Encoded e;
  e.ok = schema.NewEncoder()->Encode(std::string_view(padded.data(), json.size()), &e.bytes, &e.error);
  return e;
}

std::string Encode(const Schema& schema, std::string_view json) {
  Encoded e = TryEncode(schema, json);
  INFO(json, " ", e.error);
  REQUIRE(e.ok);
  return e.bytes;
}

// A value as the JSON writer writes it, for messages and comparisons.
std::string Show(const Value& v) {
  std::string s(KindName(v.kind));
  s += " ";
  AppendJsonValue(v, &s);
  return s;
}

bool Same(const Value& a, const Value& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Kind::kNull:
      return true;
    case Kind::kBool:
      return a.b == b.b;
    case Kind::kInt:
      return a.i == b.i;
    case Kind::kFloat:
      return a.f == b.f && std::signbit(a.f) == std::signbit(b.f);
    default:
      return a.text() == b.text();
  }
}

Arena& TestArena() {
  static Arena arena;
  return arena;
}

struct Decoded {
  bool ok = false;
  std::string error, text;
  Value row[kSlots];
};

ProjectionNode Projection(const std::vector<std::vector<std::string>>& paths) {
  ProjectionNode root;
  int slot = 0;
  for (const auto& p : paths) root.At(p).slot = slot++;
  return root;
}

std::string Hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (unsigned char c : bytes) {
    s.push_back(kHex[c >> 4]);
    s.push_back(kHex[c & 15]);
  }
  return s;
}

// DecodeSlots on the same bytes, checked against what Decode gave: the same
// verdict (and reason), and, when both take the record, the same value in
// every slot (kind and value or text). `unprojected` (may be null) is a
// decoder with no projection, as a source's transcoder makes the text later:
// whatever DecodeSlots takes, it must take too.
void CheckSlots(RecordDecoder& decoder, const Decoded& d, std::string_view bytes,
                RecordDecoder* unprojected) {
  // Its own copy, as a source keeps the bytes in its batch: ASan sees a read past them.
  const std::string copy(bytes);
  Value row[kSlots];
  std::string error;
  const bool ok = decoder.DecodeSlots(copy, row, TestArena(), &error);
  INFO("Decode: ", d.ok ? "ok" : d.error, ", DecodeSlots: ", ok ? "ok" : error);
  CHECK(ok == d.ok);
  if (!ok) {
    CHECK(error == d.error);
    return;
  }
  for (int i = 0; i < kSlots; ++i) {
    INFO("slot ", i, ": Decode ", Show(d.row[i]), ", DecodeSlots ", Show(row[i]));
    CHECK(Same(d.row[i], row[i]));
  }
  if (unprojected) {
    RecordBuilder text;
    text.Reset();
    INFO(Hex(bytes));
    CHECK(unprojected->Decode(copy, text, &error));
  }
}

// Decodes with `paths` projected to slots 0, 1, 2..., and checks that every
// slot holds what the JSON decoder reads from the decoded text, and that
// DecodeSlots agrees (CheckSlots).
Decoded DecodeWith(RecordDecoder& decoder, const ProjectionNode& projection, size_t slots,
                   std::string_view bytes, RecordDecoder* unprojected = nullptr) {
  RecordBuilder builder;
  builder.Reset();
  Decoded d;
  d.ok = decoder.Decode(bytes, builder, &d.error);
  if (!d.ok) {
    CheckSlots(decoder, d, bytes, unprojected);
    return d;
  }
  const std::string_view text = builder.Finish(d.row, TestArena());
  CheckSlots(decoder, d, bytes, unprojected);
  d.text = std::string(text);
  JsonDecoder json(projection);
  Value again[kSlots];
  std::string error;
  INFO(d.text);
  REQUIRE(json.Decode(text, again, TestArena(), &error));
  for (size_t i = 0; i < slots; ++i) {
    INFO("slot ", i, ": avro ", Show(d.row[i]), ", json ", Show(again[i]));
    CHECK(Same(d.row[i], again[i]));
  }
  return d;
}

Decoded Decode(const Schema& reader, std::string_view bytes,
               const std::vector<std::vector<std::string>>& paths = {}, const Schema* writer = nullptr) {
  const ProjectionNode projection = Projection(paths);
  auto decoder = reader.NewDecoder(projection, writer);
  REQUIRE(decoder);
  auto unprojected = reader.NewDecoder(ProjectionNode{}, writer);
  return DecodeWith(*decoder, projection, paths.size(), bytes, unprojected.get());
}

std::string Long(int64_t v) {
  std::string s;
  PutVarint(ZigZag(v), &s);
  return s;
}

std::string Str(std::string_view v) { return Long(static_cast<int64_t>(v.size())) + std::string(v); }

// libavro: a generic value of a schema, written to bytes.
struct AvroValue {
  avro_schema_t schema = nullptr;
  avro_value_iface_t* iface = nullptr;
  avro_value_t value;

  explicit AvroValue(std::string_view json) {
    REQUIRE(avro_schema_from_json_length(json.data(), json.size(), &schema) == 0);
    iface = avro_generic_class_from_schema(schema);
    REQUIRE(iface);
    REQUIRE(avro_generic_value_new(iface, &value) == 0);
  }
  ~AvroValue() {
    avro_value_decref(&value);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
  }
  avro_value_t Field(avro_value_t* of, const char* name) {
    avro_value_t f;
    REQUIRE(avro_value_get_by_name(of, name, &f, nullptr) == 0);
    return f;
  }
  avro_value_t Field(const char* name) { return Field(&value, name); }
  std::string Write() {
    std::vector<char> buf(1 << 16);
    avro_writer_t w = avro_writer_memory(buf.data(), static_cast<int64_t>(buf.size()));
    REQUIRE(avro_value_write(w, &value) == 0);
    std::string out(buf.data(), static_cast<size_t>(avro_writer_tell(w)));
    avro_writer_free(w);
    return out;
  }
  // Reads `bytes` into the value (replacing it); false if libavro refuses them.
  bool Read(std::string_view bytes) {
    avro_reader_t r = avro_reader_memory(bytes.data(), static_cast<int64_t>(bytes.size()));
    const bool ok = avro_value_read(r, &value) == 0;
    avro_reader_free(r);
    return ok;
  }
};

std::string AvroString(avro_value_t* v) {
  const char* s = nullptr;
  size_t size = 0;
  REQUIRE(avro_value_get_string(v, &s, &size) == 0);
  return std::string(s, size - 1);  // size counts the terminating NUL
}

constexpr std::string_view kAll = R"({"type":"record","name":"All","namespace":"t","fields":[
  {"name":"n","type":"null"},
  {"name":"b","type":"boolean"},
  {"name":"i","type":"int"},
  {"name":"l","type":"long"},
  {"name":"f","type":"float"},
  {"name":"d","type":"double"},
  {"name":"by","type":"bytes"},
  {"name":"s","type":"string"},
  {"name":"e","type":{"type":"enum","name":"Color","symbols":["RED","GREEN","BLUE"]}},
  {"name":"fx","type":{"type":"fixed","name":"Four","size":4}},
  {"name":"a","type":{"type":"array","items":"int"}},
  {"name":"m","type":{"type":"map","values":"string"}},
  {"name":"r","type":{"type":"record","name":"Inner","fields":[
    {"name":"x","type":"int"},{"name":"tags","type":{"type":"array","items":"string"}}]}},
  {"name":"u","type":["null","string"]},
  {"name":"u2","type":["string","null"]},
  {"name":"multi","type":["int","string","Inner"]},
  {"name":"day","type":{"type":"int","logicalType":"date"}},
  {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
  {"name":"us","type":{"type":"long","logicalType":"timestamp-micros"}},
  {"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
  {"name":"big","type":{"type":"fixed","name":"Dec16","size":16,"logicalType":"decimal","precision":30,"scale":4}}
]})";

constexpr std::string_view kAllRecord =
    R"({"n":null,"b":true,"i":-5,"l":1234567890123,"f":1.5,"d":0.1,"by":"AAEC/w==","s":"h\u00e9llo \"q\"\n",)"
    R"("e":"GREEN","fx":"AQIDBA==","a":[1,2,3],"m":{"k":"v","k2":"w"},"r":{"x":7,"tags":["a"]},"u":"x",)"
    R"("u2":null,"multi":{"x":1,"tags":[]},"day":19000,"ts":1767225600000,"us":1767225600123,"price":12.34,)"
    R"("big":-12345678901234567890.1234})";

// The same record as the decoder writes it back (the é unescaped).
constexpr std::string_view kAllText =
    "{\"n\":null,\"b\":true,\"i\":-5,\"l\":1234567890123,\"f\":1.5,\"d\":0.1,\"by\":\"AAEC/w==\","
    "\"s\":\"h\xC3\xA9llo \\\"q\\\"\\n\",\"e\":\"GREEN\",\"fx\":\"AQIDBA==\",\"a\":[1,2,3],"
    "\"m\":{\"k\":\"v\",\"k2\":\"w\"},\"r\":{\"x\":7,\"tags\":[\"a\"]},\"u\":\"x\",\"u2\":null,"
    "\"multi\":{\"x\":1,\"tags\":[]},\"day\":19000,\"ts\":1767225600000,\"us\":1767225600123,"
    "\"price\":12.34,\"big\":-12345678901234567890.1234}";

}  // namespace

TEST_CASE("the example schemas load, describe themselves and give their registry text") {
  for (const char* name : {"clicks.avsc", "clicks_v2.avsc", "cart.avsc", "transactions.avsc"}) {
    auto s = Load(name);
    CHECK(s->format() == RecordFormat::kAvro);
    CHECK(s->RegistryType() == "AVRO");
    CHECK(s->MessageIndex().empty());
    std::string error;
    CHECK(s->ForMessageIndex({}, &error).get() == s.get());
    // Compact, keys in the file's order, and a schema libavro and we both take again.
    const std::string text = s->RegistryText();
    CHECK(text.find('\n') == std::string::npos);
    CHECK(text.rfind(R"({"type":"record","name":)", 0) == 0);
    CHECK(Parse(text)->RegistryText() == text);
  }
  auto clicks = Load("clicks.avsc");
  CHECK(clicks->Describe() ==
        "avro schema " + Root() + "schemas/clicks.avsc (record streamrun.examples.Click)");
  CHECK(Parse(clicks->RegistryText())->Describe() ==
        "avro schema from the registry (record streamrun.examples.Click)");
}

TEST_CASE("the generator's events encode with the example schemas and decode back to the same text") {
  const std::pair<const char*, const char*> events[] = {
      {"clicks.avsc", R"({"user_id":"u523","page_url":"/","referrer":null,"ts":1767225600000})"},
      {"clicks.avsc", R"({"user_id":"u163","page_url":"/","referrer":"google","ts":1767225600001})"},
      {"cart.avsc", R"({"user_id":"u1","action":"view","cart_value":0.5,"country":"GB","ts":1767225600000})"},
      {"transactions.avsc",
       R"({"card_id":"c29558","amount":173.71,"merchant":"Aldi","country":"US","fraud_pattern":false,"ts":1767225600000})"},
  };
  for (const auto& [file, json] : events) {
    auto s = Load(file);
    const std::string bytes = Encode(*s, json);
    Decoded d = Decode(*s, bytes);
    INFO(file, " ", d.error);
    REQUIRE(d.ok);
    CHECK(d.text == json);
  }
  // The generator writes cart_value 0.00: read back, a float stays a float.
  auto cart = Load("cart.avsc");
  Decoded d = Decode(
      *cart, Encode(*cart, R"({"user_id":"u1","action":"view","cart_value":0.00,"country":"GB","ts":1})"),
      {{"cart_value"}});
  REQUIRE(d.ok);
  CHECK(d.text == R"({"user_id":"u1","action":"view","cart_value":0.0,"country":"GB","ts":1})");
  CHECK(d.row[0].kind == Kind::kFloat);
}

TEST_CASE("every type round-trips: JSON to Avro to the same JSON") {
  auto s = Parse(kAll);
  const std::string bytes = Encode(*s, kAllRecord);
  Decoded d = Decode(*s, bytes);
  INFO(d.error);
  REQUIRE(d.ok);
  CHECK(d.text == kAllText);
  // And the decoded text encodes to the same bytes again.
  CHECK(Hex(Encode(*s, d.text)) == Hex(bytes));
  // Field order in the JSON does not matter; the schema's order is written.
  CHECK(Hex(Encode(*s,
                   R"({"big":-12345678901234567890.1234,"price":12.34,"us":1767225600123,"ts":1767225600000,)"
                   R"("day":19000,"multi":{"tags":[],"x":1},"u2":null,"u":"x","r":{"tags":["a"],"x":7},)"
                   R"("m":{"k":"v","k2":"w"},"a":[1,2,3],"fx":"AQIDBA==","e":"GREEN",)"
                   R"("s":"h\u00e9llo \"q\"\n","by":"AAEC/w==","d":0.1,"f":1.5,"l":1234567890123,"i":-5,)"
                   R"("b":true,"n":null,"extra":{"ignored":[1,2]}})")) == Hex(bytes));
}

TEST_CASE("the encoder writes the bytes libavro writes, and the decoder reads what libavro wrote") {
  SUBCASE("clicks") {
    auto s = Load("clicks.avsc");
    for (bool with_referrer : {false, true}) {
      AvroValue v(s->RegistryText());
      avro_value_t f = v.Field("user_id");
      avro_value_set_string(&f, "u163");
      f = v.Field("page_url");
      avro_value_set_string(&f, "/checkout?x=\"1\"");
      f = v.Field("referrer");
      avro_value_t branch;
      avro_value_set_branch(&f, with_referrer ? 1 : 0, &branch);
      if (with_referrer) {
        avro_value_set_string(&branch, "google");
      } else {
        avro_value_set_null(&branch);
      }
      f = v.Field("ts");
      avro_value_set_long(&f, 1767225600001);
      const std::string theirs = v.Write();
      const std::string json =
          std::string(R"({"user_id":"u163","page_url":"/checkout?x=\"1\"","referrer":)") +
          (with_referrer ? "\"google\"" : "null") + R"(,"ts":1767225600001})";
      CHECK(Hex(Encode(*s, json)) == Hex(theirs));
      Decoded d = Decode(*s, theirs, {{"user_id"}, {"page_url"}, {"referrer"}, {"ts"}});
      REQUIRE(d.ok);
      CHECK(d.text == json);
      CHECK(d.row[1].text() == "/checkout?x=\"1\"");
      CHECK(d.row[3].i == 1767225600001);
    }
  }
  SUBCASE("every type") {
    auto s = Parse(kAll);
    AvroValue v(kAll);
    avro_value_t f, item, branch;
    size_t index;
    f = v.Field("n");
    avro_value_set_null(&f);
    f = v.Field("b");
    avro_value_set_boolean(&f, 1);
    f = v.Field("i");
    avro_value_set_int(&f, -5);
    f = v.Field("l");
    avro_value_set_long(&f, 1234567890123);
    f = v.Field("f");
    avro_value_set_float(&f, 1.5f);
    f = v.Field("d");
    avro_value_set_double(&f, 0.1);
    f = v.Field("by");
    char raw[] = {0, 1, 2, '\xff'};
    avro_value_set_bytes(&f, raw, 4);
    f = v.Field("s");
    avro_value_set_string(&f, "h\xC3\xA9llo \"q\"\n");
    f = v.Field("e");
    avro_value_set_enum(&f, 1);
    f = v.Field("fx");
    char four[] = {1, 2, 3, 4};
    avro_value_set_fixed(&f, four, 4);
    f = v.Field("a");
    for (int k = 1; k <= 3; ++k) {
      avro_value_append(&f, &item, &index);
      avro_value_set_int(&item, k);
    }
    f = v.Field("m");
    avro_value_add(&f, "k", &item, &index, nullptr);
    avro_value_set_string(&item, "v");
    avro_value_add(&f, "k2", &item, &index, nullptr);
    avro_value_set_string(&item, "w");
    f = v.Field("r");
    item = v.Field(&f, "x");
    avro_value_set_int(&item, 7);
    item = v.Field(&f, "tags");
    avro_value_t tag;
    avro_value_append(&item, &tag, &index);
    avro_value_set_string(&tag, "a");
    f = v.Field("u");
    avro_value_set_branch(&f, 1, &branch);
    avro_value_set_string(&branch, "x");
    f = v.Field("u2");
    avro_value_set_branch(&f, 1, &branch);
    avro_value_set_null(&branch);
    f = v.Field("multi");
    avro_value_set_branch(&f, 2, &branch);
    item = v.Field(&branch, "x");
    avro_value_set_int(&item, 1);
    f = v.Field("day");
    avro_value_set_int(&f, 19000);
    f = v.Field("ts");
    avro_value_set_long(&f, 1767225600000);
    f = v.Field("us");
    avro_value_set_long(&f, 1767225600123000);
    f = v.Field("price");
    char price[] = {0x04, static_cast<char>(0xd2)};  // 1234
    avro_value_set_bytes(&f, price, 2);
    f = v.Field("big");
    // -123456789012345678901234 as 16 bytes of two's complement.
    const unsigned char big[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xe5, 0xdb,
                                   0x64, 0xe0, 0xef, 0x5f, 0x93, 0x69, 0x50, 0x0e};
    avro_value_set_fixed(&f, const_cast<unsigned char*>(big), 16);
    const std::string theirs = v.Write();
    CHECK(Hex(Encode(*s, kAllRecord)) == Hex(theirs));
    Decoded d = Decode(*s, theirs);
    REQUIRE(d.ok);
    CHECK(d.text == kAllText);
  }
  SUBCASE("libavro reads what the encoder wrote") {
    auto s = Load("clicks_v2.avsc");
    const std::string ours =
        Encode(*s, R"({"user_id":"u\u00e9","page_url":"/","referrer":"bing","ts":-1,"session_id":"s1"})");
    AvroValue v(s->RegistryText());
    REQUIRE(v.Read(ours));
    avro_value_t f = v.Field("user_id");
    CHECK(AvroString(&f) == "u\xC3\xA9");
    f = v.Field("referrer");
    int branch_index = -1;
    avro_value_get_discriminant(&f, &branch_index);
    CHECK(branch_index == 1);
    f = v.Field("ts");
    int64_t ts = 0;
    avro_value_get_long(&f, &ts);
    CHECK(ts == -1);
    f = v.Field("device");
    CHECK(AvroString(&f) == "web");  // the default
  }
}

TEST_CASE("projection: slots hold what the JSON decoder reads, nested paths included") {
  auto s = Parse(kAll);
  const std::string bytes = Encode(*s, kAllRecord);
  Decoded d = Decode(*s, bytes,
                     {{"i"},
                      {"f"},
                      {"d"},
                      {"s"},
                      {"e"},
                      {"by"},
                      {"r"},
                      {"r", "tags"},
                      {"r", "x"},
                      {"a", "1"},
                      {"m", "k2"},
                      {"multi", "x"},
                      {"u2"},
                      {"price"},
                      {"big"},
                      {"missing", "deeper"}});
  INFO(d.error);
  REQUIRE(d.ok);
  CHECK(d.row[0].i == -5);
  CHECK(d.row[1].f == 1.5);
  CHECK(d.row[2].f == 0.1);
  CHECK(d.row[3].kind == Kind::kString);
  CHECK(d.row[3].text() == "h\xC3\xA9llo \"q\"\n");  // unescaped
  CHECK(d.row[4].text() == "GREEN");
  CHECK(d.row[5].text() == "AAEC/w==");
  CHECK(d.row[6].kind == Kind::kObject);
  CHECK(d.row[6].text() == R"({"x":7,"tags":["a"]})");
  CHECK(d.row[7].kind == Kind::kList);
  CHECK(d.row[7].text() == R"(["a"])");
  CHECK(d.row[8].i == 7);
  CHECK(d.row[9].i == 2);
  CHECK(d.row[10].text() == "w");
  CHECK(d.row[11].i == 1);
  CHECK(d.row[12].is_null());
  CHECK(d.row[13].kind == Kind::kFloat);
  CHECK(d.row[13].f == 12.34);
  CHECK(d.row[14].f == -12345678901234567890.1234);
  CHECK(d.row[15].is_null());

  SUBCASE("a float field holds the float's shortest text, read back as JSON reads it") {
    auto fs = Parse(
        R"({"type":"record","name":"F","fields":[{"name":"f","type":"float"},{"name":"g","type":"float"},
      {"name":"h","type":"double"},{"name":"k","type":"double"}]})");
    Decoded fd =
        Decode(*fs, Encode(*fs, R"({"f":0.1,"g":3,"h":1e300,"k":-0.0})"), {{"f"}, {"g"}, {"h"}, {"k"}});
    REQUIRE(fd.ok);
    CHECK(fd.text == R"({"f":0.1,"g":3.0,"h":1e+300,"k":-0.0})");
    CHECK(fd.row[0].f == 0.1);
    CHECK(fd.row[1].kind == Kind::kFloat);
    CHECK(fd.row[3].f == 0.0);
    CHECK(std::signbit(fd.row[3].f));
    // Not-a-number and infinities are null in the record.
    std::string nan_bytes(4, '\0'), inf_bytes(8, '\0');
    const float nan = std::nanf("");
    const double inf = HUGE_VAL;
    std::memcpy(nan_bytes.data(), &nan, 4);
    std::memcpy(inf_bytes.data(), &inf, 8);
    fd = Decode(*fs, nan_bytes + nan_bytes + inf_bytes + inf_bytes, {{"f"}, {"h"}});
    REQUIRE(fd.ok);
    CHECK(fd.text == R"({"f":null,"g":null,"h":null,"k":null})");
    CHECK(fd.row[0].is_null());
    CHECK(fd.row[1].is_null());
  }
  SUBCASE("a map read whole and by key; an array by index past its end") {
    Decoded md = Decode(*s, bytes, {{"m"}, {"m", "k"}, {"a", "7"}, {"a"}});
    REQUIRE(md.ok);
    CHECK(md.row[0].text() == R"({"k":"v","k2":"w"})");
    CHECK(md.row[1].text() == "v");
    CHECK(md.row[2].is_null());
    CHECK(md.row[3].text() == "[1,2,3]");
  }
  SUBCASE("one decoder, many records: slots are the current record's") {
    const ProjectionNode projection = Projection({{"user_id"}, {"referrer"}});
    auto clicks = Load("clicks.avsc");
    auto decoder = clicks->NewDecoder(projection);
    Decoded a = DecodeWith(*decoder, projection, 2,
                           Encode(*clicks, R"({"user_id":"a","page_url":"/","referrer":"x","ts":1})"));
    Decoded b = DecodeWith(*decoder, projection, 2,
                           Encode(*clicks, R"({"user_id":"b","page_url":"/","referrer":null,"ts":2})"));
    REQUIRE((a.ok && b.ok));
    CHECK(a.row[0].text() == "a");
    CHECK(a.row[1].text() == "x");
    CHECK(b.row[0].text() == "b");
    CHECK(b.row[1].is_null());
  }
}

TEST_CASE("DecodeSlots: the projected values only, strings in the bytes, nothing allocated") {
  auto s = Parse(kAll);
  const std::string bytes = Encode(*s, kAllRecord);
  // Everything a slot can hold: scalars, a string, an enum, base64, decimals,
  // a record, list and map read whole (with slots inside them), by key and index.
  const ProjectionNode projection = Projection({{"i"},
                                                {"f"},
                                                {"s"},
                                                {"e"},
                                                {"by"},
                                                {"fx"},
                                                {"r"},
                                                {"r", "x"},
                                                {"a", "1"},
                                                {"m"},
                                                {"m", "k2"},
                                                {"multi", "x"},
                                                {"u2"},
                                                {"price"},
                                                {"big"},
                                                {"us"}});
  auto decoder = s->NewDecoder(projection);
  Decoded d = DecodeWith(*decoder, projection, kSlots, bytes);  // DecodeSlots compared in it
  REQUIRE(d.ok);
  Arena arena;
  Value row[kSlots];
  std::string error;
  REQUIRE(decoder->DecodeSlots(bytes, row, arena, &error));
  // A string of the record points into its bytes; what the text would hold
  // (base64, an object's text) is in the arena.
  CHECK(row[2].text() == "h\xC3\xA9llo \"q\"\n");
  CHECK(row[2].str >= bytes.data());
  CHECK(row[2].str + row[2].len <= bytes.data() + bytes.size());
  CHECK(row[3].text() == "GREEN");
  CHECK(row[4].text() == "AAEC/w==");
  CHECK(row[6].kind == Kind::kObject);
  CHECK(row[6].text() == R"({"x":7,"tags":["a"]})");
  CHECK(row[7].i == 7);
  CHECK(row[8].i == 2);
  CHECK(row[9].text() == R"({"k":"v","k2":"w"})");
  CHECK(row[10].text() == "w");
  CHECK(row[11].i == 1);
  CHECK(row[12].is_null());
  CHECK(row[13].f == 12.34);
  CHECK(row[15].i == 1767225600123);

  // After the first record, no heap allocation per record.
  const long before = g_allocations.load();
  for (int k = 0; k < 1000; ++k) {
    arena.Reset();
    REQUIRE(decoder->DecodeSlots(bytes, row, arena, &error));
  }
  CHECK(g_allocations.load() - before == 0);
  // Resolved, with a reader-only field's default in a slot: the same.
  auto v1 = Load("clicks.avsc");
  auto v2 = Load("clicks_v2.avsc");
  const ProjectionNode evolved = Projection({{"ts"}, {"page_url"}, {"device"}, {"session_id"}});
  auto resolved = v2->NewDecoder(evolved, v1.get());
  const std::string click = Encode(*v1, R"({"user_id":"u1","page_url":"/a","referrer":"google","ts":5})");
  REQUIRE(resolved->DecodeSlots(click, row, arena, &error));
  const long again = g_allocations.load();
  for (int k = 0; k < 1000; ++k) {
    arena.Reset();
    REQUIRE(resolved->DecodeSlots(click, row, arena, &error));
  }
  CHECK(g_allocations.load() - again == 0);
  CHECK(row[0].i == 5);
  CHECK(row[1].text() == "/a");
  CHECK(row[2].text() == "web");
  CHECK(row[3].is_null());
}

TEST_CASE("invalid UTF-8: an error in a projected string, replaced in any other") {
  auto clicks = Load("clicks.avsc");
  const std::string bad_user = Str("\xff\xfe") + Str("/") + Long(0) + Long(5);
  // Not projected: the text has U+FFFD for each bad byte; DecodeSlots takes it too (Decode compares).
  Decoded d = Decode(*clicks, bad_user, {{"page_url"}, {"ts"}});
  INFO(d.error);
  REQUIRE(d.ok);
  CHECK(d.text == "{\"user_id\":\"\xEF\xBF\xBD\xEF\xBF\xBD\",\"page_url\":\"/\",\"referrer\":null,\"ts\":5}");
  CHECK(Decode(*clicks, bad_user).ok);
  // Projected: both refuse it, with the same reason.
  d = Decode(*clicks, bad_user, {{"user_id"}});
  CHECK(!d.ok);
  CHECK(d.error == "field user_id: invalid UTF-8 in a string");
  const std::string bad_referrer = Str("u") + Str("/") + Long(1) + Str("g\xc3") + Long(5);
  CHECK(Decode(*clicks, bad_referrer, {{"ts"}}).ok);
  CHECK(Decode(*clicks, bad_referrer, {{"referrer"}}).error == "field referrer: invalid UTF-8 in a string");

  // Map keys, and strings inside a record or map read whole into a slot,
  // are written with U+FFFD; a string projected inside them is checked.
  auto nested = Parse(R"({"type":"record","name":"K","fields":[
    {"name":"m","type":{"type":"map","values":"string"}},
    {"name":"r","type":{"type":"record","name":"In","fields":[{"name":"t","type":"string"}]}}]})");
  const std::string bytes = Long(1) + Str("k\xff") + Str("v\xc3") + Long(0) + Str("\xe2\x82");
  d = Decode(*nested, bytes, {{"m"}, {"r"}});
  INFO(d.error);
  REQUIRE(d.ok);
  std::string m = "{", r = "{\"t\":";
  AppendJsonString("k\xff", &m);
  m += ":";
  AppendJsonString("v\xc3", &m);
  m += "}";
  AppendJsonString("\xe2\x82", &r);
  r += "}";
  CHECK(d.text == R"({"m":)" + m + R"(,"r":)" + r + "}");
  CHECK(d.row[0].text() == m);
  CHECK(d.row[1].text() == r);
  CHECK(IsValidUtf8(d.text));
  CHECK(Decode(*nested, bytes, {{"r"}, {"r", "t"}}).error == "field r.t: invalid UTF-8 in a string");
  CHECK(Decode(*nested, bytes, {{"m", "x"}}).ok);
}

TEST_CASE("schema evolution: the writer's records read with the reader's schema") {
  auto v1 = Load("clicks.avsc");
  auto v2 = Load("clicks_v2.avsc");

  SUBCASE("v1 writer, v2 reader: added fields take their defaults, at the end") {
    const std::string bytes = Encode(*v1, R"({"user_id":"u1","page_url":"/a","referrer":"google","ts":5})");
    Decoded d = Decode(*v2, bytes, {{"device"}, {"session_id"}, {"user_id"}}, v1.get());
    INFO(d.error);
    REQUIRE(d.ok);
    CHECK(d.text ==
          R"({"user_id":"u1","page_url":"/a","referrer":"google","ts":5,"session_id":null,"device":"web"})");
    CHECK(d.row[0].text() == "web");
    CHECK(d.row[1].is_null());
    CHECK(d.row[2].text() == "u1");
  }
  SUBCASE("v2 writer, v1 reader: the writer's extra fields are skipped") {
    const std::string bytes = Encode(
        *v2, R"({"user_id":"u1","page_url":"/a","referrer":null,"ts":5,"session_id":"s9","device":"ios"})");
    Decoded d = Decode(*v1, bytes, {{"ts"}, {"device"}}, v2.get());
    REQUIRE(d.ok);
    CHECK(d.text == R"({"user_id":"u1","page_url":"/a","referrer":null,"ts":5})");
    CHECK(d.row[0].i == 5);
    CHECK(d.row[1].is_null());
    // The same bytes read as v1 without resolution have bytes left over.
    Decoded raw = Decode(*v1, bytes);
    CHECK(!raw.ok);
    CHECK(raw.error.find("bytes after the end of the record") != std::string::npos);
  }
  SUBCASE("the same schema given as the writer, or an identical copy of it, reads as itself") {
    const std::string bytes = Encode(*v1, R"({"user_id":"u1","page_url":"/","ts":5})");
    auto copy = Parse(v1->RegistryText());
    CHECK(Decode(*v1, bytes, {}, v1.get()).text ==
          R"({"user_id":"u1","page_url":"/","referrer":null,"ts":5})");
    CHECK(Decode(*v1, bytes, {}, copy.get()).ok);
  }
  SUBCASE("promotions, a rename by alias, fields in another order") {
    auto writer = Parse(R"({"type":"record","name":"W","fields":[
      {"name":"id","type":"int"},{"name":"n","type":"int"},{"name":"big","type":"long"},
      {"name":"ratio","type":"float"},{"name":"uid","type":"string"},{"name":"text","type":"bytes"},
      {"name":"blob","type":"string"},{"name":"maybe","type":["null","int"]},{"name":"plain","type":"string"},
      {"name":"gone","type":{"type":"array","items":{"type":"map","values":["null","double"]}}},
      {"name":"last","type":"boolean"}]})");
    auto reader = Parse(R"({"type":"record","name":"R","fields":[
      {"name":"last","type":"boolean"},
      {"name":"user_id","type":"string","aliases":["uid"]},
      {"name":"id","type":"long"},{"name":"n","type":"double"},{"name":"big","type":"float"},
      {"name":"ratio","type":"double"},{"name":"text","type":"string"},{"name":"blob","type":"bytes"},
      {"name":"maybe","type":"long"},{"name":"plain","type":["null","int","string"]}]})");
    const std::string bytes =
        Encode(*writer, R"({"id":7,"n":3,"big":16777217,"ratio":1.1,"uid":"u","text":"YWI=","blob":"ab",)"
                        R"("maybe":4,"plain":"p","gone":[{"a":1.5,"b":null},{}],"last":true})");
    Decoded d = Decode(*reader, bytes, {{"id"}, {"n"}, {"big"}, {"ratio"}, {"user_id"}, {"text"}, {"blob"}},
                       writer.get());
    INFO(d.error);
    REQUIRE(d.ok);
    CHECK(d.text == R"({"id":7,"n":3.0,"big":16777216.0,"ratio":1.100000023841858,"user_id":"u","text":"ab",)"
                    R"("blob":"YWI=","maybe":4,"plain":"p","last":true})");
    CHECK(d.row[0].kind == Kind::kInt);
    CHECK(d.row[1].kind == Kind::kFloat);
    CHECK(d.row[3].f == static_cast<double>(1.1f));
    CHECK(d.row[4].text() == "u");
    CHECK(d.row[5].text() == "ab");
    // A null in the writer's union has no branch in the reader's long.
    const std::string with_null =
        Encode(*writer, R"({"id":7,"n":3,"big":1,"ratio":1,"uid":"u","text":"","blob":"","maybe":null,)"
                        R"("plain":"p","gone":[],"last":false})");
    Decoded bad = Decode(*reader, with_null, {}, writer.get());
    CHECK(!bad.ok);
    CHECK(bad.error == "field maybe: the writer's null cannot be read as the reader's long");
  }
  SUBCASE("enums resolve by symbol; an unknown one takes the reader's default, or fails") {
    auto writer = Parse(R"({"type":"record","name":"E","fields":[
      {"name":"e","type":{"type":"enum","name":"S","symbols":["A","B","C"]}}]})");
    auto with_default = Parse(R"({"type":"record","name":"E","fields":[
      {"name":"e","type":{"type":"enum","name":"S","symbols":["C","A","OTHER"],"default":"OTHER"}}]})");
    auto without = Parse(R"({"type":"record","name":"E","fields":[
      {"name":"e","type":{"type":"enum","name":"S","symbols":["C","A"]}}]})");
    CHECK(Decode(*with_default, Encode(*writer, R"({"e":"A"})"), {{"e"}}, writer.get()).text ==
          R"({"e":"A"})");
    CHECK(Decode(*with_default, Encode(*writer, R"({"e":"B"})"), {{"e"}}, writer.get()).text ==
          R"({"e":"OTHER"})");
    CHECK(Decode(*without, Encode(*writer, R"({"e":"C"})"), {{"e"}}, writer.get()).text == R"({"e":"C"})");
    Decoded bad = Decode(*without, Encode(*writer, R"({"e":"B"})"), {}, writer.get());
    CHECK(!bad.ok);
    CHECK(bad.error == "field e: symbol 'B' is not in the reader's enum, which has no default");
  }
  SUBCASE("a reader field the writer lacks, without a default, fails naming it") {
    auto reader = Parse(R"({"type":"record","name":"Click","fields":[
      {"name":"user_id","type":"string"},{"name":"country","type":"string"}]})");
    Decoded d = Decode(*reader, Encode(*v1, R"({"user_id":"u","page_url":"/","ts":1})"), {}, v1.get());
    CHECK(!d.ok);
    CHECK(d.error ==
          "the reader's field 'country' of record Click is not in the writer's schema and has no default");
  }
  SUBCASE("unions on both sides; a writer type no reader branch takes fails only when it occurs") {
    auto writer = Parse(
        R"({"type":"record","name":"U","fields":[{"name":"v","type":["null","int","string","boolean"]}]})");
    auto reader =
        Parse(R"({"type":"record","name":"U","fields":[{"name":"v","type":["string","null","double"]}]})");
    CHECK(Decode(*reader, Encode(*writer, R"({"v":null})"), {{"v"}}, writer.get()).text == R"({"v":null})");
    CHECK(Decode(*reader, Encode(*writer, R"({"v":2})"), {{"v"}}, writer.get()).text == R"({"v":2.0})");
    CHECK(Decode(*reader, Encode(*writer, R"({"v":"s"})"), {{"v"}}, writer.get()).text == R"({"v":"s"})");
    Decoded bad = Decode(*reader, Encode(*writer, R"({"v":true})"), {}, writer.get());
    CHECK(!bad.ok);
    CHECK(bad.error.find("field v: the writer's boolean is none of the reader's union") == 0);
  }
  SUBCASE("a record that refers to itself, resolved between two versions") {
    auto writer = Parse(R"({"type":"record","name":"List","fields":[{"name":"value","type":"int"},
      {"name":"next","type":["null","List"]}]})");
    auto reader = Parse(R"({"type":"record","name":"List","fields":[{"name":"value","type":"long"},
      {"name":"label","type":"string","default":"-"},{"name":"next","type":["null","List"],"default":null}]})");
    const std::string bytes =
        Encode(*writer, R"({"value":1,"next":{"value":2,"next":{"value":3,"next":null}}})");
    Decoded d = Decode(*reader, bytes, {{"next", "next", "value"}}, writer.get());
    REQUIRE(d.ok);
    CHECK(d.text == R"({"value":1,"next":{"value":2,"next":{"value":3,"next":null,"label":"-"},"label":"-"},)"
                    R"("label":"-"})");
    CHECK(d.row[0].i == 3);
  }
  SUBCASE("a writer of another format") {
    struct Other : Schema {
      RecordFormat format() const override { return RecordFormat::kProtobuf; }
      std::unique_ptr<RecordDecoder> NewDecoder(const ProjectionNode&, const Schema*) const override {
        return nullptr;
      }
      std::unique_ptr<RecordEncoder> NewEncoder() const override { return nullptr; }
      std::string RegistryText() const override { return ""; }
      std::string_view RegistryType() const override { return "PROTOBUF"; }
      std::shared_ptr<const Schema> ForMessageIndex(const std::vector<int>&, std::string*) const override {
        return nullptr;
      }
      std::string Describe() const override { return ""; }
    } other;
    Decoded d = Decode(*v1, "", {}, &other);
    CHECK(!d.ok);
    CHECK(d.error == "the writer's schema is protobuf, not avro");
  }
}

TEST_CASE("logical types: decimals as numbers, timestamps as epoch milliseconds") {
  auto s = Parse(R"({"type":"record","name":"L","fields":[
    {"name":"p","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
    {"name":"whole","type":{"type":"bytes","logicalType":"decimal","precision":5}},
    {"name":"fx","type":{"type":"fixed","name":"D8","size":8,"logicalType":"decimal","precision":18,"scale":3}},
    {"name":"ms","type":{"type":"long","logicalType":"timestamp-millis"}},
    {"name":"us","type":{"type":"long","logicalType":"timestamp-micros"}},
    {"name":"day","type":{"type":"int","logicalType":"date"}}]})");
  const std::vector<std::vector<std::string>> all = {{"p"}, {"whole"}, {"fx"}, {"ms"}, {"us"}, {"day"}};

  SUBCASE("decoding") {
    // 1234 (scale 2), 7 (scale 0), -5 (scale 3), then the timestamps.
    const std::string bytes = Str("\x04\xd2") + Str("\x07") +
                              std::string("\xff\xff\xff\xff\xff\xff\xff\xfb", 8) + Long(1767225600123) +
                              Long(-1) + Long(19000);
    Decoded d = Decode(*s, bytes, all);
    INFO(d.error);
    REQUIRE(d.ok);
    CHECK(d.text == R"({"p":12.34,"whole":7.0,"fx":-0.005,"ms":1767225600123,"us":-1,"day":19000})");
    CHECK(d.row[0].kind == Kind::kFloat);
    CHECK(d.row[0].f == 12.34);
    CHECK(d.row[1].f == 7.0);
    CHECK(d.row[2].f == -0.005);
    CHECK(d.row[3].i == 1767225600123);
    CHECK(d.row[4].i == -1);  // -1 microsecond is in the millisecond before the epoch
    CHECK(d.row[5].i == 19000);
    // Zero, a lone 0x80 (-128), and an empty byte string (zero).
    d = Decode(
        *s, Str(std::string(1, '\0')) + Str("\x80") + std::string(8, '\0') + Long(0) + Long(1999) + Long(0),
        all);
    REQUIRE(d.ok);
    CHECK(d.text == R"({"p":0.00,"whole":-128.0,"fx":0.000,"ms":0,"us":1,"day":0})");
    d = Decode(*s, Str("") + Str("") + std::string(8, '\0') + Long(0) + Long(-1000) + Long(0), all);
    REQUIRE(d.ok);
    CHECK(d.text == R"({"p":0.00,"whole":0.0,"fx":0.000,"ms":0,"us":-1,"day":0})");
    // The largest a number can be, and past it.
    const std::string rest = std::string(8, '\0') + Long(0) + Long(0) + Long(0);
    d = Decode(*s, Str("") + Str("\x7f" + std::string(127, '\xff')) + rest, all);
    REQUIRE(d.ok);
    CHECK(d.row[1].f == std::ldexp(1.0, 1023));
    CHECK(Decode(*s, Str("") + Str(std::string(129, '\x01')) + rest).error ==
          "field whole: decimal of 129 bytes is too large for a number");
  }
  SUBCASE("encoding rounds half away from zero and checks the precision") {
    auto bytes_of = [&](const std::string& json) { return Hex(Encode(*s, json)); };
    const std::string rest = R"("whole":7,"fx":-0.005,"ms":1,"us":2,"day":3})";
    CHECK(bytes_of(R"({"p":12.34,)" + rest) ==
          Hex(Str("\x04\xd2") + Str("\x07") + std::string("\xff\xff\xff\xff\xff\xff\xff\xfb", 8) + Long(1) +
              Long(2000) + Long(3)));
    CHECK(bytes_of(R"({"p":12.345,)" + rest).substr(0, 6) == Hex(Str("\x04\xd3")));
    CHECK(bytes_of(R"({"p":-12.345,)" + rest).substr(0, 6) == Hex(Str("\xfb\x2d")));  // -1235
    CHECK(bytes_of(R"({"p":"1e2",)" + rest).substr(0, 6) == Hex(Str("\x27\x10")));    // 10000
    CHECK(bytes_of(R"({"p":1.27,)" + rest).substr(0, 4) == Hex(Str("\x7f")));
    CHECK(bytes_of(R"({"p":1.28,)" + rest).substr(0, 6) == Hex(Str(std::string("\x00\x80", 2))));
    CHECK(bytes_of(R"({"p":-1.28,)" + rest).substr(0, 4) == Hex(Str("\x80")));
    CHECK(bytes_of(R"({"p":0.004,)" + rest).substr(0, 4) == Hex(Str(std::string(1, '\0'))));
    Encoded e = TryEncode(*s, R"({"p":12345678.9,)" + rest);
    CHECK(!e.ok);
    CHECK(e.error == "field p: 12345678.9 needs more than 9 digits");
    e = TryEncode(*s, R"({"p":"twelve",)" + rest);
    CHECK(e.error == "field p: 'twelve' is not a decimal number");
    e = TryEncode(*s, R"({"p":1,"whole":1,"fx":1e20,"ms":1,"us":2,"day":3})");
    CHECK(e.error == "field fx: 1e20 needs more than 18 digits");
    // The micros field multiplies, range-checked.
    e = TryEncode(*s, R"({"p":1,"whole":1,"fx":1,"ms":1,"us":9223372036854775,"day":3})");
    CHECK(e.ok);
    e = TryEncode(*s, R"({"p":1,"whole":1,"fx":1,"ms":1,"us":9223372036854776,"day":3})");
    CHECK(e.error == "field us: 9223372036854776 milliseconds is out of range in microseconds");
  }
  SUBCASE("a plain long written, a timestamp-micros read: the reader's units") {
    auto writer = Parse(R"({"type":"record","name":"T","fields":[{"name":"t","type":"long"}]})");
    auto reader = Parse(R"({"type":"record","name":"T","fields":[
      {"name":"t","type":{"type":"long","logicalType":"timestamp-micros"}}]})");
    auto millis = Parse(R"({"type":"record","name":"T","fields":[
      {"name":"t","type":{"type":"long","logicalType":"timestamp-millis"}}]})");
    CHECK(Decode(*reader, Long(-1500), {{"t"}}, writer.get()).text == R"({"t":-2})");
    // Micros written, millis read: the writer's units.
    CHECK(Decode(*millis, Long(2500), {{"t"}}, reader.get()).text == R"({"t":2})");
  }
}

TEST_CASE("the encoder: defaults, nullable fields, and errors naming the field") {
  auto v2 = Load("clicks_v2.avsc");
  // Missing and null fields take their defaults; a nullable field with no default is null.
  auto s = Parse(R"({"type":"record","name":"N","fields":[
    {"name":"a","type":["null","string"]},{"name":"b","type":"string","default":"x"},
    {"name":"c","type":["string","null"],"default":"y"},{"name":"d","type":"int"},
    {"name":"e","type":{"type":"record","name":"In","fields":[{"name":"k","type":"int","default":4}]},
     "default":{"k":5}},
    {"name":"by","type":"bytes","default":"\u00ff\u0001"},
    {"name":"fx","type":{"type":"fixed","name":"Two","size":2},"default":"ab"},
    {"name":"en","type":{"type":"enum","name":"En","symbols":["P","Q"]},"default":"Q"},
    {"name":"arr","type":{"type":"array","items":"long"},"default":[1,2]},
    {"name":"mp","type":{"type":"map","values":"boolean"},"default":{"t":true}}]})");
  Decoded d = Decode(*s, Encode(*s, R"({"b":null,"d":1,"e":{}})"));
  REQUIRE(d.ok);
  CHECK(d.text ==
        R"({"a":null,"b":"x","c":"y","d":1,"e":{"k":4},"by":"/wE=","fx":"YWI=","en":"Q","arr":[1,2],)"
        R"("mp":{"t":true}})");
  d = Decode(*s, Encode(*s, R"({"d":1,"e":null})"));
  REQUIRE(d.ok);
  CHECK(d.text.find(R"("e":{"k":5})") != std::string::npos);

  const std::pair<std::string, std::string> errors[] = {
      {R"({"b":"x"})", "field d: missing, and it has no default"},
      {R"({"d":null})", "field d: null, but int is not nullable and it has no default"},
      {R"({"d":2147483648})", "field d: 2147483648 is out of range for an int"},
      {R"({"d":1.5})", "field d: expected int, got 1.5"},
      {R"({"d":"1"})", R"(field d: expected int, got "1")"},
      {R"({"d":1,"e":{"k":[1]}})", "field e.k: expected int, got a list"},
      {R"({"d":1,"by":"not base64!"})", R"(field by: "not base64!" is not base64)"},
      {R"({"d":1,"fx":"YWJj"})", "field fx: fixed Two needs 2 bytes, got 3"},
      {R"({"d":1,"en":"R"})", R"(field en: "R" is not a symbol of enum En)"},
      {R"({"d":1,"a":5})", "field a: expected union [null, string], got 5"},
      {R"({"d":1,"arr":[1,"2"]})", R"(field arr: expected long, got "2")"},
      {R"({"d":1,"mp":[]})", "field mp: expected map of boolean, got a list"},
      {R"([1])", "the record is not a JSON object"},
      {R"({"d":1,"d":2})", "field d: appears twice in the record"},
      {R"({"d":1,"e":{"k":1,"k":2}})", "field e.k: appears twice in the record"},
      {R"({"d":1,)", "malformed JSON: JSON document ended early in the middle of an object or array"},
  };
  for (const auto& [json, error] : errors) {
    Encoded e = TryEncode(*s, json);
    INFO(json);
    CHECK(!e.ok);
    CHECK(e.error == error);
  }
  // Keys are compared unescaped; nothing may follow the object.
  CHECK(Hex(Encode(*s, R"({"\u0064":7})")) == Hex(Encode(*s, R"({"d":7})")));
  Encoded trailing = TryEncode(*s, R"({"d":7} {})");
  CHECK(!trailing.ok);
  CHECK(trailing.error.find("malformed JSON") == 0);
  // A failed record leaves nothing behind in the output.
  std::string out = "keep";
  std::string error, padded = R"({"b":"x"})" + std::string(JsonPadding(), '\0');
  CHECK(!s->NewEncoder()->Encode(std::string_view(padded.data(), 9), &out, &error));
  CHECK(out == "keep");
  // The encoder appends: records one after another.
  auto enc = v2->NewEncoder();
  std::string two;
  padded = R"({"user_id":"a","page_url":"/","ts":1})" + std::string(JsonPadding(), '\0');
  REQUIRE(enc->Encode(std::string_view(padded.data(), padded.size() - JsonPadding()), &two, &error));
  const size_t one = two.size();
  REQUIRE(enc->Encode(std::string_view(padded.data(), padded.size() - JsonPadding()), &two, &error));
  CHECK(two == two.substr(0, one) + two.substr(0, one));
}

TEST_CASE("damaged JSON never crashes the encoder; what it encodes, the decoder reads") {
  auto all = Parse(kAll);
  auto encoder = all->NewEncoder();
  auto decoder = all->NewDecoder(ProjectionNode{});
  std::mt19937 rng(11);
  const std::string alphabet = "{}[]\",:0123456789.-eE+ntrufalsx\\";
  int encoded = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string json(kAllRecord);
    for (int k = 0; k < 1 + round % 3; ++k) {
      const size_t at = rng() % json.size();
      switch (rng() % 3) {
        case 0:
          json[at] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          json.erase(at, 1 + rng() % 8);
          break;
        default:
          json.insert(at, 1, alphabet[rng() % alphabet.size()]);
      }
    }
    const size_t size = json.size();
    json.append(JsonPadding(), '\0');
    std::string out, error;
    if (!encoder->Encode(std::string_view(json.data(), size), &out, &error)) {
      REQUIRE(!error.empty());
      continue;
    }
    ++encoded;
    RecordBuilder b;
    b.Reset();
    INFO(json.substr(0, size));
    CHECK(decoder->Decode(out, b, &error));
  }
  MESSAGE(encoded << " of 20000 damaged JSON records still encoded (each decoded back)");
}

TEST_CASE("schema errors name the file and what is wrong") {
  std::string error;
  CHECK(!LoadAvroSchema("/nonexistent/x.avsc", &error));
  CHECK(error == "/nonexistent/x.avsc: cannot read: No such file or directory");
  CHECK(ParseError("{\n  \"type\": \"record\",\n  x\n}") ==
        "avro schema:3:3: malformed JSON: syntax error while parsing object key - invalid literal; expected "
        "string "
        "literal");
  CHECK(ParseError(R"({"type":"record","name":"A","fields":[{"name":"t","type":"strin"}]})") ==
        "avro schema: record A field 't': unknown type 'strin'");
  CHECK(ParseError(R"({"type":"record","name":"A","namespace":"n","fields":[{"name":"t","type":"B"}]})") ==
        "avro schema: record n.A field 't': unknown type 'B' (looked for n.B)");
  CHECK(ParseError(R"({"type":"record","name":"A","fields":[{"name":"t","type":"int","default":"x"}]})") ==
        R"(avro schema: record A field 't': default "x" does not fit its type int (expected int, got "x"))");
  CHECK(
      ParseError(
          R"({"type":"record","name":"A","fields":[{"name":"t","type":"int"},{"name":"t","type":"int"}]})") ==
      "avro schema: record A: field 't' is defined twice");
  CHECK(ParseError(R"("string")") ==
        "avro schema: the top-level type is string; records are read and written as records");
  CHECK(ParseError(R"({"type":"record","name":"A","fields":[{"name":"u","type":["int","int"]}]})") ==
        "avro schema: record A field 'u': the union holds int twice");
  CHECK(ParseError(R"({"type":"record","name":"1A","fields":[]})") ==
        "avro schema: top-level type: '1A' is not a valid name (letters, digits and _, dot-separated)");
  // What we take and libavro does not: an enum without symbols.
  CHECK(
      ParseError(
          R"({"type":"record","name":"A","fields":[{"name":"e","type":{"type":"enum","name":"E","symbols":[]}}]})") ==
      "avro schema: libavro refuses the schema: Enum type must have at least one symbol");
  // Named types: namespaces, references (relative and full), recursion.
  auto s = Parse(R"({"type":"record","name":"Outer","namespace":"a.b","fields":[
    {"name":"in","type":{"type":"record","name":"Inner","fields":[{"name":"x","type":"int"}]}},
    {"name":"again","type":"Inner"},{"name":"full","type":"a.b.Inner"},
    {"name":"other","type":{"type":"record","name":"c.Other","fields":[{"name":"y","type":["null","Other"]},
      {"name":"z","type":"a.b.Inner"}]}}]})");
  CHECK(s->Describe() == "avro schema from the registry (record a.b.Outer)");
  const std::string json =
      R"({"in":{"x":1},"again":{"x":2},"full":{"x":3},"other":{"y":{"y":null,"z":{"x":5}},)"
      R"("z":{"x":4}}})";
  Decoded d = Decode(*s, Encode(*s, json), {{"other", "y", "z", "x"}});
  REQUIRE(d.ok);
  CHECK(d.text == json);
  CHECK(d.row[0].i == 5);
  CHECK(ParseError(R"({"type":"record","name":"Outer","namespace":"a.b","fields":[
    {"name":"o","type":{"type":"record","name":"c.Other","fields":[{"name":"y","type":"Outer"}]}}]})") ==
        "avro schema: record c.Other field 'y': unknown type 'Outer' (looked for c.Outer)");
}

TEST_CASE("malformed bytes fail cleanly with a reason") {
  auto all = Parse(kAll);
  const std::string bytes = Encode(*all, kAllRecord);
  SUBCASE("every prefix of a record") {
    const ProjectionNode projection = Projection({{"s"}, {"r", "x"}, {"big"}});
    auto decoder = all->NewDecoder(projection);
    for (size_t n = 0; n < bytes.size(); ++n) {
      RecordBuilder b;
      b.Reset();
      std::string error;
      const std::string prefix = bytes.substr(0, n);  // its own allocation: ASan sees a read past it
      INFO(n);
      CHECK(!decoder->Decode(prefix, b, &error));
      CHECK(!error.empty());
      Value row[kSlots];
      std::string slots_error;
      CHECK(!decoder->DecodeSlots(prefix, row, TestArena(), &slots_error));
      CHECK(slots_error == error);
    }
  }
  SUBCASE("specific damage") {
    auto clicks = Load("clicks.avsc");
    const std::string good = Str("u1") + Str("/") + Long(1) + Str("g") + Long(5);
    REQUIRE(Decode(*clicks, good).ok);
    const std::pair<std::string, std::string> cases[] = {
        {Str("u1") + Str("/") + Long(2) + Str("g") + Long(5),
         "field referrer: union branch 2 out of range (2 branches)"},
        {Str("u1") + Str("/") + Long(-1) + Long(5),
         "field referrer: union branch -1 out of range (2 branches)"},
        {Long(-1) + "u1", "field user_id: negative length -1"},
        {Long(50) + "u1", "field user_id: length 50 past the end (2 bytes left)"},
        {good + "x", "1 bytes after the end of the record"},
        {Str("u1") + Str("/") + Long(0) + std::string(11, '\x80'), "field ts: a varint longer than 10 bytes"},
        {Str("u1") + Str("/") + Long(0) + std::string(3, '\x80'), "field ts: truncated"},
    };
    for (const auto& [input, error] : cases) {
      Decoded d = Decode(*clicks, input);
      INFO(Hex(input));
      CHECK(!d.ok);
      CHECK(d.error == error);
    }
    auto flags = Parse(R"({"type":"record","name":"B","fields":[{"name":"b","type":"boolean"},
      {"name":"i","type":"int"},{"name":"e","type":{"type":"enum","name":"E","symbols":["A"]}}]})");
    CHECK(Decode(*flags, "\x02" + Long(1) + Long(0)).error == "field b: boolean byte 2 is neither 0 nor 1");
    CHECK(Decode(*flags, "\x01" + Long(int64_t{1} << 31) + Long(0)).error ==
          "field i: int 2147483648 out of range");
    CHECK(Decode(*flags, "\x01" + Long(1) + Long(1)).error ==
          "field e: enum index 1 out of range (1 symbols)");
  }
  SUBCASE("blocks claiming more items than there are bytes") {
    auto arrays =
        Parse(R"({"type":"record","name":"A","fields":[{"name":"ints","type":{"type":"array","items":"int"}},
      {"name":"nulls","type":{"type":"array","items":"null"}}]})");
    CHECK(Decode(*arrays, Long(int64_t{1} << 40) + Long(1)).error ==
          "field ints: a block of 1099511627776 items is longer than the record");
    CHECK(Decode(*arrays, Long(0) + Long(int64_t{1} << 40) + Long(0)).error ==
          "field nulls: a block of 1099511627776 items is longer than the record");
    // Blocks with a negative count give their size in bytes; both forms read.
    Decoded d = Decode(
        *arrays, Long(-2) + Long(2) + Long(3) + Long(4) + Long(1) + Long(5) + Long(0) + Long(2) + Long(0));
    REQUIRE(d.ok);
    CHECK(d.text == R"({"ints":[3,4,5],"nulls":[null,null]})");
    CHECK(Decode(*arrays, Long(INT64_MIN) + Long(0)).error == "field ints: block count out of range");
  }
  SUBCASE("writer-only fields are checked as they are skipped") {
    auto writer = Parse(R"({"type":"record","name":"W","fields":[
      {"name":"skip","type":{"type":"map","values":["null",{"type":"array","items":"double"}]}},{"name":"k","type":"int"}]})");
    auto reader = Parse(R"({"type":"record","name":"W","fields":[{"name":"k","type":"int"}]})");
    const std::string good = Encode(*writer, R"({"skip":{"a":[1.5,2],"b":null},"k":3})");
    CHECK(Decode(*reader, good, {{"k"}}, writer.get()).text == R"({"k":3})");
    for (size_t n = 0; n < good.size(); ++n) CHECK(!Decode(*reader, good.substr(0, n), {}, writer.get()).ok);
    // A sized block stepped over whole.
    const std::string sized = Long(-1) + Long(13) + Str("a") + Long(1) + Long(1) + std::string(8, '\0') +
                              Long(0) + Long(0) + Long(3);
    CHECK(Decode(*reader, sized, {}, writer.get()).text == R"({"k":3})");
  }
  SUBCASE("nesting past 1000 levels is refused, not a stack overflow") {
    auto list = Parse(R"({"type":"record","name":"L","fields":[{"name":"next","type":["null","L"]}]})");
    std::string deep;
    for (int i = 0; i < 100000; ++i) deep += Long(1);
    deep += Long(0);
    Decoded d = Decode(*list, deep);
    CHECK(!d.ok);
    CHECK(d.error.find("nested deeper than 1000 levels") != std::string::npos);
    std::string fine;
    for (int i = 0; i < 500; ++i) fine += Long(1);
    fine += Long(0);
    CHECK(Decode(*list, fine, {{"next", "next", "next"}}).ok);
    // Skipped as a writer-only field, the same.
    auto wrapper =
        Parse(R"({"type":"record","name":"W","fields":[{"name":"l","type":{"type":"record","name":"L",
      "fields":[{"name":"next","type":["null","L"]}]}}]})");
    auto empty = Parse(R"({"type":"record","name":"W","fields":[]})");
    d = Decode(*empty, deep, {}, wrapper.get());
    CHECK(!d.ok);
    CHECK(d.error.find("nested deeper than 1000 levels") != std::string::npos);
  }
  SUBCASE("random damage never crashes; what decodes is valid JSON") {
    // Read as written, and resolved to a reader that skips most fields,
    // promotes some and adds one.
    auto few = Parse(R"({"type":"record","name":"All","namespace":"t","fields":[
      {"name":"s","type":"bytes"},
      {"name":"r","type":{"type":"record","name":"Inner","fields":[{"name":"x","type":"double"}]}},
      {"name":"extra","type":"string","default":"d"},
      {"name":"multi","type":["null","long","string","Inner"]},{"name":"i","type":"long"}]})");
    Decoded resolved = Decode(*few, bytes, {{"multi", "x"}}, all.get());
    INFO(resolved.error);
    REQUIRE(resolved.ok);
    CHECK(resolved.text == R"({"i":-5,"s":"aMOpbGxvICJxIgo=","r":{"x":7.0},"multi":{"x":1.0},"extra":"d"})");
    std::mt19937 rng(7);
    const ProjectionNode projection = Projection({{"s"}, {"m"}, {"r", "tags"}, {"multi", "x"}, {"price"}});
    // Each with an unprojected twin, as the transcoder that makes the text of
    // a record DecodeSlots took.
    struct Pair {
      std::unique_ptr<RecordDecoder> decoder, unprojected;
      size_t slots;
    };
    Pair decoders[] = {
        {all->NewDecoder(projection), all->NewDecoder(ProjectionNode{}), 5},
        {few->NewDecoder(projection, all.get()), few->NewDecoder(ProjectionNode{}, all.get()), 4}};
    int decoded = 0;
    for (int round = 0; round < 20000; ++round) {
      std::string damaged = bytes;
      for (int k = 0; k < 1 + round % 4; ++k) damaged[rng() % damaged.size()] = static_cast<char>(rng());
      if (round % 5 == 0) damaged.resize(rng() % damaged.size());
      for (const auto& [decoder, unprojected, slots] : decoders) {
        Decoded d = DecodeWith(*decoder, projection, slots, damaged, unprojected.get());
        if (d.ok) ++decoded;
        if (!d.ok) REQUIRE(!d.error.empty());
      }
    }
    MESSAGE(decoded << " of 2 x 20000 damaged records still decoded (each checked against the JSON decoder)");
  }
}

TEST_CASE("speed: 1M clicks records, encoded and decoded (printed, not asserted)") {
  auto clicks = Load("clicks.avsc");
  const char* referrers[] = {"null", "\"google\"", "\"twitter\"", "null", "\"news.ycombinator.com\""};
  const char* pages[] = {"/", "/products/42", "/cart", "/checkout?step=2", "/blog/2026/01/launch"};
  std::vector<std::string> jsons;
  for (int i = 0; i < 64; ++i) {
    jsons.push_back(R"({"user_id":"u)" + std::to_string(i * 7919 % 1000) + R"(","page_url":")" +
                    pages[i % 5] + R"(","referrer":)" + referrers[(i / 5) % 5] + R"(,"ts":)" +
                    std::to_string(1767225600000 + i) + "}");
    jsons.back().append(JsonPadding(), '\0');
  }
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  constexpr int kRecords = 100000;  // the sanitizers' builds: the loop is checked, its time means nothing
#else
  constexpr int kRecords = 1000000;
#endif
  auto encoder = clicks->NewEncoder();
  std::vector<std::string> encoded(jsons.size());
  std::string out, error;
  size_t bytes = 0;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRecords; ++i) {
    const std::string& j = jsons[i % jsons.size()];
    out.clear();
    if (!encoder->Encode(std::string_view(j.data(), j.size() - JsonPadding()), &out, &error)) FAIL(error);
    bytes += out.size();
    if (i < static_cast<int>(jsons.size())) encoded[i] = out;
  }
  const double encode_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const ProjectionNode projection = Projection({{"user_id"}, {"referrer"}, {"ts"}});
  auto decoder = clicks->NewDecoder(projection);
  RecordBuilder builder;
  Arena arena;
  Value row[3];
  start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRecords; ++i) {
    builder.Reset();
    if (!decoder->Decode(encoded[i % encoded.size()], builder, &error)) FAIL(error);
    builder.Finish(row, arena);
    if (i % 1024 == 1023) arena.Reset();
  }
  const double decode_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MESSAGE("clicks, " << kRecords << " records (" << bytes / kRecords << " bytes each in Avro): encode "
                     << static_cast<int>(encode_s * 1e9 / kRecords) << " ns/record ("
                     << static_cast<int>(kRecords / encode_s / 1e6 * 10) / 10.0
                     << " M/s), decode with 3 slots " << static_cast<int>(decode_s * 1e9 / kRecords)
                     << " ns/record (" << static_cast<int>(kRecords / decode_s / 1e6 * 10) / 10.0 << " M/s)");
  // As a source decodes: the 3 slots only, no text.
  start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRecords; ++i) {
    if (!decoder->DecodeSlots(encoded[i % encoded.size()], row, arena, &error)) FAIL(error);
    if (i % 1024 == 1023) arena.Reset();
  }
  const double slots_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MESSAGE("clicks, DecodeSlots with 3 slots " << static_cast<int>(slots_s * 1e9 / kRecords) << " ns/record ("
                                              << static_cast<int>(kRecords / slots_s / 1e6 * 10) / 10.0
                                              << " M/s)");
}
