#include "runner/runtime/worker_state.h"

namespace streamrun::runtime {
namespace {

// The kind of node a worker state's section is for.
enum SavedKind : uint64_t { kSavedSource = 0, kSavedTransform = 1, kSavedSink = 2 };

}  // namespace

SavedWorker ParseWorkerState(std::string_view bytes) {
  SnapshotReader r(bytes);
  const std::string_view tag = r.Str();
  if (tag != kWorkerStateTag && tag != kWorkerStateTagV2)
    throw SnapshotError("a worker state of another format (not " + std::string(kWorkerStateTag) +
                        "): restore it with the streamrun that wrote it, or start without it");
  SavedWorker worker;
  worker.format = tag == kWorkerStateTag ? 3 : 2;
  std::vector<SavedNode>& nodes = worker.nodes;
  nodes.resize(r.Count());
  for (SavedNode& n : nodes) {
    n.name = r.Str();
    n.watermark = r.I64();
    const uint64_t kind = r.U64();
    if (kind == kSavedSource) {
      for (uint64_t k = r.U64(); k > 0; --k) {
        std::string key(r.Str());
        n.positions[key] = std::string(r.Str());
        n.position_texts[key] = std::string(r.Str());
      }
    } else if (kind == kSavedTransform) {
      n.channels.resize(r.Count());
      for (auto& c : n.channels) c = r.I64();
      n.steps.resize(r.Count());
      for (auto& step : n.steps) {
        for (uint64_t g = r.U64(); g > 0; --g) {
          const uint64_t group = r.U64();
          if (group >= kKeyGroups) throw SnapshotError("state snapshot: bad key group");
          step.groups[group] = r.Str();
        }
        step.global = r.Str();
        for (uint64_t g = r.U64(); g > 0; --g) {
          const uint64_t group = r.U64();
          if (group >= kKeyGroups) throw SnapshotError("state snapshot: bad key group");
          step.db_bytes[group] = r.U64();
        }
      }
    } else {
      n.has_sink = r.Bool();
      if (n.has_sink) n.sink_state = r.Str();
    }
  }
  worker.db_files = LoadDbFiles(r);
  if (!r.done()) throw SnapshotError("state snapshot: trailing bytes");
  return worker;
}

void WorkerStateWriter::Node(std::string_view name, int64_t watermark) {
  w_.Str(name);
  w_.I64(watermark);
}

void WorkerStateWriter::Source(const std::map<std::string, SourceInstance::SavedPosition>& positions) {
  w_.U64(kSavedSource);
  w_.U64(positions.size());
  for (const auto& [key, saved] : positions) {
    w_.Str(key);
    w_.Str(saved.bytes);
    w_.Str(saved.text);
  }
}

void WorkerStateWriter::Transform(const std::vector<int64_t>& channel_watermarks, size_t steps) {
  w_.U64(kSavedTransform);
  w_.U64(channel_watermarks.size());
  for (int64_t c : channel_watermarks) w_.I64(c);
  w_.U64(steps);
}

void WorkerStateWriter::Step(const StateSnapshot& snap,
                             const std::vector<std::pair<uint32_t, uint64_t>>& db_bytes) {
  uint64_t used = 0;
  for (const auto& g : snap.groups) used += !g.empty();
  w_.U64(used);
  for (uint32_t g = 0; g < kKeyGroups; ++g) {
    if (snap.groups[g].empty()) continue;
    w_.U64(g);
    w_.Str(snap.groups[g]);
  }
  w_.Str(snap.global);
  w_.U64(db_bytes.size());
  for (const auto& [g, b] : db_bytes) {
    w_.U64(g);
    w_.U64(b);
  }
}

void WorkerStateWriter::Sink(bool has_instance, std::string_view pre_commit) {
  w_.U64(kSavedSink);
  w_.Bool(has_instance);
  if (has_instance) w_.Str(pre_commit);
}

}  // namespace streamrun::runtime
