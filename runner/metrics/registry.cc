#include "runner/metrics/registry.h"

#include <utility>

namespace streamrun::metrics {

Counter& OperatorMetrics::CounterNamed(std::string_view name) {
  std::lock_guard<std::mutex> lock(*mutex_);
  auto it = counters_.find(name);
  if (it == counters_.end()) it = counters_.emplace(std::string(name), std::make_unique<Counter>()).first;
  return *it->second;
}

Gauge<double>& OperatorMetrics::GaugeNamed(std::string_view name) {
  std::lock_guard<std::mutex> lock(*mutex_);
  auto it = gauges_.find(name);
  if (it == gauges_.end()) it = gauges_.emplace(std::string(name), std::make_unique<Gauge<double>>()).first;
  return *it->second;
}

void OperatorMetrics::SetConsumerLag(std::string_view topic, int32_t partition, int64_t lag) {
  std::lock_guard<std::mutex> lock(*mutex_);
  lag_[{std::string(topic), partition}] = lag;
}

void OperatorMetrics::ClearConsumerLag(std::string_view topic, int32_t partition) {
  std::lock_guard<std::mutex> lock(*mutex_);
  lag_.erase({std::string(topic), partition});
}

Registry::Registry(std::string pipeline, std::vector<GraphNode> graph, int workers, int64_t start_ms)
    : pipeline_(std::move(pipeline)),
      graph_(std::move(graph)),
      workers_(workers),
      start_ms_(start_ms),
      workers_stats_(static_cast<size_t>(workers), nullptr) {
  for (size_t i = 0; i < graph_.size(); ++i)
    if (graph_[i].preview) previews_[static_cast<int>(i)];
}

void Registry::SetWorkerStats(int worker, const RunStats* stats) {
  std::lock_guard<std::mutex> lock(mutex_);
  workers_stats_[static_cast<size_t>(worker)] = stats;
}

OperatorMetrics* Registry::Operator(int node, int worker) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& op : operators_)
    if (op.node() == node && op.worker() == worker) return &op;
  return &operators_.emplace_back(&mutex_, node, worker);
}

void Registry::CheckpointEnded(const CheckpointRecord& record) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (record.ok) {
    ++completed_;
    last_completed_ms_ = record.started_ms + static_cast<int64_t>(record.duration_ms);
    last_size_bytes_ = record.size_bytes;
    checkpoint_duration_.Observe(record.duration_ms / 1000.0);
  } else {
    ++failed_;
  }
  history_.push_back(record);
  if (history_.size() > kHistory) history_.pop_front();
}

void Registry::AddPreviewRows(int node, std::vector<std::string>& rows) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& kept = previews_[node];
  for (auto& r : rows) kept.push_back(std::move(r));
  while (kept.size() > kPreviewRows) kept.pop_front();
}

}  // namespace streamrun::metrics
