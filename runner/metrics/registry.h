#pragma once
// The metrics of one run: what /metrics and the web view read while it runs.
// The runtime makes one per run and hands each operator instance its own
// OperatorMetrics through the operator context; workers count into their
// RunStats (run_stats.h) and the registry reads those where they are, so the
// record path writes nothing shared (docs/architecture.md "Metrics").
//
// Thread safety: every method may be called from any thread. The cells an
// OperatorMetrics hands out have one writer (the instance's worker).
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "runner/metrics/cells.h"
#include "runner/metrics/run_stats.h"

namespace streamrun::metrics {

// The operator graph as the metrics name it (built from the plan).
struct GraphNode {
  std::string name;
  std::string kind;      // "source", "transform", "sink"
  std::string describe;  // one line: the source or sink's type and target
  std::vector<std::string> steps;
  std::vector<int> consumers;       // main output
  std::vector<int> late_consumers;  // `name.late`
  bool preview = false;             // a sink whose latest rows the web view charts
};

struct CheckpointRecord {
  int64_t id = 0;
  std::string kind;  // "checkpoint" or "savepoint"
  bool ok = false;
  int64_t started_ms = 0;
  double duration_ms = 0;
  uint64_t size_bytes = 0;
};

// A named counter or gauge of one operator instance (plugins' own), and the
// consumer lag of the partitions a Kafka source instance reads.
class OperatorMetrics {
 public:
  OperatorMetrics(std::mutex* mutex, int node, int worker) : mutex_(mutex), node_(node), worker_(worker) {}
  // The cell named `name`, made on first use (keep the reference: the lookup
  // takes the registry's lock). Written by this instance's worker only.
  Counter& CounterNamed(std::string_view name);
  Gauge<double>& GaugeNamed(std::string_view name);
  // Records after the source's position in `topic`/`partition`.
  void SetConsumerLag(std::string_view topic, int32_t partition, int64_t lag);
  // The partition went to another instance (a rebalance): it reports it now.
  void ClearConsumerLag(std::string_view topic, int32_t partition);

  int node() const { return node_; }
  int worker() const { return worker_; }
  // Under the registry's lock (Registry::Read).
  const std::map<std::string, std::unique_ptr<Counter>, std::less<>>& counters() const { return counters_; }
  const std::map<std::string, std::unique_ptr<Gauge<double>>, std::less<>>& gauges() const { return gauges_; }
  const std::map<std::pair<std::string, int32_t>, int64_t>& lag() const { return lag_; }

 private:
  std::mutex* mutex_;
  int node_;
  int worker_;
  std::map<std::string, std::unique_ptr<Counter>, std::less<>> counters_;
  std::map<std::string, std::unique_ptr<Gauge<double>>, std::less<>> gauges_;
  std::map<std::pair<std::string, int32_t>, int64_t> lag_;
};

class Registry {
 public:
  static constexpr size_t kHistory = 20;       // checkpoints kept for the web view
  static constexpr size_t kPreviewRows = 100;  // rows kept per preview sink

  Registry(std::string pipeline, std::vector<GraphNode> graph, int workers, int64_t start_ms);

  const std::string& pipeline() const { return pipeline_; }
  const std::vector<GraphNode>& graph() const { return graph_; }
  int workers() const { return workers_; }
  int64_t start_ms() const { return start_ms_; }

  // The runtime, before the workers run: where worker `w` counts.
  void SetWorkerStats(int worker, const RunStats* stats);
  // The instance of node `node` on `worker`; stable for the run.
  OperatorMetrics* Operator(int node, int worker);

  // The run takes checkpoints (before it starts): only then are the
  // checkpoint metrics reported (an age that grows forever would alert).
  void EnableCheckpoints() { checkpoints_enabled_.store(true); }
  bool checkpoints_enabled() const { return checkpoints_enabled_.load(); }
  // Worker 0, as checkpoints end.
  void CheckpointEnded(const CheckpointRecord& record);

  // The web view runs: preview sinks keep their latest rows (else they
  // spend nothing on it).
  void ServePreviews() { previews_served_.store(true); }
  bool previews_served() const { return previews_served_.load(std::memory_order_relaxed); }
  // Rows a preview sink wrote (JSON objects), oldest first.
  void AddPreviewRows(int node, std::vector<std::string>& rows);

  // What a reader sees, all under the registry's lock.
  struct View {
    const std::vector<const RunStats*>& workers;  // null until a worker is set
    const std::deque<OperatorMetrics>& operators;
    const std::deque<CheckpointRecord>& history;
    uint64_t checkpoints_completed, checkpoints_failed;
    int64_t last_completed_ms;  // 0: none yet
    uint64_t last_size_bytes;
    const Histogram& checkpoint_duration;
    const std::map<int, std::deque<std::string>>& previews;
  };
  template <typename F>
  void Read(F&& f) const {
    std::lock_guard<std::mutex> lock(mutex_);
    f(View{workers_stats_, operators_, history_, completed_, failed_, last_completed_ms_, last_size_bytes_,
           checkpoint_duration_, previews_});
  }

 private:
  const std::string pipeline_;
  const std::vector<GraphNode> graph_;
  const int workers_;
  const int64_t start_ms_;
  mutable std::mutex mutex_;
  std::atomic<bool> checkpoints_enabled_{false};
  std::atomic<bool> previews_served_{false};
  std::vector<const RunStats*> workers_stats_;
  std::deque<OperatorMetrics> operators_;  // stable addresses
  std::deque<CheckpointRecord> history_;
  uint64_t completed_ = 0, failed_ = 0;
  int64_t last_completed_ms_ = 0;
  uint64_t last_size_bytes_ = 0;
  Histogram checkpoint_duration_;
  std::map<int, std::deque<std::string>> previews_;
};

}  // namespace streamrun::metrics
