// The checkpoint protocol on one worker (shared.h "Checkpointing"): worker 0
// asks for a checkpoint; each worker pauses its sources, hands on what it
// holds, snapshots itself once nothing is in flight anywhere, and commits its
// sinks once worker 0 has written the checkpoint. Also the restore of a
// worker's share of a checkpoint, at any parallelism.
#include <algorithm>
#include <map>

#include "runner/log/log.h"
#include "runner/record/clock.h"
#include "runner/runtime/checkpointing.h"
#include "runner/runtime/worker.h"
#include "runner/runtime/worker_state.h"

namespace streamrun::runtime {

void Worker::MaybeStartCheckpoint() {
  auto& ckpt = shared_.checkpointing;
  if (ckpt.requested.load() > checkpoint_done_) return;
  if (ckpt.resumed.load() < shared_.workers || ckpt.exited.load() > 0) return;
  const int64_t now = NowMs();
  const int savepoints = options_.savepoint_requests ? options_.savepoint_requests->load() : 0;
  const bool savepoint = savepoints > savepoints_taken_;
  const bool forced = options_.checkpoint_after_records > 0 && ckpt.forced_id == 0 &&
                      shared_.records_read.load() >= options_.checkpoint_after_records;
  if (now - ckpt.started_ms < ckpt.interval_ms && !savepoint && !forced) return;
  // A checkpoint pauses the job: before the next one, run at least as long
  // as the last one took, so that a job whose checkpoints outgrow the
  // interval still makes progress (half its time at worst) instead of doing
  // nothing but checkpoints.
  if (now - ckpt.finished_ms < ckpt.finished_ms - ckpt.started_ms && !savepoint && !forced) return;
  if (forced) ckpt.forced_id = ckpt.next_id;
  savepoints_taken_ = savepoints;
  ckpt.kind = savepoint ? "savepoint" : "checkpoint";
  ckpt.started_ms = now;
  ckpt.paused.store(0);
  ckpt.snapshotted.store(0);
  ckpt.resumed.store(0);
  ckpt.ok.store(false);
  ckpt.requested.store(ckpt.next_id++);
}

bool Worker::CheckpointStep(int64_t id) {
  auto& ckpt = shared_.checkpointing;
  const int workers = shared_.workers;
  bool progress = false;
  if (checkpoint_paused_ < id && !exchange_.holding()) {
    checkpoint_paused_ = id;
    ckpt.paused.fetch_add(1);
    progress = true;
  }
  if (checkpoint_paused_ == id && checkpoint_snapshotted_ < id && ckpt.released.load() < id &&
      ckpt.paused.load() == workers && shared_.inflight.load() == 0) {
    ckpt.states[self_] = Snapshot(id);
    checkpoint_snapshotted_ = id;
    MaybeCrash("after_snapshot", id);
    ckpt.snapshotted.fetch_add(1);
    progress = true;
  }
  if (self_ == 0 && ckpt.released.load() < id) {
    if (ckpt.snapshotted.load() == workers) {
      ckpt.ok.store(WriteCheckpoint(shared_, id, ckpt.kind));
      ckpt.finished_ms = NowMs();
      ckpt.released.store(id);
    } else if (ckpt.exited.load() > 0 || NowMs() - ckpt.started_ms > ckpt.timeout_ms) {
      // A worker left its loop (its sources are done: the final checkpoint
      // will cover it), or the checkpoint took too long: give this one up.
      if (ckpt.exited.load() == 0) {
        log::Warn("", "checkpoint {} timed out; the job goes on", id);
        shared_.metrics->CheckpointEnded(
            {id, ckpt.kind, false, ckpt.started_ms, static_cast<double>(NowMs() - ckpt.started_ms), 0});
      }
      ckpt.failures.fetch_add(ckpt.exited.load() == 0 ? 1 : 0);
      ckpt.ok.store(false);
      ckpt.finished_ms = NowMs();
      ckpt.released.store(id);
    }
  }
  if (ckpt.released.load() >= id) {
    if (ckpt.ok.load() && checkpoint_snapshotted_ == id) {
      CommitSinks(id);
      MaybeCrash("after_commit", id);
      if (self_ == 0 && id == ckpt.forced_id && options_.crash_after_checkpoint)
        throw RunError(ErrorKind::kExternal, "simulated crash after checkpoint " + std::to_string(id));
    }
    checkpoint_done_ = id;
    ckpt.resumed.fetch_add(1);
    progress = true;
  }
  return progress;
}

std::string Worker::Snapshot(int64_t id) {
  std::string out;
  WorkerStateWriter w(&out);
  w.Nodes(plan_.nodes.size());
  for (size_t i = 0; i < plan_.nodes.size(); ++i) {
    const PlanNode& n = plan_.nodes[i];
    NodeState& s = nodes_[i];
    w.Node(n.name, s.watermark);
    switch (n.kind) {
      case PlanNode::Kind::kSource: {
        std::map<std::string, SourceInstance::SavedPosition> positions;
        s.source->SnapshotPositions(&positions);
        w.Source(positions);
        break;
      }
      case PlanNode::Kind::kTransform: {
        w.Transform(s.channel_watermarks, s.steps.size());
        for (size_t k = 0; k < s.steps.size(); ++k) {
          StateSnapshot snap;
          snap.checkpoint_id = id;
          // An inert instance (its step runs on worker 0) holds nothing, and
          // its watermark is the end of time: it must not reach the restore.
          if (self_ == 0 || !shared_.routing.OnWorker0(i, k)) {
            if (KeyedStateBase* store = s.keyed[k]->store()) store->Snapshot(snap);
            s.steps[k]->Snapshot(snap);
          }
          // rocksdb: the step's size per key group in the database.
          std::vector<std::pair<uint32_t, uint64_t>> db_bytes;
          if (s.keyed[k]->uses_db()) {
            RocksStateDb& db = shared_.dbs[self_]->db();
            db.Flush();
            for (uint32_t g = 0; g < kKeyGroups; ++g)
              if (uint64_t b = db.ApproximateBytes(g, OperatorId(i, k))) db_bytes.emplace_back(g, b);
          }
          w.Step(snap, db_bytes);
        }
        break;
      }
      case PlanNode::Kind::kSink:
        w.Sink(s.sink != nullptr, s.sink ? s.sink->PreCommit(id) : std::string());
        break;
    }
  }
  // rocksdb: the database, copied whole once every step has written to it.
  std::vector<DbFile> files;
  if (!shared_.dbs.empty()) files = shared_.dbs[self_]->Take(id, shared_.checkpointing.kind == "savepoint");
  w.DbFiles(files);
  if (!shared_.dbs.empty()) shared_.checkpointing.db_files[self_] = std::move(files);
  return out;
}

void Worker::Restore(const std::vector<SavedWorker>& saved) {
  for (const auto& worker : saved) {
    if (worker.nodes.size() != plan_.nodes.size())
      throw RunError(ErrorKind::kExternal, "the checkpoint is of another pipeline: it has " +
                                               std::to_string(worker.nodes.size()) +
                                               " nodes, this pipeline " + std::to_string(plan_.nodes.size()));
    for (size_t i = 0; i < worker.nodes.size(); ++i)
      if (worker.nodes[i].name != plan_.nodes[i].name)
        throw RunError(ErrorKind::kExternal, "the checkpoint is of another pipeline: it has node '" +
                                                 std::string(worker.nodes[i].name) +
                                                 "' where this one has '" + plan_.nodes[i].name + "'");
  }
  for (size_t i = 0; i < plan_.nodes.size(); ++i) {
    const PlanNode& n = plan_.nodes[i];
    NodeState& s = nodes_[i];
    int64_t watermark = kEndOfTime;
    for (const auto& worker : saved) watermark = std::min(watermark, worker.nodes[i].watermark);
    s.watermark = watermark;
    switch (n.kind) {
      case PlanNode::Kind::kSource: {
        std::map<std::string, std::string> positions;
        for (const auto& worker : saved)
          positions.insert(worker.nodes[i].positions.begin(), worker.nodes[i].positions.end());
        s.source->RestorePositions(positions, watermark);
        break;
      }
      case PlanNode::Kind::kTransform: {
        // An input that had ended on every worker (end of time) stays ended:
        // its restored source has nothing left to read and sends no new
        // watermark, so lowering it would hold every window back forever.
        for (size_t c = 0; c < s.channel_watermarks.size(); ++c) {
          int64_t low = kEndOfTime;
          bool saved_channel = false;
          for (const auto& worker : saved)
            if (c < worker.nodes[i].channels.size()) {
              low = std::min(low, worker.nodes[i].channels[c]);
              saved_channel = true;
            }
          s.channel_watermarks[c] = saved_channel ? low : watermark;
        }
        for (size_t k = 0; k < s.steps.size(); ++k) {
          StateRestore in;
          in.format = saved.front().format;  // one build wrote every worker's
          const bool gathered = shared_.routing.OnWorker0(i, k);
          if (gathered && self_ != 0) continue;  // an inert instance: worker 0 takes it all
          for (const auto& worker : saved) {
            if (k >= worker.nodes[i].steps.size()) continue;
            const SavedStep& snap = worker.nodes[i].steps[k];
            in.globals.emplace_back(snap.global);
            for (uint32_t g = 0; g < kKeyGroups; ++g) {
              if (snap.groups[g].empty()) continue;
              const int owner = gathered ? 0 : WorkerOfGroup(g, shared_.workers);
              if (owner == self_) in.groups[g] += snap.groups[g];
            }
          }
          if (KeyedStateBase* store = s.keyed[k]->store()) store->Restore(in);
          s.steps[k]->Restore(in);
        }
        // The exchange into step k resumes from the node's watermark, or lower
        // where a step before k held records back (StepInstance::RestoredWatermark).
        int64_t floor = watermark;
        for (size_t k = 0; k < s.exchange_watermarks.size(); ++k) {
          std::fill(s.exchange_watermarks[k].begin(), s.exchange_watermarks[k].end(), floor);
          s.exchange_combined[k] = floor;
          if (k < s.steps.size()) floor = std::min(floor, s.steps[k]->RestoredWatermark());
        }
        break;
      }
      case PlanNode::Kind::kSink: {
        if (!s.sink) break;
        // A per-worker sink takes over the transactions of the workers that
        // map to it now (w mod workers); a sink on worker 0 is the one sink
        // there was.
        std::vector<std::string>& states = recovered_sinks_[i];
        for (size_t w = 0; w < saved.size(); ++w) {
          const bool mine = n.sink->PerWorker() ? static_cast<int>(w % shared_.workers) == self_ : w == 0;
          if (mine && !saved[w].nodes[i].sink_state.empty())
            states.emplace_back(saved[w].nodes[i].sink_state);
        }
        break;
      }
    }
  }
}

void Worker::BeginExactlyOnce() {
  StartSinks(
      [](SinkInstance& sink, const std::vector<std::string>& states) { sink.BeginExactlyOnce(states); });
}

void Worker::ResumeAtLeastOnce() {
  StartSinks(
      [](SinkInstance& sink, const std::vector<std::string>& states) { sink.ResumeAtLeastOnce(states); });
}

void Worker::CommitSinks(int64_t id) {
  for (auto& n : nodes_)
    if (n.sink) n.sink->Commit(id);
}

}  // namespace streamrun::runtime
