#pragma once
// `runtime.ui.listen`: the live web view (docs/metrics.md "The web view"). One
// page, embedded in the binary (assets/index.html), and the JSON endpoints it
// polls, which scripts may use too:
//   GET /api/graph    the operator graph
//   GET /api/status   rates, watermarks, lag, backpressure, checkpoints
//   GET /api/preview  the latest rows of each sink marked `preview: true`
// Served by civetweb on its own threads; everything is read from the registry.
#include <memory>
#include <string>

#include "runner/metrics/registry.h"

namespace streamrun::ui {

class UiServer {
 public:
  // Listens on `address` (host:port; port 0 picks one). Throws
  // std::runtime_error when it cannot.
  UiServer(const std::string& address, std::shared_ptr<const metrics::Registry> registry);
  ~UiServer();
  const std::string& address() const { return address_; }

  // The endpoints' bodies (tests call them directly).
  std::string Graph() const;
  std::string Status();
  std::string Preview() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string address_;
};

}  // namespace streamrun::ui
