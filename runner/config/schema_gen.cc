// JSON schema and markdown reference, both generated from the component specs.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runner/config/validate.h"

namespace streamrun::config {

namespace {

using json = nlohmann::ordered_json;

// Strings may hold ${VAR} references; they are replaced before validation.
constexpr const char* kEnvRef = "\\$\\{";

std::vector<const ComponentSpec*> Sorted(const ComponentCatalog& catalog, ComponentKind kind) {
  std::vector<const ComponentSpec*> all;
  for (const ComponentSpec* c : catalog.All(kind))
    if (c != nullptr) all.push_back(c);
  std::stable_sort(all.begin(), all.end(),
                   [](const ComponentSpec* a, const ComponentSpec* b) { return a->name < b->name; });
  return all;
}

// ---------------------------------------------------------------------------
// YAML snippets (defaults, examples) as JSON values.

json YamlNodeToJson(const YAML::Node& n, int depth) {
  if (depth > 32) return nullptr;
  switch (n.Type()) {
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() == "!") return s;  // quoted
      if (s == "true" || s == "True" || s == "TRUE") return true;
      if (s == "false" || s == "False" || s == "FALSE") return false;
      if (s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
      try {
        size_t used = 0;
        long long i = std::stoll(s, &used);
        if (used == s.size()) return i;
      } catch (...) {
      }
      try {
        size_t used = 0;
        double d = std::stod(s, &used);
        if (used == s.size() && s.find_first_of("0123456789") != std::string::npos) return d;
      } catch (...) {
      }
      return s;
    }
    case YAML::NodeType::Sequence: {
      json arr = json::array();
      for (const auto& item : n) arr.push_back(YamlNodeToJson(item, depth + 1));
      return arr;
    }
    case YAML::NodeType::Map: {
      json obj = json::object();
      for (auto it = n.begin(); it != n.end(); ++it)
        obj[it->first.Scalar()] = YamlNodeToJson(it->second, depth + 1);
      return obj;
    }
    default:
      return nullptr;
  }
}

json YamlToJson(const std::string& yaml) {
  try {
    return YamlNodeToJson(YAML::Load(yaml), 0);
  } catch (...) {
    return yaml;
  }
}

// ---------------------------------------------------------------------------
// Schema.

json TypeSchema(const FieldSpec& f) {
  json j = json::object();
  switch (f.type) {
    case FieldType::kString:
      j["type"] = "string";
      break;
    case FieldType::kInt:
      j["type"] = json::array({"integer", "string"});
      j["pattern"] = std::string("^[+-]?[0-9]+$|") + kEnvRef;
      break;
    case FieldType::kNumber:
      j["type"] = json::array({"number", "string"});
      j["pattern"] = std::string("^[+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][+-]?[0-9]+)?$|") + kEnvRef;
      break;
    case FieldType::kBool:
      j["type"] = json::array({"boolean", "string"});
      j["pattern"] = std::string("^(true|True|TRUE|false|False|FALSE)$|") + kEnvRef;
      break;
    case FieldType::kDuration:
      // A string such as 250ms, 5s, 1h30m; the plain number 0 is allowed too.
      j["type"] = json::array({"string", "integer"});
      j["pattern"] = std::string("^(([0-9]+(\\.[0-9]+)?(ms|s|m|h|d))+|0+)$|") + kEnvRef;
      j["minimum"] = 0;
      j["maximum"] = 0;
      break;
    case FieldType::kRate:
      j["type"] = "string";
      j["pattern"] =
          std::string("^([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][+-]?[0-9]+)?/(ms|s|m|h|d)$|") + kEnvRef;
      break;
    case FieldType::kExpr:
      // An expression is written as a string; a bare literal (1, true) is one too.
      j["type"] = json::array({"string", "number", "boolean"});
      break;
    case FieldType::kField:
      j["type"] = "string";
      j["pattern"] = std::string("^([A-Za-z0-9_]+|`[^`]+`)(\\.([A-Za-z0-9_]+|`[^`]+`))*$|") + kEnvRef;
      break;
    case FieldType::kEnum:
      j["type"] = "string";
      j["enum"] = f.enum_values;
      break;
    case FieldType::kList:
      j["type"] = "array";
      if (f.item) j["items"] = TypeSchema(*f.item);
      break;
    case FieldType::kMap:
      j["type"] = "object";
      j["additionalProperties"] = f.item ? TypeSchema(*f.item) : json(true);
      break;
    case FieldType::kObject: {
      j["type"] = "object";
      json props = json::object();
      json required = json::array();
      for (const auto& sub : f.fields) {
        props[sub.name] = TypeSchema(sub);
        if (sub.required) required.push_back(sub.name);
      }
      j["properties"] = props;
      if (!required.empty()) j["required"] = required;
      j["additionalProperties"] = f.additional_fields;
      break;
    }
    case FieldType::kOneOf: {
      json alts = json::array();
      for (const auto& a : f.alternatives) alts.push_back(TypeSchema(a));
      if (!alts.empty()) j["anyOf"] = alts;
      break;
    }
    case FieldType::kAny:
      break;
  }
  // Annotations first would read better, but ordered_json keeps insertion order;
  // put them after the type so nested schemas stay compact to read.
  if (!f.description.empty()) j["description"] = f.description;
  if (!f.default_value.empty()) j["default"] = YamlToJson(f.default_value);
  if (!f.example.empty()) j["examples"] = json::array({YamlToJson(f.example)});
  return j;
}

std::string ComponentMarkdownDescription(const ComponentSpec& c) {
  std::string md = c.summary;
  if (!c.description.empty()) md += "\n\n" + c.description;
  if (!c.example.empty()) {
    md += "\n\n```yaml\n" + c.example;
    if (md.back() != '\n') md += '\n';
    md += "```";
  }
  return md;
}

json ComponentSchema(const ComponentSpec& c, bool is_sink) {
  json j = json::object();
  j["title"] = c.name;
  if (!c.summary.empty()) j["description"] = c.summary;
  j["markdownDescription"] = ComponentMarkdownDescription(c);
  j["type"] = "object";
  json props = json::object();
  props["type"] = json{{"const", c.name}, {"description", c.summary}};
  json required = json::array({"type"});
  bool additional = true;
  if (c.value.type == FieldType::kObject) {
    for (const auto& f : c.value.fields) {
      props[f.name] = TypeSchema(f);
      if (f.required) required.push_back(f.name);
    }
    additional = c.value.additional_fields;
  }
  if (is_sink) {
    props["input"] = json{{"type", "string"}, {"description", "The node this sink reads."}};
    props["inputs"] = json{{"type", "array"},
                           {"items", json{{"type", "string"}}},
                           {"minItems", 1},
                           {"description", "The nodes this sink reads (merged)."}};
    props["preview"] = json{{"type", "boolean"},
                            {"default", false},
                            {"description", "Show the latest rows in the web view (runtime.ui)."}};
  }
  j["properties"] = props;
  j["required"] = required;
  j["additionalProperties"] = additional;
  return j;
}

json StepSchema(const ComponentSpec& c) {
  json value = TypeSchema(c.value);
  if (!value.contains("description") && !c.summary.empty()) value["description"] = c.summary;
  json j = json::object();
  j["title"] = c.name;
  if (!c.summary.empty()) j["description"] = c.summary;
  j["markdownDescription"] = ComponentMarkdownDescription(c);
  j["type"] = "object";
  j["properties"] = json{{c.name, value}};
  j["required"] = json::array({c.name});
  j["additionalProperties"] = false;
  return j;
}

json OneOfOrObject(const std::vector<json>& alts) {
  if (alts.empty()) return json{{"type", "object"}};
  json j = json::object();
  j["oneOf"] = alts;
  return j;
}

json NodeMap(const std::string& description, const std::string& ref) {
  json j = json::object();
  j["description"] = description;
  j["type"] = "object";
  j["propertyNames"] = json{{"pattern", "^[^.]+$"}};
  j["additionalProperties"] = json{{"$ref", ref}};
  return j;
}

// ---------------------------------------------------------------------------
// Markdown.

std::string Cell(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '|')
      out += "\\|";
    else if (c == '\n')
      out += ' ';
    else
      out += c;
  }
  return out;
}

std::string TypeName(const FieldSpec& f) {
  switch (f.type) {
    case FieldType::kString:
      return "string";
    case FieldType::kInt:
      return "int";
    case FieldType::kNumber:
      return "number";
    case FieldType::kBool:
      return "bool";
    case FieldType::kDuration:
      return "duration";
    case FieldType::kRate:
      return "rate";
    case FieldType::kExpr:
      return "expression";
    case FieldType::kField:
      return "field";
    case FieldType::kEnum: {
      std::string s = "enum:";
      for (size_t i = 0; i < f.enum_values.size(); ++i)
        s += (i == 0 ? " `" : " | `") + f.enum_values[i] + "`";
      return s;
    }
    case FieldType::kList:
      return "list of " + (f.item ? TypeName(*f.item) : std::string("any"));
    case FieldType::kMap:
      return "map of " + (f.item ? TypeName(*f.item) : std::string("any"));
    case FieldType::kObject:
      return "object";
    case FieldType::kOneOf: {
      std::string s;
      for (size_t i = 0; i < f.alternatives.size(); ++i)
        s += (i == 0 ? "" : " or ") + TypeName(f.alternatives[i]);
      return s.empty() ? "any" : s;
    }
    case FieldType::kAny:
      return "any";
  }
  return "any";
}

void FieldRows(const FieldSpec& f, const std::string& name, std::string& out, int depth) {
  if (depth > 16) return;
  out += "| `" + Cell(name) + "` | " + Cell(TypeName(f)) + " | " + (f.required ? "yes" : "no") + " | " +
         (f.default_value.empty() ? "" : "`" + Cell(f.default_value) + "`") + " | " + Cell(f.description) +
         " |\n";
  const FieldSpec* nested = nullptr;
  std::string prefix;
  if (f.type == FieldType::kObject) {
    nested = &f;
    prefix = name + ".";
  } else if ((f.type == FieldType::kList || f.type == FieldType::kMap) && f.item &&
             f.item->type == FieldType::kObject) {
    nested = f.item.get();
    prefix = name + (f.type == FieldType::kList ? "[]." : ".*.");
  }
  if (nested != nullptr)
    for (const auto& sub : nested->fields) FieldRows(sub, prefix + sub.name, out, depth + 1);
}

constexpr const char* kTableHead =
    "| Field | Type | Required | Default | Description |\n"
    "|---|---|---|---|---|\n";

void ComponentSection(const ComponentSpec& c, std::string& out) {
  out += "### `" + c.name + "`\n\n";
  if (!c.summary.empty()) out += c.summary + "\n\n";
  if (!c.description.empty()) {
    out += c.description;
    if (out.back() != '\n') out += '\n';
    out += '\n';
  }
  out += kTableHead;
  if (c.kind == ComponentKind::kStep) {
    if (c.value.type == FieldType::kObject) {
      if (c.value.fields.empty()) FieldRows(c.value, c.name, out, 0);
      for (const auto& f : c.value.fields) FieldRows(f, f.name, out, 0);
    } else {
      FieldSpec value = c.value;
      if (value.description.empty()) value.description = c.summary;
      value.required = value.type != FieldType::kAny;  // `- NAME:` needs its value
      FieldRows(value, c.name, out, 0);
    }
  } else {
    out += "| `type` | string | yes | | `" + c.name + "` |\n";
    if (c.kind == ComponentKind::kSink) {
      out += "| `input` | string | no | | The node this sink reads (a source or transform). |\n";
      out += "| `inputs` | list of string | no | | Several nodes, merged. |\n";
      out += "| `preview` | bool | no | false | Show the latest rows in the web view (`runtime.ui`). |\n";
    }
    if (c.value.type == FieldType::kObject)
      for (const auto& f : c.value.fields) FieldRows(f, f.name, out, 0);
  }
  out += '\n';
  if (!c.example.empty()) {
    out += "```yaml\n" + c.example;
    if (out.back() != '\n') out += '\n';
    out += "```\n\n";
  }
}

}  // namespace

std::string PipelineJsonSchema(const ComponentCatalog& catalog) {
  std::vector<json> sources, sinks, steps;
  for (const ComponentSpec* c : Sorted(catalog, ComponentKind::kSource))
    sources.push_back(ComponentSchema(*c, false));
  for (const ComponentSpec* c : Sorted(catalog, ComponentKind::kSink))
    sinks.push_back(ComponentSchema(*c, true));
  for (const ComponentSpec* c : Sorted(catalog, ComponentKind::kStep)) steps.push_back(StepSchema(*c));

  json schema = json::object();
  schema["$schema"] = "http://json-schema.org/draft-07/schema#";
  schema["title"] = "streamrun pipeline";
  schema["description"] = "A streamrun pipeline file: sources, transforms and sinks.";
  schema["type"] = "object";
  schema["required"] = json::array({"name", "sources", "sinks"});
  schema["additionalProperties"] = false;

  json props = json::object();
  props["name"] = json{{"type", "string"},
                       {"pattern", "^[A-Za-z0-9._-]+$"},
                       {"description",
                        "Names the consumer group, transactional ids and the "
                        "checkpoint folder."},
                       {"examples", json::array({"clickstream-top10"})}};
  props["plugins"] = json{{"type", "array"},
                          {"minItems", 1},
                          {"items", json{{"type", "string"}}},
                          {"description",
                           "Operator plugin libraries (.so), relative to the pipeline file: their "
                           "operators are steps (docs/plugins.md)."}};
  props["runtime"] = TypeSchema(RuntimeSpec());
  props["sources"] = NodeMap("Sources by name.", "#/definitions/source");
  json transform = json::object();
  transform["type"] = "object";
  transform["properties"] =
      json{{"input", json{{"type", "string"},
                          {"description",
                           "The node this transform reads: a source, a transform, or "
                           "TRANSFORM.late (the late records of a window)."}}},
           {"inputs", json{{"type", "array"},
                           {"items", json{{"type", "string"}}},
                           {"minItems", 1},
                           {"description", "Several input nodes; their records are merged."}}},
           {"steps", json{{"type", "array"},
                          {"minItems", 1},
                          {"items", json{{"$ref", "#/definitions/step"}}},
                          {"description", "The steps, applied in order."}}}};
  transform["required"] = json::array({"steps"});
  transform["oneOf"] =
      json::array({json{{"required", json::array({"input"})}}, json{{"required", json::array({"inputs"})}}});
  transform["additionalProperties"] = false;
  json transforms = NodeMap("Transforms by name.", "#/definitions/transform");
  props["transforms"] = transforms;
  props["sinks"] = NodeMap("Sinks by name.", "#/definitions/sink");
  schema["properties"] = props;

  json defs = json::object();
  defs["source"] = OneOfOrObject(sources);
  defs["transform"] = transform;
  defs["step"] = OneOfOrObject(steps);
  defs["sink"] = OneOfOrObject(sinks);
  schema["definitions"] = defs;
  return schema.dump(2) + "\n";
}

std::string OperatorReferenceMarkdown(const ComponentCatalog& catalog) {
  std::string out =
      "# Operator reference\n\n"
      "Generated from the operators' configuration specs (`streamrun` keeps this page, the\n"
      "JSON schema and validation in step); do not edit by hand.\n\n";
  struct Section {
    const char* title;
    ComponentKind kind;
  };
  for (const Section& s : {Section{"Sources", ComponentKind::kSource}, Section{"Steps", ComponentKind::kStep},
                           Section{"Sinks", ComponentKind::kSink}}) {
    out += std::string("## ") + s.title + "\n\n";
    auto all = Sorted(catalog, s.kind);
    if (all.empty()) out += "_None._\n\n";
    for (const ComponentSpec* c : all) ComponentSection(*c, out);
  }
  // The `runtime:` section, from the spec validation and the plan read.
  const FieldSpec& rt = RuntimeSpec();
  out += "## Runtime\n\n`runtime:` in the pipeline file. " + rt.description + "\n\n";
  out += kTableHead;
  for (const auto& f : rt.fields) FieldRows(f, "runtime." + f.name, out, 0);
  out += '\n';
  while (out.size() >= 2 && out[out.size() - 1] == '\n' && out[out.size() - 2] == '\n') out.pop_back();
  return out;
}

}  // namespace streamrun::config
