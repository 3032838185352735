// Run(): one run of a plan. Opens the checkpoint store and the state
// databases, restores, starts a worker per thread and waits for them, then
// takes the final checkpoint and adds up the workers' counts. The jobs live
// next to it: worker.{h,cc} (the loop), exchange.{h,cc} (between workers),
// worker_checkpoint.cc and checkpointing.{h,cc} (checkpoints),
// worker_state.{h,cc} (the format), error_policy.cc (record errors).
#include "runner/runtime/runtime.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "runner/log/log.h"
#include "runner/metrics/prometheus_server.h"
#include "runner/record/clock.h"
#include "runner/runtime/checkpointing.h"
#include "runner/runtime/worker.h"
#include "runner/ui/ui_server.h"

namespace streamrun {
namespace runtime {
namespace {

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
    if (!dbs_fetched && !shared.dbs.empty()) ReshardStateDbs(plan, shared, *loaded, saved);
    try {
      for (auto& w : pool) w->Restore(saved);
    } catch (const SnapshotError& e) {
      // Checksums matched, so the state is as written, but not as this
      // pipeline reads it: say which checkpoint.
      throw RunError(e.kind(), "checkpoint " + loaded->location + " cannot be restored: " + e.what());
    }
    ckpt.next_id = std::max(ckpt.next_id, loaded->id + 1);
    log::Info("", "restored checkpoint {} from {} ({} workers then, {} now)", loaded->id, loaded->location,
              loaded->workers.size(), shared.workers);
  }
  if (ckpt.enabled && ckpt.exactly_once)
    for (auto& w : pool) w->BeginExactlyOnce();
  else if (loaded)
    for (auto& w : pool) w->ResumeAtLeastOnce();
  return loaded ? loaded->id : 0;
}

}  // namespace
}  // namespace runtime

RunStats Run(const PipelinePlan& plan, const RunOptions& options) {
  using namespace runtime;
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
    shared.MakeRunShared();
    for (int w = 0; w < workers; ++w) pool.push_back(std::make_unique<Worker>(shared, w));
  } catch (const RunError&) {
    throw;
  } catch (const std::exception& e) {
    throw RunError(KindOf(e), e.what());
  }
  // /metrics and the web view, while the run runs: declared after the pool,
  // so they stop before the workers whose counts they read go away.
  std::unique_ptr<metrics::MetricsServer> metrics_server;
  std::unique_ptr<ui::UiServer> ui_server;
  struct PublishMetrics {
    const RunOptions& options;
    ~PublishMetrics() {
      if (options.on_metrics) options.on_metrics(nullptr);
    }
  } publish_metrics{options};
  if (options.on_metrics) options.on_metrics(shared.metrics);
  if (options.serve_endpoints) {
    try {
      if (!plan.metrics_listen.empty()) {
        metrics_server =
            std::make_unique<metrics::MetricsServer>(plan.metrics_listen, shared.metrics, options.version);
        log::Info("", "metrics at http://{}/metrics", metrics_server->address());
      }
      if (!plan.ui_listen.empty()) {
        ui_server = std::make_unique<ui::UiServer>(plan.ui_listen, shared.metrics);
        shared.metrics->ServePreviews();
        log::Info("", "web view at http://{}/", ui_server->address());
      }
    } catch (const std::exception& e) {
      throw RunError(ErrorKind::kExternal, e.what());
    }
  }
  shared.active_sources.store(sources * workers);
  // However the run ends (but SIGKILL), it no longer runs: `streamrun savepoint`
  // must not find its pid.
  struct ClearRunning {
    checkpoint::Checkpoints* store;
    ~ClearRunning() {
      try {
        if (store) store->ClearRunning(static_cast<long>(::getpid()));
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
      for (auto& w : pool) progress |= w->PrimeExchange();
    }
  } catch (const RunError&) {
    throw;
  } catch (const std::exception& e) {
    throw RunError(KindOf(e), e.what());
  }
  // Each worker's thread names its worker in its log lines; worker 0 runs on
  // this thread, which names none again once its loop is over.
  auto body = [&shared](Worker* worker, int index) {
    log::SetThreadWorker(index);
    struct ClearWorker {
      ~ClearWorker() { log::SetThreadWorker(-1); }
    } clear_worker;
    log::Debug("", "worker started");
    try {
      worker->Run();
      log::Debug("", "worker finished");
    } catch (const std::exception& e) {
      log::Debug("", "worker failed: {}", e.what());
      std::lock_guard<std::mutex> lock(shared.error_mutex);
      if (!shared.failed.exchange(true)) {
        shared.error = e.what();
        shared.error_kind = KindOf(e);
      }
    }
  };
  log::Debug("", "running on {} worker{}{}", workers, workers == 1 ? "" : "s",
             restored_from > 0 ? ", from checkpoint " + std::to_string(restored_from) : std::string());
  std::vector<std::thread> threads;
  for (int w = 1; w < workers; ++w) threads.emplace_back(body, pool[w].get(), w);
  body(pool[0].get(), 0);
  for (auto& t : threads) t.join();
  if (shared.failed.load()) throw RunError(shared.error_kind, shared.error);
  for (auto& w : pool) {
    if (w->stopped()) continue;
    const std::string held = w->HeldBack();
    if (!held.empty())
      throw RunError(ErrorKind::kInternal, "the input ended but " + held + ": its open windows never fired");
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
    for (auto& w : pool) w->CloseSteps();
    for (auto& w : pool) w->CloseSinks();
  } catch (const std::exception& e) {
    throw RunError(KindOf(e), e.what());
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
