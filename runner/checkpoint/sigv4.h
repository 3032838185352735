#pragma once
// AWS Signature Version 4 for S3 requests (the Authorization header form, the
// payload hash sent as x-amz-content-sha256). Pure functions: the S3 store
// passes the clock in, and the unit tests use the AWS documentation's examples.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace streamrun::checkpoint {

struct Credentials {
  std::string access_key;
  std::string secret_key;
  std::string session_token;  // empty unless temporary credentials
};

struct SignedRequest {
  std::string method;  // GET, PUT, POST, DELETE
  std::string path;    // as sent, already URI-encoded: /bucket/key or /key
  // Query parameters, unencoded; signed and sent sorted by name then value.
  std::vector<std::pair<std::string, std::string>> query;
  // Headers to sign besides host, x-amz-date, x-amz-content-sha256 (and the
  // session token): lowercase names.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string host;          // host[:port] as in the Host header
  std::string payload_hash;  // hex SHA-256 of the body
};

// Hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

// S3's URI encoding of one path segment or query part: everything but
// A-Z a-z 0-9 - _ . ~ as %XY (with `keep_slash`, '/' too stays).
std::string UriEncode(std::string_view s, bool keep_slash);

// The query string as signed and sent: encoded pairs sorted, joined by '&'.
std::string CanonicalQuery(const std::vector<std::pair<std::string, std::string>>& query);

struct Signature {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;      // hex
  std::string authorization;  // the Authorization header's value
  // Every header the request must carry for the signature to hold (name, value).
  std::vector<std::pair<std::string, std::string>> headers;
};

// Signs `request` at `amz_date` (YYYYMMDDTHHMMSSZ) for `region` and service s3.
Signature SignV4(const SignedRequest& request, const Credentials& credentials, const std::string& region,
                 const std::string& amz_date);

}  // namespace streamrun::checkpoint
