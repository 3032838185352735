// `streamrun plugins [LIB...]`: what plugin libraries offer (docs/plugins.md).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "runner/cli/commands.h"
#include "runner/plugin/library.h"

namespace streamrun::cli {

namespace {

std::string TypeName(const config::FieldSpec& f) {
  switch (f.type) {
    case config::FieldType::kString:
      return "string";
    case config::FieldType::kInt:
      return "integer";
    case config::FieldType::kNumber:
      return "number";
    case config::FieldType::kBool:
      return "boolean";
    case config::FieldType::kDuration:
      return "duration";
    case config::FieldType::kEnum: {
      std::string s;
      for (const auto& v : f.enum_values) s += (s.empty() ? "" : "|") + v;
      return s;
    }
    case config::FieldType::kList:
      return "list of " + TypeName(*f.item);
    case config::FieldType::kMap:
      return "map of " + TypeName(*f.item);
    case config::FieldType::kObject:
      return "object";
    default:
      return "any";
  }
}

void PrintFields(const config::FieldSpec& spec, const std::string& indent) {
  for (const auto& f : spec.fields) {
    std::printf("%s%s: %s%s%s%s\n", indent.c_str(), f.name.c_str(), TypeName(f).c_str(),
                f.required ? ", required" : "",
                f.default_value.empty() ? "" : (", default " + f.default_value).c_str(),
                f.description.empty() ? "" : ("  " + f.description).c_str());
    if (f.type == config::FieldType::kObject) PrintFields(f, indent + "  ");
    if ((f.type == config::FieldType::kMap || f.type == config::FieldType::kList) &&
        f.item->type == config::FieldType::kObject)
      PrintFields(*f.item, indent + "  ");
  }
}

}  // namespace

int PluginsCommand(const std::vector<std::string>& libraries) {
  std::vector<std::string> libs = libraries;
  if (libs.empty()) {
    const char* path = std::getenv("STREAMRUN_PLUGIN_PATH");
    std::string dirs = path ? path : "";
    size_t from = 0;
    while (from <= dirs.size() && !dirs.empty()) {
      const size_t to = std::min(dirs.find(':', from), dirs.size());
      const std::string dir = dirs.substr(from, to - from);
      std::error_code ec;
      if (!dir.empty())
        for (const auto& e : std::filesystem::directory_iterator(dir, ec))
          if (e.path().extension() == ".so") libs.push_back(e.path().string());
      from = to + 1;
    }
    if (libs.empty()) {
      std::printf(
          "no plugin libraries: name them (streamrun plugins LIB.so) or list their folders in "
          "STREAMRUN_PLUGIN_PATH\n");
      return kExitOk;
    }
  }
  int status = kExitOk;
  for (const auto& lib : libs) {
    std::vector<const plugin::LoadedOperator*> ops;
    std::string error;
    if (!plugin::OperatorsOf(lib, &ops, &error)) {
      std::fprintf(stderr, "streamrun: %s\n", error.c_str());
      status = kExitConfigError;
      continue;
    }
    std::printf("%s: plugin %s %s (ABI %d.%d)\n", lib.c_str(), ops[0]->plugin.c_str(),
                ops[0]->plugin_version.c_str(), SR_ABI_MAJOR, SR_ABI_MINOR);
    for (const auto* op : ops) {
      std::string flags;
      if (op->keyed()) flags += " keyed";
      if (op->late_output()) flags += " late-output";
      if (op->async()) flags += op->async_ordered() ? " async-ordered" : " async";
      std::printf("  %s %s%s%s%s\n", op->spec.name.c_str(), op->op->version ? op->op->version : "?",
                  flags.empty() ? "" : (" [" + flags.substr(1) + "]").c_str(),
                  op->spec.summary.empty() ? "" : ": ", op->spec.summary.c_str());
      PrintFields(op->spec.value, "    ");
    }
  }
  return status;
}

}  // namespace streamrun::cli
