#pragma once
// What every worker of one run shares: the plan, the queues between workers,
// the run's progress counters and the checkpoint control block. Created once
// per run by Run() (runtime.cc) before any worker; outlives them all.
//
// Invariants: `inflight` counts messages sent and not yet received, so no
// message is anywhere between workers when it is 0 and every worker is paused;
// only worker 0 writes the checkpoint fields that are not atomics, and only
// while every other worker waits for `released`.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "operators/run_scope.h"
#include "runner/checkpoint/checkpoints.h"
#include "runner/metrics/registry.h"
#include "runner/record/clock.h"
#include "runner/runtime/message_queue.h"
#include "runner/runtime/routing.h"
#include "runner/runtime/runtime.h"
#include "runner/runtime/state_files.h"
#include "runner/state/key_groups.h"

namespace streamrun::runtime {

constexpr size_t kQueueCapacity = 64;

// The worker that owns a record's key group: contiguous ranges of groups, so a
// restore at another parallelism moves whole groups.
inline int WorkerOfGroup(uint32_t group, int workers) {
  return static_cast<int>(group * static_cast<uint32_t>(workers) / kKeyGroups);
}
inline int WorkerOfKey(uint64_t key_hash, int workers) {
  return WorkerOfGroup(KeyGroupOf(key_hash), workers);
}

// A step's operator id in the rocksdb state (its node and place in the node).
inline uint32_t OperatorId(size_t node, size_t step) { return static_cast<uint32_t>(node << 12 | step); }
inline std::pair<size_t, size_t> NodeAndStep(uint32_t op) { return {op >> 12, op & 0xFFF}; }

// The kind of an error caught inside the run: ours carry one; a library's
// logic_error is a bug; anything else came from outside (a file, a broker).
inline ErrorKind KindOf(const std::exception& e) {
  if (const auto* ours = dynamic_cast<const Error*>(&e)) return ours->kind();
  if (dynamic_cast<const std::logic_error*>(&e)) return ErrorKind::kInternal;
  return ErrorKind::kExternal;
}

// The operator graph as the metrics and the web view name it.
inline std::vector<metrics::GraphNode> MetricsGraph(const PipelinePlan& plan) {
  std::vector<metrics::GraphNode> graph;
  for (const PlanNode& n : plan.nodes) {
    metrics::GraphNode g;
    g.name = n.name;
    switch (n.kind) {
      case PlanNode::Kind::kSource:
        g.kind = "source";
        g.describe = n.source->Describe();
        break;
      case PlanNode::Kind::kTransform:
        g.kind = "transform";
        for (const auto& step : n.steps) g.steps.push_back(step.plan->Describe());
        break;
      case PlanNode::Kind::kSink:
        g.kind = "sink";
        g.describe = n.sink->Describe();
        break;
    }
    g.consumers = n.consumers;
    g.late_consumers = n.late_consumers;
    g.preview = n.preview;
    graph.push_back(std::move(g));
  }
  return graph;
}

struct Shared {
  Shared(const PipelinePlan& p, const RunOptions& o, int w)
      : plan(p),
        options(o),
        workers(w),
        routing(p, w),
        metrics(std::make_shared<metrics::Registry>(p.name, MetricsGraph(p), w, NowMs())) {
    queues.resize(w);
    for (int from = 0; from < w; ++from)
      for (int to = 0; to < w; ++to) queues[from].push_back(std::make_unique<MessageQueue>(kQueueCapacity));
  }
  // What each operator shares with its instances on the other workers for this
  // run (operator.h RunShared), made before any worker: [node][step] for a
  // transform's steps, [node][0] for a source or a sink. Null: nothing shared.
  void MakeRunShared() {
    run_shared.resize(plan.nodes.size());
    for (size_t i = 0; i < plan.nodes.size(); ++i) {
      const PlanNode& n = plan.nodes[i];
      switch (n.kind) {
        case PlanNode::Kind::kSource:
          run_shared[i].push_back(n.source->MakeRunShared(workers));
          break;
        case PlanNode::Kind::kTransform:
          for (const auto& step : n.steps) run_shared[i].push_back(step.plan->MakeRunShared(workers));
          break;
        case PlanNode::Kind::kSink:
          run_shared[i].push_back(n.sink->MakeRunShared(workers));
          break;
      }
    }
  }
  std::vector<std::vector<std::unique_ptr<RunShared>>> run_shared;
  RunScope scope;  // shared across operators (operator.h)
  const PipelinePlan& plan;
  const RunOptions& options;
  const int workers;
  const Routing routing;  // where records are at each step, and their exchanges
  // What /metrics and the web view read (made for every run; served only when asked).
  const std::shared_ptr<metrics::Registry> metrics;
  std::vector<std::vector<std::unique_ptr<MessageQueue>>> queues;  // [from][to]
  std::atomic<int> active_sources{0};                              // (worker, source) pairs still reading
  std::atomic<int64_t> inflight{0};                                // messages sent and not yet processed
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::string error;  // the first worker's error that ended the run, and its kind
  ErrorKind error_kind = ErrorKind::kInternal;

  // Checkpoints (docs/guarantees.md). Worker 0 asks for checkpoint N; every worker
  // stops reading its sources and hands on what it holds; once no message is in
  // flight anywhere, each worker snapshots itself (sources' positions,
  // watermarks, steps' state, sinks' pre-commit); worker 0 writes the workers'
  // states and then the manifest; every worker commits its sinks and reads on.
  // Nothing is in flight while the snapshots are taken, so they are consistent
  // without aligning barriers (docs/architecture.md "Checkpoints").
  struct Checkpointing {
    bool enabled = false;
    bool exactly_once = true;
    int64_t interval_ms = 0;
    int64_t timeout_ms = 0;
    int retain = 3;
    std::unique_ptr<checkpoint::Checkpoints> store;
    int64_t next_id = 1;
    int64_t started_ms = 0;
    int64_t finished_ms = 0;            // when the last one was released (worker 0 only)
    std::atomic<int64_t> requested{0};  // the checkpoint in progress (or last)
    std::atomic<int64_t> released{0};   // workers may go on after this one
    std::atomic<bool> ok{false};        // ... and commit it
    std::atomic<int> paused{0}, snapshotted{0}, resumed{0};
    std::atomic<int> exited{0};                 // workers out of their loop (the end is near)
    std::vector<std::string> states;            // per worker, for the checkpoint in progress
    std::vector<std::vector<DbFile>> db_files;  // per worker (rocksdb), for the checkpoint in progress
    std::string kind = "checkpoint";            // or "savepoint" (asked for by SIGUSR1)
    std::atomic<uint64_t> completed{0}, failures{0};
    int64_t forced_id = 0;  // the checkpoint RunOptions::checkpoint_after_records asked for
  } checkpointing;
  std::atomic<int64_t> records_read{0};  // by every source of every worker
  // The rocksdb backend: each worker's database (empty: memory backend).
  std::vector<std::unique_ptr<WorkerDb>> dbs;
  std::string state_root;  // <state path>/<pipeline>
  uint64_t state_cache_bytes = 0;
};

}  // namespace streamrun::runtime
