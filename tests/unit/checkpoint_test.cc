// Checkpoint storage: SigV4 signing against the examples of the AWS S3 API
// reference ("Signature Calculations for the Authorization Header: Transferring
// Payload in a Single Chunk"), and the file store's checkpoint layout.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>

#include "runner/checkpoint/checkpoints.h"
#include "runner/checkpoint/sigv4.h"

namespace ck = streamrun::checkpoint;

namespace {

const ck::Credentials kExample = {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
const char* kEmptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

ck::SignedRequest Get(std::string path, std::vector<std::pair<std::string, std::string>> query = {}) {
  ck::SignedRequest r;
  r.method = "GET";
  r.path = std::move(path);
  r.query = std::move(query);
  r.host = "examplebucket.s3.amazonaws.com";
  r.payload_hash = kEmptyHash;
  return r;
}

}  // namespace

TEST_CASE("sigv4: GET object with a Range header (AWS example)") {
  auto r = Get("/test.txt");
  r.headers = {{"range", "bytes=0-9"}};
  auto s = ck::SignV4(r, kExample, "us-east-1", "20130524T000000Z");
  CHECK(s.canonical_request ==
        "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
        "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
        "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(s.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  CHECK(s.authorization ==
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST_CASE("sigv4: PUT object with a payload and a key needing encoding (AWS example)") {
  ck::SignedRequest r;
  r.method = "PUT";
  r.path = "/" + ck::UriEncode("test$file.text", true);
  r.host = "examplebucket.s3.amazonaws.com";
  r.payload_hash = ck::Sha256Hex("Welcome to Amazon S3.");
  r.headers = {{"date", "Fri, 24 May 2013 00:00:00 GMT"}, {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
  CHECK(r.path == "/test%24file.text");
  CHECK(r.payload_hash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  auto s = ck::SignV4(r, kExample, "us-east-1", "20130524T000000Z");
  CHECK(s.signature == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST_CASE("sigv4: a sub-resource without a value (GET ?lifecycle, AWS example)") {
  auto s = ck::SignV4(Get("/", {{"lifecycle", ""}}), kExample, "us-east-1", "20130524T000000Z");
  CHECK(s.canonical_request.find("\n/\nlifecycle=\n") != std::string::npos);
  CHECK(s.signature == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST_CASE("sigv4: query parameters are sorted before signing (list objects, AWS example)") {
  // Given out of order, as curl would send them if we did not sort.
  auto s =
      ck::SignV4(Get("/", {{"prefix", "J"}, {"max-keys", "2"}}), kExample, "us-east-1", "20130524T000000Z");
  CHECK(ck::CanonicalQuery({{"prefix", "J"}, {"max-keys", "2"}}) == "max-keys=2&prefix=J");
  CHECK(s.signature == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST_CASE("sigv4: URI encoding") {
  CHECK(ck::UriEncode("a b/c~d_e-f.g", false) == "a%20b%2Fc~d_e-f.g");
  CHECK(ck::UriEncode("a b/c", true) == "a%20b/c");
  CHECK(ck::UriEncode("\xE1\x88\xB4", true) == "%E1%88%B4");
}

TEST_CASE("file store: a checkpoint is complete once its manifest is written; retain keeps the newest") {
  namespace fs = std::filesystem;
  const fs::path root = fs::temp_directory_path() / ("streamrun-ck-test-" + std::to_string(::getpid()));
  fs::remove_all(root);
  std::string error;
  auto store = ck::OpenStore(ck::StoreConfig{"file://" + root.string(), "", "", std::nullopt}, &error);
  REQUIRE(store);
  ck::Checkpoints c(std::move(store), "job");
  CHECK(c.HighestId() == 0);
  for (int64_t id = 1; id <= 4; ++id) {
    c.WriteWorker(id, 0, "state-" + std::to_string(id));
    c.WriteWorker(id, 1, "other");
    if (id != 3) c.WriteManifest(id, "{\"id\": " + std::to_string(id) + ", \"workers\": 2}");
  }
  c.WriteWorker(5, 0, "incomplete");
  CHECK(c.Complete() == std::vector<int64_t>{1, 2, 4});
  CHECK(c.HighestId() == 5);
  auto loaded = c.Load(4);
  CHECK(loaded.id == 4);
  REQUIRE(loaded.workers.size() == 2);
  CHECK(loaded.workers[0] == "state-4");
  c.Retain(2);
  CHECK(c.Complete() == std::vector<int64_t>{2, 4});
  CHECK(!fs::exists(root / "job" / "chk-0000000003"));  // incomplete and older than the newest
  CHECK(fs::exists(root / "job" / "chk-0000000005"));   // newer: may be in progress
  CHECK_THROWS_AS(c.Load(3), ck::StoreError);
  fs::remove_all(root);
}
