#pragma once
// Loading and planning a pipeline file, shared by run, validate, explain and test.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runner/config/loader.h"
#include "runner/plan/plan.h"

namespace streamrun::cli {

struct LoadedPipeline {
  std::optional<config::ConfNode> root;
  std::unique_ptr<PipelinePlan> plan;
  config::Diagnostics diags;
};

// Loads a pipeline file: its `plugins:` (relative to the file), validation, the plan.
LoadedPipeline LoadPipeline(const std::string& path, const config::EnvLookup& env,
                            const PlanOptions& options);

// `--member NAME`: the pipelines this command loads are planned as that
// member of a job (PlanOptions::member), whatever runtime.member says.
void SetMemberOption(const std::string& member);

// Loads the libraries under the pipeline's `plugins:`, relative to the
// pipeline file's folder, before validation so that their operators are steps
// by then; a library refused is an error at its line.
void LoadListedPlugins(const config::ConfNode& root, const std::string& path, config::Diagnostics& diags);

// Registers with the log (log::AddSecret) the value of every key of the tree
// that names a credential (log::IsSecretKey: sasl.password, a header's
// Authorization, an api_key...), at any depth, as interpolated. LoadPipeline
// does it for the file it loads.
void RegisterSecrets(const config::ConfNode& root);

// Loads the libraries given with --plugin (before the command plans
// anything); prints why one is refused and returns false.
bool LoadPluginOptions(const std::vector<std::string>& paths);

}  // namespace streamrun::cli
