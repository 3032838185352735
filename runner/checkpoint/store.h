#pragma once
// Where checkpoints are kept, as a flat namespace of objects ("name/chk-7/w0"):
// a directory (file://DIR) or an S3 bucket (s3://bucket/prefix). Nothing else
// in the runtime knows which one it is (docs/architecture.md "Checkpoints").
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace streamrun::checkpoint {

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Store {
 public:
  virtual ~Store() = default;
  // Writes the object whole: a reader sees the old object or the new one, never
  // a part (rename on disk; one PUT on S3). Throws StoreError.
  virtual void Put(const std::string& key, std::string_view bytes) = 0;
  // The object, or nullopt if there is none. Throws StoreError for other failures.
  virtual std::optional<std::string> Get(const std::string& key) = 0;
  // The keys under `prefix` (one level: "a/" lists "a/b" and "a/c/", not "a/c/d").
  virtual std::vector<std::string> List(const std::string& prefix) = 0;
  // Removes everything under `prefix` (missing is fine).
  virtual void DeletePrefix(const std::string& prefix) = 0;
  // file:///ckpt or s3://bucket/prefix: for messages.
  virtual std::string Describe(const std::string& key) const = 0;
};

// Throws StoreError unless `key` is a plain relative name inside the store:
// no leading '/', no "." or ".." segment, no NUL or backslash. Every store
// checks every key, so nothing read from a checkpoint (a file name in a
// manifest or a worker state) can reach outside the store's root.
void CheckKey(const std::string& key);

// Where a store is: the url, and for s3:// the endpoint (scheme://host[:port];
// default AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS's for the region), the
// region (default AWS_REGION, AWS_DEFAULT_REGION, us-east-1) and path-style
// addressing (default: on with an endpoint, as MinIO and s3rver need).
// Credentials come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN.
struct StoreConfig {
  std::string url;  // file://DIR or s3://bucket/prefix
  std::string endpoint;
  std::string region;
  std::optional<bool> path_style;
};

// file://DIR (DIR relative to the working directory unless absolute) or
// s3://bucket/prefix; nullptr and *error for anything else.
std::unique_ptr<Store> OpenStore(const StoreConfig& config, std::string* error);
std::unique_ptr<Store> OpenS3Store(const StoreConfig& config, std::string* error);

}  // namespace streamrun::checkpoint
