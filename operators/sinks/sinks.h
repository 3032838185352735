#pragma once
// Built-in sinks, one file each.
#include <memory>

#include "operators/operator.h"
#include "operators/plan_context.h"
#include "runner/config/spec.h"

namespace streamrun {

#define STREAMRUN_DECLARE_SINK(Name)             \
  const config::ComponentSpec& Name##SinkSpec(); \
  std::unique_ptr<SinkPlan> Plan##Name##Sink(const config::ConfNode& node, PlanContext& ctx);

STREAMRUN_DECLARE_SINK(File)
STREAMRUN_DECLARE_SINK(Stdout)
STREAMRUN_DECLARE_SINK(Console)
STREAMRUN_DECLARE_SINK(Null)
STREAMRUN_DECLARE_SINK(Kafka)

#undef STREAMRUN_DECLARE_SINK

}  // namespace streamrun
