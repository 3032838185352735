// The spec is the parser: every option of the generated schema is read by the
// plan through its spec (config/options.h), and a boolean means the same to the
// validator and to the plan however it is spelt.
#include "runner/config/options.h"

#include <doctest/doctest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "operators/registry.h"
#include "runner/config/loader.h"
#include "runner/plan/plan.h"

namespace streamrun {
namespace {

using config::ComponentKind;
using config::FieldSpec;
using config::FieldType;
using nlohmann::json;

// Every option path of an object schema: "a", "b", "b.c", ...
void OptionPaths(const json& object, const std::string& prefix, std::set<std::string>* out) {
  if (!object.contains("properties")) return;
  for (const auto& [name, property] : object["properties"].items()) {
    const std::string path = prefix.empty() ? name : prefix + "." + name;
    out->insert(path);
    if (property.value("type", json()) == "object") OptionPaths(property, path, out);
  }
}

// A valid YAML value for an option, from its spec: the default, an example, or
// one made from the type. `overrides` by option name where those would not plan.
std::string Sample(const FieldSpec& f, const std::map<std::string, std::string>& overrides) {
  if (auto it = overrides.find(f.name); it != overrides.end()) return it->second;
  switch (f.type) {
    case FieldType::kObject: {
      std::string out = "{";
      for (const auto& field : f.fields) {
        if (out.size() > 1) out += ", ";
        out += field.name + ": " + Sample(field, overrides);
      }
      return out + "}";
    }
    case FieldType::kList:
      return "[" + (f.item ? Sample(*f.item, overrides) : std::string("x")) + "]";
    case FieldType::kMap:
      return "{sample: " + (f.item ? Sample(*f.item, overrides) : std::string("x")) + "}";
    case FieldType::kOneOf:
      return Sample(f.alternatives.front(), overrides);
    default:
      break;
  }
  if (!f.default_value.empty()) return "'" + f.default_value + "'";
  if (!f.example.empty() && f.example.find('\n') == std::string::npos) return f.example;
  switch (f.type) {
    case FieldType::kInt:
    case FieldType::kNumber:
      return "1";
    case FieldType::kBool:
      return "True";
    case FieldType::kDuration:
      return "1s";
    case FieldType::kRate:
      return "10/s";
    case FieldType::kExpr:
    case FieldType::kField:
      return "user_id";
    case FieldType::kEnum:
      return f.enum_values.front();
    default:
      return "x";
  }
}

// Options whose made-up values would not plan, or that exclude each other (the
// plan still asks for the left-out ones: a read is logged when it is asked).
const std::map<std::string, std::string> kOverrides = {
    {"out_of_order", "'0.1:1s'"},
    {"storage", "file:///tmp/streamrun-options-test"},
    {"simulate", "{kind: clicks, count: 10}"},
    {"topics", "[other]"},
    {"emit", "on_close"},
    {"sliding", "~"},
    {"slide", "~"},
    {"session", "~"},
    {"having", "n > 0"},
    {"aggregate", "{n: count()}"},
    {"by", "n"},
    {"cache", "64MB"},
    {"properties", "{socket.timeout.ms: '30000'}"},
    {"fields", "~"},     // enrich_http: `into` or `fields`
    {"method", "POST"},  // enrich_http: a body goes with POST
    {"schema", "~"},     // formats: protobuf and avro only
    {"message", "~"},
    {"registry", "~"},
    {"writer_schema", "~"},
};

// Plans `yaml` and returns what the plan read.
config::ReadLog PlanAndLog(const std::string& yaml) {
  config::Diagnostics diags;
  auto root = config::LoadYamlText(
      yaml, "walk.yaml", [](const std::string&) { return std::nullopt; }, diags);
  REQUIRE_MESSAGE(root.has_value(), yaml);
  config::ReadLog log;
  PlanOptions options;
  options.read_log = &log;
  auto plan = BuildPlan(*root, "walk.yaml", options, diags);
  INFO(yaml);
  INFO(diags.ToString());
  CHECK(plan != nullptr);
  return log;
}

void CheckAllRead(const std::string& where, const std::set<std::string>& paths, const config::ReadLog& log) {
  for (const auto& path : paths) {
    INFO(where << " option " << path << " is in the schema but the plan never reads it");
    CHECK(log.count(where + "." + path) == 1);
  }
}

const char* kGenerated = "{type: generate, kind: clicks, count: 10}";

TEST_CASE("every option in the generated schema is read by the plan") {
  const json schema = json::parse(config::PipelineJsonSchema(BuiltinCatalog()));
  int components = 0;
  for (const auto& source : schema["definitions"]["source"]["oneOf"]) {
    const std::string type = source["title"];
    std::set<std::string> paths;
    OptionPaths(source, "", &paths);
    paths.erase("type");
    const auto* spec = FindSource(type);
    REQUIRE(spec != nullptr);
    std::string node = Sample(spec->spec().value, kOverrides);
    node.insert(1, "type: " + type + ", ");
    CheckAllRead(
        "source " + type, paths,
        PlanAndLog("name: walk\nsources:\n  s: " + node + "\nsinks:\n  out: {type: 'null', input: s}\n"));
    ++components;
  }
  for (const auto& sink : schema["definitions"]["sink"]["oneOf"]) {
    const std::string type = sink["title"];
    std::set<std::string> paths;
    OptionPaths(sink, "", &paths);
    paths.erase("type");
    paths.erase("input");
    paths.erase("inputs");
    paths.erase("preview");  // read by the planner for every sink (plan.cc), not by the sink
    const auto* spec = FindSink(type);
    REQUIRE(spec != nullptr);
    std::string node = Sample(spec->spec().value, kOverrides);
    node.insert(1, "type: '" + type + "', input: s" + (spec->spec().value.fields.empty() ? "" : ", "));
    CheckAllRead("sink " + type, paths,
                 PlanAndLog(std::string("name: walk\nsources:\n  s: ") + kGenerated +
                            "\nsinks:\n  out: " + node + "\n"));
    ++components;
  }
  for (const auto& step : schema["definitions"]["step"]["oneOf"]) {
    const std::string name = step["title"];
    const auto* entry = FindStep(name);
    REQUIRE(entry != nullptr);
    const FieldSpec& value = entry->spec().value;
    // A step whose value is not an object is its one option, read whole.
    if (value.type != FieldType::kObject) continue;
    std::set<std::string> paths;
    OptionPaths(step["properties"][name], "", &paths);
    const std::string before = name == "top_n"
                                   ? "[key_by: user_id, window: {tumbling: 1s, aggregate: {n: count()}}, "
                                   : "[key_by: user_id, ";
    CheckAllRead("step " + name, paths,
                 PlanAndLog(std::string("name: walk\nsources:\n  s: ") + kGenerated +
                            "\ntransforms:\n  t: {input: s, steps: " + before + name + ": " +
                            Sample(value, kOverrides) + "]}\nsinks:\n  out: {type: 'null', input: t}\n"));
    ++components;
  }
  std::set<std::string> paths;
  OptionPaths(schema["properties"]["runtime"], "", &paths);
  CheckAllRead("runtime", paths,
               PlanAndLog(std::string("name: walk\nruntime: ") +
                          Sample(config::RuntimeSpec(), {{"storage", "file:///tmp/streamrun-options-test"},
                                                         {"policy", "dead_letter"},
                                                         {"sink", "bad"},
                                                         {"path", "/tmp/streamrun-options-test"}}) +
                          "\nsources:\n  s: " + kGenerated +
                          "\nsinks:\n  out: {type: 'null', input: s}\n  bad: {type: 'null'}\n"));
  CHECK(components >= 12);  // 4 sources, 5 sinks, 3 steps with options objects
}

TEST_CASE("a boolean means the same to validation and to the plan however it is spelt") {
  for (const char* spelling : {"true", "True", "TRUE"}) {
    config::Diagnostics diags;
    const std::string yaml =
        std::string("name: b\nsources:\n  s: {type: file, path: x.jsonl, bounded: ") + spelling +
        "}\nsinks:\n  out: {type: file, path: o.jsonl, input: s, append: " + spelling +
        "}\nruntime:\n  checkpoint: {storage: 's3://b/p', path_style: " + spelling + "}\n";
    auto root = config::LoadYamlText(
        yaml, "b.yaml", [](const std::string&) { return std::nullopt; }, diags);
    REQUIRE(root);
    auto plan = BuildPlan(*root, "b.yaml", {}, diags);
    INFO(diags.ToString());
    REQUIRE(plan != nullptr);
    CHECK(plan->checkpoint.path_style == std::optional<bool>(true));
    CHECK(plan->nodes[0].source->Describe().find("follow") == std::string::npos);
    CHECK(plan->nodes[1].sink->Describe().find("append") != std::string::npos);
  }
  for (const char* spelling : {"false", "False", "FALSE"}) {
    config::Diagnostics diags;
    const std::string yaml =
        std::string("name: b\nsources:\n  s: {type: file, path: x.jsonl, bounded: ") + spelling +
        "}\nsinks:\n  out: {type: file, path: o.jsonl, input: s, append: " + spelling + "}\n";
    auto root = config::LoadYamlText(
        yaml, "b.yaml", [](const std::string&) { return std::nullopt; }, diags);
    REQUIRE(root);
    auto plan = BuildPlan(*root, "b.yaml", {}, diags);
    REQUIRE(plan != nullptr);
    CHECK(plan->nodes[0].source->Describe().find("follow") != std::string::npos);
    CHECK(plan->nodes[1].sink->Describe().find("append") == std::string::npos);
  }
}

TEST_CASE("reading an option the spec does not have is a bug, not a default") {
  const FieldSpec spec = config::Obj("", {config::Default(config::Bool("on", ""), "false")}, "");
  config::ConfNode none;
  config::Options o(&none, spec, "test");
  CHECK_FALSE(o.Bool("on"));
  CHECK_THROWS_AS(o.Bool("of"), std::logic_error);
  CHECK_THROWS_AS(o.Int("on"), std::logic_error);
}

}  // namespace
}  // namespace streamrun
