#pragma once
// Loading and planning a pipeline file, shared by run, validate, explain and test.
#include <memory>
#include <optional>
#include <string>

#include "runner/config/loader.h"
#include "runner/plan/plan.h"

namespace streamrun::cli {

struct LoadedPipeline {
  std::optional<config::ConfNode> root;
  std::unique_ptr<PipelinePlan> plan;
  config::Diagnostics diags;
};

LoadedPipeline LoadPipeline(const std::string& path, const config::EnvLookup& env,
                            const PlanOptions& options);

}  // namespace streamrun::cli
