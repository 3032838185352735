#pragma once
// HTTP requests run concurrently on one thread (libcurl multi), for steps that
// wait on a service per record: enrich_http and plugin operators' host-run
// requests (runner/plugin). The owner drives it: Drive sends, receives and
// reports what finished. Connections are kept and reused per host. One
// thread uses a client.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace streamrun {

class HttpClient {
 public:
  struct Request {
    std::string method = "GET";  // GET, POST, PUT, DELETE...
    std::string url;
    std::string body;                  // sent unless empty (POST, PUT)
    std::vector<std::string> headers;  // "Name: value"
    int64_t timeout_ms = 5000;
  };
  struct Answer {
    uint64_t id = 0;
    bool ok = false;    // a response came (any status)
    long status = 0;    // its HTTP status
    std::string body;   // its body
    std::string error;  // !ok: why (connection refused, timeout...)
  };

  explicit HttpClient(int64_t max_connections);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Starts a request; its answer comes from Drive with this id.
  uint64_t Start(const Request& request);
  // Sends and receives; waits up to `wait_ms` for something to finish if a
  // request is running. Appends the answers of requests that finished.
  void Drive(int wait_ms, std::vector<Answer>* finished);
  size_t running() const { return running_.size(); }

 private:
  struct Transfer;
  void* multi_ = nullptr;
  std::vector<std::unique_ptr<Transfer>> running_;
  std::vector<void*> idle_;  // easy handles to reuse
  uint64_t next_id_ = 1;
};

}  // namespace streamrun
