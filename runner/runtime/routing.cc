#include "runner/runtime/routing.h"

namespace streamrun {

Routing::Routing(const PipelinePlan& plan, int workers) : workers_(workers), nodes_(plan.nodes.size()) {
  // Nodes come in dependency order (sources, transforms, sinks), so every
  // input's placement is known before its consumers'.
  for (size_t i = 0; i < plan.nodes.size(); ++i) {
    const PlanNode& n = plan.nodes[i];
    NodeRouting& r = nodes_[i];
    if (n.kind != PlanNode::Kind::kTransform) {
      r.on_worker0.assign(1, false);
      continue;
    }
    // A transform starts on worker 0 when every input ends there.
    bool here = !n.inputs.empty() && workers > 1;
    for (size_t c = 0; c < n.inputs.size(); ++c) {
      const NodeRouting& in = nodes_[static_cast<size_t>(n.inputs[c])];
      here = here && (n.input_ports[c] == kLatePort ? in.late_on_worker0 : in.output_on_worker0());
    }
    r.exchange.assign(n.steps.size() + 1, ExchangeKind::kNone);
    r.on_worker0.assign(n.steps.size() + 1, false);
    for (size_t k = 0; k < n.steps.size(); ++k) {
      const StepPlan& step = *n.steps[k].plan;
      if (workers > 1 && step.NeedsAllRecords() && !here) {
        r.exchange[k] = ExchangeKind::kGather;
        here = true;
      }
      r.on_worker0[k] = here;
      if (step.EmitsLate()) r.late_on_worker0 = here;
      if (workers > 1 && step.Rekeys()) {
        r.exchange[k + 1] = ExchangeKind::kKeyed;
        here = false;
      }
    }
    r.on_worker0[n.steps.size()] = here;
  }
}

bool Routing::OnWorker0(size_t node, size_t step) const {
  if (workers_ == 1) return true;
  const auto& on = nodes_[node].on_worker0;
  return step < on.size() && on[step];
}

}  // namespace streamrun
