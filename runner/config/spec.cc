#include "runner/config/spec.h"

#include <utility>

namespace streamrun::config {

namespace {
FieldSpec Make(std::string name, FieldType type, std::string description) {
  FieldSpec f;
  f.name = std::move(name);
  f.type = type;
  f.description = std::move(description);
  return f;
}
}  // namespace

FieldSpec Str(std::string name, std::string description) {
  return Make(std::move(name), FieldType::kString, std::move(description));
}
FieldSpec Int(std::string name, std::string description) {
  return Make(std::move(name), FieldType::kInt, std::move(description));
}
FieldSpec Num(std::string name, std::string description) {
  return Make(std::move(name), FieldType::kNumber, std::move(description));
}
FieldSpec Bool(std::string name, std::string description) {
  return Make(std::move(name), FieldType::kBool, std::move(description));
}
FieldSpec Dur(std::string name, std::string description) {
  return Make(std::move(name), FieldType::kDuration, std::move(description));
}
FieldSpec Rate(std::string name, std::string description) {
  return Make(std::move(name), FieldType::kRate, std::move(description));
}
FieldSpec Expr(std::string name, std::string description) {
  return Make(std::move(name), FieldType::kExpr, std::move(description));
}
FieldSpec Field(std::string name, std::string description) {
  return Make(std::move(name), FieldType::kField, std::move(description));
}
FieldSpec Enum(std::string name, std::vector<std::string> values, std::string description) {
  FieldSpec f = Make(std::move(name), FieldType::kEnum, std::move(description));
  f.enum_values = std::move(values);
  return f;
}
FieldSpec ListOf(std::string name, FieldSpec item, std::string description) {
  FieldSpec f = Make(std::move(name), FieldType::kList, std::move(description));
  f.item = std::make_shared<FieldSpec>(std::move(item));
  return f;
}
FieldSpec MapOf(std::string name, FieldSpec item, std::string description) {
  FieldSpec f = Make(std::move(name), FieldType::kMap, std::move(description));
  f.item = std::make_shared<FieldSpec>(std::move(item));
  return f;
}
FieldSpec Obj(std::string name, std::vector<FieldSpec> fields, std::string description) {
  FieldSpec f = Make(std::move(name), FieldType::kObject, std::move(description));
  f.fields = std::move(fields);
  return f;
}
FieldSpec OneOf(std::string name, std::vector<FieldSpec> alternatives, std::string description) {
  FieldSpec f = Make(std::move(name), FieldType::kOneOf, std::move(description));
  f.alternatives = std::move(alternatives);
  return f;
}
FieldSpec Any(std::string name, std::string description) {
  return Make(std::move(name), FieldType::kAny, std::move(description));
}

FieldSpec Required(FieldSpec f) {
  f.required = true;
  return f;
}
FieldSpec Default(FieldSpec f, std::string value) {
  f.default_value = std::move(value);
  return f;
}
FieldSpec Example(FieldSpec f, std::string yaml) {
  f.example = std::move(yaml);
  return f;
}

}  // namespace streamrun::config
