// The Prometheus families of a run (docs/metrics.md), built from the registry
// at each scrape: per-worker cells are reported per worker, with the labels
// Prometheus aggregates by; times in seconds, watermarks in epoch seconds.
#include "runner/metrics/prometheus_server.h"

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <limits>
#include <map>
#include <mutex>
#include <stdexcept>

#include "runner/record/clock.h"

namespace streamrun::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

class Families {
 public:
  explicit Families(std::string pipeline) : pipeline_(std::move(pipeline)) {}

  MetricFamily& Family(const std::string& name, const std::string& help, MetricType type) {
    for (auto& f : families_)
      if (f.name == name) return f;
    families_.push_back(MetricFamily{name, help, type, {}});
    return families_.back();
  }
  ClientMetric& Add(MetricFamily& f, Labels labels) {
    labels.insert(labels.begin(), ClientMetric::Label{"pipeline", pipeline_});
    f.metric.emplace_back();
    f.metric.back().label = std::move(labels);
    return f.metric.back();
  }
  void Counter(const std::string& name, const std::string& help, Labels labels, double v) {
    Add(Family(name, help, MetricType::Counter), std::move(labels)).counter.value = v;
  }
  void Gauge(const std::string& name, const std::string& help, Labels labels, double v) {
    Add(Family(name, help, MetricType::Gauge), std::move(labels)).gauge.value = v;
  }
  void Histogram(const std::string& name, const std::string& help, Labels labels,
                 const metrics::Histogram& h) {
    auto& m = Add(Family(name, help, MetricType::Histogram), std::move(labels));
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= metrics::Histogram::kBounds.size(); ++b) {
      cumulative += h.bucket(b);
      m.histogram.bucket.push_back(ClientMetric::Bucket{
          cumulative, b < metrics::Histogram::kBounds.size() ? metrics::Histogram::kBounds[b]
                                                             : std::numeric_limits<double>::infinity()});
    }
    m.histogram.sample_count = cumulative;
    m.histogram.sample_sum = h.sum();
  }
  // The families in the order their first series came (a family with no
  // series, such as consumer lag without a Kafka source, is left out).
  std::vector<MetricFamily> Take() { return std::move(families_); }

 private:
  std::string pipeline_;
  std::vector<MetricFamily> families_;
};

std::vector<MetricFamily> Collect(const Registry& r, const std::string& version) {
  Families out(r.pipeline());
  const int64_t now = NowMs();
  const auto& graph = r.graph();
  out.Gauge("streamrun_build_info", "The binary's version (always 1).", {{"version", version}}, 1);
  out.Gauge("streamrun_start_time_seconds", "When the run started, in epoch seconds.", {},
            static_cast<double>(r.start_ms()) / 1000);
  for (const auto& n : graph)
    out.Gauge("streamrun_operator_info", "One series per operator of the graph (always 1).",
              {{"operator", n.name}, {"kind", n.kind}}, 1);
  r.Read([&](const Registry::View& v) {
    // Per operator and worker.
    for (size_t w = 0; w < v.workers.size(); ++w) {
      const RunStats* s = v.workers[w];
      if (s == nullptr) continue;
      const std::string worker = std::to_string(w);
      for (size_t i = 0; i < graph.size() && i < s->nodes.size(); ++i) {
        const NodeStats& ns = s->nodes[i];
        const GraphNode& g = graph[i];
        Labels op = {{"operator", g.name}, {"worker", worker}};
        out.Counter("streamrun_operator_records_in_total", "Records that reached the operator.", op,
                    ns.records_in.load());
        out.Counter("streamrun_operator_records_out_total", "Records the operator passed on (a sink: wrote).",
                    op, ns.records_out.load());
        out.Counter("streamrun_operator_bytes_in_total", "Bytes of the records that reached the operator.",
                    op, ns.bytes_in.load());
        out.Counter("streamrun_operator_bytes_out_total", "Bytes of the records the operator passed on.", op,
                    ns.bytes_out.load());
        out.Counter("streamrun_late_records_dropped_total", "Late records no `.late` output took.", op,
                    ns.late_dropped.load());
        if (g.kind != "sink") {
          const int64_t in = ns.input_watermark.load(), outw = ns.output_watermark.load();
          if (g.kind == "transform" && FiniteWatermark(in))
            out.Gauge("streamrun_operator_input_watermark_seconds",
                      "The watermark the operator's input has reached, in epoch seconds.", op,
                      static_cast<double>(in) / 1000);
          if (FiniteWatermark(outw)) {
            out.Gauge("streamrun_operator_output_watermark_seconds",
                      "The watermark the operator has passed on, in epoch seconds.", op,
                      static_cast<double>(outw) / 1000);
            out.Gauge("streamrun_operator_watermark_lag_seconds",
                      "Wall-clock time minus the operator's output watermark.", op,
                      static_cast<double>(now - outw) / 1000);
          }
        }
        if (g.kind == "transform")
          out.Gauge("streamrun_operator_state_size_bytes", "Keyed state the operator holds in memory.", op,
                    static_cast<double>(ns.state_bytes.load()));
        if (g.kind == "sink") {
          Labels event = {{"operator", g.name}, {"worker", worker}, {"time", "event"}};
          Labels ingestion = {{"operator", g.name}, {"worker", worker}, {"time", "ingestion"}};
          const char* help =
              "At the sink: now minus the record's event time (time=event), or minus when its source read it "
              "(time=ingestion).";
          out.Histogram("streamrun_end_to_end_latency_seconds", help, event, ns.latency_event);
          out.Histogram("streamrun_end_to_end_latency_seconds", help, ingestion, ns.latency_ingestion);
        }
      }
      Labels wl = {{"worker", worker}};
      out.Gauge("streamrun_worker_queue_fill_ratio", "How full the queues into the worker are (0..1).", wl,
                s->queue_fill.load());
      out.Counter("streamrun_worker_backpressure_seconds_total",
                  "Time the worker could not hand records on (a full queue) and read nothing.", wl,
                  static_cast<double>(s->blocked_ns.load()) / 1e9);
      out.Counter("streamrun_worker_busy_seconds_total", "Time the worker spent processing.", wl,
                  static_cast<double>(s->busy_ns.load()) / 1e9);
    }
    // Errors by outcome, summed over workers.
    for (size_t i = 0; i < graph.size(); ++i) {
      uint64_t skipped = 0, dead = 0, failed = 0;
      for (const RunStats* s : v.workers) {
        if (s == nullptr || i >= s->nodes.size()) continue;
        skipped += s->nodes[i].skipped.load();
        dead += s->nodes[i].dead_lettered.load();
        failed += s->nodes[i].failed.load();
      }
      const char* help = "Bad records, by what the error policy did with them.";
      out.Counter("streamrun_record_errors_total", help,
                  {{"operator", graph[i].name}, {"outcome", "skipped"}}, static_cast<double>(skipped));
      out.Counter("streamrun_record_errors_total", help,
                  {{"operator", graph[i].name}, {"outcome", "dead_lettered"}}, static_cast<double>(dead));
      out.Counter("streamrun_record_errors_total", help, {{"operator", graph[i].name}, {"outcome", "failed"}},
                  static_cast<double>(failed));
    }
    // Checkpoints, when the run takes them.
    if (r.checkpoints_enabled()) {
      out.Histogram("streamrun_checkpoint_duration_seconds", "From a checkpoint's start to its manifest.", {},
                    v.checkpoint_duration);
      out.Gauge("streamrun_checkpoint_last_size_bytes", "Bytes written by the last completed checkpoint.", {},
                static_cast<double>(v.last_size_bytes));
      out.Counter("streamrun_checkpoints_completed_total", "Completed checkpoints (savepoints too).", {},
                  static_cast<double>(v.checkpoints_completed));
      out.Counter("streamrun_checkpoints_failed_total", "Failed or timed-out checkpoints.", {},
                  static_cast<double>(v.checkpoints_failed));
      if (v.last_completed_ms > 0)
        out.Gauge("streamrun_checkpoint_last_completed_timestamp_seconds",
                  "When the last checkpoint completed, in epoch seconds.", {},
                  static_cast<double>(v.last_completed_ms) / 1000);
      out.Gauge(
          "streamrun_checkpoint_age_seconds",
          "Seconds since the last completed checkpoint (since the start before the first).", {},
          static_cast<double>(now - (v.last_completed_ms > 0 ? v.last_completed_ms : r.start_ms())) / 1000);
    }
    // What operators count themselves: consumer lag, plugins' own.
    for (const auto& op : v.operators) {
      const std::string name = graph[static_cast<size_t>(op.node())].name;
      const std::string worker = std::to_string(op.worker());
      for (const auto& [tp, lag] : op.lag())
        out.Gauge("streamrun_kafka_consumer_lag_records",
                  "Records in the partition after the source's position.",
                  {{"operator", name}, {"topic", tp.first}, {"partition", std::to_string(tp.second)}},
                  static_cast<double>(lag));
      for (const auto& [key, cell] : op.counters())
        out.Counter("streamrun_plugin_events_total", "A plugin operator's own counters.",
                    {{"operator", name}, {"worker", worker}, {"name", key}},
                    static_cast<double>(cell->load()));
      for (const auto& [key, cell] : op.gauges())
        out.Gauge("streamrun_plugin_value", "A plugin operator's own gauges.",
                  {{"operator", name}, {"worker", worker}, {"name", key}}, cell->load());
    }
  });
  return out.Take();
}

class RegistryCollectable : public prometheus::Collectable {
 public:
  RegistryCollectable(std::shared_ptr<const Registry> registry, std::string version)
      : registry_(std::move(registry)), version_(std::move(version)) {}
  std::vector<MetricFamily> Collect() const override { return metrics::Collect(*registry_, version_); }

 private:
  std::shared_ptr<const Registry> registry_;
  std::string version_;
};

}  // namespace

std::pair<std::string, int> SplitListen(const std::string& address, const std::string& what) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size())
    throw std::runtime_error(what + ": '" + address + "' is not host:port");
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = -1;
  try {
    size_t used = 0;
    port = std::stoi(address.substr(colon + 1), &used);
    if (used != address.size() - colon - 1) port = -1;
  } catch (const std::exception&) {
  }
  if (port < 0 || port > 65535) throw std::runtime_error(what + ": '" + address + "' has no valid port");
  if (host.empty()) host = "0.0.0.0";
  return {host, port};
}

namespace {

// An exposer listening on `address` (runtime.metrics.listen); `bound` gets
// the host:port it listens on (port 0 picks one).
std::unique_ptr<prometheus::Exposer> Listen(const std::string& address, std::string* bound) {
  auto [host, port] = SplitListen(address, "runtime.metrics.listen");
  const std::string bind =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(bind, 2);
  } catch (const std::exception& e) {
    throw std::runtime_error("runtime.metrics.listen: cannot listen on " + address + ": " + e.what());
  }
  const auto ports = exposer->GetListeningPorts();
  *bound = host + ":" + std::to_string(ports.empty() ? port : ports.front());
  return exposer;
}

}  // namespace

struct MetricsServer::Impl {
  std::shared_ptr<RegistryCollectable> collectable;
  std::unique_ptr<prometheus::Exposer> exposer;
};

MetricsServer::MetricsServer(const std::string& address, std::shared_ptr<const Registry> registry,
                             std::string version)
    : impl_(std::make_unique<Impl>()) {
  impl_->exposer = Listen(address, &address_);
  impl_->collectable = std::make_shared<RegistryCollectable>(std::move(registry), std::move(version));
  impl_->exposer->RegisterCollectable(impl_->collectable);
}

MetricsServer::~MetricsServer() = default;

struct TaskMetricsServer::Impl : prometheus::Collectable {
  std::string version;
  std::string member;
  mutable std::mutex mutex;
  std::map<std::string, std::shared_ptr<const Registry>> runs;  // by task
  std::map<std::string, std::string> states;                    // by task

  std::vector<MetricFamily> Collect() const override {
    std::lock_guard<std::mutex> lock(mutex);
    std::map<std::string, MetricFamily> merged;
    for (const auto& [task, registry] : runs) {
      for (auto& family : metrics::Collect(*registry, version)) {
        auto [it, added] = merged.try_emplace(family.name);
        if (added) {
          it->second.name = family.name;
          it->second.help = family.help;
          it->second.type = family.type;
        }
        for (auto& metric : family.metric) {
          metric.label.push_back({"task", task});
          it->second.metric.push_back(std::move(metric));
        }
      }
    }
    MetricFamily tasks;
    tasks.name = "streamrun_job_task";
    tasks.help =
        "1 for each task this member of the job holds, by its state (waiting for its last owner, running).";
    tasks.type = prometheus::MetricType::Gauge;
    for (const auto& [task, state] : states) {
      prometheus::ClientMetric m;
      m.label = {{"member", member}, {"task", task}, {"state", state}};
      m.gauge.value = 1;
      tasks.metric.push_back(std::move(m));
    }
    std::vector<MetricFamily> out;
    out.push_back(std::move(tasks));
    for (auto& [name, family] : merged) out.push_back(std::move(family));
    return out;
  }
};

struct TaskExposer {
  std::unique_ptr<prometheus::Exposer> exposer;
};

TaskMetricsServer::TaskMetricsServer(const std::string& address, std::string version, std::string member)
    : impl_(std::make_shared<Impl>()), exposer_(std::make_unique<TaskExposer>()) {
  impl_->version = std::move(version);
  impl_->member = std::move(member);
  exposer_->exposer = Listen(address, &address_);
  exposer_->exposer->RegisterCollectable(impl_);
}

TaskMetricsServer::~TaskMetricsServer() { exposer_.reset(); }

void TaskMetricsServer::SetRun(const std::string& task, std::shared_ptr<const Registry> registry) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (registry)
    impl_->runs[task] = std::move(registry);
  else
    impl_->runs.erase(task);
}

void TaskMetricsServer::SetState(const std::string& task, const std::string& state) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (state.empty())
    impl_->states.erase(task);
  else
    impl_->states[task] = state;
}

std::string ScrapeText(const Registry& registry, const std::string& version) {
  return prometheus::TextSerializer().Serialize(Collect(registry, version));
}

}  // namespace streamrun::metrics
