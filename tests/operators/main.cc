// streamrun-testops: streamrun with the test operators of tests/operators/
// added (one AddStep line each, before anything is planned). Used by
// tests/cli/count_by_key.sh.
#include <memory>

#include "operators/registry.h"
#include "runner/cli/commands.h"

namespace streamrun {
// tests/operators/count_by_key.cc
const config::ComponentSpec& CountByKeySpec();
std::unique_ptr<StepPlan> PlanCountByKey(const config::ConfNode& value, PlanContext& ctx);
}  // namespace streamrun

int main(int argc, char** argv) {
  using namespace streamrun;
  AddStep({CountByKeySpec, PlanCountByKey});
  return cli::Main(argc, argv);
}
