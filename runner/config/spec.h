#pragma once
// Configuration specs. Every source, sink and step declares one next to its code;
// the same spec drives validation (with line:col and "did you mean"), the JSON
// schema in schemas/ and the operator reference in docs/ (STYLE.md, after Benthos).
#include <memory>
#include <string>
#include <vector>

namespace streamrun::config {

enum class FieldType {
  kString,
  kInt,     // 64-bit integer
  kNumber,  // int or float
  kBool,
  kDuration,  // 250ms, 5s, 30m, 1h, 1d
  kRate,      // 2000/s, 100/ms
  kExpr,      // an expression (docs/expressions.md); compiled by the planner
  kField,     // a field path a.b.c or `odd name`
  kEnum,      // one of enum_values
  kList,      // a sequence of `item`
  kMap,       // a map from user-chosen names to `item`
  kObject,    // a map with the known keys `fields`
  kOneOf,     // any one of `alternatives` (e.g. a field or a list of fields)
  kAny,       // anything; checked by the component itself
};

struct FieldSpec {
  std::string name;  // key inside an object; empty for list items, map values, alternatives
  FieldType type = FieldType::kString;
  bool required = false;
  std::string default_value;  // as written in YAML; empty: no default
  std::string description;
  std::string example;                   // a YAML snippet
  std::vector<std::string> enum_values;  // kEnum
  std::vector<FieldSpec> fields;         // kObject
  std::vector<FieldSpec> alternatives;   // kOneOf
  std::shared_ptr<FieldSpec> item;       // kList, kMap
  bool additional_fields = false;        // kObject: unknown keys allowed (e.g. `properties:`)
};

// Builders that keep spec declarations short and readable.
FieldSpec Str(std::string name, std::string description);
FieldSpec Int(std::string name, std::string description);
FieldSpec Num(std::string name, std::string description);
FieldSpec Bool(std::string name, std::string description);
FieldSpec Dur(std::string name, std::string description);
FieldSpec Rate(std::string name, std::string description);
FieldSpec Expr(std::string name, std::string description);
FieldSpec Field(std::string name, std::string description);
FieldSpec Enum(std::string name, std::vector<std::string> values, std::string description);
FieldSpec ListOf(std::string name, FieldSpec item, std::string description);
FieldSpec MapOf(std::string name, FieldSpec item, std::string description);
FieldSpec Obj(std::string name, std::vector<FieldSpec> fields, std::string description);
FieldSpec OneOf(std::string name, std::vector<FieldSpec> alternatives, std::string description);
FieldSpec Any(std::string name, std::string description);
// Modifiers (return a copy).
FieldSpec Required(FieldSpec f);
FieldSpec Default(FieldSpec f, std::string value);
FieldSpec Example(FieldSpec f, std::string yaml);

enum class ComponentKind { kSource, kSink, kStep };

// A source or sink: `type: NAME` plus `fields`. A step: `NAME: value`, where the
// value is described by `value` (a scalar expression, a list, an object...).
struct ComponentSpec {
  ComponentKind kind = ComponentKind::kStep;
  std::string name;
  std::string summary;      // one line
  std::string description;  // a paragraph (markdown)
  FieldSpec value;          // kStep: the value under the step's name; kSource/kSink: an kObject
  std::string example;      // a YAML snippet showing typical use
  // A step whose transform gets a `NAME.late` side output (window): the
  // validator reads this property, never the step's name.
  bool late_output = false;
};

}  // namespace streamrun::config
