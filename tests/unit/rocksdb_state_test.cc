// The rocksdb state backend: ordered keys per key group and operator, buffered
// writes visible at once, checkpoints that copy the database whole.
#include "runner/state/rocksdb_state.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

using namespace streamrun;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  TempDir() {
    path = (fs::temp_directory_path() /
            ("rocksdb_state_test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++)))
               .string();
    fs::remove_all(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string path;
  static inline int counter = 0;
};

std::vector<std::string> ScanKeys(RocksStateDb& db, uint32_t group, uint32_t op, std::string_view prefix) {
  std::vector<std::string> keys;
  db.Scan(group, op, prefix, [&](std::string_view k, std::string_view) {
    keys.emplace_back(k);
    return true;
  });
  return keys;
}

}  // namespace

TEST_CASE("get sees buffered puts and deletes; groups and operators are separate") {
  TempDir dir;
  RocksStateDb db(dir.path);
  std::string v;
  CHECK_FALSE(db.Get(1, 7, "a", &v));
  db.Put(1, 7, "a", "one");
  REQUIRE(db.Get(1, 7, "a", &v));
  CHECK(v == "one");
  CHECK_FALSE(db.Get(2, 7, "a", &v));  // another key group
  CHECK_FALSE(db.Get(1, 8, "a", &v));  // another operator
  db.Flush();
  db.Delete(1, 7, "a");
  CHECK_FALSE(db.Get(1, 7, "a", &v));
  db.Put(1, 7, std::string("\0b", 2), std::string("x\0y", 3));  // bytes, not C strings
  REQUIRE(db.Get(1, 7, std::string("\0b", 2), &v));
  CHECK(v == std::string("x\0y", 3));
}

TEST_CASE("scan: one operator's key group in key order, by prefix; writes during a scan are safe") {
  TempDir dir;
  RocksStateDb db(dir.path);
  std::string t;
  for (int64_t time : {30, -5, 10, 20}) {
    std::string k(1, '\x01');
    AppendOrderedTime(time, &k);
    db.Put(3, 1, k, "");
  }
  db.Put(3, 1, std::string(1, '\0') + "state", "s");
  db.Put(3, 2, std::string(1, '\x01') + "other operator", "");
  db.Put(4, 1, std::string(1, '\x01') + "other group", "");
  std::vector<int64_t> times;
  db.Scan(3, 1, std::string_view("\x01", 1), [&](std::string_view k, std::string_view) {
    times.push_back(ReadOrderedTime(k.substr(1)));
    db.Delete(3, 1, k);  // as firing timers do
    return true;
  });
  CHECK(times == std::vector<int64_t>{-5, 10, 20, 30});
  CHECK(ScanKeys(db, 3, 1, std::string_view("\x01", 1)).empty());
  CHECK(ScanKeys(db, 3, 1, "").size() == 1);  // the state entry stays
  // Stopping early.
  int seen = 0;
  db.Scan(4, 1, "", [&](std::string_view, std::string_view) {
    ++seen;
    return false;
  });
  CHECK(seen == 1);
}

TEST_CASE("a checkpoint copies the database whole; reopened, it has every entry") {
  TempDir dir, copy;
  std::vector<RocksStateDb::File> files;
  {
    RocksStateDb db(dir.path);
    for (int i = 0; i < 5000; ++i)
      db.Put(static_cast<uint32_t>(i % 128), 9, "k" + std::to_string(i), std::to_string(i));
    db.Delete(0, 9, "k0");
    files = db.CheckpointTo(copy.path);  // unflushed writes included
    db.Put(1, 9, "after", "not in the checkpoint");
  }
  bool has_sst = false, has_current = false;
  for (const auto& f : files) {
    has_sst |= f.name.find(".sst") != std::string::npos;
    has_current |= f.name == "CURRENT";
    CHECK(f.size > 0);
  }
  CHECK(has_sst);
  CHECK(has_current);
  RocksStateDb restored(copy.path);
  std::map<uint32_t, int> per_group;
  int total = 0;
  restored.ForEach([&](uint32_t group, uint32_t op, std::string_view key, std::string_view value) {
    CHECK(op == 9);
    CHECK(key.substr(1) == value);
    ++per_group[group];
    ++total;
  });
  CHECK(total == 4999);
  CHECK(per_group[0] == 39);  // 40 keys in group 0 (0, 128, ...), k0 deleted
  std::string v;
  CHECK_FALSE(restored.Get(1, 9, "after", &v));
  // Estimates from the files' index: a small group may round to 0, all of them do not.
  uint64_t bytes = 0, other = 0;
  for (uint32_t g = 0; g < 128; ++g) {
    bytes += restored.ApproximateBytes(g, 9);
    other += restored.ApproximateBytes(g, 10);
  }
  CHECK(bytes > 0);
  CHECK(other == 0);
}
