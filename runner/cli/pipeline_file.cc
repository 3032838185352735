#include "runner/cli/pipeline_file.h"

#include <cstdio>
#include <filesystem>

#include "runner/log/log.h"
#include "runner/plugin/library.h"

namespace streamrun::cli {

void LoadListedPlugins(const config::ConfNode& root, const std::string& path, config::Diagnostics& diags) {
  const config::ConfNode* plugins = root.Find("plugins");
  if (!plugins || !plugins->IsSequence()) return;  // the validator reports it
  const std::filesystem::path folder = std::filesystem::path(path).parent_path();
  for (const auto& item : plugins->items) {
    if (!item.IsScalar() || item.scalar.empty()) continue;
    std::filesystem::path lib(item.scalar);
    if (lib.is_relative()) lib = folder / lib;
    std::string error;
    if (plugin::LoadPlugin(lib.string(), &error)) continue;
    // Named as written, with where it was looked for.
    if (const size_t at = error.find(lib.string()); at != std::string::npos && lib.string() != item.scalar)
      error.replace(at, lib.string().size(), item.scalar + " (" + lib.string() + ")");
    diags.Add(item.mark, "plugins: " + error);
  }
}

namespace {

// Every scalar under a credential's key: the whole value, and for a header
// such as `Bearer TOKEN` its last word too.
void AddSecretValues(const config::ConfNode& node) {
  if (node.IsScalar()) {
    log::AddSecret(node.scalar);
    if (const size_t space = node.scalar.find_last_of(' '); space != std::string::npos)
      log::AddSecret(node.scalar.substr(space + 1));
  }
  for (const auto& item : node.items) AddSecretValues(item);
  for (const auto& [key, value] : node.entries) AddSecretValues(value);
}

}  // namespace

void RegisterSecrets(const config::ConfNode& root) {
  for (const auto& item : root.items) RegisterSecrets(item);
  for (const auto& [key, value] : root.entries) {
    if (key.IsScalar() && log::IsSecretKey(key.scalar))
      AddSecretValues(value);
    else
      RegisterSecrets(value);
  }
}

namespace {
std::optional<std::string> g_member;  // --member, for every command that loads the pipeline
}  // namespace

void SetMemberOption(const std::string& member) {
  if (!member.empty()) g_member = member;
}

LoadedPipeline LoadPipeline(const std::string& path, const config::EnvLookup& env, const PlanOptions& given) {
  PlanOptions options = given;
  if (!options.member && g_member) options.member = g_member;
  LoadedPipeline out;
  out.root = config::LoadYamlFile(path, env, out.diags);
  if (!out.root) return out;
  RegisterSecrets(*out.root);
  LoadListedPlugins(*out.root, path, out.diags);
  // Validation continues past interpolation errors so one run shows them all.
  config::Diagnostics plan_diags;
  out.plan = BuildPlan(*out.root, path, options, plan_diags);
  out.diags.Append(plan_diags);
  if (!out.diags.empty()) out.plan.reset();
  return out;
}

bool LoadPluginOptions(const std::vector<std::string>& paths) {
  for (const auto& p : paths) {
    std::string error;
    if (!plugin::LoadPlugin(p, &error)) {
      std::fprintf(stderr, "streamrun: --plugin: %s\n", error.c_str());
      return false;
    }
  }
  return true;
}

}  // namespace streamrun::cli
