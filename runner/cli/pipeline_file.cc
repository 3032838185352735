#include "runner/cli/pipeline_file.h"

namespace streamrun::cli {

LoadedPipeline LoadPipeline(const std::string& path, const config::EnvLookup& env,
                            const PlanOptions& options) {
  LoadedPipeline out;
  out.root = config::LoadYamlFile(path, env, out.diags);
  if (!out.root) return out;
  // Validation continues past interpolation errors so one run shows them all.
  config::Diagnostics plan_diags;
  out.plan = BuildPlan(*out.root, path, options, plan_diags);
  out.diags.Append(plan_diags);
  if (!out.diags.empty()) out.plan.reset();
  return out;
}

}  // namespace streamrun::cli
