// Checkpoints on the store's side: the manifest, writing a checkpoint once
// every worker has snapshotted, opening the store and choosing the checkpoint
// to restore (passing over damaged ones), the rocksdb databases and their
// re-sharding at another parallelism, and the crash points the crash tests use.
//
// Invariants: a checkpoint is complete once its manifest exists, and the
// manifest is written last; a restore trusts a worker state only after its
// length and CRC match the manifest (checkpoints.h) and its tag matches
// (worker_state.h).
#include "runner/runtime/checkpointing.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "runner/log/log.h"
#include "runner/record/checksum.h"
#include "runner/record/clock.h"
#include "runner/state/keyed_service.h"

namespace streamrun {
namespace runtime {

void MaybeCrash(const char* point, int64_t id) {
  static const char* spec = std::getenv("STREAMRUN_CRASH_AT");
  if (!spec) return;
  const std::string want = std::string(point) + ":" + std::to_string(id);
  if (want == spec) {
    log::Warn("", "crash point {} reached", spec);
    ::_exit(137);
  }
}

std::map<std::string, std::vector<std::string>> SinkStateTexts(
    const PipelinePlan& plan, const std::vector<std::string>& worker_states) {
  std::map<std::string, std::vector<std::string>> out;
  for (size_t w = 0; w < worker_states.size(); ++w) {
    SavedWorker worker;
    try {
      worker = ParseWorkerState(worker_states[w]);
    } catch (const std::exception& e) {
      out["(all)"].push_back("worker " + std::to_string(w) + ": unreadable state: " + e.what());
      continue;
    }
    for (size_t i = 0; i < plan.nodes.size() && i < worker.nodes.size(); ++i) {
      const PlanNode& n = plan.nodes[i];
      if (n.kind != PlanNode::Kind::kSink || worker.nodes[i].sink_state.empty()) continue;
      std::string text;
      try {
        text = n.sink->DescribeState(worker.nodes[i].sink_state);
      } catch (const std::exception& e) {
        text = std::string("unreadable: ") + e.what();
      }
      if (!text.empty()) out[n.name].push_back("worker " + std::to_string(w) + "   " + text);
    }
  }
  return out;
}

std::string ManifestJson(const PipelinePlan& plan, int64_t id, const std::string& kind, bool exactly_once,
                         const std::vector<std::string>& states) {
  nlohmann::ordered_json m;
  m["format"] = checkpoint::kManifestFormat;
  m["id"] = id;
  m["pipeline"] = plan.CheckpointName();
  if (!plan.member.empty()) m["member"] = plan.member;
  m["kind"] = kind;
  m["workers"] = states.size();
  m["created_ms"] = NowMs();
  m["mode"] = exactly_once ? "exactly_once" : "at_least_once";
  nlohmann::ordered_json sources = nlohmann::ordered_json::object();
  nlohmann::ordered_json operators = nlohmann::ordered_json::array();
  nlohmann::ordered_json watermarks = nlohmann::ordered_json::object();
  nlohmann::ordered_json sinks = nlohmann::ordered_json::object();
  uint64_t total = 0;
  std::vector<std::vector<SavedNode>> saved;
  uint64_t db_files = 0, db_bytes = 0;
  nlohmann::ordered_json shared = nlohmann::ordered_json::array();
  for (const auto& state : states) {
    SavedWorker worker = ParseWorkerState(state);
    saved.push_back(std::move(worker.nodes));
    total += state.size();
    for (const auto& f : worker.db_files) {
      ++db_files;
      db_bytes += f.size;
      if (f.ref.rfind(checkpoint::kSharedRef, 0) == 0) shared.push_back(f.ref);
    }
  }
  for (size_t i = 0; i < plan.nodes.size(); ++i) {
    const PlanNode& n = plan.nodes[i];
    int64_t low = kEndOfTime;
    for (const auto& worker : saved) low = std::min(low, worker[i].watermark);
    if (n.kind != PlanNode::Kind::kSink)
      watermarks[n.name] = low == kNoTime ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(low);
    if (n.kind == PlanNode::Kind::kSink) {
      // What each worker's instance holds back until the commit.
      nlohmann::ordered_json held = nlohmann::ordered_json::object();
      for (size_t w = 0; w < saved.size(); ++w) {
        std::string text;
        try {
          text = n.sink->DescribeState(saved[w][i].sink_state);
        } catch (const std::exception& e) {
          text = std::string("unreadable: ") + e.what();
        }
        if (!text.empty()) held["worker " + std::to_string(w)] = text;
      }
      if (!held.empty()) sinks[n.name] = held;
    }
    if (n.kind == PlanNode::Kind::kSource) {
      nlohmann::ordered_json positions = nlohmann::ordered_json::object();
      for (const auto& worker : saved)
        for (const auto& [key, text] : worker[i].position_texts) positions[key] = text;
      sources[n.name] = positions;
    }
    if (n.kind != PlanNode::Kind::kTransform) continue;
    for (size_t k = 0; k < n.steps.size(); ++k) {
      uint64_t bytes = 0;
      std::map<uint32_t, uint64_t> groups;
      for (const auto& worker : saved) {
        const SavedStep& snap = worker[i].steps[k];
        bytes += snap.global.size();
        for (uint32_t g = 0; g < kKeyGroups; ++g) {
          const uint64_t in_group = snap.groups[g].size() + snap.db_bytes[g];
          if (in_group == 0) continue;
          groups[g] += in_group;
          bytes += in_group;
        }
      }
      if (bytes == 0) continue;
      nlohmann::ordered_json op;
      op["node"] = n.name;
      op["step"] = k + 1;  // counted from 1, as configuration errors count steps
      op["name"] = n.steps[k].name;
      op["bytes"] = bytes;
      nlohmann::ordered_json by_group = nlohmann::ordered_json::object();
      for (const auto& [g, b] : groups) by_group[std::to_string(g)] = b;
      op["key_groups"] = by_group;
      operators.push_back(op);
    }
  }
  // What a restore checks before it trusts a worker state: its length and CRC.
  nlohmann::ordered_json files = nlohmann::ordered_json::array();
  for (size_t w = 0; w < states.size(); ++w)
    files.push_back({{"name", "worker-" + std::to_string(w) + ".state"},
                     {"bytes", states[w].size()},
                     {"crc32", Crc32(states[w])}});
  m["files"] = files;
  m["bytes"] = total + db_bytes;
  if (db_files > 0) {
    // rocksdb: the databases' files (operators' bytes above are estimates from
    // the databases); "shared" names the SST files kept outside this folder.
    m["state_files"] = {{"files", db_files}, {"bytes", db_bytes}};
    m["shared"] = shared;
  }
  m["sources"] = sources;
  m["watermarks"] = watermarks;
  m["operators"] = operators;
  if (!sinks.empty()) m["sinks"] = sinks;
  return m.dump(2) + "\n";
}

bool WriteCheckpoint(Shared& shared, int64_t id, const std::string& kind) {
  auto& ckpt = shared.checkpointing;
  const auto start = std::chrono::steady_clock::now();
  uint64_t uploaded = 0;
  auto done = [&](bool completed) {
    for (size_t w = 0; w < shared.dbs.size(); ++w) shared.dbs[w]->Done(id, ckpt.db_files[w], completed);
  };
  try {
    for (size_t w = 0; w < shared.dbs.size(); ++w)
      uploaded += shared.dbs[w]->Upload(*ckpt.store, id, ckpt.db_files[w]);
    for (size_t w = 0; w < ckpt.states.size(); ++w)
      ckpt.store->WriteWorker(id, static_cast<int>(w), ckpt.states[w]);
    MaybeCrash("after_state", id);
    // Only the process that holds the record may complete a checkpoint here:
    // after its partitions went to another member (a stall longer than the
    // group's session), this one's checkpoints fail instead of mixing files
    // with the new owner's (its sinks then publish nothing more).
    const checkpoint::RunningProcess holder = ckpt.store->Running();
    const checkpoint::RunningProcess self = checkpoint::RunningProcess::Self();
    if (holder.pid != 0 && (holder.pid != self.pid || (!holder.host.empty() && holder.host != self.host)))
      throw std::runtime_error("process " + std::to_string(holder.pid) + " on " + holder.host +
                               " writes these checkpoints now");
    ckpt.store->WriteManifest(id, ManifestJson(shared.plan, id, kind, ckpt.exactly_once, ckpt.states));
    MaybeCrash("after_manifest", id);
    ckpt.store->WriteRunning(checkpoint::RunningProcess::Self());  // renews the record
    ckpt.store->Retain(ckpt.retain);
  } catch (const std::exception& e) {
    log::Warn("", "checkpoint {} failed: {}; the job goes on", id, e.what());
    ckpt.failures.fetch_add(1);
    shared.metrics->CheckpointEnded(
        {id, kind, false, ckpt.started_ms, static_cast<double>(NowMs() - ckpt.started_ms), 0});
    done(false);
    return false;
  }
  done(true);
  ckpt.completed.fetch_add(1);
  uint64_t bytes = 0, files = 0;
  for (const auto& st : ckpt.states) bytes += st.size();
  for (const auto& list : ckpt.db_files)
    for (const auto& f : list) bytes += f.size, ++files;
  shared.metrics->CheckpointEnded(
      {id, kind, true, ckpt.started_ms, static_cast<double>(NowMs() - ckpt.started_ms), bytes});
  if (log::Enabled(log::Level::kInfo)) {
    // Written in: the store's part. Since the request: draining the queues,
    // the snapshots (the job is paused for all of it) and the writing.
    log::Info(
        "",
        "{} {} complete: {} bytes ({} state files, {} bytes uploaded), written in {:.1f} ms, {} ms since "
        "the request",
        kind, id, bytes, files, uploaded,
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count(),
        NowMs() - ckpt.started_ms);
  }
  return true;
}

std::optional<checkpoint::Loaded> OpenCheckpoints(const PipelinePlan& plan, const RunOptions& options,
                                                  Shared& shared, std::vector<SavedWorker>* saved) {
  auto& ckpt = shared.checkpointing;
  const CheckpointConfig& config = plan.checkpoint;
  if (!config.enabled() && options.restore_from.empty()) return std::nullopt;
  std::optional<checkpoint::Loaded> loaded;
  if (config.enabled()) {
    std::string error;
    std::shared_ptr<checkpoint::Store> store = checkpoint::OpenStore(
        checkpoint::StoreConfig{config.storage, config.endpoint, config.region, config.path_style}, &error);
    if (!store) throw RunError(ErrorKind::kExternal, error);
    ckpt.store = std::make_unique<checkpoint::Checkpoints>(std::move(store), plan.CheckpointName());
    ckpt.enabled = true;
    shared.metrics->EnableCheckpoints();
    ckpt.exactly_once = config.exactly_once;
    ckpt.interval_ms = config.interval_ms;
    ckpt.timeout_ms = config.timeout_ms;
    ckpt.retain = config.retain;
    ckpt.states.resize(static_cast<size_t>(shared.workers));
    ckpt.db_files.resize(static_cast<size_t>(shared.workers));
    ckpt.resumed.store(shared.workers);
    ckpt.started_ms = NowMs();
    ckpt.next_id = ckpt.store->HighestId() + 1;
    // `streamrun savepoint` finds the running job here. Two processes writing
    // one set of checkpoints would number theirs after each other's, and each
    // newest checkpoint would hold one process's positions only: a second
    // process is refused while the first lives (on another host: while it
    // renewed its record within three intervals, at least a minute).
    checkpoint::RunningProcess other;
    try {
      other = ckpt.store->Running();
    } catch (const std::exception& e) {
      throw RunError(ErrorKind::kExternal, std::string("checkpoint storage: ") + e.what());
    }
    const int64_t stale_ms = options.lease_stale_ms > 0 ? options.lease_stale_ms
                                                        : std::max<int64_t>(60000, 3 * config.interval_ms);
    if (other.OtherAndAlive(checkpoint::RunningProcess::Self().renewed_ms, stale_ms))
      throw RunError(
          ErrorKind::kConfig,
          "process " + std::to_string(other.pid) + (other.host.empty() ? "" : " on " + other.host) +
              " already writes the checkpoints of '" + plan.CheckpointName() + "' in " + config.storage +
              "; to run several processes as one job give each its own member name "
              "(--member NAME or runtime.member; docs/scaling.md)");
    try {
      ckpt.store->WriteRunning(checkpoint::RunningProcess::Self());
    } catch (const std::exception& e) {
      throw RunError(ErrorKind::kExternal, std::string("checkpoint storage: ") + e.what());
    }
    if (options.restore_from.empty() && !options.ignore_checkpoints) {
      // The newest complete checkpoint that reads back whole: a damaged one
      // (a checksum that differs, a manifest that disagrees with its files) is
      // passed over with a warning that says what is wrong.
      const auto complete = ckpt.store->Complete();
      std::string reasons;
      for (auto id = complete.rbegin(); id != complete.rend() && !loaded; ++id) {
        try {
          checkpoint::Loaded candidate = ckpt.store->Load(*id);
          std::vector<SavedWorker> parsed;
          for (const auto& state : candidate.workers) parsed.push_back(ParseWorkerState(state));
          loaded = std::move(candidate);
          *saved = std::move(parsed);
        } catch (const std::exception& e) {
          const bool more = std::next(id) != complete.rend();
          log::Warn("", "checkpoint {} is damaged: {}; {}", *id, e.what(),
                    more ? "trying the one before it" : "no older one is left");
          reasons += std::string(reasons.empty() ? "" : "; ") + "checkpoint " + std::to_string(*id) + ": " +
                     e.what();
        }
      }
      if (!loaded && !complete.empty())
        throw RunError(
            ErrorKind::kExternal,
            "no complete checkpoint of '" + plan.CheckpointName() + "' can be restored (" + reasons +
                "); repair the store, restore one with --from, or start without them (a new storage)");
      if (loaded && loaded->id != complete.back()) {
        std::string keep;  // sinks whose published output a restore cannot take back
        for (const auto& n : plan.nodes)
          if (n.kind == PlanNode::Kind::kSink && !n.sink->TakesBackOutput())
            keep += (keep.empty() ? "" : ", ") + n.name;
        log::Warn("", "restoring checkpoint {}, older than the newest ({}){}", loaded->id, complete.back(),
                  keep.empty() ? ": the sinks are cut back to this checkpoint"
                               : "; sinks " + keep +
                                     " publish again what the newer checkpoints committed (at least once for "
                                     "that span); file sinks are cut back to this checkpoint");
      }
      return loaded;
    }
  }
  if (!options.restore_from.empty()) {
    try {
      loaded = checkpoint::LoadFolder(options.restore_from);
      for (const auto& state : loaded->workers) saved->push_back(ParseWorkerState(state));
    } catch (const std::exception& e) {
      throw RunError(KindOf(e), "checkpoint " + options.restore_from + " cannot be restored: " + e.what());
    }
  }
  return loaded;
}

bool OpenStateDbs(const PipelinePlan& plan, const RunOptions& options, Shared& shared,
                  const std::optional<checkpoint::Loaded>& loaded, const std::vector<SavedWorker>& saved) {
  const std::string backend = options.state_backend.empty() ? plan.state_backend : options.state_backend;
  // Hot keys per worker and step: runtime.state.cache, else by backend.
  shared.state_cache_bytes =
      plan.state_cache_bytes.value_or(backend == "rocksdb" ? kRocksDbCacheBytes : kMemoryHotBytes);
  bool has_files = false;
  for (const auto& w : saved) has_files |= !w.db_files.empty();
  if (backend != "rocksdb") {
    if (has_files)
      throw RunError(ErrorKind::kExternal,
                     "checkpoint " + loaded->location +
                         " keeps its keyed state in RocksDB: restore it with runtime.state.backend: rocksdb");
    return false;
  }
  const std::string path = options.state_path.empty() ? plan.state_path : options.state_path;
  if (path.empty()) throw RunError(ErrorKind::kConfig, "runtime.state: backend rocksdb needs 'path'");
  shared.state_root = path + "/" + plan.CheckpointName();
  std::random_device random;
  char run_id[32];
  std::snprintf(run_id, sizeof run_id, "%08x%08x", random(), static_cast<unsigned>(NowMs()));
  const bool fetch = has_files && saved.size() == static_cast<size_t>(shared.workers);
  try {
    for (int w = 0; w < shared.workers; ++w) {
      static const std::vector<DbFile> kNone;
      const auto& files = fetch ? saved[static_cast<size_t>(w)].db_files : kNone;
      shared.dbs.push_back(std::make_unique<WorkerDb>(shared.state_root + "/worker-" + std::to_string(w),
                                                      run_id, w, files,
                                                      loaded ? loaded->read_file : nullptr));
    }
  } catch (const std::exception& e) {
    shared.dbs.clear();  // a restore that failed leaves no copied files behind
    std::error_code ec;
    std::filesystem::remove_all(shared.state_root, ec);
    throw RunError(KindOf(e), (loaded ? "checkpoint " + loaded->location + ": " : std::string()) +
                                  "rocksdb state: " + e.what());
  }
  return fetch;
}

void ReshardStateDbs(const PipelinePlan& plan, Shared& shared, const checkpoint::Loaded& loaded,
                     const std::vector<SavedWorker>& saved) {
  for (size_t from = 0; from < saved.size(); ++from) {
    if (saved[from].db_files.empty()) continue;
    const std::string dir = shared.state_root + "/restore-" + std::to_string(from);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    try {
      FetchDb(saved[from].db_files, loaded.read_file, dir);
      RocksStateDb old(dir);
      old.ForEach([&](uint32_t group, uint32_t op, std::string_view key, std::string_view value) {
        const auto [node, step] = NodeAndStep(op);
        if (node >= plan.nodes.size() || step >= plan.nodes[node].steps.size())
          throw RunError(ErrorKind::kExternal, "checkpoint " + loaded.location +
                                                   " is of another pipeline (state of operator " +
                                                   std::to_string(op) + ")");
        const int owner = shared.routing.OnWorker0(node, step) ? 0 : WorkerOfGroup(group, shared.workers);
        shared.dbs[static_cast<size_t>(owner)]->db().Put(group, op, key, value);
      });
    } catch (const RunError&) {
      std::filesystem::remove_all(dir, ec);  // leave no copied files behind
      throw;
    } catch (const std::exception& e) {
      std::filesystem::remove_all(dir, ec);
      throw RunError(KindOf(e), "checkpoint " + loaded.location + ": rocksdb state: " + e.what());
    }
    std::filesystem::remove_all(dir, ec);
  }
  for (auto& db : shared.dbs) db->db().Flush();
}

}  // namespace runtime

std::map<std::string, std::vector<std::string>> DescribeSinkStates(
    const PipelinePlan& plan, const std::vector<std::string>& worker_states) {
  return runtime::SinkStateTexts(plan, worker_states);
}

}  // namespace streamrun
