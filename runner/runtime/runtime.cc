#include "runner/runtime/runtime.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <thread>

#include "runner/checkpoint/checkpoints.h"
#include "runner/expr/expr.h"
#include "runner/record/checksum.h"
#include "runner/record/clock.h"
#include "runner/record/json_decoder.h"
#include "runner/record/json_writer.h"
#include "runner/runtime/message_queue.h"
#include "runner/runtime/routing.h"
#include "runner/runtime/state_files.h"
#include "runner/state/keyed_state.h"

namespace streamrun {

std::string DeadLetterJson(const RecordError& error, const std::string& source_name,
                           const std::string& position_text, const std::string& node_name) {
  std::string out = "{\"error\":";
  AppendJsonString(error.message, &out);
  out += ",\"node\":";
  AppendJsonString(node_name, &out);
  out += ",\"source\":";
  AppendJsonString(source_name, &out);
  out += ",\"position\":";
  AppendJsonString(position_text, &out);
  if (error.position.source >= 0) {  // a row a step made has no place in a source
    out += ",\"partition\":" + std::to_string(error.position.partition);
    out += ",\"offset\":" + std::to_string(error.position.offset);
  }
  if (error.position.line > 0) out += ",\"line\":" + std::to_string(error.position.line);
  out += ",\"raw\":";
  AppendJsonString(error.raw, &out);
  out += "}";
  return out;
}

namespace {

constexpr size_t kQueueCapacity = 64;

// The worker that owns a record's key group: contiguous ranges of groups, so a
// restore at another parallelism moves whole groups.
int WorkerOfGroup(uint32_t group, int workers) {
  return static_cast<int>(group * static_cast<uint32_t>(workers) / kKeyGroups);
}
int WorkerOfKey(uint64_t key_hash, int workers) { return WorkerOfGroup(KeyGroupOf(key_hash), workers); }

// A step's operator id in the rocksdb state (its node and place in the node).
uint32_t OperatorId(size_t node, size_t step) { return static_cast<uint32_t>(node << 12 | step); }
std::pair<size_t, size_t> NodeAndStep(uint32_t op) { return {op >> 12, op & 0xFFF}; }

Batch DeepCopy(const Batch& src) {
  Batch dst(src.width());
  dst.Reserve(src.size());
  for (uint32_t i = 0; i < src.size(); ++i) CopyRow(src, i, dst);
  return dst;
}

// What all workers share: the queues between them and the run's progress.
struct Shared {
  Shared(const PipelinePlan& p, const RunOptions& o, int w) : plan(p), options(o), workers(w), routing(p, w) {
    queues.resize(w);
    for (int from = 0; from < w; ++from)
      for (int to = 0; to < w; ++to) queues[from].push_back(std::make_unique<MessageQueue>(kQueueCapacity));
  }
  const PipelinePlan& plan;
  const RunOptions& options;
  const int workers;
  const Routing routing;  // where records are at each step, and their exchanges
  std::vector<std::vector<std::unique_ptr<MessageQueue>>> queues;  // [from][to]
  std::atomic<int> active_sources{0};                              // (worker, source) pairs still reading
  std::atomic<int64_t> inflight{0};                                // messages sent and not yet processed
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::string error;

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

// Debug aid for the crash tests: STREAMRUN_CRASH_AT=POINT:N ends the process at
// once (as SIGKILL would) when checkpoint N reaches POINT: after_snapshot,
// after_state (worker states written, no manifest), after_manifest (before any
// sink commits), after_commit.
void MaybeCrash(const char* point, int64_t id) {
  static const char* spec = std::getenv("STREAMRUN_CRASH_AT");
  if (!spec) return;
  const std::string want = std::string(point) + ":" + std::to_string(id);
  if (want == spec) {
    std::fprintf(stderr, "streamrun: crash point %s reached\n", spec);
    std::fflush(stderr);
    ::_exit(137);
  }
}

// The kind of node a worker state's section is for.
enum SavedKind : uint64_t { kSavedSource = 0, kSavedTransform = 1, kSavedSink = 2 };
// The first bytes of a worker state: its format, so a state of another
// streamrun version is refused by name rather than misread.
constexpr std::string_view kWorkerStateTag = "streamrun-worker-state/2";

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
  std::vector<SavedNode> nodes;
  std::vector<DbFile> db_files;
};

SavedWorker ParseWorkerState(std::string_view bytes) {
  SnapshotReader r(bytes);
  if (r.Str() != kWorkerStateTag)
    throw SnapshotError("a worker state of another format (not " + std::string(kWorkerStateTag) +
                        "): restore it with the streamrun that wrote it, or start without it");
  SavedWorker worker;
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

// The manifest: what `streamrun checkpoints inspect` shows, and the worker count
// a restore needs. Written last: the checkpoint is complete once it exists.
std::string ManifestJson(const PipelinePlan& plan, int64_t id, const std::string& kind, bool exactly_once,
                         const std::vector<std::string>& states) {
  nlohmann::ordered_json m;
  m["format"] = checkpoint::kManifestFormat;
  m["id"] = id;
  m["pipeline"] = plan.name;
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
      if (f.ref.rfind("../shared/", 0) == 0) shared.push_back(f.ref);
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

// Worker 0, with every worker's state in: writes the states, then the manifest,
// then trims old checkpoints. False (and a log line) if the store failed: the
// job goes on, and the next checkpoint covers what this one would have.
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
    ckpt.store->WriteManifest(id, ManifestJson(shared.plan, id, kind, ckpt.exactly_once, ckpt.states));
    MaybeCrash("after_manifest", id);
    ckpt.store->Retain(ckpt.retain);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "streamrun: checkpoint %lld failed: %s; the job goes on\n",
                 static_cast<long long>(id), e.what());
    ckpt.failures.fetch_add(1);
    done(false);
    return false;
  }
  done(true);
  ckpt.completed.fetch_add(1);
  if (std::getenv("STREAMRUN_LOG_CHECKPOINTS")) {
    uint64_t bytes = 0, files = 0;
    for (const auto& st : ckpt.states) bytes += st.size();
    for (const auto& list : ckpt.db_files)
      for (const auto& f : list) bytes += f.size, ++files;
    // Written in: the store's part. Since the request: draining the queues,
    // the snapshots (the job is paused for all of it) and the writing.
    std::fprintf(
        stderr,
        "streamrun: checkpoint %lld complete: %llu bytes (%llu state files, %llu bytes uploaded), written "
        "in %.1f ms, %lld ms since the request\n",
        static_cast<long long>(id), static_cast<unsigned long long>(bytes),
        static_cast<unsigned long long>(files), static_cast<unsigned long long>(uploaded),
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count(),
        static_cast<long long>(NowMs() - ckpt.started_ms));
  }
  return true;
}

class Worker {
 public:
  Worker(Shared& shared, int index)
      : shared_(shared), plan_(shared.plan), options_(shared.options), self_(index) {
    const int workers = shared.workers;
    stats_.nodes.resize(plan_.nodes.size());
    nodes_.resize(plan_.nodes.size());
    for (size_t i = 0; i < plan_.nodes.size(); ++i) {
      const PlanNode& n = plan_.nodes[i];
      NodeState& s = nodes_[i];
      s.channel_watermarks.assign(n.inputs.size(), kNoTime);
      switch (n.kind) {
        case PlanNode::Kind::kSource:
          s.source = n.source->Instantiate(*n.universe, n.source_index, self_, workers);
          break;
        case PlanNode::Kind::kTransform:
          for (const auto& step : n.steps) s.steps.push_back(step.plan->Instantiate());
          s.uses_db.assign(n.steps.size(), false);
          if (!shared.dbs.empty())
            for (size_t k = 0; k < n.steps.size(); ++k)
              s.uses_db[k] = s.steps[k]->UseStateDb(
                  StateDbContext{&shared.dbs[self_]->db(), OperatorId(i, k), shared.state_cache_bytes});
          if (n.rebase) s.rebase_decoder = std::make_unique<JsonDecoder>(n.input_universe->projection);
          for (size_t k = 0; k < n.steps.size(); ++k)
            s.outputs.push_back(StepOutput{this, static_cast<int>(i), static_cast<int>(k) + 1});
          s.exchange_watermarks.assign(n.steps.size() + 1, std::vector<int64_t>(workers, kNoTime));
          s.exchange_combined.assign(n.steps.size() + 1, kNoTime);
          break;
        case PlanNode::Kind::kSink:
          // Sinks run on worker 0, the others send it their records; a per-worker
          // sink (Kafka) has an instance on every worker.
          if (self_ == 0 || n.sink->PerWorker()) s.sink = n.sink->Instantiate(self_);
          break;
      }
    }
  }

  // Runs until every source of every worker is done and no message is in
  // flight, or until a stop request drains the same way without end of input.
  // Before the threads start: sources with no partition on this worker send
  // their end of input now, so no other worker ever judges records against a
  // watermark this worker holds back only because its thread has not run yet.
  //
  // Steps whose records are all on worker 0 (routing.h) never get a record
  // here: their inert instances on the other workers pass on the end of time
  // now, so the exchanges and transforms after them never wait for this worker.
  void Prime() {
    if (self_ != 0)
      for (size_t i = 0; i < plan_.nodes.size(); ++i)
        for (size_t k = 0; k < plan_.nodes[i].steps.size(); ++k)
          if (shared_.routing.exchange(i, k) == ExchangeKind::kGather)
            RunWatermark(static_cast<int>(i), static_cast<int>(k), kEndOfTime);
    for (size_t i = 0; i < plan_.nodes.size(); ++i) {
      if (plan_.nodes[i].kind != PlanNode::Kind::kSource) continue;
      if (!nodes_[i].source->Empty()) {
        active_.push_back(static_cast<int>(i));
        continue;
      }
      bool read = false;
      ReadSource(static_cast<int>(i), &read);
      shared_.active_sources.fetch_sub(1);
    }
  }
  // Single-threaded, during priming: hands on and takes in what is queued.
  bool Exchange() {
    bool progress = FlushOverflow();
    progress |= DrainIncoming();
    return progress;
  }

  void Run() {
    std::vector<int>& active = active_;
    int64_t last_tick = 0;
    bool& stopped = stopped_;
    auto& ckpt = shared_.checkpointing;
    while (!shared_.failed.load(std::memory_order_relaxed)) {
      bool progress = FlushOverflow();
      progress |= DrainIncoming();
      if (ckpt.enabled) {
        if (self_ == 0) MaybeStartCheckpoint();
        const int64_t requested = ckpt.requested.load();
        if (requested > checkpoint_done_) {
          // A checkpoint is in progress: read nothing, fire no timers.
          progress |= CheckpointStep(requested);
          if (!progress) std::this_thread::sleep_for(std::chrono::microseconds(50));
          continue;
        }
      }
      if (!stopped && options_.stop && options_.stop->load(std::memory_order_relaxed)) {
        // Stop reading; open windows stay as they are (no end of input).
        stopped = true;
        shared_.active_sources.fetch_sub(static_cast<int>(active.size()));
        active.clear();
      }
      bool read = false;
      // A worker with messages it could not hand on reads nothing new: that is
      // how a full queue pushes back on the sources.
      if (overflow_.empty()) {
        for (size_t k = 0; k < active.size();) {
          int node = active[k];
          bool more = ReadSource(node, &read);
          if (!more) {
            active.erase(active.begin() + static_cast<long>(k));
            shared_.active_sources.fetch_sub(1);
          } else {
            ++k;
          }
        }
      }
      progress |= read;
      int64_t now = NowMs();
      if (now - last_tick >= 50) {
        last_tick = now;
        ProcessingTime(now);
      }
      if (!progress) {
        if (overflow_.empty() && shared_.active_sources.load() == 0 && shared_.inflight.load() == 0) {
          ckpt.exited.fetch_add(1);
          break;
        }
        for (auto& n : nodes_)
          if (n.sink) n.sink->Flush();
        std::this_thread::sleep_for(std::chrono::microseconds(active.empty() ? 200 : 20));
      }
    }
  }

  // Worker 0: asks for the next checkpoint once the interval has passed and
  // every worker is done with the last one; none near the end (a final one follows).
  void MaybeStartCheckpoint() {
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

  // One turn of checkpoint `id` on this worker; true if it did something.
  bool CheckpointStep(int64_t id) {
    auto& ckpt = shared_.checkpointing;
    const int workers = shared_.workers;
    bool progress = false;
    if (checkpoint_paused_ < id && overflow_.empty()) {
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
        if (ckpt.exited.load() == 0)
          std::fprintf(stderr, "streamrun: checkpoint %lld timed out; the job goes on\n",
                       static_cast<long long>(id));
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
          throw RunError("simulated crash after checkpoint " + std::to_string(id));
      }
      checkpoint_done_ = id;
      ckpt.resumed.fetch_add(1);
      progress = true;
    }
    return progress;
  }

  bool stopped() const { return stopped_; }

  // After a run that ended with its input (no stop): every transform must have
  // seen the end of time, or records may still sit in open windows. Names the
  // first that did not (an internal error: it would be silent loss).
  std::string HeldBack() const {
    for (size_t i = 0; i < plan_.nodes.size(); ++i)
      if (plan_.nodes[i].kind == PlanNode::Kind::kTransform && nodes_[i].watermark != kEndOfTime)
        return "transform '" + plan_.nodes[i].name + "' on worker " + std::to_string(self_) +
               " ended with its watermark at " + std::to_string(nodes_[i].watermark);
    return {};
  }

  void CloseSources() {
    for (auto& n : nodes_)
      if (n.source) n.source->Close();
  }

  void CloseSinks() {
    for (auto& n : nodes_)
      if (n.sink) n.sink->Close();
  }

  RunStats& stats() { return stats_; }

  // ---- checkpoints ----------------------------------------------------------

  // This worker's state for checkpoint `id`; only while nothing is in flight.
  // Per node: its name and watermark, then a source's positions, a transform's
  // input watermarks and each step's state by key group, or a sink's pre-commit.
  std::string Snapshot(int64_t id) {
    std::string out;
    SnapshotWriter w(&out);
    w.Str(kWorkerStateTag);
    w.U64(plan_.nodes.size());
    for (size_t i = 0; i < plan_.nodes.size(); ++i) {
      const PlanNode& n = plan_.nodes[i];
      NodeState& s = nodes_[i];
      w.Str(n.name);
      w.I64(s.watermark);
      switch (n.kind) {
        case PlanNode::Kind::kSource: {
          w.U64(kSavedSource);
          std::map<std::string, SourceInstance::SavedPosition> positions;
          s.source->SnapshotPositions(&positions);
          w.U64(positions.size());
          for (const auto& [key, saved] : positions) {
            w.Str(key);
            w.Str(saved.bytes);
            w.Str(saved.text);
          }
          break;
        }
        case PlanNode::Kind::kTransform: {
          w.U64(kSavedTransform);
          w.U64(s.channel_watermarks.size());
          for (int64_t c : s.channel_watermarks) w.I64(c);
          w.U64(s.steps.size());
          for (size_t k = 0; k < s.steps.size(); ++k) {
            StateSnapshot snap;
            // An inert instance (its step runs on worker 0) holds nothing, and
            // its watermark is the end of time: it must not reach the restore.
            if (self_ == 0 || !shared_.routing.OnWorker0(i, k)) s.steps[k]->Snapshot(snap);
            uint64_t used = 0;
            for (const auto& g : snap.groups) used += !g.empty();
            w.U64(used);
            for (uint32_t g = 0; g < kKeyGroups; ++g) {
              if (snap.groups[g].empty()) continue;
              w.U64(g);
              w.Str(snap.groups[g]);
            }
            w.Str(snap.global);
            // rocksdb: the step's size per key group in the database.
            std::vector<std::pair<uint32_t, uint64_t>> db_bytes;
            if (s.uses_db[k]) {
              RocksStateDb& db = shared_.dbs[self_]->db();
              db.Flush();
              for (uint32_t g = 0; g < kKeyGroups; ++g)
                if (uint64_t b = db.ApproximateBytes(g, OperatorId(i, k))) db_bytes.emplace_back(g, b);
            }
            w.U64(db_bytes.size());
            for (const auto& [g, b] : db_bytes) {
              w.U64(g);
              w.U64(b);
            }
          }
          break;
        }
        case PlanNode::Kind::kSink:
          w.U64(kSavedSink);
          w.Bool(s.sink != nullptr);
          if (s.sink) w.Str(s.sink->PreCommit(id));
          break;
      }
    }
    // rocksdb: the database, copied whole once every step has written to it.
    std::vector<DbFile> files;
    if (!shared_.dbs.empty()) files = shared_.dbs[self_]->Take(id, shared_.checkpointing.kind == "savepoint");
    SaveDbFiles(files, w);
    if (!shared_.dbs.empty()) shared_.checkpointing.db_files[self_] = std::move(files);
    return out;
  }

  // Before the run: this worker's share of a checkpoint taken by `saved.size()`
  // workers (any number). Sources take the positions of the partitions they
  // read now; steps the key groups this worker owns now (all of them for a step
  // that gathers on worker 0); watermarks start at the lowest any worker had.
  void Restore(const std::vector<SavedWorker>& saved) {
    for (const auto& worker : saved) {
      if (worker.nodes.size() != plan_.nodes.size())
        throw RunError("the checkpoint is of another pipeline: it has " +
                       std::to_string(worker.nodes.size()) + " nodes, this pipeline " +
                       std::to_string(plan_.nodes.size()));
      for (size_t i = 0; i < worker.nodes.size(); ++i)
        if (worker.nodes[i].name != plan_.nodes[i].name)
          throw RunError("the checkpoint is of another pipeline: it has node '" +
                         std::string(worker.nodes[i].name) + "' where this one has '" + plan_.nodes[i].name +
                         "'");
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
          for (auto& channels : s.exchange_watermarks) std::fill(channels.begin(), channels.end(), watermark);
          std::fill(s.exchange_combined.begin(), s.exchange_combined.end(), watermark);
          for (size_t k = 0; k < s.steps.size(); ++k) {
            StateRestore in;
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
            s.steps[k]->Restore(in);
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

  // Exactly once: sinks hold output back until checkpoints complete.
  void BeginExactlyOnce() {
    StartSinks(
        [](SinkInstance& sink, const std::vector<std::string>& states) { sink.BeginExactlyOnce(states); });
  }

  // At least once after a restore: sinks go on with their output (and publish
  // what an exactly-once checkpoint held back).
  void ResumeAtLeastOnce() {
    StartSinks(
        [](SinkInstance& sink, const std::vector<std::string>& states) { sink.ResumeAtLeastOnce(states); });
  }

  // Calls `start` on each sink of this worker with the states it restored.
  template <typename F>
  void StartSinks(F&& start) {
    static const std::vector<std::string> kNone;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (!nodes_[i].sink) continue;
      auto it = recovered_sinks_.find(i);
      start(*nodes_[i].sink, it == recovered_sinks_.end() ? kNone : it->second);
    }
  }

  void CommitSinks(int64_t id) {
    for (auto& n : nodes_)
      if (n.sink) n.sink->Commit(id);
  }

 private:
  struct StepOutput : Emitter {
    StepOutput(Worker* w, int node, int next) : worker(w), node(node), next_step(next) {}
    void Emit(Batch& batch) override { worker->ToStep(node, next_step, batch); }
    void EmitWatermark(int64_t watermark) override { worker->WatermarkToStep(node, next_step, watermark); }
    void EmitLate(Batch& batch) override { worker->Push(node, kLatePort, batch); }
    Worker* worker;
    int node;
    int next_step;
  };

  struct NodeState {
    std::unique_ptr<SourceInstance> source;
    std::vector<std::unique_ptr<StepInstance>> steps;
    std::vector<StepOutput> outputs;                        // outputs[k]: where step k emits
    std::vector<std::vector<int64_t>> exchange_watermarks;  // [step][sending worker]
    std::vector<int64_t> exchange_combined;                 // [step]: minimum passed on
    std::unique_ptr<JsonDecoder> rebase_decoder;
    std::unique_ptr<SinkInstance> sink;
    std::vector<int64_t> channel_watermarks;  // per input
    int64_t watermark = kNoTime;              // the minimum over the inputs, as passed on
    std::vector<bool> uses_db;                // [step]: keeps its keyed state in the worker's database
    std::string scratch;
  };

  // ---- sources --------------------------------------------------------------

  // One batch from a source; false once it is exhausted (its end of input sent).
  bool ReadSource(int node, bool* read) {
    Batch batch(static_cast<uint32_t>(plan_.nodes[node].universe->width));
    batch.Reserve(options_.batch_size);
    errors_.Clear();
    bool more = nodes_[node].source->Next(batch, options_.batch_size, errors_);
    if (!errors_.empty()) HandleErrors(node, errors_);
    if (!batch.empty()) {
      *read = true;
      shared_.records_read.fetch_add(batch.size(), std::memory_order_relaxed);
      stats_.nodes[node].records_out += batch.size();
      Push(node, kMainPort, batch);
    }
    int64_t watermark = more ? nodes_[node].source->Watermark(NowMs()) : kEndOfTime;
    if (watermark > nodes_[node].watermark) {
      nodes_[node].watermark = watermark;
      PushWatermark(node, watermark);
    }
    return more;
  }

  // ---- messages between workers --------------------------------------------

  void Send(int to, Message m) {
    shared_.inflight.fetch_add(1);
    if (overflow_.empty() && shared_.queues[self_][to]->TryPush(m)) return;
    ++stats_.queue_full;
    overflow_.emplace_back(to, std::move(m));
  }

  // Hands queued-up messages on, in order per destination.
  bool FlushOverflow() {
    if (overflow_.empty()) return false;
    bool moved = false;
    std::vector<bool> blocked(shared_.workers, false);
    for (auto it = overflow_.begin(); it != overflow_.end();) {
      int to = it->first;
      if (!blocked[to] && shared_.queues[self_][to]->TryPush(it->second)) {
        it = overflow_.erase(it);
        moved = true;
      } else {
        blocked[to] = true;
        ++it;
      }
    }
    return moved;
  }

  bool DrainIncoming() {
    bool any = false;
    Message m;
    for (int from = 0; from < shared_.workers; ++from) {
      if (from == self_) continue;
      MessageQueue& q = *shared_.queues[from][self_];
      for (int k = 0; k < 16 && q.TryPop(&m); ++k) {
        any = true;
        Receive(from, m);
        shared_.inflight.fetch_sub(1);
      }
    }
    return any;
  }

  void Receive(int from, Message& m) {
    switch (m.kind) {
      case Message::Kind::kBatch:
        ArriveAtStep(m.node, m.step, from, m.batch);
        break;
      case Message::Kind::kWatermark:
        WatermarkArrives(m.node, m.step, from, m.watermark);
        break;
      case Message::Kind::kSinkBatch:
        WriteSink(m.node, m.from, m.port, m.batch);
        break;
      case Message::Kind::kDeadLetters:
        WriteDeadLetters(m.dead_letters);
        break;
    }
  }

  // ---- records through the graph -------------------------------------------

  // Sends `batch`, produced by `node` on `port`, to every consumer of that port.
  // The last consumer gets the batch itself; the others get copies sharing its arena.
  void Push(int node, int port, Batch& batch) {
    const PlanNode& n = plan_.nodes[node];
    const auto& consumers = port == kLatePort ? n.late_consumers : n.consumers;
    if (port == kLatePort && consumers.empty()) {
      stats_.records_late_dropped += batch.size();
      return;
    }
    for (size_t c = 0; c < consumers.size(); ++c) {
      if (c + 1 == consumers.size()) {
        Deliver(consumers[c], node, port, batch);
      } else {
        Batch copy = batch.ShallowCopy();
        Deliver(consumers[c], node, port, copy);
      }
    }
  }

  // The index of (from, port) among `node`'s inputs.
  size_t Channel(int node, int from, int port) const {
    const PlanNode& n = plan_.nodes[node];
    for (size_t c = 0; c < n.inputs.size(); ++c)
      if (n.inputs[c] == from && n.input_ports[c] == port) return c;
    return 0;
  }

  // Each record is judged against the minimum over the channels, with its own
  // channel at the watermark the record carries.
  static void CombineWatermarks(std::vector<int64_t>& channels, size_t channel, Batch& batch) {
    for (uint32_t i = 0; i < batch.size(); ++i) {
      channels[channel] = std::max(channels[channel], batch.watermark(i));
      batch.set_watermark(i, *std::min_element(channels.begin(), channels.end()));
    }
  }

  void Deliver(int node, int from, int port, Batch& batch) {
    const PlanNode& n = plan_.nodes[node];
    if (n.kind == PlanNode::Kind::kSink) {
      if (self_ == 0 || n.sink->PerWorker()) {
        WriteSink(node, from, port, batch);
      } else {
        Message m;
        m.kind = Message::Kind::kSinkBatch;
        m.node = node;
        m.from = from;
        m.port = port;
        m.batch = DeepCopy(batch);
        Send(0, std::move(m));
      }
      return;
    }
    stats_.nodes[node].records_in += batch.size();
    if (n.inputs.size() > 1)
      CombineWatermarks(nodes_[node].channel_watermarks, Channel(node, from, port), batch);
    if (n.rebase) {
      Batch rebased = Rebase(node, plan_.nodes[from].OutputView(port), batch);
      ToStep(node, 0, rebased);
      return;
    }
    ToStep(node, 0, batch);
  }

  void WriteSink(int node, int from, int port, const Batch& batch) {
    stats_.nodes[node].records_in += batch.size();
    RecordErrors errors;
    nodes_[node].sink->Write(batch, plan_.nodes[from].OutputView(port), errors);
    stats_.nodes[node].records_out += batch.size() - errors.list().size();
    if (!errors.empty()) HandleErrors(node, errors);
  }

  // Records on their way to step `step` of transform `node`: across an
  // exchange when there is one before that step.
  void ToStep(int node, int step, Batch& batch) {
    const ExchangeKind exchange =
        shared_.routing.exchange(static_cast<size_t>(node), static_cast<size_t>(step));
    if (exchange == ExchangeKind::kNone) {
      RunSteps(node, step, batch);
      return;
    }
    const int workers = shared_.workers;
    if (exchange == ExchangeKind::kGather && self_ == 0) {
      ArriveAtStep(node, step, self_, batch);
      return;
    }
    // Split by destination worker.
    parts_.clear();
    parts_.resize(workers);
    Batch local = Batch(batch.width());
    bool any_local = false;
    for (uint32_t i = 0; i < batch.size(); ++i) {
      int to = exchange == ExchangeKind::kGather ? 0 : WorkerOfKey(batch.key_hash(i), workers);
      if (to == self_) {
        if (!any_local) local = Batch(batch.width());
        any_local = true;
        CopyRow(batch, i, local);
      } else {
        if (parts_[to].width() != batch.width()) parts_[to] = Batch(batch.width());
        CopyRow(batch, i, parts_[to]);
      }
    }
    for (int to = 0; to < workers; ++to) {
      if (to == self_ || parts_[to].empty()) continue;
      Message m;
      m.kind = Message::Kind::kBatch;
      m.node = node;
      m.step = step;
      m.batch = std::move(parts_[to]);
      parts_[to] = Batch();
      Send(to, std::move(m));
    }
    if (any_local) ArriveAtStep(node, step, self_, local);
  }

  void ArriveAtStep(int node, int step, int from_worker, Batch& batch) {
    CombineWatermarks(nodes_[node].exchange_watermarks[step], static_cast<size_t>(from_worker), batch);
    RunSteps(node, step, batch);
  }

  void RunSteps(int node, int step, Batch& batch) {
    const PlanNode& n = plan_.nodes[node];
    if (step == static_cast<int>(n.steps.size())) {
      stats_.nodes[node].records_out += batch.size();
      if (!batch.empty()) Push(node, kMainPort, batch);
      return;
    }
    RecordErrors errors;
    StepEnv env{NowMs(), &errors};
    nodes_[node].steps[step]->Process(batch, env, nodes_[node].outputs[step]);
    if (!errors.empty()) HandleErrors(node, errors);
  }

  // ---- watermarks ------------------------------------------------------------

  // Sends a watermark from `node` to the consumers of both its ports.
  void PushWatermark(int node, int64_t watermark) {
    const PlanNode& n = plan_.nodes[node];
    for (int c : n.consumers) DeliverWatermark(c, node, kMainPort, watermark);
    for (int c : n.late_consumers) DeliverWatermark(c, node, kLatePort, watermark);
  }

  void DeliverWatermark(int node, int from, int port, int64_t watermark) {
    const PlanNode& n = plan_.nodes[node];
    if (n.kind != PlanNode::Kind::kTransform) return;
    NodeState& s = nodes_[node];
    size_t c = Channel(node, from, port);
    s.channel_watermarks[c] = std::max(s.channel_watermarks[c], watermark);
    int64_t combined = *std::min_element(s.channel_watermarks.begin(), s.channel_watermarks.end());
    if (combined <= s.watermark) return;
    s.watermark = combined;
    WatermarkToStep(node, 0, combined);
  }

  void WatermarkToStep(int node, int step, int64_t watermark) {
    const ExchangeKind exchange =
        shared_.routing.exchange(static_cast<size_t>(node), static_cast<size_t>(step));
    if (exchange == ExchangeKind::kNone) {
      RunWatermark(node, step, watermark);
      return;
    }
    // Every receiver of this exchange hears every worker's watermark.
    for (int to = 0; to < shared_.workers; ++to) {
      if (to == self_ || (exchange == ExchangeKind::kGather && to != 0)) continue;
      Message m;
      m.kind = Message::Kind::kWatermark;
      m.node = node;
      m.step = step;
      m.watermark = watermark;
      Send(to, std::move(m));
    }
    if (exchange == ExchangeKind::kKeyed || self_ == 0) WatermarkArrives(node, step, self_, watermark);
  }

  void WatermarkArrives(int node, int step, int from_worker, int64_t watermark) {
    NodeState& s = nodes_[node];
    auto& channels = s.exchange_watermarks[step];
    channels[from_worker] = std::max(channels[from_worker], watermark);
    int64_t combined = *std::min_element(channels.begin(), channels.end());
    if (combined <= s.exchange_combined[step]) return;
    s.exchange_combined[step] = combined;
    RunWatermark(node, step, combined);
  }

  void RunWatermark(int node, int step, int64_t watermark) {
    const PlanNode& n = plan_.nodes[node];
    if (step == static_cast<int>(n.steps.size())) {
      PushWatermark(node, watermark);
      return;
    }
    RecordErrors errors;
    StepEnv env{NowMs(), &errors};
    nodes_[node].steps[step]->OnWatermark(watermark, env, nodes_[node].outputs[step]);
    if (!errors.empty()) HandleErrors(node, errors);
  }

  void ProcessingTime(int64_t now) {
    for (size_t i = 0; i < plan_.nodes.size(); ++i) {
      for (size_t k = 0; k < nodes_[i].steps.size(); ++k) {
        RecordErrors errors;
        StepEnv env{now, &errors};
        nodes_[i].steps[k]->OnProcessingTime(now, env, nodes_[i].outputs[k]);
        if (!errors.empty()) HandleErrors(static_cast<int>(i), errors);
      }
    }
  }

  // Re-encodes records through the producer's view and decodes them into
  // `node`'s own slots.
  Batch Rebase(int node, const RecordView& view, const Batch& batch) {
    const PlanNode& n = plan_.nodes[node];
    Batch out(static_cast<uint32_t>(n.input_universe->width));
    out.Reserve(batch.size());
    std::string& text = nodes_[node].scratch;
    std::string error;
    for (uint32_t i = 0; i < batch.size(); ++i) {
      std::string_view raw = batch.raw(i);
      if (view.modified()) {
        text.clear();
        EncodeJson(view, batch.row(i), raw, &text);
        raw = text;
      }
      std::string_view copy = out.arena().Copy(raw, JsonPadding());
      uint32_t row = out.AddRow(copy, batch.position(i), batch.event_time(i));
      out.set_key_hash(row, batch.key_hash(i));
      out.set_watermark(row, batch.watermark(i));
      if (!nodes_[node].rebase_decoder->Decode(copy, out.row(row), out.arena(), &error)) {
        throw RunError("internal error: re-decoding a record for '" + n.name + "': " + error);
      }
    }
    return out;
  }

  // ---- record errors -----------------------------------------------------------

  void WriteDeadLetters(const std::vector<std::string>& records) {
    int dlq = plan_.dead_letter_sink;
    stats_.nodes[dlq].records_in += records.size();
    stats_.nodes[dlq].records_out += records.size();
    nodes_[dlq].sink->WriteEncoded(records);
  }

  void HandleErrors(int node, RecordErrors& errors) {
    const PlanNode& n = plan_.nodes[node];
    stats_.nodes[node].errors += errors.list().size();
    for (const RecordError& e : errors.list()) {
      const std::string& source_name = SourceName(e.position.source);
      std::string where = DescribePosition(e.position);
      std::string full = e.position.source < 0
                             ? "a row made by a step"
                             : where + " (partition " + std::to_string(e.position.partition) + ", offset " +
                                   std::to_string(e.position.offset) + ")";
      switch (plan_.error_policy) {
        case ErrorPolicy::kFail:
          throw RunError("record error in " + NodeLabel(n) + " at " + full + ": " + e.message);
        case ErrorPolicy::kSkip:
          ++stats_.records_skipped;
          break;
        case ErrorPolicy::kDeadLetter:
          dead_letters_.push_back(DeadLetterJson(e, source_name, where, n.name));
          ++stats_.records_dead_lettered;
          break;
      }
    }
    errors.Clear();
    if (!dead_letters_.empty()) {
      if (self_ == 0) {
        WriteDeadLetters(dead_letters_);
      } else {
        Message m;
        m.kind = Message::Kind::kDeadLetters;
        m.dead_letters = std::move(dead_letters_);
        Send(0, std::move(m));
      }
      dead_letters_.clear();
    }
  }

  const std::string& SourceName(int source_index) const {
    static const std::string kUnknown = "?";
    for (const auto& n : plan_.nodes)
      if (n.kind == PlanNode::Kind::kSource && n.source_index == source_index) return n.name;
    return kUnknown;
  }

  std::string DescribePosition(const RecordPosition& pos) const {
    for (size_t i = 0; i < plan_.nodes.size(); ++i) {
      const auto& n = plan_.nodes[i];
      if (n.kind == PlanNode::Kind::kSource && n.source_index == pos.source)
        return nodes_[i].source->DescribePosition(pos);
    }
    return "?";
  }

  static std::string NodeLabel(const PlanNode& n) {
    switch (n.kind) {
      case PlanNode::Kind::kSource:
        return "source '" + n.name + "'";
      case PlanNode::Kind::kTransform:
        return "transform '" + n.name + "'";
      case PlanNode::Kind::kSink:
        return "sink '" + n.name + "'";
    }
    return n.name;
  }

  Shared& shared_;
  const PipelinePlan& plan_;
  const RunOptions& options_;
  const int self_;
  RunStats stats_;
  std::deque<std::pair<int, Message>> overflow_;  // messages waiting for room in a full queue
  std::vector<int> active_;                       // source nodes this worker still reads
  bool stopped_ = false;                          // a stop request ended reading (open windows stay open)
  std::vector<Batch> parts_;
  std::vector<NodeState> nodes_;
  RecordErrors errors_;
  std::vector<std::string> dead_letters_;
  std::map<size_t, std::vector<std::string>> recovered_sinks_;  // node -> pre-commit states restored
  int64_t checkpoint_paused_ = 0;                               // the last checkpoint this worker paused for
  int64_t checkpoint_snapshotted_ = 0;                          // ... snapshotted for
  int64_t checkpoint_done_ = 0;                                 // ... is done with
  int savepoints_taken_ = 0;                                    // worker 0: savepoint requests served
};

}  // namespace

// Opens the pipeline's checkpoint store and reads the checkpoint to start
// from: the newest complete one, or `--from`; nullopt for a fresh start.
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
    if (!store) throw RunError(error);
    ckpt.store = std::make_unique<checkpoint::Checkpoints>(std::move(store), plan.name);
    ckpt.enabled = true;
    ckpt.exactly_once = config.exactly_once;
    ckpt.interval_ms = config.interval_ms;
    ckpt.timeout_ms = config.timeout_ms;
    ckpt.retain = config.retain;
    ckpt.states.resize(static_cast<size_t>(shared.workers));
    ckpt.db_files.resize(static_cast<size_t>(shared.workers));
    ckpt.resumed.store(shared.workers);
    ckpt.started_ms = NowMs();
    ckpt.next_id = ckpt.store->HighestId() + 1;
    // `streamrun savepoint` finds the running job here.
    try {
      ckpt.store->WriteRunning(std::to_string(::getpid()));
    } catch (const std::exception& e) {
      throw RunError(std::string("checkpoint storage: ") + e.what());
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
          std::fprintf(stderr, "streamrun: checkpoint %lld is damaged: %s; %s\n", static_cast<long long>(*id),
                       e.what(), more ? "trying the one before it" : "no older one is left");
          reasons += std::string(reasons.empty() ? "" : "; ") + "checkpoint " + std::to_string(*id) + ": " +
                     e.what();
        }
      }
      if (!loaded && !complete.empty())
        throw RunError("no complete checkpoint of '" + plan.name + "' can be restored (" + reasons +
                       "); repair the store, restore one with --from, or start without them (a new storage)");
      if (loaded && loaded->id != complete.back()) {
        std::string keep;  // sinks whose published output a restore cannot take back
        for (const auto& n : plan.nodes)
          if (n.kind == PlanNode::Kind::kSink && !n.sink->TakesBackOutput())
            keep += (keep.empty() ? "" : ", ") + n.name;
        std::fprintf(stderr, "streamrun: restoring checkpoint %lld, older than the newest (%lld)%s\n",
                     static_cast<long long>(loaded->id), static_cast<long long>(complete.back()),
                     keep.empty() ? ": the sinks are cut back to this checkpoint"
                                  : ("; sinks " + keep +
                                     " publish again what the newer checkpoints committed (at least once for "
                                     "that span); file sinks are cut back to this checkpoint")
                                        .c_str());
      }
      return loaded;
    }
  }
  if (!options.restore_from.empty()) {
    try {
      loaded = checkpoint::LoadFolder(options.restore_from);
      for (const auto& state : loaded->workers) saved->push_back(ParseWorkerState(state));
    } catch (const std::exception& e) {
      throw RunError("checkpoint " + options.restore_from + " cannot be restored: " + e.what());
    }
  }
  return loaded;
}

// The rocksdb backend: a database per worker under runtime.state.path. A
// checkpoint taken by as many workers as there are now is fetched file by file
// (true: restored); otherwise the databases start empty.
bool OpenStateDbs(const PipelinePlan& plan, const RunOptions& options, Shared& shared,
                  const std::optional<checkpoint::Loaded>& loaded, const std::vector<SavedWorker>& saved) {
  const std::string backend = options.state_backend.empty() ? plan.state_backend : options.state_backend;
  bool has_files = false;
  for (const auto& w : saved) has_files |= !w.db_files.empty();
  if (backend != "rocksdb") {
    if (has_files)
      throw RunError("checkpoint " + loaded->location +
                     " keeps its keyed state in RocksDB: restore it with runtime.state.backend: rocksdb");
    return false;
  }
  const std::string path = options.state_path.empty() ? plan.state_path : options.state_path;
  if (path.empty()) throw RunError("runtime.state: backend rocksdb needs 'path'");
  shared.state_root = path + "/" + plan.name;
  std::random_device random;
  char run_id[32];
  std::snprintf(run_id, sizeof run_id, "%08x%08x", random(), static_cast<unsigned>(NowMs()));
  const bool fetch = has_files && saved.size() == static_cast<size_t>(shared.workers);
  shared.state_cache_bytes = plan.state_cache_bytes;
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
    throw RunError((loaded ? "checkpoint " + loaded->location + ": " : std::string()) +
                   "rocksdb state: " + e.what());
  }
  return fetch;
}

// Restores `loaded` into the workers (and, when the databases were not fetched
// whole, copies every entry of the checkpoint's databases to the worker that
// owns its key group now); sinks go exactly once. Returns the id restored from
// (0: a fresh start).
int64_t RestoreCheckpoint(const PipelinePlan& plan, Shared& shared,
                          std::vector<std::unique_ptr<Worker>>& pool,
                          const std::optional<checkpoint::Loaded>& loaded,
                          const std::vector<SavedWorker>& saved, bool dbs_fetched) {
  auto& ckpt = shared.checkpointing;
  if (loaded) {
    if (!dbs_fetched && !shared.dbs.empty()) {
      for (size_t from = 0; from < saved.size(); ++from) {
        if (saved[from].db_files.empty()) continue;
        const std::string dir = shared.state_root + "/restore-" + std::to_string(from);
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
        try {
          FetchDb(saved[from].db_files, loaded->read_file, dir);
          RocksStateDb old(dir);
          old.ForEach([&](uint32_t group, uint32_t op, std::string_view key, std::string_view value) {
            const auto [node, step] = NodeAndStep(op);
            if (node >= plan.nodes.size() || step >= plan.nodes[node].steps.size())
              throw RunError("checkpoint " + loaded->location +
                             " is of another pipeline (state of operator " + std::to_string(op) + ")");
            const int owner = shared.routing.OnWorker0(node, step) ? 0 : WorkerOfGroup(group, shared.workers);
            shared.dbs[static_cast<size_t>(owner)]->db().Put(group, op, key, value);
          });
        } catch (const RunError&) {
          std::filesystem::remove_all(dir, ec);  // leave no copied files behind
          throw;
        } catch (const std::exception& e) {
          std::filesystem::remove_all(dir, ec);
          throw RunError("checkpoint " + loaded->location + ": rocksdb state: " + e.what());
        }
        std::filesystem::remove_all(dir, ec);
      }
      for (auto& db : shared.dbs) db->db().Flush();
    }
    try {
      for (auto& w : pool) w->Restore(saved);
    } catch (const SnapshotError& e) {
      // Checksums matched, so the state is as written, but not as this
      // pipeline reads it: say which checkpoint.
      throw RunError("checkpoint " + loaded->location + " cannot be restored: " + e.what());
    }
    ckpt.next_id = std::max(ckpt.next_id, loaded->id + 1);
    std::fprintf(stderr, "streamrun: restored checkpoint %lld from %s (%zu workers then, %d now)\n",
                 static_cast<long long>(loaded->id), loaded->location.c_str(), loaded->workers.size(),
                 shared.workers);
  }
  if (ckpt.enabled && ckpt.exactly_once)
    for (auto& w : pool) w->BeginExactlyOnce();
  else if (loaded)
    for (auto& w : pool) w->ResumeAtLeastOnce();
  return loaded ? loaded->id : 0;
}

std::map<std::string, std::vector<std::string>> DescribeSinkStates(
    const PipelinePlan& plan, const std::vector<std::string>& worker_states) {
  return SinkStateTexts(plan, worker_states);
}

RunStats Run(const PipelinePlan& plan, const RunOptions& options) {
  const int workers = std::max(1, options.parallelism > 0 ? options.parallelism : plan.parallelism);
  auto start = std::chrono::steady_clock::now();
  Shared shared(plan, options, workers);
  std::vector<std::unique_ptr<Worker>> pool;
  int sources = 0;
  for (const auto& n : plan.nodes) sources += n.kind == PlanNode::Kind::kSource;
  std::optional<checkpoint::Loaded> loaded;
  std::vector<SavedWorker> saved;
  bool dbs_fetched = false;
  try {
    loaded = OpenCheckpoints(plan, options, shared, &saved);
    dbs_fetched = OpenStateDbs(plan, options, shared, loaded, saved);
    for (int w = 0; w < workers; ++w) pool.push_back(std::make_unique<Worker>(shared, w));
  } catch (const RunError&) {
    throw;
  } catch (const std::exception& e) {
    throw RunError(e.what());
  }
  shared.active_sources.store(sources * workers);
  // However the run ends (but SIGKILL), it no longer runs: `streamrun savepoint`
  // must not find its pid.
  struct ClearRunning {
    checkpoint::Checkpoints* store;
    ~ClearRunning() {
      try {
        if (store) store->ClearRunning(std::to_string(::getpid()));
      } catch (...) {
      }
    }
  } clear_running{shared.checkpointing.store.get()};
  int64_t restored_from = 0;
  try {
    restored_from = RestoreCheckpoint(plan, shared, pool, loaded, saved, dbs_fetched);
    for (auto& w : pool) w->Prime();
    for (bool progress = true; progress;) {
      progress = false;
      for (auto& w : pool) progress |= w->Exchange();
    }
  } catch (const RunError&) {
    throw;
  } catch (const std::exception& e) {
    throw RunError(e.what());
  }
  auto body = [&shared](Worker* worker) {
    try {
      worker->Run();
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(shared.error_mutex);
      if (!shared.failed.exchange(true)) shared.error = e.what();
    }
  };
  std::vector<std::thread> threads;
  for (int w = 1; w < workers; ++w) threads.emplace_back(body, pool[w].get());
  body(pool[0].get());
  for (auto& t : threads) t.join();
  if (shared.failed.load()) throw RunError(shared.error);
  for (auto& w : pool) {
    if (w->stopped()) continue;
    const std::string held = w->HeldBack();
    if (!held.empty())
      throw RunError("internal error: the input ended but " + held +
                     ": its open windows never fired (please report this with the pipeline)");
  }
  try {
    // The final checkpoint (end of input, or a stop): everything is quiet now.
    auto& ckpt = shared.checkpointing;
    if (ckpt.enabled) {
      const int64_t id = ckpt.next_id++;
      ckpt.kind = "checkpoint";
      ckpt.started_ms = NowMs();
      for (int w = 0; w < workers; ++w) ckpt.states[w] = pool[w]->Snapshot(id);
      if (WriteCheckpoint(shared, id, "checkpoint"))
        for (auto& w : pool) w->CommitSinks(id);
    }
    for (auto& w : pool) w->CloseSources();
    for (auto& w : pool) w->CloseSinks();
  } catch (const std::exception& e) {
    throw RunError(e.what());
  }
  RunStats total = pool[0]->stats();
  for (int w = 1; w < workers; ++w) {
    const RunStats& s = pool[w]->stats();
    for (size_t i = 0; i < total.nodes.size(); ++i) {
      total.nodes[i].records_in += s.nodes[i].records_in;
      total.nodes[i].records_out += s.nodes[i].records_out;
      total.nodes[i].errors += s.nodes[i].errors;
    }
    total.records_skipped += s.records_skipped;
    total.records_dead_lettered += s.records_dead_lettered;
    total.records_late_dropped += s.records_late_dropped;
    total.queue_full += s.queue_full;
  }
  total.workers = workers;
  total.restored_from = restored_from;
  total.checkpoints = shared.checkpointing.completed.load();
  total.checkpoints_failed = shared.checkpointing.failures.load();
  total.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return total;
}

}  // namespace streamrun
