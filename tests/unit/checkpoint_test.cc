// Checkpoint storage: SigV4 signing against the examples of the AWS S3 API
// reference ("Signature Calculations for the Authorization Header: Transferring
// Payload in a Single Chunk"), and the file store's checkpoint layout.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>

#include "runner/checkpoint/checkpoints.h"
#include "runner/checkpoint/sigv4.h"
#include "runner/record/checksum.h"

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

// A manifest as the runtime writes it: format, id, workers and each worker
// state's length and CRC-32.
std::string Manifest(int64_t id, const std::vector<std::string>& states,
                     const std::string& pipeline = "job") {
  std::string files;
  for (size_t w = 0; w < states.size(); ++w)
    files += std::string(w ? "," : "") + "{\"name\":\"worker-" + std::to_string(w) +
             ".state\",\"bytes\":" + std::to_string(states[w].size()) +
             ",\"crc32\":" + std::to_string(streamrun::Crc32(states[w])) + "}";
  return "{\"format\":2,\"id\":" + std::to_string(id) + ",\"pipeline\":\"" + pipeline +
         "\",\"workers\":" + std::to_string(states.size()) + ",\"files\":[" + files + "]}";
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
    const std::string a = "state-" + std::to_string(id), b = "other";
    c.WriteWorker(id, 0, a);
    c.WriteWorker(id, 1, b);
    if (id != 3) c.WriteManifest(id, Manifest(id, {a, b}));
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

TEST_CASE("a checkpoint that disagrees with its manifest is refused, saying what is wrong") {
  namespace fs = std::filesystem;
  const fs::path root = fs::temp_directory_path() / ("streamrun-ck-damage-" + std::to_string(::getpid()));
  fs::remove_all(root);
  std::string error;
  auto store = ck::OpenStore(ck::StoreConfig{"file://" + root.string(), "", "", std::nullopt}, &error);
  REQUIRE(store);
  ck::Checkpoints c(std::move(store), "job");
  auto message = [&](int64_t id) -> std::string {
    try {
      c.Load(id);
    } catch (const ck::StoreError& e) {
      return e.what();
    }
    return "(loaded)";
  };
  const std::string a = "worker zero", b = "worker one";
  c.WriteWorker(1, 0, "worker zerO");  // one byte differs from what the manifest says
  c.WriteWorker(1, 1, b);
  c.WriteManifest(1, Manifest(1, {a, b}));
  CHECK(message(1).find("worker-0.state is damaged") != std::string::npos);
  c.WriteWorker(2, 0, a);
  c.WriteWorker(2, 1, b.substr(0, 4));
  c.WriteManifest(2, Manifest(2, {a, b}));
  CHECK(message(2).find("worker-1.state has 4 bytes, the manifest says 10") != std::string::npos);
  c.WriteWorker(3, 0, a);
  c.WriteManifest(3, Manifest(3, {a, b}));
  CHECK(message(3).find("worker-1.state is missing") != std::string::npos);
  c.WriteManifest(4, "{\"format\":2,\"id\":4,\"pipeline\":\"job\",\"workers\":-5,\"files\":[]}");
  CHECK(message(4).find("-5 workers") != std::string::npos);
  c.WriteWorker(5, 0, a);
  c.WriteWorker(5, 1, b);
  std::string one = Manifest(5, {a, b});
  one.replace(one.find("\"workers\":2"), 11, "\"workers\":1");
  c.WriteManifest(5, one);
  CHECK(message(5).find("lists 2 worker states for 1 workers") != std::string::npos);
  c.WriteManifest(6, Manifest(7, {a}));
  CHECK(message(6).find("it says checkpoint 7") != std::string::npos);
  c.WriteManifest(8, "{\"id\":8,\"workers\":1}");
  CHECK(message(8).find("format 1, this streamrun reads format 2") != std::string::npos);
  c.WriteManifest(9, Manifest(9, {a}, "other-job"));
  CHECK(message(9).find("of pipeline 'other-job'") != std::string::npos);
  fs::remove_all(root);
}

TEST_CASE("no key from a checkpoint reaches outside the store") {
  for (const char* bad : {"../x", "a/../../x", "/etc/passwd", "a/./b", "a//b", "a\\b"})
    CHECK_THROWS_AS(ck::CheckKey(bad), ck::StoreError);
  for (const char* ok : {"", "job/", "job/chk-0000000001/worker-0.state", "job/shared/x.sst"})
    CHECK_NOTHROW(ck::CheckKey(ok));
  CHECK(ck::ValidRef("db-w0/CURRENT"));
  CHECK(ck::ValidRef("../shared/0a1b-w0-000012.sst"));
  CHECK(ck::ValidRef("MANIFEST-000005"));
  for (const char* bad : {"../shared/../../etc/hostname", "../x", "db-w0/../x", "/etc/hostname", "db-wx/a",
                          "db-w1/", "../shared/", "a/b", ".."})
    CHECK_MESSAGE(!ck::ValidRef(bad), bad);
}
