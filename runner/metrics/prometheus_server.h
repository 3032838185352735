#pragma once
// `runtime.metrics.listen`: the run's metrics in Prometheus text format at
// /metrics (docs/metrics.md), served by prometheus-cpp's exposer. The values
// are read from the registry at each scrape; nothing is kept in between.
#include <memory>
#include <string>

#include "runner/metrics/registry.h"

namespace streamrun::metrics {

class MetricsServer {
 public:
  // Listens on `address` (host:port; port 0 picks one). Throws
  // std::runtime_error when it cannot.
  MetricsServer(const std::string& address, std::shared_ptr<const Registry> registry, std::string version);
  ~MetricsServer();
  // Where it listens, host:port.
  const std::string& address() const { return address_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string address_;
};

// A job member's /metrics (docs/scaling.md): the metrics of each task's run,
// each series labelled with its `task`, and `streamrun_job_task` (1 per task
// this member holds, labelled with its state). Tasks come and go while it
// serves; a scrape never reads a run that has ended.
class TaskMetricsServer {
 public:
  // Listens on `address` as MetricsServer does; throws std::runtime_error.
  TaskMetricsServer(const std::string& address, std::string version, std::string member);
  ~TaskMetricsServer();
  // The task's run started (its registry) or ended (null).
  void SetRun(const std::string& task, std::shared_ptr<const Registry> registry);
  // The task's state ("waiting", "running"); empty: the member let it go.
  void SetState(const std::string& task, const std::string& state);
  const std::string& address() const { return address_; }

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
  std::unique_ptr<struct TaskExposer> exposer_;
  std::string address_;
};

// The text a scrape returns now (tests, and `streamrun` without a listener).
std::string ScrapeText(const Registry& registry, const std::string& version);

// "host:port" split; throws std::runtime_error with a message naming `what`.
std::pair<std::string, int> SplitListen(const std::string& address, const std::string& what);

}  // namespace streamrun::metrics
