// `schema check`: Avro changes by the spec's resolution rules and Protobuf
// changes by field number and wire type, in both directions.
#include "runner/format/compatibility.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "runner/format/codec.h"

using namespace streamrun::format;

namespace {

const std::filesystem::path kSchemas = std::filesystem::path(__FILE__).parent_path() / "../../schemas";

struct Result {
  std::vector<std::string> backward, forward;
};

std::string WriteTemp(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / ("compatibility_test_" + name);
  std::ofstream(path) << text;
  return path.string();
}

std::shared_ptr<const Schema> Load(const std::string& path) {
  std::string error;
  auto s = path.ends_with(".avsc") ? LoadAvroSchema(path, &error) : LoadProtobufSchema(path, "", &error);
  INFO(error);
  REQUIRE(s);
  return s;
}

Result Check(const std::string& old_path, const std::string& new_path) {
  Result r;
  REQUIRE(CheckCompatibility(*Load(old_path), *Load(new_path), &r.backward, &r.forward));
  return r;
}

// A record Click with `fields` (JSON field objects) after user_id.
std::string Avsc(const std::string& name, const std::string& fields) {
  return WriteTemp(name + ".avsc",
                   R"({"type": "record", "name": "Click", "fields": [{"name": "user_id", "type": "string"})" +
                       (fields.empty() ? "" : ", " + fields) + "]}");
}

std::string Proto(const std::string& name, const std::string& fields) {
  return WriteTemp(
      name + ".proto",
      "syntax = \"proto3\";\npackage t;\nmessage Click {\n  string user_id = 1;\n" + fields + "}\n");
}

}  // namespace

TEST_CASE("avro: clicks to clicks_v2 is fully compatible") {
  auto r = Check((kSchemas / "clicks.avsc").string(), (kSchemas / "clicks_v2.avsc").string());
  CHECK(r.backward.empty());
  CHECK(r.forward.empty());
}

TEST_CASE("avro: a field added without a default is forward compatible only") {
  auto r = Check(Avsc("v1", ""), Avsc("v2", R"({"name": "device", "type": "string"})"));
  REQUIRE(r.backward.size() == 1);
  CHECK(r.backward[0] == "field 'device' was added without a default");
  CHECK(r.forward.empty());
  // Removing it is the mirror image.
  r = Check(Avsc("v2", R"({"name": "device", "type": "string"})"), Avsc("v1", ""));
  CHECK(r.backward.empty());
  REQUIRE(r.forward.size() == 1);
  CHECK(r.forward[0] == "field 'device' was removed and OLD has no default for it");
}

TEST_CASE("avro: string to int is neither, int to long is backward only") {
  auto r =
      Check(Avsc("s", R"({"name": "n", "type": "string"})"), Avsc("i", R"({"name": "n", "type": "int"})"));
  REQUIRE(r.backward.size() == 1);
  CHECK(r.backward[0] == "field 'n' changed type from string to int");
  CHECK(r.forward == r.backward);

  r = Check(Avsc("i", R"({"name": "n", "type": "int"})"), Avsc("l", R"({"name": "n", "type": "long"})"));
  CHECK(r.backward.empty());
  REQUIRE(r.forward.size() == 1);
  CHECK(r.forward[0] == "field 'n' changed type from int to long");
}

TEST_CASE("avro: unions, nested records, arrays") {
  // A nullable string read from a plain string resolves; the other way the null branch does not.
  auto r = Check(Avsc("s", R"({"name": "n", "type": "string"})"),
                 Avsc("ns", R"({"name": "n", "type": ["null", "string"]})"));
  CHECK(r.backward.empty());
  REQUIRE(r.forward.size() == 1);
  CHECK(r.forward[0] ==
        "field 'n' changed type from string to union [null, string] (NEW's null branch cannot be read)");

  r = Check(Avsc("a1", R"({"name": "tags", "type": {"type": "array", "items": "string"}})"),
            Avsc("a2", R"({"name": "tags", "type": {"type": "array", "items": "long"}})"));
  REQUIRE(r.backward.size() == 1);
  CHECK(r.backward[0] == "field 'tags[]' changed type from string to long");

  r = Check(Avsc("r1", R"({"name": "geo", "type": {"type": "record", "name": "Geo", "fields": []}})"),
            Avsc("r2", R"({"name": "geo", "type": {"type": "record", "name": "Geo", "fields": [
                            {"name": "city", "type": "string"}]}})"));
  CHECK(r.backward == std::vector<std::string>{"field 'geo.city' was added without a default"});
  CHECK(r.forward.empty());
}

TEST_CASE("avro: enum symbols") {
  const std::string abc =
      R"({"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B", "C"]}})";
  const std::string ab = R"({"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"]}})";
  const std::string ab_default =
      R"({"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"], "default": "A"}})";
  // Removing C: NEW cannot read OLD's C; OLD reads all of NEW's.
  auto r = Check(Avsc("abc", abc), Avsc("ab", ab));
  REQUIRE(r.backward.size() == 1);
  CHECK(r.backward[0] == "field 'e': symbol 'C' of enum E was removed and NEW has no default symbol");
  CHECK(r.forward.empty());
  // With a default symbol in NEW, C reads as A.
  r = Check(Avsc("abc", abc), Avsc("abd", ab_default));
  CHECK(r.backward.empty());
  CHECK(r.forward.empty());
  // Adding C: OLD without a default cannot read it.
  r = Check(Avsc("ab", ab), Avsc("abc", abc));
  CHECK(r.backward.empty());
  REQUIRE(r.forward.size() == 1);
  CHECK(r.forward[0] == "field 'e': symbol 'C' of enum E was added and OLD has no default symbol");
}

TEST_CASE("protobuf: clicks to clicks_v2 is fully compatible") {
  auto r = Check((kSchemas / "clicks.proto").string(), (kSchemas / "clicks_v2.proto").string());
  CHECK(r.backward.empty());
  CHECK(r.forward.empty());
}

TEST_CASE("protobuf: field types by wire encoding") {
  auto r = Check(Proto("s", "  string device = 6;\n"), Proto("l", "  int64 device = 6;\n"));
  CHECK(r.backward == std::vector<std::string>{"field 'device' (6) changed type from string to int64"});
  CHECK(r.forward == r.backward);

  r = Check(Proto("i32", "  int32 n = 2;\n"), Proto("i64", "  int64 count = 2;\n"));  // renamed too
  CHECK(r.backward.empty());
  CHECK(r.forward.empty());

  r = Check(Proto("i32", "  int32 n = 2;\n"), Proto("s32", "  sint32 n = 2;\n"));
  CHECK(r.backward.size() == 1);

  r = Check(Proto("one", "  string tag = 2;\n"), Proto("many", "  repeated string tag = 2;\n"));
  CHECK(r.backward ==
        std::vector<std::string>{"field 'tag' (2) changed type from string to repeated string"});

  // Removed and added fields are matched by number and skipped.
  r = Check(Proto("old", "  string a = 2;\n"), Proto("new", "  int64 b = 3;\n"));
  CHECK(r.backward.empty());
  CHECK(r.forward.empty());
}

TEST_CASE("protobuf: nested messages by number") {
  auto r = Check(Proto("n1", "  message Geo { string city = 1; }\n  Geo geo = 2;\n"),
                 Proto("n2", "  message Geo { double city = 1; }\n  Geo geo = 2;\n"));
  CHECK(r.backward == std::vector<std::string>{"field 'geo.city' (2.1) changed type from string to double"});
}

TEST_CASE("mismatched kinds") {
  std::vector<std::string> b, f;
  CHECK_FALSE(CheckCompatibility(*Load((kSchemas / "clicks.avsc").string()),
                                 *Load((kSchemas / "clicks.proto").string()), &b, &f));
}
