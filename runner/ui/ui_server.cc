#include "runner/ui/ui_server.h"

#include <civetweb.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string_view>

#include "runner/metrics/prometheus_server.h"
#include "runner/record/clock.h"

namespace streamrun::ui {

extern const std::string_view kPage;  // page.cc, made from assets/index.html

namespace {

using nlohmann::json;

// The counts rates are made of, summed over workers.
struct Sample {
  int64_t time_ms = 0;
  std::vector<uint64_t> in, out, blocked;  // per node
  std::vector<uint64_t> busy_ns, worker_blocked_ns;
};

Sample Take(const metrics::Registry& r) {
  Sample s;
  s.time_ms = NowMs();
  const size_t nodes = r.graph().size();
  s.in.assign(nodes, 0);
  s.out.assign(nodes, 0);
  s.blocked.assign(nodes, 0);
  s.busy_ns.assign(static_cast<size_t>(r.workers()), 0);
  s.worker_blocked_ns.assign(static_cast<size_t>(r.workers()), 0);
  r.Read([&](const metrics::Registry::View& v) {
    for (size_t w = 0; w < v.workers.size(); ++w) {
      const RunStats* st = v.workers[w];
      if (st == nullptr) continue;
      s.busy_ns[w] = st->busy_ns.load();
      s.worker_blocked_ns[w] = st->blocked_ns.load();
      for (size_t i = 0; i < nodes && i < st->nodes.size(); ++i) {
        s.in[i] += st->nodes[i].records_in.load();
        s.out[i] += st->nodes[i].records_out.load();
        s.blocked[i] += st->nodes[i].blocked_ns.load();
      }
    }
  });
  return s;
}

// Text that is not UTF-8 (a name, a record) is replaced, never a failed reply.
std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void Reply(mg_connection* conn, const char* type, std::string_view body) {
  mg_printf(conn,
            "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
            "Connection: close\r\n\r\n",
            type, body.size());
  mg_write(conn, body.data(), body.size());
}

}  // namespace

struct UiServer::Impl {
  std::shared_ptr<const metrics::Registry> registry;
  mg_context* ctx = nullptr;
  std::mutex mutex;
  std::deque<Sample> samples;  // the last few seconds' (Status)
  UiServer* owner = nullptr;
};

namespace {

int OnPage(mg_connection* conn, void* data) {
  const mg_request_info* req = mg_get_request_info(conn);
  if (std::string_view(req->local_uri) != "/" && std::string_view(req->local_uri) != "/index.html") {
    mg_send_http_error(conn, 404, "%s", "not found");
    return 404;
  }
  Reply(conn, "text/html; charset=utf-8", kPage);
  return 200;
}

template <std::string (*Body)(UiServer&)>
int OnApi(mg_connection* conn, void* data) {
  auto* server = static_cast<UiServer*>(data);
  try {
    Reply(conn, "application/json", Body(*server));
  } catch (const std::exception& e) {
    mg_send_http_error(conn, 500, "%s", e.what());
    return 500;
  }
  return 200;
}

std::string GraphBody(UiServer& s) { return s.Graph(); }
std::string StatusBody(UiServer& s) { return s.Status(); }
std::string PreviewBody(UiServer& s) { return s.Preview(); }

int LogNothing(const mg_connection*, const char*) { return 1; }

}  // namespace

UiServer::UiServer(const std::string& address, std::shared_ptr<const metrics::Registry> registry)
    : impl_(std::make_unique<Impl>()) {
  impl_->registry = std::move(registry);
  impl_->owner = this;
  auto [host, port] = metrics::SplitListen(address, "runtime.ui.listen");
  const std::string ports =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  const char* options[] = {"listening_ports", ports.c_str(), "num_threads", "2", nullptr};
  mg_callbacks callbacks{};
  callbacks.log_message = LogNothing;
  static std::once_flag civetweb_ready;  // once per process; never undone (the exposer uses it too)
  std::call_once(civetweb_ready, [] { mg_init_library(0); });
  impl_->ctx = mg_start(&callbacks, nullptr, options);
  if (impl_->ctx == nullptr)
    throw std::runtime_error("runtime.ui.listen: cannot listen on " + address +
                             " (the address is in use or not this machine's)");
  mg_set_request_handler(impl_->ctx, "/api/graph$", OnApi<GraphBody>, this);
  mg_set_request_handler(impl_->ctx, "/api/status$", OnApi<StatusBody>, this);
  mg_set_request_handler(impl_->ctx, "/api/preview$", OnApi<PreviewBody>, this);
  mg_set_request_handler(impl_->ctx, "/$", OnPage, this);
  mg_set_request_handler(impl_->ctx, "/index.html$", OnPage, this);
  mg_server_port bound[4] = {};
  const int n = mg_get_server_ports(impl_->ctx, 4, bound);
  address_ = host + ":" + std::to_string(n > 0 ? bound[0].port : port);
}

UiServer::~UiServer() {
  if (impl_->ctx != nullptr) mg_stop(impl_->ctx);
}

std::string UiServer::Graph() const {
  const auto& r = *impl_->registry;
  json nodes = json::array(), edges = json::array();
  const auto& graph = r.graph();
  for (size_t i = 0; i < graph.size(); ++i) {
    const auto& n = graph[i];
    nodes.push_back({{"id", i},
                     {"name", n.name},
                     {"kind", n.kind},
                     {"describe", n.describe},
                     {"steps", n.steps},
                     {"preview", n.preview}});
    for (int c : n.consumers) edges.push_back({{"from", i}, {"to", c}, {"port", "main"}});
    for (int c : n.late_consumers) edges.push_back({{"from", i}, {"to", c}, {"port", "late"}});
  }
  json out = {{"pipeline", r.pipeline()}, {"parallelism", r.workers()}, {"nodes", nodes}, {"edges", edges}};
  return Dump(out);
}

std::string UiServer::Status() {
  const auto& r = *impl_->registry;
  const auto& graph = r.graph();
  Sample now = Take(r);
  // Rates over the last two seconds or so (records come in batches: one
  // second jumps about): against the newest sample at least that old, else
  // the oldest kept (a young run, or the first asks), else the start.
  Sample base;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    auto& samples = impl_->samples;
    while (samples.size() > 1 && now.time_ms - samples[1].time_ms >= 2000) samples.pop_front();
    if (!samples.empty() && now.time_ms - samples.front().time_ms >= 200) {
      base = samples.front();
    } else {
      base.time_ms = r.start_ms();
      base.in.assign(now.in.size(), 0);
      base.out.assign(now.out.size(), 0);
      base.blocked.assign(now.blocked.size(), 0);
      base.busy_ns.assign(now.busy_ns.size(), 0);
      base.worker_blocked_ns.assign(now.worker_blocked_ns.size(), 0);
    }
    samples.push_back(now);
    while (samples.size() > 1024) samples.pop_front();  // many readers at once
  }
  const double dt = std::max<double>(1, static_cast<double>(now.time_ms - base.time_ms)) / 1000;
  const double workers = std::max(1, r.workers());
  auto rate = [&](uint64_t a, uint64_t b) { return a >= b ? static_cast<double>(a - b) / dt : 0.0; };
  auto share = [&](uint64_t a, uint64_t b, double of) {
    return a >= b ? std::min(1.0, static_cast<double>(a - b) / 1e9 / dt / of) : 0.0;
  };
  json nodes = json::array(), workers_json = json::array(), history = json::array();
  json checkpoints;
  r.Read([&](const metrics::Registry::View& v) {
    for (size_t i = 0; i < graph.size(); ++i) {
      int64_t in_wm = std::numeric_limits<int64_t>::max(), out_wm = std::numeric_limits<int64_t>::max();
      bool any_in = false, any_out = false;
      uint64_t errors = 0, late = 0, state = 0;
      for (const RunStats* s : v.workers) {
        if (s == nullptr || i >= s->nodes.size()) continue;
        const NodeStats& ns = s->nodes[i];
        const int64_t a = ns.input_watermark.load(), b = ns.output_watermark.load();
        if (metrics::FiniteWatermark(a)) any_in = true, in_wm = std::min(in_wm, a);
        if (metrics::FiniteWatermark(b)) any_out = true, out_wm = std::min(out_wm, b);
        errors += ns.errors.load();
        late += ns.late_dropped.load();
        state += ns.state_bytes.load();
      }
      if (graph[i].kind == "sink") {
        // A sink's watermark is the lowest its inputs passed on.
        for (size_t from = 0; from < graph.size(); ++from) {
          const auto& c = graph[from].consumers;
          const auto& l = graph[from].late_consumers;
          if (std::find(c.begin(), c.end(), static_cast<int>(i)) == c.end() &&
              std::find(l.begin(), l.end(), static_cast<int>(i)) == l.end())
            continue;
          for (const RunStats* s : v.workers) {
            if (s == nullptr || from >= s->nodes.size()) continue;
            const int64_t w = s->nodes[from].output_watermark.load();
            if (metrics::FiniteWatermark(w))
              any_in = any_out = true, in_wm = std::min(in_wm, w), out_wm = std::min(out_wm, w);
          }
        }
      }
      // A node's output is held back when senders wait on its consumers' queues.
      double backpressure = 0;
      for (int c : graph[i].consumers)
        backpressure = std::max(backpressure, share(now.blocked[c], base.blocked[c], workers));
      json lag = nullptr;
      int64_t lag_sum = 0;
      bool has_lag = false;
      for (const auto& op : v.operators) {
        if (op.node() != static_cast<int>(i)) continue;
        for (const auto& [tp, l] : op.lag()) lag_sum += l, has_lag = true;
      }
      if (has_lag) lag = lag_sum;
      json n = {{"id", i},
                {"records_in", now.in[i]},
                {"records_out", now.out[i]},
                {"records_in_per_second", rate(now.in[i], base.in[i])},
                {"records_out_per_second", rate(now.out[i], base.out[i])},
                {"input_watermark_ms", any_in ? json(in_wm) : json(nullptr)},
                {"output_watermark_ms", any_out ? json(out_wm) : json(nullptr)},
                {"watermark_lag_seconds",
                 any_out ? json(static_cast<double>(now.time_ms - out_wm) / 1000) : json(nullptr)},
                {"backpressure", backpressure},
                {"errors", errors},
                {"late_dropped", late},
                {"consumer_lag", lag},
                {"state_bytes", state}};
      nodes.push_back(std::move(n));
    }
    for (size_t w = 0; w < v.workers.size(); ++w) {
      const RunStats* s = v.workers[w];
      workers_json.push_back(
          {{"worker", w},
           {"busy_ratio", share(now.busy_ns[w], base.busy_ns[w], 1)},
           {"backpressure_ratio", share(now.worker_blocked_ns[w], base.worker_blocked_ns[w], 1)},
           {"queue_fill", s ? s->queue_fill.load() : 0.0}});
    }
    for (const auto& c : v.history)
      history.push_back({{"id", c.id},
                         {"kind", c.kind},
                         {"ok", c.ok},
                         {"started_ms", c.started_ms},
                         {"duration_ms", c.duration_ms},
                         {"size_bytes", c.size_bytes}});
    const int64_t last = v.last_completed_ms > 0 ? v.last_completed_ms : r.start_ms();
    checkpoints = {
        {"completed", v.checkpoints_completed},
        {"failed", v.checkpoints_failed},
        {"last_age_seconds",
         v.last_completed_ms > 0 ? json(static_cast<double>(now.time_ms - last) / 1000) : json(nullptr)},
        {"history", history}};
  });
  json out = {{"time_ms", now.time_ms},
              {"uptime_seconds", static_cast<double>(now.time_ms - r.start_ms()) / 1000},
              {"nodes", nodes},
              {"workers", workers_json},
              {"checkpoints", checkpoints}};
  return Dump(out);
}

std::string UiServer::Preview() const {
  const auto& r = *impl_->registry;
  std::string out = "{\"sinks\":[";
  r.Read([&](const metrics::Registry::View& v) {
    bool first = true;
    for (const auto& [node, rows] : v.previews) {
      if (!first) out += ',';
      first = false;
      out +=
          "{\"id\":" + std::to_string(node) + ",\"name\":" + Dump(json(r.graph()[node].name)) + ",\"rows\":[";
      for (size_t k = 0; k < rows.size(); ++k) {
        if (k > 0) out += ',';
        out += rows[k];  // each a JSON object, as the sink wrote it
      }
      out += "]}";
    }
  });
  out += "]}";
  return out;
}

}  // namespace streamrun::ui
