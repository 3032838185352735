#pragma once
// Runs a plan on `parallelism` workers (docs/architecture.md "Execution"):
// what a caller of the runtime sees. How it is done is in runtime.cc and the
// files it names.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runner/metrics/registry.h"
#include "runner/metrics/run_stats.h"
#include "runner/plan/plan.h"
#include "runner/record/status.h"

namespace streamrun {

struct RunOptions {
  // Set (e.g. by a signal handler) to stop the sources; the run then drains and ends cleanly.
  const std::atomic<bool>* stop = nullptr;
  size_t batch_size = kDefaultBatchSize;
  // Worker threads; 0: the pipeline's runtime.parallelism.
  int parallelism = 0;
  // Checkpoints (when the pipeline configures them): restore from this
  // checkpoint folder (`--from`) instead of the newest complete checkpoint.
  std::string restore_from;
  // Start afresh even if checkpoints exist (tests).
  bool ignore_checkpoints = false;
  // Incremented (e.g. by SIGUSR1) to ask for a savepoint: a checkpoint taken
  // now, marked `savepoint` in its manifest.
  const std::atomic<int>* savepoint_requests = nullptr;
  // Tests (`streamrun test --restore-midway`): take a checkpoint once the
  // sources have read this many records, and, with crash_after_checkpoint, end
  // the run right after it completes, as a crash would (RunError
  // "simulated crash ..."): no final checkpoint, nothing more committed.
  int64_t checkpoint_after_records = 0;
  bool crash_after_checkpoint = false;
  // Overrides runtime.state when not empty (`streamrun test --state rocksdb`).
  std::string state_backend;
  std::string state_path;
  // Serve runtime.metrics and runtime.ui when the pipeline asks for them (the
  // run command; `streamrun test` runs serve nothing).
  bool serve_endpoints = false;
  // How long another process's record of writing these checkpoints counts
  // when it is on another host and stopped renewing it; 0: three checkpoint
  // intervals, at least a minute. (A job's member uses less: the consumer
  // group has already given it the task.)
  int64_t lease_stale_ms = 0;
  // A job's member (runner/job) serves its tasks' metrics itself: called with
  // the run's registry before the workers start, and with null before they
  // go away (after that the registry must not be read).
  std::function<void(std::shared_ptr<const metrics::Registry>)> on_metrics;
  std::string version = "dev";  // for streamrun_build_info
};

// Thrown for a failure that ends the run: a record error under the `fail`
// policy (kRecord), an I/O, broker or checkpoint store error (kExternal), a
// pipeline the runtime cannot run (kConfig), a bug (kInternal). Every error
// thrown inside the run arrives as a RunError with the kind it was thrown with.
class RunError : public Error {
 public:
  RunError(ErrorKind kind, const std::string& message) : Error(kind, message) {}
};

// Runs until every source is done (or `stop` is set). Throws RunError on failure.
RunStats Run(const PipelinePlan& plan, const RunOptions& options);

// What each sink of `plan` holds in a checkpoint's worker states, described
// now (a file sink's pending file held back, or published since): sink name
// -> one text per worker that holds something. Damaged states describe as such.
std::map<std::string, std::vector<std::string>> DescribeSinkStates(
    const PipelinePlan& plan, const std::vector<std::string>& worker_states);

// The dead-letter record for a failed record (docs/errors.md).
std::string DeadLetterJson(const RecordError& error, const std::string& source_name,
                           const std::string& position_text, const std::string& node_name);

}  // namespace streamrun
