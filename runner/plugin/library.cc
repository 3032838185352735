#include "runner/plugin/library.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cctype>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <mutex>

#include "operators/registry.h"
#include "runner/plugin/config_schema.h"
#include "runner/plugin/plugin_step.h"

namespace streamrun::plugin {

namespace {

// The end of the fields ABI 1.0 has: a struct smaller than this is refused.
constexpr uint32_t kPluginSizeV1_0 = offsetof(sr_plugin, operators) + sizeof(void*);
constexpr uint32_t kOperatorSizeV1_0 = offsetof(sr_operator, on_async_complete) + sizeof(void*);

std::string BuildTagText(uint32_t tag) {
  const uint32_t bits = tag & 0xff, order = tag >> 8;
  return std::to_string(bits) + "-bit " +
         (order == 1   ? "little-endian"
          : order == 2 ? "big-endian"
                       : "unknown byte order (" + std::to_string(order) + ")");
}

std::string AbiText(uint32_t major, uint32_t minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

struct Library {
  std::string path;
  dev_t device = 0;
  ino_t inode = 0;
  std::vector<const LoadedOperator*> operators;
};

struct Registry {
  std::mutex mutex;
  std::deque<Library> libraries;
  std::deque<LoadedOperator> operators;  // stable addresses
  std::vector<const LoadedOperator*> all;
};

Registry& Loaded() {
  static Registry r;
  return r;
}

bool ValidName(const char* name) {
  if (!name || !*name || !std::islower(static_cast<unsigned char>(*name))) return false;
  for (const char* p = name; *p; ++p)
    if (!std::islower(static_cast<unsigned char>(*p)) && !std::isdigit(static_cast<unsigned char>(*p)) &&
        *p != '_')
      return false;
  return true;
}

bool Load(const std::string& path, Library** out, std::string* error) {
  Registry& reg = Loaded();
  const std::string file = "plugin " + path;
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    *error = file + ": no such file";
    return false;
  }
  for (auto& lib : reg.libraries)
    if (lib.device == st.st_dev && lib.inode == st.st_ino) {
      *out = &lib;
      return true;
    }
  // RTLD_LOCAL: two plugins may define the same symbols without meeting.
  void* handle = dlopen(path.find('/') == std::string::npos ? ("./" + path).c_str() : path.c_str(),
                        RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    *error = file + ": cannot be loaded: " + (why ? why : "unknown reason");
    return false;
  }
  auto entry = reinterpret_cast<sr_entry_fn>(dlsym(handle, SR_ENTRY_NAME));
  if (!entry) {
    std::string found;
    for (int major = 0; major <= 9 && found.empty(); ++major) {
      if (major == SR_ABI_MAJOR) continue;
      const std::string name = "streamrun_plugin_v" + std::to_string(major);
      if (dlsym(handle, name.c_str())) found = name + " (ABI " + std::to_string(major) + ")";
    }
    *error = file + ": " +
             (found.empty() ? "has no " SR_ENTRY_NAME " symbol: it is not a streamrun plugin"
                            : "is built for another ABI: it exports " + found) +
             "; this streamrun loads ABI " + AbiText(SR_ABI_MAJOR, SR_ABI_MINOR) + " (" SR_ENTRY_NAME ")";
    dlclose(handle);
    return false;
  }
  const sr_plugin* plugin = nullptr;
  try {
    plugin = entry(HostTable());
  } catch (...) {
    plugin = nullptr;
  }
  const std::string supported = "; this streamrun supports ABI " + AbiText(SR_ABI_MAJOR, SR_ABI_MINOR) +
                                ", " + BuildTagText(SR_BUILD_TAG);
  auto refuse = [&](const std::string& why) {
    *error = file + ": " + why + supported;
    // Not unloaded: its entry ran, and may have left threads or handlers behind.
    return false;
  };
  if (!plugin) return refuse("its entry returned no descriptor (the plugin refused this host)");
  if (plugin->size < offsetof(sr_plugin, abi_minor) + sizeof(uint16_t))
    return refuse("its descriptor is " + std::to_string(plugin->size) + " bytes, too small to say its ABI");
  if (plugin->abi_major != SR_ABI_MAJOR)
    return refuse("its descriptor says ABI " + AbiText(plugin->abi_major, plugin->abi_minor));
  if (plugin->size < kPluginSizeV1_0)
    return refuse("its descriptor is " + std::to_string(plugin->size) + " bytes where ABI 1.0 has " +
                  std::to_string(kPluginSizeV1_0));
  if (plugin->build_tag != SR_BUILD_TAG) return refuse("it is built for " + BuildTagText(plugin->build_tag));
  if (plugin->min_host_minor > SR_ABI_MINOR)
    return refuse("it needs a host of ABI " + AbiText(SR_ABI_MAJOR, plugin->min_host_minor) + " or newer");
  if (plugin->operator_count == 0 || !plugin->operators) return refuse("it offers no operator");
  const std::string plugin_name = plugin->name ? plugin->name : "?";
  const std::string plugin_version = plugin->version ? plugin->version : "?";

  std::vector<LoadedOperator> ops;
  for (uint32_t i = 0; i < plugin->operator_count; ++i) {
    const sr_operator* op = plugin->operators[i];
    const std::string which = "its operator " + std::to_string(i + 1);
    if (!op) return refuse(which + " is null");
    if (op->size < kOperatorSizeV1_0)
      return refuse(which + " is " + std::to_string(op->size) + " bytes where ABI 1.0 has " +
                    std::to_string(kOperatorSizeV1_0));
    if (!ValidName(op->name))
      return refuse(which + " has the name '" + std::string(op->name ? op->name : "") +
                    "' (expected lowercase letters, digits and '_', starting with a letter)");
    const std::string name = op->name;
    if (!op->create || !op->process || !op->destroy)
      return refuse("operator '" + name + "' lacks create, process or destroy");
    if ((op->flags & SR_OP_ASYNC_ORDERED) && !(op->flags & SR_OP_ASYNC))
      return refuse("operator '" + name + "' is flagged SR_OP_ASYNC_ORDERED without SR_OP_ASYNC");
    if ((op->flags & SR_OP_ASYNC) && !op->on_async_complete)
      return refuse("operator '" + name + "' is flagged SR_OP_ASYNC but has no on_async_complete");
    for (const auto& earlier : ops)
      if (earlier.spec.name == name) return refuse("it offers the operator '" + name + "' twice");
    if (FindStep(name)) {
      bool from_plugin = false;
      for (const auto* o : reg.all) from_plugin |= o->spec.name == name;
      return refuse("operator '" + name + "' is already " +
                    (from_plugin ? std::string("offered by another plugin") : "a built-in step"));
    }
    LoadedOperator lo;
    lo.library = path;
    lo.plugin = plugin_name;
    lo.plugin_version = plugin_version;
    lo.op = op;
    lo.spec.kind = config::ComponentKind::kStep;
    lo.spec.name = name;
    lo.spec.summary = op->summary ? op->summary : "";
    lo.spec.description = lo.spec.summary + "\n\nFrom the plugin " + plugin_name + " " + plugin_version +
                          " (" + path + "), operator version " + (op->version ? op->version : "?") + ".";
    lo.spec.late_output = lo.late_output();
    std::string why;
    if (!SpecFromJsonSchema(op->config_schema ? op->config_schema : R"({"type":"object"})", &lo.spec.value,
                            &why))
      return refuse("operator '" + name + "': " + why);
    if (lo.spec.value.type != config::FieldType::kObject && lo.spec.value.type != config::FieldType::kMap)
      return refuse("operator '" + name + "': its configuration schema must be of type object");
    ops.push_back(std::move(lo));
  }
  Library& lib = reg.libraries.emplace_back();
  lib.path = path;
  lib.device = st.st_dev;
  lib.inode = st.st_ino;
  for (auto& lo : ops) {
    const LoadedOperator* stored = &reg.operators.emplace_back(std::move(lo));
    reg.all.push_back(stored);
    lib.operators.push_back(stored);
    AddStep(PluginStepEntry(stored));
  }
  *out = &lib;
  return true;
}

}  // namespace

bool LoadPlugin(const std::string& path, std::string* error) {
  Library* lib = nullptr;
  std::lock_guard<std::mutex> lock(Loaded().mutex);
  return Load(path, &lib, error);
}

bool OperatorsOf(const std::string& path, std::vector<const LoadedOperator*>* out, std::string* error) {
  Library* lib = nullptr;
  std::lock_guard<std::mutex> lock(Loaded().mutex);
  if (!Load(path, &lib, error)) return false;
  *out = lib->operators;
  return true;
}

const std::vector<const LoadedOperator*>& LoadedOperators() { return Loaded().all; }

}  // namespace streamrun::plugin
