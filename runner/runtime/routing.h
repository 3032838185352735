#pragma once
// Where records are at each point of a plan, and how they cross between
// workers (docs/architecture.md "Execution"). Computed once per run from the
// plan and the worker count; every worker reads the same table.
//
// A point is either *spread* (records stay where their source partition or the
// last key_by put them) or *on worker 0* (a step that needs every record
// gathered them there). Placement flows along the graph: a transform whose
// inputs all end on worker 0 starts on worker 0, so a downstream window, a
// second gathering step or a restore of its state never expects records on
// another worker. On the other workers the instances of steps on worker 0 are
// inert: they get no record, and at start they pass on the end of time, so
// exchanges and downstream transforms never wait for them.
#include <cstddef>
#include <vector>

#include "runner/plan/plan.h"

namespace streamrun {

enum class ExchangeKind { kNone, kKeyed, kGather };

struct NodeRouting {
  std::vector<ExchangeKind> exchange;  // [step]: how records reach step k (k == steps: the output)
  std::vector<bool> on_worker0;        // [step]: records reaching step k are all on worker 0
  bool late_on_worker0 = false;        // records of the `.late` output are all on worker 0
  bool output_on_worker0() const { return !on_worker0.empty() && on_worker0.back(); }
};

// Where the records of a source read in ordered pieces are put back in
// order (runner/runtime/pieces.h): the first exchange on each path from the
// source, a sink fed straight from it (on worker 0), and the dead-letter sink
// (or, with `error_policy: fail`, the failure: the first in the input's order).
struct PiecePoint {
  enum class Kind { kStep, kSink, kDeadLetters };
  Kind kind = Kind::kStep;
  int node = 0;
  int step = 0;                                 // kStep: the step the exchange leads to
  ExchangeKind exchange = ExchangeKind::kNone;  // kStep: keyed (every worker) or gather (worker 0)
};

class Routing {
 public:
  Routing(const PipelinePlan& plan, int workers);
  const NodeRouting& node(size_t i) const { return nodes_[i]; }
  ExchangeKind exchange(size_t node, size_t step) const {
    const auto& e = nodes_[node].exchange;
    return step < e.size() ? e[step] : ExchangeKind::kNone;
  }
  // True if step `step` of transform `node` sees its records on worker 0 only
  // (always with one worker): its state belongs to worker 0 at a restore.
  bool OnWorker0(size_t node, size_t step) const;
  // Source `node` may be read in ordered pieces: the points where its
  // records are put back in order. Null when it may not: parallelism 1 (one
  // worker reads in order anyway), or a path from it reaches a step that is
  // not order-free (a plugin step, enrich_http) before any exchange, a
  // transform with several inputs, or a sink every worker writes on its own.
  // (A window, dedupe or top_n always has an exchange before it.)
  const std::vector<PiecePoint>* piece_points(size_t node) const {
    return node < pieces_.size() && pieces_[node].ordered ? &pieces_[node].points : nullptr;
  }

 private:
  struct SourcePieces {
    bool ordered = false;
    std::vector<PiecePoint> points;
  };
  // Adds the points on the paths from `node`'s output; false if one cannot be ordered.
  bool CollectPieces(const PipelinePlan& plan, int node, std::vector<PiecePoint>* points) const;

  int workers_;
  std::vector<NodeRouting> nodes_;
  std::vector<SourcePieces> pieces_;
};

}  // namespace streamrun
