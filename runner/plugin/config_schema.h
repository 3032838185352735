#pragma once
// A plugin operator's configuration: its JSON Schema (plugin.h) read into the
// same FieldSpec the built-in steps declare, so a plugin step is validated
// with the same file:line:col errors and suggestions; and the validated YAML
// value turned into the JSON text the plugin's create() receives.
#include <string>

#include "runner/config/conf_node.h"
#include "runner/config/spec.h"

namespace streamrun::plugin {

// The step's value spec from a JSON Schema text. On a schema streamrun cannot
// read, returns false with the reason (the plugin is refused when loaded).
bool SpecFromJsonSchema(const std::string& schema_text, config::FieldSpec* out, std::string* error);

// The value as JSON: scalars typed by the spec (durations as integer
// milliseconds), defaults filled in for absent object fields. The value has
// passed validation against `spec`; what still cannot be converted (a number
// out of range) returns false with the reason.
bool ConfigJson(const config::ConfNode& value, const config::FieldSpec& spec, std::string* out,
                std::string* error);

}  // namespace streamrun::plugin
