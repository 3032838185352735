#pragma once
// Loading operator plugins (plugins/include/streamrun/plugin.h): dlopen, the
// checks a library must pass (its entry symbol, ABI major and minor, struct
// sizes, build tag, a schema streamrun can read), and adding each operator it
// offers as a step (operators/registry.h AddStep). A library is loaded once per
// process and never unloaded (its code may be running on any worker).
#include <string>
#include <vector>

#include "plugins/include/streamrun/plugin.h"
#include "runner/config/spec.h"

namespace streamrun::plugin {

// One operator of a loaded library.
struct LoadedOperator {
  std::string library;  // the path it was loaded from, as given
  std::string plugin;   // the plugin's name and version
  std::string plugin_version;
  const sr_operator* op = nullptr;  // lives as long as the process; ABI 1.0's fields, checked
  config::ComponentSpec spec;       // its step spec, from its JSON Schema
  bool keyed() const { return op->flags & SR_OP_KEYED; }
  bool late_output() const { return op->flags & SR_OP_LATE_OUTPUT; }
  bool async() const { return op->flags & SR_OP_ASYNC; }
  bool async_ordered() const { return (op->flags & SR_OP_ASYNC) && (op->flags & SR_OP_ASYNC_ORDERED); }
};

// Loads the library at `path` and adds its operators as steps. A library
// already loaded (the same file) is not loaded again. On a refusal returns
// false and `error` says which file, what was found and what is supported.
bool LoadPlugin(const std::string& path, std::string* error);

// Every operator loaded so far, in load order.
const std::vector<const LoadedOperator*>& LoadedOperators();

// The operators of one library (loading it if needed), for `streamrun plugins LIB`.
bool OperatorsOf(const std::string& path, std::vector<const LoadedOperator*>* out, std::string* error);

// The host's function table (host_table.cc).
const sr_host* HostTable();

}  // namespace streamrun::plugin
