#pragma once
// Built-in sources, one file each.
#include <memory>

#include "operators/operator.h"
#include "operators/plan_context.h"
#include "runner/config/spec.h"

namespace streamrun::generate {
struct Options;
}  // namespace streamrun::generate

namespace streamrun {

#define STREAMRUN_DECLARE_SOURCE(Name)             \
  const config::ComponentSpec& Name##SourceSpec(); \
  std::unique_ptr<SourcePlan> Plan##Name##Source(const config::ConfNode& node, PlanContext& ctx);

STREAMRUN_DECLARE_SOURCE(File)
STREAMRUN_DECLARE_SOURCE(Stdin)
STREAMRUN_DECLARE_SOURCE(Generate)
STREAMRUN_DECLARE_SOURCE(Kafka)

// The generator options of a `generate` source or a Kafka `simulate` block:
// kind, count, seed, rate (sets *rate, the processing-time pace, and the
// event-time spacing), event_time_rate, out_of_order. False with errors in ctx.
bool ParseGenerateOptions(const config::Options& o, PlanContext& ctx, generate::Options* options,
                          double* rate);

// FRACTION:MAX_DELAY (e.g. 0.1:5s) as used by `out_of_order` and `--out-of-order`.
bool ParseOutOfOrder(const std::string& text, double* fraction, int64_t* max_delay_ms);

#undef STREAMRUN_DECLARE_SOURCE

}  // namespace streamrun
