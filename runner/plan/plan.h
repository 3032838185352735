#pragma once
// The plan: a validated pipeline file turned into an operator graph, with every
// field path resolved to a slot. Immutable once built; workers instantiate it.
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "operators/operator.h"
#include "operators/plan_context.h"
#include "runner/config/conf_node.h"
#include "runner/config/diagnostics.h"

namespace streamrun {

enum class ErrorPolicy { kFail, kSkip, kDeadLetter };

inline constexpr int kMainPort = 0;
inline constexpr int kLatePort = 1;

struct PlannedStep {
  std::string name;  // the step's YAML name
  config::Mark mark;
  std::unique_ptr<StepPlan> plan;
  // The slots and look of the records that reach this step (a window's
  // output has slots of its own): where a job cuts the transform before this
  // step, the records cross in this layout (runner/job/split.h).
  Universe* input_universe = nullptr;
  RecordView input_view;
};

struct PlanNode {
  enum class Kind { kSource, kTransform, kSink };
  Kind kind = Kind::kSource;
  std::string name;
  std::string type;  // source/sink type
  config::Mark mark;
  std::vector<int> inputs;          // node indexes
  std::vector<int> input_ports;     // per input: kMainPort or kLatePort (`name.late`)
  std::vector<int> consumers;       // node indexes taking this node's main output
  std::vector<int> late_consumers;  // node indexes taking `name.late`
  std::unique_ptr<SourcePlan> source;
  std::vector<PlannedStep> steps;
  std::unique_ptr<SinkPlan> sink;
  // Transforms with several inputs decode re-encoded records into their own
  // universe (each input has its own slots); `rebase` is then set.
  bool rebase = false;
  Universe* input_universe = nullptr;  // rebase: the universe records are decoded into
  Universe* universe = nullptr;        // the slots of this node's output records
  RecordView view;                     // how this node's output records look
  int source_index = -1;               // sources: index among sources
  // Transforms with a window step: how records on the `.late` side output look
  // (as they came into the window step).
  std::vector<PlanContext::KeyField> key;  // the key_by key in effect at the output (for a window downstream)
  bool has_late_output = false;
  bool preview = false;  // sinks: `preview: true`, its latest rows shown in the web view
  Universe* late_universe = nullptr;
  RecordView late_view;

  Universe* OutputUniverse(int port) const { return port == kLatePort ? late_universe : universe; }
  const RecordView& OutputView(int port) const { return port == kLatePort ? late_view : view; }
};

// runtime.checkpoint (docs/guarantees.md); `storage` empty: no checkpoints.
struct CheckpointConfig {
  std::string storage;   // file://DIR or s3://bucket/prefix
  std::string endpoint;  // s3: scheme://host[:port]
  std::string region;
  std::optional<bool> path_style;
  int64_t interval_ms = 10000;
  int64_t timeout_ms = 600000;
  int retain = 3;
  bool exactly_once = true;
  bool enabled() const { return !storage.empty(); }
};

struct PipelinePlan {
  std::string name;
  // runtime.member (or --member): this process's name in a job of several
  // processes (docs/scaling.md); empty for a job of one process.
  std::string member;
  std::string file;
  int parallelism = 1;
  CheckpointConfig checkpoint;
  std::string state_backend = "memory";  // memory | rocksdb
  std::string state_path;                // rocksdb directory
  // Hot (decoded) keys per worker and stateful step; unset: by backend
  // (kMemoryHotBytes, kRocksDbCacheBytes).
  std::optional<uint64_t> state_cache_bytes;
  ErrorPolicy error_policy = ErrorPolicy::kFail;
  int dead_letter_sink = -1;    // node index of the dead-letter sink
  std::string metrics_listen;   // runtime.metrics.listen; empty: no /metrics
  std::string ui_listen;        // runtime.ui.listen; empty: no web view
  std::vector<PlanNode> nodes;  // sources, then transforms in dependency order, then sinks
  // Where this process keeps its checkpoints in the store, and its local
  // RocksDB state under state_path: the pipeline's name, or
  // `<name>@<member>` for a member of a job, so members never share a file.
  std::string CheckpointName() const { return member.empty() ? name : name + "@" + member; }
  std::deque<Universe> universes;  // stable addresses
  int FindNode(const std::string& name) const {
    for (size_t i = 0; i < nodes.size(); ++i)
      if (nodes[i].name == name) return static_cast<int>(i);
    return -1;
  }
};

// The most workers a run may have: 16 per core, at most 256. The exchange
// between workers costs memory quadratic in their number (a queue per pair),
// so more cannot help and can exhaust the machine (docs/trust-and-limits.md).
int MaxParallelism();

struct PlanOptions {
  // Replaces a sink's plan (tests capture sink output); nullptr keeps the configured sink.
  std::function<std::unique_ptr<SinkPlan>(const std::string& sink_name)> sink_override;
  // Tests: records every option the plan read (config/options.h).
  config::ReadLog* read_log = nullptr;
  // --member: replaces runtime.member.
  std::optional<std::string> member;
};

// Validates `root` against the built-in catalog and plans it. Null with
// diagnostics on any configuration error.
std::unique_ptr<PipelinePlan> BuildPlan(const config::ConfNode& root, const std::string& file,
                                        const PlanOptions& options, config::Diagnostics& diags);

// `streamrun explain`: the operator graph as indented text or Graphviz dot.
std::string ExplainText(const PipelinePlan& plan);
std::string ExplainDot(const PipelinePlan& plan);

}  // namespace streamrun
