#pragma once
// YAML text -> ConfNode, with ${VAR} and ${VAR:-default} replaced in every scalar.
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "runner/config/conf_node.h"
#include "runner/config/diagnostics.h"

namespace streamrun::config {

// Looks up an environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
// The process environment.
EnvLookup ProcessEnv();

// Parses `text` (named `file_name` in diagnostics). YAML syntax errors, an unset
// variable without default and duplicate keys are reported to `diags`; the result
// is nullopt only when the text cannot be parsed at all.
std::optional<ConfNode> LoadYamlText(std::string_view text, const std::string& file_name,
                                     const EnvLookup& env, Diagnostics& diags);
// Reads and parses a file; an unreadable file is a diagnostic at line 0.
std::optional<ConfNode> LoadYamlFile(const std::string& path, const EnvLookup& env, Diagnostics& diags);

}  // namespace streamrun::config
