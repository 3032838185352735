// s3://bucket/prefix: checkpoints in an S3-compatible object store over libcurl,
// requests signed with SigV4 (sigv4.h). Objects up to part_size go in one PUT;
// larger ones in a multipart upload. Network errors, 5xx and 429 are retried
// with exponential backoff; other errors end the operation with a StoreError.
#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "runner/checkpoint/sigv4.h"
#include "runner/checkpoint/store.h"

namespace streamrun::checkpoint {

namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string AmzDate() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[20];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string XmlUnescape(std::string s) {
  static const std::pair<const char*, const char*> kEntities[] = {
      {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}, {"&amp;", "&"}};
  for (const auto& [from, to] : kEntities) {
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + 1))
      s.replace(at, std::strlen(from), to);
  }
  return s;
}

// Every <tag>...</tag> text in `xml` (no nesting of the same tag in S3's answers).
std::vector<std::string> XmlAll(const std::string& xml, const std::string& tag) {
  std::vector<std::string> out;
  const std::string open = "<" + tag + ">", close = "</" + tag + ">";
  for (size_t at = xml.find(open); at != std::string::npos; at = xml.find(open, at)) {
    at += open.size();
    const size_t end = xml.find(close, at);
    if (end == std::string::npos) break;
    out.push_back(XmlUnescape(xml.substr(at, end - at)));
    at = end + close.size();
  }
  return out;
}

std::string XmlFirst(const std::string& xml, const std::string& tag) {
  auto all = XmlAll(xml, tag);
  return all.empty() ? "" : all[0];
}

struct Response {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lowercase names
};

size_t OnBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

size_t OnHeader(char* data, size_t size, size_t n, void* out) {
  std::string line(data, size * n);
  const size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
      value.pop_back();
    (*static_cast<std::map<std::string, std::string>*>(out))[name] = value;
  }
  return size * n;
}

class S3Store : public Store {
 public:
  S3Store(const StoreConfig& config, std::string bucket, std::string prefix)
      : bucket_(std::move(bucket)), prefix_(std::move(prefix)), region_(config.region) {
    credentials_ = {Env("AWS_ACCESS_KEY_ID"), Env("AWS_SECRET_ACCESS_KEY"), Env("AWS_SESSION_TOKEN")};
    if (region_.empty()) region_ = Env("AWS_REGION");
    if (region_.empty()) region_ = Env("AWS_DEFAULT_REGION");
    if (region_.empty()) region_ = "us-east-1";
    std::string endpoint = config.endpoint;
    if (endpoint.empty()) endpoint = Env("AWS_ENDPOINT_URL_S3");
    if (endpoint.empty()) endpoint = Env("AWS_ENDPOINT_URL");
    path_style_ = config.path_style.value_or(!endpoint.empty());
    if (endpoint.empty()) endpoint = "https://s3." + region_ + ".amazonaws.com";
    while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
    const size_t scheme = endpoint.find("://");
    scheme_ = scheme == std::string::npos ? "https" : endpoint.substr(0, scheme);
    host_ = scheme == std::string::npos ? endpoint : endpoint.substr(scheme + 3);
    if (!path_style_) host_ = bucket_ + "." + host_;
    const char* part = std::getenv("STREAMRUN_S3_PART_SIZE");  // tests: small parts
    if (part && std::atoll(part) > 0) part_size_ = static_cast<size_t>(std::atoll(part));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    curl_ = curl_easy_init();
  }
  ~S3Store() override {
    if (curl_) curl_easy_cleanup(curl_);
  }

  void Put(const std::string& key, std::string_view bytes) override {
    CheckKey(key);
    if (bytes.size() <= part_size_) {
      Expect(Send("PUT", key, {}, bytes), {200}, "PUT", key);
      return;
    }
    // Multipart: initiate, upload the parts, complete (or abort on failure).
    Response init = Send("POST", key, {{"uploads", ""}}, {});
    Expect(init, {200}, "starting a multipart upload of", key);
    const std::string upload = XmlFirst(init.body, "UploadId");
    if (upload.empty()) throw StoreError("S3: no UploadId in the answer to starting " + Describe(key));
    try {
      std::string complete = "<CompleteMultipartUpload>";
      int number = 1;
      for (size_t at = 0; at < bytes.size(); at += part_size_, ++number) {
        Response part = Send("PUT", key, {{"partNumber", std::to_string(number)}, {"uploadId", upload}},
                             bytes.substr(at, part_size_));
        Expect(part, {200}, "uploading part " + std::to_string(number) + " of", key);
        complete += "<Part><PartNumber>" + std::to_string(number) + "</PartNumber><ETag>" +
                    part.headers["etag"] + "</ETag></Part>";
      }
      complete += "</CompleteMultipartUpload>";
      Response done = Send("POST", key, {{"uploadId", upload}}, complete);
      Expect(done, {200}, "completing the multipart upload of", key);
      if (done.body.find("<Error>") != std::string::npos)
        throw StoreError("S3: completing the multipart upload of " + Describe(key) + ": " +
                         done.body.substr(0, 300));
    } catch (const StoreError&) {
      try {
        Send("DELETE", key, {{"uploadId", upload}}, {});
      } catch (...) {
      }
      throw;
    }
  }

  std::optional<std::string> Get(const std::string& key) override {
    CheckKey(key);
    Response r = Send("GET", key, {}, {});
    if (r.status == 404) return std::nullopt;
    Expect(r, {200}, "GET", key);
    return std::move(r.body);
  }

  std::vector<std::string> List(const std::string& prefix) override {
    CheckKey(prefix);
    return ListKeys(prefix, true);
  }

  void DeletePrefix(const std::string& prefix) override {
    CheckKey(prefix);
    for (const auto& key : ListKeys(prefix, false))
      Expect(Send("DELETE", key, {}, {}), {200, 204, 404}, "DELETE", key);
  }

  std::string Describe(const std::string& key) const override {
    return "s3://" + bucket_ + "/" + FullKey(key);
  }

 private:
  std::string FullKey(const std::string& key) const { return prefix_.empty() ? key : prefix_ + "/" + key; }

  // Keys under `prefix` (relative to the store's prefix); with `one_level`,
  // deeper keys show as their folder "a/b/".
  std::vector<std::string> ListKeys(const std::string& prefix, bool one_level) {
    std::vector<std::string> keys;
    const std::string strip = prefix_.empty() ? "" : prefix_ + "/";
    std::string token;
    for (int page = 0; page < 100000; ++page) {
      std::vector<std::pair<std::string, std::string>> query = {{"list-type", "2"},
                                                                {"prefix", FullKey(prefix)}};
      if (one_level) query.emplace_back("delimiter", "/");
      if (!token.empty()) query.emplace_back("continuation-token", token);
      Response r = Send("GET", "", query, {});
      Expect(r, {200}, "listing", prefix);
      for (const auto& c : XmlAll(r.body, "Contents")) {
        const std::string k = XmlFirst(c, "Key");
        if (k.rfind(strip, 0) == 0) keys.push_back(k.substr(strip.size()));
      }
      for (const auto& c : XmlAll(r.body, "CommonPrefixes")) {
        const std::string p = XmlFirst(c, "Prefix");
        if (p.rfind(strip, 0) == 0) keys.push_back(p.substr(strip.size()));
      }
      if (XmlFirst(r.body, "IsTruncated") != "true") break;
      token = XmlFirst(r.body, "NextContinuationToken");
      if (token.empty()) break;
    }
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  void Expect(const Response& r, std::initializer_list<long> ok, const std::string& what,
              const std::string& key) {
    for (long s : ok)
      if (r.status == s) return;
    std::string code = XmlFirst(r.body, "Code"), message = XmlFirst(r.body, "Message");
    throw StoreError("S3: " + what + " " + Describe(key) + ": HTTP " + std::to_string(r.status) +
                     (code.empty() ? "" : " " + code) + (message.empty() ? "" : ": " + message));
  }

  // One signed request; `key` relative to the store's prefix ("" for the bucket).
  // Retried with backoff on network errors, 5xx and 429.
  Response Send(const std::string& method, const std::string& key,
                const std::vector<std::pair<std::string, std::string>>& query, std::string_view body) {
    std::lock_guard<std::mutex> lock(mutex_);
    SignedRequest request;
    request.method = method;
    const std::string object = key.empty() ? "" : FullKey(key);  // "": the bucket itself (listing)
    request.path = (path_style_ ? "/" + bucket_ : std::string()) + "/" + UriEncode(object, true);
    request.query = query;
    request.host = host_;
    request.payload_hash = Sha256Hex(body);
    const std::string canonical_query = CanonicalQuery(query);
    const std::string url =
        scheme_ + "://" + host_ + request.path + (canonical_query.empty() ? "" : "?" + canonical_query);
    std::string error;
    std::mt19937 jitter(static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
    for (int attempt = 0;; ++attempt) {
      Signature sig = SignV4(request, credentials_, region_, AmzDate());
      curl_slist* headers = nullptr;
      for (const auto& [name, value] : sig.headers)
        if (name != "host") headers = curl_slist_append(headers, (name + ": " + value).c_str());
      headers = curl_slist_append(headers, ("Authorization: " + sig.authorization).c_str());
      headers = curl_slist_append(headers, "Expect:");
      headers = curl_slist_append(headers, "Content-Type:");
      Response r;
      curl_easy_reset(curl_);
      curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
      curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
      curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, OnBody);
      curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &r.body);
      curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, OnHeader);
      curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &r.headers);
      curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
      curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, 120000L);
      curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
      if (method == "GET") {
        curl_easy_setopt(curl_, CURLOPT_HTTPGET, 1L);
      } else {
        curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method.c_str());
        if (method == "PUT" || method == "POST") {
          curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
          curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
        }
      }
      const CURLcode rc = curl_easy_perform(curl_);
      curl_slist_free_all(headers);
      if (rc == CURLE_OK) {
        curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &r.status);
        if (r.status < 500 && r.status != 429) return r;
        error = "HTTP " + std::to_string(r.status);
      } else {
        error = curl_easy_strerror(rc);
      }
      if (attempt >= kAttempts - 1)
        throw StoreError("S3: " + method + " " + Describe(key) + " failed after " +
                         std::to_string(kAttempts) + " attempts: " + error);
      const int delay = (100 << attempt) + static_cast<int>(jitter() % 100);
      std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    }
  }

  static constexpr int kAttempts = 5;
  std::string bucket_, prefix_, region_, scheme_, host_;
  bool path_style_ = true;
  size_t part_size_ = 8 << 20;
  Credentials credentials_;
  CURL* curl_ = nullptr;
  std::mutex mutex_;
};

}  // namespace

std::unique_ptr<Store> OpenS3Store(const StoreConfig& config, std::string* error) {
  const std::string rest = config.url.substr(5);  // after s3://
  const size_t slash = rest.find('/');
  std::string bucket = rest.substr(0, slash);
  std::string prefix = slash == std::string::npos ? "" : rest.substr(slash + 1);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (bucket.empty()) {
    *error = "checkpoint storage " + config.url + ": no bucket (s3://bucket/prefix)";
    return nullptr;
  }
  return std::make_unique<S3Store>(config, std::move(bucket), std::move(prefix));
}

}  // namespace streamrun::checkpoint
