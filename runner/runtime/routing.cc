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
  pieces_.resize(plan.nodes.size());
  if (workers > 1) {
    for (size_t i = 0; i < plan.nodes.size(); ++i) {
      if (plan.nodes[i].kind != PlanNode::Kind::kSource) continue;
      SourcePieces& p = pieces_[i];
      p.ordered = CollectPieces(plan, static_cast<int>(i), &p.points);
      if (p.ordered && (plan.dead_letter_sink >= 0 || plan.error_policy == ErrorPolicy::kFail))
        p.points.push_back(
            PiecePoint{PiecePoint::Kind::kDeadLetters, plan.dead_letter_sink, 0, ExchangeKind::kNone});
      if (!p.ordered) p.points.clear();
    }
  }
}

bool Routing::CollectPieces(const PipelinePlan& plan, int node, std::vector<PiecePoint>* points) const {
  for (int c : plan.nodes[static_cast<size_t>(node)].consumers) {
    const PlanNode& n = plan.nodes[static_cast<size_t>(c)];
    if (n.kind == PlanNode::Kind::kSink) {
      if (n.sink->PerWorker()) return false;
      points->push_back(PiecePoint{PiecePoint::Kind::kSink, c, 0, ExchangeKind::kNone});
      continue;
    }
    if (n.kind != PlanNode::Kind::kTransform || n.inputs.size() != 1 || n.rebase) return false;
    bool exchanged = false;
    for (size_t k = 0; k <= n.steps.size() && !exchanged; ++k) {
      const ExchangeKind e = exchange(static_cast<size_t>(c), k);
      if (e != ExchangeKind::kNone) {
        points->push_back(PiecePoint{PiecePoint::Kind::kStep, c, static_cast<int>(k), e});
        exchanged = true;
      } else if (k < n.steps.size() && !n.steps[k].plan->OrderFree()) {
        return false;
      }
    }
    if (!exchanged && !CollectPieces(plan, c, points)) return false;
  }
  return true;
}

bool Routing::OnWorker0(size_t node, size_t step) const {
  if (workers_ == 1) return true;
  const auto& on = nodes_[node].on_worker0;
  return step < on.size() && on[step];
}

}  // namespace streamrun
