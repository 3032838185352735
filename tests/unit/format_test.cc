// Protobuf records and the schema-registry framing (runner/format): decoding
// into JSON text and slots, encoding back, evolution by field number, bytes
// checked against hand-computed wire vectors, and malformed input.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "runner/format/codec.h"
#include "runner/format/framing.h"
#include "runner/format/varint.h"
#include "runner/record/arena.h"
#include "runner/record/json_decoder.h"

using namespace streamrun;
using namespace streamrun::format;

namespace {

std::string WriteTemp(const std::string& name, const std::string& text) {
  const auto dir = std::filesystem::temp_directory_path() / ("format_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = dir / name;
  std::ofstream(path) << text;
  return path.string();
}

const char* kEvents = R"(
syntax = "proto3";
package t;
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";
message Event {
  string user = 1;
  int64 count = 2;
  double amount = 3;
  optional string note = 4;
  bool flag = 5;
  repeated int32 tags = 6;
  Inner inner = 7;
  Kind kind = 8;
  google.protobuf.Timestamp at = 9;
  google.protobuf.Int64Value maybe = 10;
  map<string, int64> counts = 11;
  bytes blob = 12;
  sint32 delta = 13;
  float ratio = 14;
  repeated string names = 15;
}
message Inner { string city = 1; int32 zip = 2; }
enum Kind { KIND_UNSPECIFIED = 0; BIG = 1; SMALL = 2; }
)";

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int x : b) s.push_back(static_cast<char>(x));
  return s;
}

// Decodes `bytes` with `schema`, projecting `paths` (slots 0..n-1).
struct Decoded {
  std::string text;
  std::vector<Value> slots;
  bool ok = false;
  std::string error;
};

Decoded Decode(const Schema& schema, std::string_view bytes,
               const std::vector<std::vector<std::string>>& paths, Arena& arena) {
  ProjectionNode root;
  for (size_t i = 0; i < paths.size(); ++i) root.At(paths[i]).slot = static_cast<int>(i);
  auto decoder = schema.NewDecoder(root);
  RecordBuilder b;
  Decoded d;
  d.slots.resize(paths.size());
  d.ok = decoder->Decode(bytes, b, &d.error);
  if (d.ok) d.text = std::string(b.Finish(d.slots.data(), arena));
  return d;
}

std::string Encode(const Schema& schema, const std::string& json, std::string* error = nullptr) {
  auto enc = schema.NewEncoder();
  std::string padded = json;
  padded.reserve(json.size() + 64);
  std::string out, why;
  bool ok = enc->Encode(padded, &out, &why);
  if (error) *error = why;
  return ok ? out : "<error: " + why + ">";
}

}  // namespace

TEST_CASE("protobuf: hand-computed wire bytes decode to JSON text and slots") {
  std::string error;
  auto schema = LoadProtobufSchema(WriteTemp("events.proto", kEvents), "t.Event", &error);
  REQUIRE_MESSAGE(schema, error);
  // user="ab" (field 1, LEN), count=150 (field 2, varint 0x96 0x01), inner{city="X"} (field 7),
  // tags packed [1, 2] (field 6), kind=SMALL (field 8).
  const std::string bytes = Bytes({0x0a, 0x02, 'a', 'b', 0x10, 0x96, 0x01, 0x3a, 0x03, 0x0a, 0x01, 'X', 0x32,
                                   0x02, 0x01, 0x02, 0x40, 0x02});
  Arena arena;
  auto d = Decode(*schema, bytes,
                  {{"user"}, {"count"}, {"inner", "city"}, {"tags"}, {"note"}, {"kind"}, {"amount"}}, arena);
  REQUIRE_MESSAGE(d.ok, d.error);
  CHECK(
      d.text ==
      R"({"user":"ab","count":150,"amount":0.0,"note":null,"flag":false,"tags":[1,2],"inner":{"city":"X","zip":0},)"
      R"("kind":"SMALL","at":null,"maybe":null,"counts":{},"blob":"","delta":0,"ratio":0.0,"names":[]})");
  CHECK(d.slots[0].kind == Kind::kString);
  CHECK(d.slots[0].text() == "ab");
  CHECK(d.slots[1].kind == Kind::kInt);
  CHECK(d.slots[1].i == 150);
  CHECK(d.slots[2].text() == "X");
  CHECK(d.slots[3].kind == Kind::kList);
  CHECK(d.slots[3].text() == "[1,2]");
  CHECK(d.slots[4].is_null());
  CHECK(d.slots[5].text() == "SMALL");
  CHECK(d.slots[6].kind == Kind::kFloat);
  // The JSON decoder reading the text gives the same values.
  ProjectionNode root;
  root.At({"user"}).slot = 0;
  root.At({"count"}).slot = 1;
  root.At({"inner", "city"}).slot = 2;
  JsonDecoder json(root);
  std::vector<Value> again(3);
  std::string padded = d.text;
  padded.append(JsonPadding(), '\0');
  REQUIRE(json.Decode(std::string_view(padded.data(), d.text.size()), again.data(), arena, &error));
  CHECK(again[0].text() == "ab");
  CHECK(again[1].i == 150);
  CHECK(again[2].text() == "X");
}

TEST_CASE("protobuf: every type round-trips through JSON") {
  std::string error;
  auto schema = LoadProtobufSchema(WriteTemp("events.proto", kEvents), "t.Event", &error);
  REQUIRE_MESSAGE(schema, error);
  const std::string json =
      R"({"user":"a \"q\" é","count":-5,"amount":1.25,"note":"n","flag":true,"tags":[0,-1,7],)"
      R"("inner":{"city":"Paris","zip":75001},"kind":"BIG","at":1767225600123,"maybe":0,)"
      R"("counts":{"x":1,"y":0},"blob":"AAEC/w==","delta":-3,"ratio":0.5,"names":["p","","q"]})";
  const std::string bytes = Encode(*schema, json);
  REQUIRE(bytes.rfind("<error", 0) != 0);
  Arena arena;
  auto d = Decode(*schema, bytes, {{"at"}, {"maybe"}, {"user"}}, arena);
  REQUIRE_MESSAGE(d.ok, d.error);
  CHECK(d.text == R"({"user":"a \"q\" é","count":-5,"amount":1.25,"note":"n","flag":true,"tags":[0,-1,7],)"
                  R"("inner":{"city":"Paris","zip":75001},"kind":"BIG","at":1767225600123,"maybe":0,)"
                  R"("counts":{"x":1,"y":0},"blob":"AAEC/w==","delta":-3,"ratio":0.5,"names":["p","","q"]})");
  CHECK(d.slots[0].i == 1767225600123);
  CHECK(d.slots[1].kind == Kind::kInt);  // a present wrapper holding 0 is 0, not null
  CHECK(d.slots[2].text() == "a \"q\" é");
  // Encoding the decoded text again gives the same bytes.
  CHECK(Encode(*schema, d.text) == bytes);
}

TEST_CASE("protobuf: values of the wrong type are errors that name the field") {
  std::string error;
  auto schema = LoadProtobufSchema(WriteTemp("events.proto", kEvents), "t.Event", &error);
  REQUIRE(schema);
  Encode(*schema, R"({"count":"many"})", &error);
  CHECK(error.find("'count'") != std::string::npos);
  Encode(*schema, R"({"kind":"HUGE"})", &error);
  CHECK(error.find("HUGE") != std::string::npos);
  Encode(*schema, R"({"inner":{"zip":99999999999}})", &error);
  CHECK(error.find("32 bits") != std::string::npos);
  // Fields the schema lacks are left out; null is absent.
  CHECK(Encode(*schema, R"({"nope":1,"note":null,"user":"u"})") == Bytes({0x0a, 0x01, 'u'}));
}

TEST_CASE("protobuf: every prefix of a record and random bytes fail cleanly or decode") {
  std::string error;
  auto schema = LoadProtobufSchema(WriteTemp("events.proto", kEvents), "t.Event", &error);
  REQUIRE(schema);
  const std::string bytes =
      Encode(*schema, R"({"user":"abc","inner":{"city":"Rome"},"tags":[1,300],"at":5})");
  Arena arena;
  int failed = 0;
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto d = Decode(*schema, std::string_view(bytes.data(), n), {{"user"}}, arena);
    if (!d.ok) {
      ++failed;
      CHECK(!d.error.empty());
    }
  }
  CHECK(failed > 0);
  uint64_t x = 88172645463325252ull;
  for (int k = 0; k < 2000; ++k) {
    std::string junk;
    for (int i = 0; i < 1 + k % 40; ++i) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      junk.push_back(static_cast<char>(x));
    }
    auto d = Decode(*schema, junk, {{"user"}, {"inner", "city"}}, arena);
    if (!d.ok) CHECK(!d.error.empty());
  }
}

TEST_CASE("protobuf evolution: v1 and v2 read each other's records by field number") {
  std::string error;
  auto v1 = LoadProtobufSchema(WriteTemp("v1.proto", R"(syntax = "proto3"; package e;
message Click { string user_id = 1; string page_url = 2; optional string referrer = 3; int64 ts = 4; })"),
                               "", &error);
  auto v2 = LoadProtobufSchema(WriteTemp("v2.proto", R"(syntax = "proto3"; package e;
message Click { string user_id = 1; string page_url = 2; optional string referrer = 3; int64 ts = 4;
  optional string session_id = 5; string device = 6; })"),
                               "", &error);
  REQUIRE(v1);
  REQUIRE(v2);
  Arena arena;
  const std::string old_bytes = Encode(*v1, R"({"user_id":"u1","page_url":"/a","ts":7})");
  auto d = Decode(*v2, old_bytes, {{"session_id"}, {"device"}}, arena);
  REQUIRE(d.ok);
  CHECK(d.text == R"({"user_id":"u1","page_url":"/a","referrer":null,"ts":7,"session_id":null,"device":""})");
  const std::string new_bytes =
      Encode(*v2, R"({"user_id":"u2","page_url":"/b","ts":8,"session_id":"s","device":"ios"})");
  d = Decode(*v1, new_bytes, {{"user_id"}}, arena);
  REQUIRE(d.ok);
  CHECK(d.text == R"({"user_id":"u2","page_url":"/b","referrer":null,"ts":8})");
}

TEST_CASE("registry framing: Confluent's byte layout") {
  std::string out;
  WriteFrameHeader(1, true, {0}, &out);
  CHECK(out == Bytes({0, 0, 0, 0, 1, 0}));  // [0] is the single byte 0
  out.clear();
  WriteFrameHeader(258, true, {1, 2}, &out);
  CHECK(out == Bytes({0, 0, 0, 1, 2, 4, 2, 4}));  // count 2, then 1 and 2, zig-zag
  out.clear();
  WriteFrameHeader(0x01020304, false, {}, &out);
  CHECK(out == Bytes({0, 1, 2, 3, 4}));  // Avro and JSON: no indexes
  Frame f;
  std::string error;
  const std::string two = Bytes({0, 0, 0, 1, 2, 4, 2, 4, 'x'});  // the payload points into it
  REQUIRE(ReadFrame(two, true, &f, &error));
  CHECK(f.schema_id == 258);
  CHECK(f.message_index == std::vector<int>{1, 2});
  CHECK(f.payload == "x");
  const std::string first = Bytes({0, 0, 0, 0, 7, 0, 'y'});
  REQUIRE(ReadFrame(first, true, &f, &error));
  CHECK(f.message_index == std::vector<int>{0});
  CHECK(f.payload == "y");
  CHECK_FALSE(ReadFrame(Bytes({1, 0, 0, 0, 7}), false, &f, &error));
  CHECK_FALSE(ReadFrame(Bytes({0, 0, 0}), false, &f, &error));
  CHECK_FALSE(ReadFrame(Bytes({0, 0, 0, 0, 7, 0x80}), true, &f, &error));
}

TEST_CASE("protobuf schemas: errors name the file and line; registry text and base64 descriptors parse") {
  std::string error;
  CHECK_FALSE(LoadProtobufSchema(WriteTemp("bad.proto", "syntax = \"proto3\";\nmessage X { int32 a = ; }\n"),
                                 "", &error));
  CHECK(error.find("bad.proto:2:") != std::string::npos);
  CHECK_FALSE(LoadProtobufSchema(WriteTemp("ok.proto", "syntax = \"proto3\"; message X { int32 a = 1; }"),
                                 "Y", &error));
  CHECK(error.find("'Y'") != std::string::npos);
  CHECK_FALSE(LoadProtobufSchema("/no/such.proto", "", &error));
  auto schema = LoadProtobufSchema(WriteTemp("events.proto", kEvents), "t.Inner", &error);
  REQUIRE(schema);
  CHECK(schema->MessageIndex() == std::vector<int>{1});
  auto again = ParseProtobufSchema(schema->RegistryText(), "t.Inner", &error);
  REQUIRE_MESSAGE(again, error);
  CHECK(again->MessageIndex() == std::vector<int>{1});
  auto first = again->ForMessageIndex({0}, &error);
  REQUIRE(first);
  CHECK(first->Describe().find("t.Event") != std::string::npos);
  CHECK_FALSE(again->ForMessageIndex({5}, &error));
}

TEST_CASE("protobuf: DecodeSlots gives the slots Decode gives, and accepts only what Decode accepts") {
  std::string error;
  auto schema = LoadProtobufSchema(WriteTemp("events.proto", kEvents), "t.Event", &error);
  REQUIRE(schema);
  const std::vector<std::vector<std::vector<std::string>>> projections = {
      {{"user"}, {"count"}, {"amount"}, {"note"}, {"flag"}, {"kind"}, {"at"}, {"maybe"}, {"blob"}, {"ratio"}},
      {{"user"}, {"inner", "city"}, {"tags"}, {"counts"}},
      {{"inner"}, {"names"}, {"delta"}},
  };
  std::vector<std::string> records = {
      Encode(*schema, R"({"user":"a","count":3,"inner":{"city":"X"},"tags":[1,2],"kind":"BIG","at":-1500})"),
      Encode(*schema, R"({})"),
      Encode(*schema, R"({"note":"","maybe":7,"blob":"AQI=","ratio":0.1,"names":["x"],"counts":{"k":2}})"),
      // A field twice: the last wins, in both.
      Encode(*schema, R"({"user":"first","count":1})") + Encode(*schema, R"({"user":"last","count":2})"),
  };
  for (size_t pi = 0; pi < projections.size(); ++pi) {
    ProjectionNode root;
    for (size_t i = 0; i < projections[pi].size(); ++i)
      root.At(projections[pi][i]).slot = static_cast<int>(i);
    auto decoder = schema->NewDecoder(root);
    for (const auto& bytes : records) {
      Arena arena;
      std::vector<Value> by_text(projections[pi].size()), by_slots(projections[pi].size());
      RecordBuilder b;
      REQUIRE(decoder->Decode(bytes, b, &error));
      b.Finish(by_text.data(), arena);
      REQUIRE(decoder->DecodeSlots(bytes, by_slots.data(), arena, &error));
      for (size_t i = 0; i < by_text.size(); ++i) {
        INFO("projection " << pi << " slot " << i);
        CHECK(by_text[i].kind == by_slots[i].kind);
        if (by_text[i].kind == Kind::kInt) CHECK(by_text[i].i == by_slots[i].i);
        if (by_text[i].kind == Kind::kFloat) CHECK(by_text[i].f == by_slots[i].f);
        if (by_text[i].kind == Kind::kBool) CHECK(by_text[i].b == by_slots[i].b);
        if (by_text[i].kind >= Kind::kString) CHECK(by_text[i].text() == by_slots[i].text());
      }
    }
    // Damaged records: DecodeSlots never accepts what Decode refuses.
    uint64_t x = 7;
    for (const auto& good : records) {
      for (int k = 0; k < 300; ++k) {
        std::string bad = good;
        if (bad.empty()) break;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        bad[x % bad.size()] = static_cast<char>(x >> 8);
        Arena arena;
        std::vector<Value> row(projections[pi].size());
        RecordBuilder b;
        if (decoder->DecodeSlots(bad, row.data(), arena, &error)) {
          const bool text = schema->NewDecoder({})->Decode(bad, b, &error);
          INFO("projection " << pi << ": " << error);
          CHECK(text);
        }
      }
    }
  }
}
