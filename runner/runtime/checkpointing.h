#pragma once
// Checkpoints on the store's side (checkpointing.cc); the workers' side of
// the protocol is worker_checkpoint.cc.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runner/checkpoint/checkpoints.h"
#include "runner/runtime/shared.h"
#include "runner/runtime/worker_state.h"

namespace streamrun::runtime {

// Debug aid for the crash tests: STREAMRUN_CRASH_AT=POINT:N ends the process at
// once (as SIGKILL would) when checkpoint N reaches POINT: after_snapshot,
// after_state (worker states written, no manifest), after_manifest (before any
// sink commits), after_commit.
void MaybeCrash(const char* point, int64_t id);

// What each sink holds in a checkpoint's worker states (runtime.h DescribeSinkStates).
std::map<std::string, std::vector<std::string>> SinkStateTexts(const PipelinePlan& plan,
                                                               const std::vector<std::string>& worker_states);

// The manifest: what `streamrun checkpoints inspect` shows, the worker count a
// restore needs, and each worker state's length and CRC.
std::string ManifestJson(const PipelinePlan& plan, int64_t id, const std::string& kind, bool exactly_once,
                         const std::vector<std::string>& states);

// Worker 0, with every worker's state in: writes the states, then the manifest,
// then trims old checkpoints. False (and a log line) if the store failed: the
// job goes on, and the next checkpoint covers what this one would have.
bool WriteCheckpoint(Shared& shared, int64_t id, const std::string& kind);

// Opens the pipeline's checkpoint store and reads the checkpoint to start
// from: the newest complete one that reads back whole, or `--from`; nullopt
// for a fresh start. `saved` gets its worker states, parsed.
std::optional<checkpoint::Loaded> OpenCheckpoints(const PipelinePlan& plan, const RunOptions& options,
                                                  Shared& shared, std::vector<SavedWorker>* saved);

// The rocksdb backend: a database per worker under runtime.state.path. A
// checkpoint taken by as many workers as there are now is fetched file by file
// (true: restored); otherwise the databases start empty.
bool OpenStateDbs(const PipelinePlan& plan, const RunOptions& options, Shared& shared,
                  const std::optional<checkpoint::Loaded>& loaded, const std::vector<SavedWorker>& saved);

// The rocksdb backend at another parallelism than the checkpoint's: every
// entry of its databases goes to the worker that owns its key group now.
void ReshardStateDbs(const PipelinePlan& plan, Shared& shared, const checkpoint::Loaded& loaded,
                     const std::vector<SavedWorker>& saved);

}  // namespace streamrun::runtime
