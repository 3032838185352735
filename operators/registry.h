#pragma once
// The explicit list of built-in sources, steps and sinks (STYLE.md: no
// static-initialiser self-registration). Each entry pairs a component's config
// spec with the function that plans it.
#include <memory>
#include <string>
#include <vector>

#include "operators/operator.h"
#include "operators/plan_context.h"
#include "runner/config/spec.h"
#include "runner/config/validate.h"

namespace streamrun {

using StepPlanFn = std::unique_ptr<StepPlan> (*)(const config::ConfNode& value, PlanContext& ctx);
using SourcePlanFn = std::unique_ptr<SourcePlan> (*)(const config::ConfNode& node, PlanContext& ctx);
using SinkPlanFn = std::unique_ptr<SinkPlan> (*)(const config::ConfNode& node, PlanContext& ctx);

struct StepEntry {
  const config::ComponentSpec& (*spec)();
  StepPlanFn plan;
};
struct SourceEntry {
  const config::ComponentSpec& (*spec)();
  SourcePlanFn plan;
};
struct SinkEntry {
  const config::ComponentSpec& (*spec)();
  SinkPlanFn plan;
};

const std::vector<StepEntry>& Steps();
const std::vector<SourceEntry>& Sources();
const std::vector<SinkEntry>& Sinks();

const StepEntry* FindStep(const std::string& name);
const SourceEntry* FindSource(const std::string& type);
const SinkEntry* FindSink(const std::string& type);

// The catalog the config validator uses.
const config::ComponentCatalog& BuiltinCatalog();

}  // namespace streamrun
