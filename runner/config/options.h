#pragma once
// Typed reads of a validated configuration object through its spec (STYLE.md:
// the spec is the parser, after Benthos). Plan code reads every option here:
// the value written in the file, else the spec's default, parsed exactly as
// validation checked it. So a default, a type or the spelling of a boolean
// lives in one place, and `True` cannot be valid for the validator and false
// for the plan.
//
// Asking for a name the spec does not have, or as another type, is a bug in
// the component (std::logic_error), never a user error: validation has already
// reported every malformed value, and a malformed one reads as its default.
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "runner/config/conf_node.h"
#include "runner/config/spec.h"

namespace streamrun::config {

// Which options a plan read, as "component.path" (e.g. "source file.bounded"):
// the schema-walk test checks that every option of every spec is read.
using ReadLog = std::set<std::string>;

class Options {
 public:
  // `node` may be null (the object is absent: every option has its default).
  // `where` names the object for the read log, e.g. "sink file".
  Options(const ConfNode* node, const FieldSpec& spec, std::string where, ReadLog* log = nullptr);

  // True if the spec has this option (components that share option readers).
  bool Declares(const std::string& name) const;
  // True if the option is written (with a value) in the file.
  bool Has(const std::string& name) const;
  // The option's node (for expressions, lists and maps, and for the mark of a
  // plan-time error); null if absent.
  const ConfNode* Node(const std::string& name) const;

  bool Bool(const std::string& name) const;
  std::optional<bool> OptBool(const std::string& name) const;
  int64_t Int(const std::string& name) const;
  std::optional<int64_t> OptInt(const std::string& name) const;
  double Number(const std::string& name) const;
  int64_t DurationMs(const std::string& name) const;
  std::optional<int64_t> OptDurationMs(const std::string& name) const;
  std::optional<double> OptRate(const std::string& name) const;  // events per second
  std::string String(const std::string& name) const;             // "" if absent without default
  std::optional<std::string> OptString(const std::string& name) const;
  std::string Enum(const std::string& name) const;
  std::vector<std::string> Strings(const std::string& name) const;  // a list of scalars
  // A nested object (absent: every option at its default).
  Options Object(const std::string& name) const;

  const std::string& where() const { return where_; }

 private:
  const FieldSpec& Spec(const std::string& name, std::initializer_list<FieldType> types) const;
  // The text written, else the default; nullopt if neither.
  std::optional<std::string> Text(const FieldSpec& field) const;

  const ConfNode* node_;
  const FieldSpec* spec_;
  std::string where_;
  ReadLog* log_;
};

}  // namespace streamrun::config
