#pragma once
// The explicit list of built-in sources, steps and sinks (STYLE.md: no
// static-initialiser self-registration). Each entry pairs a component's config
// spec with the function that plans it. A binary may add steps of its own with
// AddStep, explicitly, in its main (tests/operators/main.cc).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "operators/operator.h"
#include "operators/plan_context.h"
#include "runner/config/spec.h"
#include "runner/config/validate.h"

namespace streamrun {

using StepPlanFn = std::function<std::unique_ptr<StepPlan>(const config::ConfNode& value, PlanContext& ctx)>;
using SourcePlanFn = std::unique_ptr<SourcePlan> (*)(const config::ConfNode& node, PlanContext& ctx);
using SinkPlanFn = std::unique_ptr<SinkPlan> (*)(const config::ConfNode& node, PlanContext& ctx);

// A step's entry holds functions rather than plain pointers: a plugin's
// operator (runner/plugin) binds its loaded descriptor into them.
struct StepEntry {
  std::function<const config::ComponentSpec&()> spec;
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

// The built-in steps, then those added by AddStep, in the order added.
const std::vector<StepEntry>& Steps();
const std::vector<SourceEntry>& Sources();
const std::vector<SinkEntry>& Sinks();

const StepEntry* FindStep(const std::string& name);
const SourceEntry* FindSource(const std::string& type);
const SinkEntry* FindSink(const std::string& type);

// Adds a step after the built-ins: FindStep, planning, validation and the
// catalog (`validate`, `schema`) see it. Call it at startup, before any
// pipeline is validated or planned (it may move the entries FindStep returned);
// not thread-safe. A name already taken is a programming error (InternalError).
void AddStep(StepEntry entry);

// The catalog the config validator uses: the built-ins and the added steps.
const config::ComponentCatalog& BuiltinCatalog();

}  // namespace streamrun
