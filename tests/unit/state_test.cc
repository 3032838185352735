// Keyed state: key groups, and the KeyedStore every stateful operator keeps its
// per-key state and timers in (keyed_store.h), under the memory backend and
// over a RocksDB database with a cache small enough to evict.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "runner/state/keyed_store.h"
#include "runner/state/rocksdb_state.h"

using namespace streamrun;
namespace fs = std::filesystem;

namespace {

// A count and the keys' last time: what a simple keyed operator keeps.
struct Counter {
  int64_t count = 0;
  int64_t last = 0;
};

struct CounterCodec {
  void Save(const Counter& c, SnapshotWriter& w) const {
    w.I64(c.count);
    w.I64(c.last);
  }
  void Load(SnapshotReader& r, Counter* c, int) const {
    c->count = r.I64();
    c->last = r.I64();
  }
  uint64_t Bytes(const Counter&) const { return 64; }
  // Format 2 had no timers: a counter implies one at last + 10.
  void LegacyTimers(const Counter& c, std::vector<KeyedTimer>* timers) const {
    timers->push_back(KeyedTimer{c.last + 10, 0, 0});
  }
};

using Store = KeyedStore<Counter, CounterCodec>;

struct TempDir {
  TempDir() {
    path =
        (fs::temp_directory_path() / ("state_test-" + std::to_string(::getpid()) + "-" + std::to_string(n++)))
            .string();
    fs::remove_all(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string path;
  static inline int n = 0;
};

// A backend for a test: memory, or a database with a byte budget.
struct Backend {
  explicit Backend(bool rocksdb, uint64_t cache_bytes = 1 << 20) {
    if (rocksdb) {
      db = std::make_unique<RocksStateDb>(dir.path);
      service = KeyedStateService(db.get(), 7, cache_bytes);
    }
  }
  TempDir dir;
  std::unique_ptr<RocksStateDb> db;
  KeyedStateService service;
};

std::string Key(int i) { return "key-" + std::to_string(i); }

// Adds one record of key i at time t: count + 1, a timer at t + 10.
void Add(Store& store, int i, int64_t t) {
  Counter* c = store.SetCurrentKey(static_cast<uint32_t>(i) % kKeyGroups, Key(i), true);
  ++c->count;
  c->last = t;
  store.RegisterTimer(KeyedTimer{t + 10, 0, 0});
}

// Fires timers up to w: a key whose last time + 10 is due is erased; returns
// the keys erased, in firing order.
std::vector<std::string> Advance(Store& store, int64_t w) {
  std::vector<std::string> erased;
  store.AdvanceTo(w, [&](const KeyedTimer& t, Counter& c) {
    if (c.last + 10 != t.time) return;  // a later record moved it on
    erased.emplace_back(store.current_key());
    store.EraseCurrent();
  });
  return erased;
}

std::map<std::string, int64_t> Counts(Store& store) {
  std::map<std::string, int64_t> out;
  store.ForEach([&](std::string_view key, const Counter& c) { out[std::string(key)] = c.count; });
  return out;
}

}  // namespace

TEST_CASE("key groups cover 0..127 and are stable") {
  CHECK(KeyGroupOf(0) == 0);
  CHECK(KeyGroupOf(127) == 127);
  CHECK(KeyGroupOf(128) == 0);
  CHECK(KeyGroupOf(UINT64_MAX) == UINT64_MAX % 128);
}

TEST_CASE("keyed store: values per key, created once, found again, erased") {
  for (bool rocksdb : {false, true}) {
    CAPTURE(rocksdb);
    Backend b(rocksdb);
    Store store(b.service, CounterCodec{}, TimerLayout::kTime);
    bool created = false;
    CHECK(store.SetCurrentKey(3, "a", false) == nullptr);
    CHECK(!store.has_current());
    store.SetCurrentKey(3, "a", true, &created)->count = 5;
    CHECK(created);
    CHECK(store.SetCurrentKey(3, "a", true, &created)->count == 5);
    CHECK(!created);
    CHECK(store.current_key() == "a");
    CHECK(store.current_group() == 3);
    CHECK(store.SetCurrentKey(4, "a", false) == nullptr);  // another group: another key
    store.SetCurrentKey(3, "a", false);
    store.EraseCurrent();
    CHECK(store.SetCurrentKey(3, "a", false) == nullptr);
  }
}

TEST_CASE("keyed store: thousands of keys through growth and erasure keep their values") {
  Backend b(false);
  Store store(b.service, CounterCodec{}, TimerLayout::kTime);
  for (int i = 0; i < 20000; ++i) store.SetCurrentKey(i % 5, Key(i), true)->count = i;
  for (int i = 0; i < 20000; i += 2) {
    REQUIRE(store.SetCurrentKey(i % 5, Key(i), false));
    store.EraseCurrent();
  }
  CHECK(store.keys_in_memory() == 10000);
  for (int i = 0; i < 20000; ++i) {
    Counter* c = store.SetCurrentKey(i % 5, Key(i), false);
    if (i % 2 == 0) {
      CHECK(c == nullptr);
    } else {
      REQUIRE(c);
      CHECK(c->count == i);
    }
  }
}

TEST_CASE("keyed store: timers fire once, in time order per key group, with their key current") {
  for (bool rocksdb : {false, true}) {
    CAPTURE(rocksdb);
    Backend b(rocksdb);
    Store store(b.service, CounterCodec{}, TimerLayout::kTime);
    Add(store, 0, 30);   // group 0: timer at 40
    Add(store, 128, 5);  // group 0: timer at 15
    Add(store, 1, 0);    // group 1: timer at 10
    CHECK(Advance(store, 9).empty());
    CHECK(Advance(store, 15) == std::vector<std::string>{"key-128", "key-1"});  // group 0 first
    CHECK(Advance(store, 15).empty());                                          // fired once
    Add(store, 0, 50);  // key-0's timer at 40 no longer applies; a new one at 60
    CHECK(Advance(store, 45).empty());
    CHECK(Counts(store) == std::map<std::string, int64_t>{{"key-0", 2}});
    CHECK(Advance(store, 60) == std::vector<std::string>{"key-0"});
    CHECK(Counts(store).empty());
  }
}

TEST_CASE("keyed store: an erased key's timers never fire, even when its slot is reused") {
  Backend b(false);
  Store store(b.service, CounterCodec{}, TimerLayout::kTime);
  Add(store, 1, 0);  // timer at 10
  store.SetCurrentKey(1, Key(1), false);
  store.EraseCurrent();
  Add(store, 129, 0);  // same group, probably the freed slot; its own timer at 10
  int fired = 0;
  store.AdvanceTo(100, [&](const KeyedTimer&, Counter&) {
    ++fired;
    CHECK(store.current_key() == "key-129");
  });
  CHECK(fired == 1);
}

TEST_CASE("keyed store: timers with a tag and namespace keep them") {
  for (bool rocksdb : {false, true}) {
    CAPTURE(rocksdb);
    Backend b(rocksdb);
    Store store(b.service, CounterCodec{}, TimerLayout::kTimeTagNamespace);
    store.SetCurrentKey(2, "w", true);
    store.RegisterTimer(KeyedTimer{100, -5, 2});
    store.RegisterTimer(KeyedTimer{100, 7, 1});
    store.RegisterTimer(KeyedTimer{-3, 1, 0});
    std::vector<std::tuple<int64_t, int64_t, int>> seen;
    store.AdvanceTo(100, [&](const KeyedTimer& t, Counter&) { seen.emplace_back(t.time, t.ns, t.tag); });
    REQUIRE(seen.size() == 3);
    CHECK(seen[0] == std::make_tuple(int64_t{-3}, int64_t{1}, 0));
    // Equal times: both come, tag and namespace intact.
    CHECK(std::count(seen.begin(), seen.end(), std::make_tuple(int64_t{100}, int64_t{-5}, 2)) == 1);
    CHECK(std::count(seen.begin(), seen.end(), std::make_tuple(int64_t{100}, int64_t{7}, 1)) == 1);
  }
}

TEST_CASE("keyed store: a checkpoint of values and timers restores (format 3), also at another owner") {
  Backend from(false);
  Store a(from.service, CounterCodec{}, TimerLayout::kTime);
  for (int i = 0; i < 300; ++i) Add(a, i, i);
  CHECK(Advance(a, 50).size() == 41);  // keys 0..40 erased
  StateSnapshot snap;
  a.Snapshot(snap);
  const auto before = Counts(a);
  CHECK(Advance(a, 200).size() == 150);  // keys 41..190
  const auto after = Counts(a);
  for (bool rocksdb : {false, true}) {
    CAPTURE(rocksdb);
    Backend to(rocksdb, 2000);  // a small cache: most keys live in the database
    Store b(to.service, CounterCodec{}, TimerLayout::kTime);
    StateRestore in;
    for (uint32_t g = 0; g < kKeyGroups; ++g) in.groups[g] = snap.groups[g];
    b.Restore(in);
    CHECK(Counts(b) == before);
    // The restored timers fire as the originals did.
    CHECK(Advance(b, 200).size() == 150);
    CHECK(Counts(b) == after);
  }
}

TEST_CASE("keyed store: format 2 entries restore with the timers the codec implies") {
  std::string bytes;
  SnapshotWriter w(&bytes);
  w.Str("k");  // format 2: key, value; no record kind, no timers
  w.I64(3);
  w.I64(20);
  Backend b(false);
  Store store(b.service, CounterCodec{}, TimerLayout::kTime);
  StateRestore in;
  in.format = 2;
  in.groups[9] = bytes;
  store.Restore(in);
  REQUIRE(store.SetCurrentKey(9, "k", false));
  CHECK(store.SetCurrentKey(9, "k", false)->count == 3);
  CHECK(Advance(store, 29).empty());
  CHECK(Advance(store, 30) == std::vector<std::string>{"k"});
}

TEST_CASE("keyed store: a damaged checkpoint is refused") {
  Backend b(false);
  Store store(b.service, CounterCodec{}, TimerLayout::kTime);
  StateRestore in;
  std::string bytes;
  SnapshotWriter w(&bytes);
  w.U64(9);  // no such record kind
  w.Str("k");
  in.groups[0] = bytes;
  CHECK_THROWS_AS(store.Restore(in), SnapshotError);
  in.groups[0] = std::string("\x00\x05k", 3);  // a key longer than the bytes
  CHECK_THROWS_AS(store.Restore(in), SnapshotError);
}

TEST_CASE("keyed store under rocksdb: past the cache budget keys are written back and read again") {
  Backend b(true, 4000);  // about 50 keys of 80 bytes
  Store store(b.service, CounterCodec{}, TimerLayout::kTime);
  for (int round = 0; round < 3; ++round)
    for (int i = 0; i < 2000; ++i) Add(store, i, 1000 * round + i % 7);
  CHECK(store.keys_in_memory() < 200);
  std::map<std::string, int64_t> counts = Counts(store);
  REQUIRE(counts.size() == 2000);
  for (const auto& [key, count] : counts) CHECK(count == 3);
  // A checkpoint writes back what memory holds: the database alone has all.
  StateSnapshot snap;
  store.Snapshot(snap);
  CHECK(snap.empty());
  int in_db = 0;
  b.db->ForEach([&](uint32_t, uint32_t op, std::string_view key, std::string_view) {
    if (op == 7 && key[0] == 0) ++in_db;
  });
  CHECK(in_db == 2000);
  // Every key's timers are in the database too: all keys go by 3000 + 10.
  CHECK(Advance(store, 3016).size() == 2000);
  CHECK(Counts(store).empty());
}

TEST_CASE("keyed store: one store per operator") {
  Backend b(false);
  Store store(b.service, CounterCodec{}, TimerLayout::kTime);
  CHECK_THROWS(Store(b.service, CounterCodec{}, TimerLayout::kTime));
}
