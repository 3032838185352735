#include "operators/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <mutex>

namespace streamrun {

struct HttpClient::Transfer {
  uint64_t id = 0;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string body;    // the request's (libcurl reads it while sending)
  std::string answer;  // the response's
};

namespace {
size_t Append(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}
}  // namespace

HttpClient::HttpClient(int64_t max_connections) {
  static std::once_flag ready;
  std::call_once(ready, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  multi_ = curl_multi_init();
  if (!multi_) throw std::runtime_error("libcurl could not start");
  curl_multi_setopt(static_cast<CURLM*>(multi_), CURLMOPT_MAXCONNECTS,
                    static_cast<long>(std::clamp<int64_t>(max_connections, 1, 10000)));
}

HttpClient::~HttpClient() {
  CURLM* multi = static_cast<CURLM*>(multi_);
  for (auto& t : running_) {
    curl_multi_remove_handle(multi, t->easy);
    curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);
  }
  for (void* e : idle_) curl_easy_cleanup(static_cast<CURL*>(e));
  curl_multi_cleanup(multi);
}

uint64_t HttpClient::Start(const Request& request) {
  auto t = std::make_unique<Transfer>();
  t->id = next_id_++;
  CURL* e = idle_.empty() ? curl_easy_init() : static_cast<CURL*>(idle_.back());
  if (!idle_.empty()) idle_.pop_back();
  if (!e) throw std::runtime_error("libcurl could not make a request");
  curl_easy_reset(e);
  t->easy = e;
  t->body = request.body;
  for (const auto& h : request.headers) t->headers = curl_slist_append(t->headers, h.c_str());
  curl_easy_setopt(e, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout_ms));
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &t->answer);
  curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  if (t->headers) curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
  if (request.method == "POST") curl_easy_setopt(e, CURLOPT_POST, 1L);
  if (request.method != "GET" && request.method != "POST")
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  if (!t->body.empty() || request.method == "POST") {
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(t->body.size()));
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body.c_str());
  }
  curl_multi_add_handle(static_cast<CURLM*>(multi_), e);
  const uint64_t id = t->id;
  running_.push_back(std::move(t));
  return id;
}

void HttpClient::Drive(int wait_ms, std::vector<Answer>* finished) {
  CURLM* multi = static_cast<CURLM*>(multi_);
  int still = 0;
  curl_multi_perform(multi, &still);
  if (wait_ms > 0 && still > 0) {
    curl_multi_poll(multi, nullptr, 0, wait_ms, nullptr);
    curl_multi_perform(multi, &still);
  }
  int left = 0;
  while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
    if (m->msg != CURLMSG_DONE) continue;
    Transfer* t = nullptr;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
    Answer a;
    a.id = t->id;
    a.ok = m->data.result == CURLE_OK;
    if (a.ok) {
      curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &a.status);
      a.body = std::move(t->answer);
    } else {
      a.error = curl_easy_strerror(m->data.result);
    }
    curl_multi_remove_handle(multi, t->easy);
    idle_.push_back(t->easy);
    curl_slist_free_all(t->headers);
    finished->push_back(std::move(a));
    auto it = std::find_if(running_.begin(), running_.end(), [&](const auto& r) { return r.get() == t; });
    *it = std::move(running_.back());
    running_.pop_back();
  }
}

}  // namespace streamrun
