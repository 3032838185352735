#pragma once
// The worker-state format: what one worker's `worker-N.state` file in a
// checkpoint holds, written and read here and nowhere else.
//
//   tag "streamrun-worker-state/3" (2 is read too)
//   node count, then per plan node: name, watermark, kind and
//     source:    positions (key, bytes, text)
//     transform: input watermarks; per step: its state by key group, its
//                global state, and (rocksdb) its bytes per key group
//     sink:      whether this worker has an instance, and its pre-commit
//   (rocksdb) the database's files (state_files.h)
//
// A state of another format is refused by its tag, never misread. Counts are
// bounded by the bytes left (SnapshotReader::Count), so a damaged state fails
// with an error instead of a huge allocation.
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "operators/operator.h"
#include "runner/runtime/state_files.h"
#include "runner/state/key_groups.h"
#include "runner/state/snapshot.h"

namespace streamrun::runtime {

constexpr std::string_view kWorkerStateTag = "streamrun-worker-state/3";
// Format 2 (before keyed state moved into the runtime's KeyedStore) is read
// too: its steps' key-group bytes lack the store's record kinds and timers.
constexpr std::string_view kWorkerStateTagV2 = "streamrun-worker-state/2";

// One step's state in a worker's checkpointed state: views into those bytes
// (a state can be hundreds of MB; it is read, not copied).
struct SavedStep {
  std::array<std::string_view, kKeyGroups> groups;
  std::string_view global;
  std::array<uint64_t, kKeyGroups> db_bytes{};  // rocksdb: its bytes in the database per key group
};

// One node of one worker's checkpointed state, read back; valid while the
// state's bytes are.
struct SavedNode {
  std::string_view name;
  int64_t watermark = kNoTime;
  std::map<std::string, std::string> positions;  // sources
  std::map<std::string, std::string> position_texts;
  std::vector<int64_t> channels;  // transforms
  std::vector<SavedStep> steps;
  bool has_sink = false;  // sinks
  std::string_view sink_state;
};

// A worker's checkpointed state: its nodes, then (rocksdb) its database's files.
struct SavedWorker {
  int format = 3;  // 2 or 3 (the tag)
  std::vector<SavedNode> nodes;
  std::vector<DbFile> db_files;
};

// Throws SnapshotError for a state of another format or a damaged one.
SavedWorker ParseWorkerState(std::string_view bytes);

// Writes one worker state, node by node in plan order: Nodes, then per node
// Node followed by exactly one of Source, Transform (+ one Step per step) or
// Sink; DbFiles last.
class WorkerStateWriter {
 public:
  explicit WorkerStateWriter(std::string* out) : w_(out) { w_.Str(kWorkerStateTag); }
  void Nodes(size_t count) { w_.U64(count); }
  void Node(std::string_view name, int64_t watermark);
  void Source(const std::map<std::string, SourceInstance::SavedPosition>& positions);
  void Transform(const std::vector<int64_t>& channel_watermarks, size_t steps);
  void Step(const StateSnapshot& snap, const std::vector<std::pair<uint32_t, uint64_t>>& db_bytes);
  void Sink(bool has_instance, std::string_view pre_commit);
  void DbFiles(const std::vector<DbFile>& files) { SaveDbFiles(files, w_); }

 private:
  SnapshotWriter w_;
};

}  // namespace streamrun::runtime
