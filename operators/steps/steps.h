#pragma once
// Built-in steps, one file each (filter.cc, set.cc, ...).
#include <memory>

#include "operators/operator.h"
#include "operators/plan_context.h"
#include "runner/config/spec.h"

namespace streamrun {

#define STREAMRUN_DECLARE_STEP(Name)         \
  const config::ComponentSpec& Name##Spec(); \
  std::unique_ptr<StepPlan> Plan##Name(const config::ConfNode& value, PlanContext& ctx);

STREAMRUN_DECLARE_STEP(Filter)
STREAMRUN_DECLARE_STEP(Set)
STREAMRUN_DECLARE_STEP(Select)
STREAMRUN_DECLARE_STEP(Drop)
STREAMRUN_DECLARE_STEP(KeyBy)
STREAMRUN_DECLARE_STEP(Window)
STREAMRUN_DECLARE_STEP(TopN)
STREAMRUN_DECLARE_STEP(Dedupe)
STREAMRUN_DECLARE_STEP(EnrichHttp)

#undef STREAMRUN_DECLARE_STEP

}  // namespace streamrun
