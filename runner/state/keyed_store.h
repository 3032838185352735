#pragma once
// Keyed state and timers, written once for every stateful operator: what Flink
// gives a KeyedProcessFunction. The runtime makes a KeyedStateService for each
// step instance (keyed_service.h); an operator that keeps per-key state makes
// one KeyedStore over it when it starts, naming its value type and how to
// write it (a codec), and from then on only:
//
//   V* v = store.SetCurrentKey(group, key_bytes, /*create=*/true);
//   ... change *v ...;  store.RegisterTimer({time, ns, tag});
//   store.AdvanceTo(watermark, [&](const KeyedTimer& t, V& v) { ... });
//
// Two tiers, under both backends:
// - Hot keys are C++ values (V), changed in place with no encoding per record,
//   within a byte budget (the service's). Past it, hot keys are encoded by the
//   codec and dropped from the hot tier, oldest slots first.
// - Cold keys are the codec's bytes: in memory (one allocation per key holding
//   its key bytes and value bytes, found through a flat open-addressing index
//   per key group), or under rocksdb in the database. A cold key is decoded
//   again when it is next used. So the memory a key costs at rest is its
//   encoded size, not the size of its C++ objects.
// - Event-time timers per key. In memory: a binary heap per key group whose
//   timers name their key by slot and generation, so a timer of a key whose
//   state was erased never fires. Under rocksdb timers live only in the
//   database (time-ordered; each key group's earliest in memory), so neither
//   keys nor timers are bounded by memory. A timer fires once, at the first
//   AdvanceTo at or past its time, with its key current. Timers cannot be
//   deleted: an operator checks, when one fires, whether it still applies.
//   The operator's range of the database (state_db.h):
//     0x00 key                        -> the key's value (the codec's bytes)
//     0x01 time(8) [tag(1) ns(8)] key -> ""   (a timer; tag and ns per TimerLayout)
// - Checkpoints: the runtime calls Snapshot/Restore (through the service), not
//   the operator. Memory backend, per key group (worker-state format 3):
//     records, each U64 kind: 0 = entry (Str key, value), 1 = timer (Str key,
//     I64 time, and per TimerLayout U64 tag, I64 ns)
//   entries before timers, so the bytes of several workers may follow each
//   other. Format 2 had only the entries, without the kind, and no timers: the
//   codec's LegacyTimers says which timers a restored value implies, and a
//   restored format-2 database is re-encoded once.
//   Under rocksdb, Snapshot writes changed keys back; the runtime copies the
//   database.
//
// One thread (the worker's) uses a store. A V& is valid until the next
// SetCurrentKey, AdvanceTo, ForEach or EraseCurrent: the store may evict then.
//
// The codec (a small value type the operator passes in):
//   void Save(const V&, SnapshotWriter&) const;            // format 3
//   void Load(SnapshotReader&, V*, int format) const;      // into a default V; format 2 or 3
//   uint64_t Bytes(const V&) const;                        // heap bytes V owns (the hot budget;
//                                                          // asked after each use of a key: keep it cheap)
//   void LegacyTimers(const V&, std::vector<KeyedTimer>*) const;  // format 2 only
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runner/record/status.h"
#include "runner/state/key_groups.h"
#include "runner/state/keyed_service.h"
#include "runner/state/snapshot.h"
#include "runner/state/state_db.h"

namespace streamrun {

// A timer of the current key: due when the watermark reaches `time`. What it
// is for is the operator's: `ns` (a window's start) and `tag` (fire, free).
struct KeyedTimer {
  int64_t time = 0;
  int64_t ns = 0;
  uint8_t tag = 0;
  bool operator==(const KeyedTimer& o) const { return time == o.time && ns == o.ns && tag == o.tag; }
};

// How a store's timers are keyed in the database: by time alone (ns and tag
// are then not kept), or by time, tag and ns. Fixed for an operator: its
// checkpoints depend on it.
enum class TimerLayout : uint8_t { kTime, kTimeTagNamespace };

// 32-bit hash of key bytes (FNV-1a, then mixed): the index's probe position.
inline uint32_t KeyedHash(std::string_view key) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : key) h = (h ^ c) * 1099511628211ull;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return static_cast<uint32_t>(h);
}

// Slots of T in fixed arrays of 4,096 (an address stays put while the slot
// lives), reused through a free list.
template <typename T>
class Slots {
 public:
  T& operator[](uint32_t i) { return slabs_[i / kSlab][i % kSlab]; }
  const T& operator[](uint32_t i) const { return slabs_[i / kSlab][i % kSlab]; }
  uint32_t Take() {
    if (!free_.empty()) {
      const uint32_t i = free_.back();
      free_.pop_back();
      return i;
    }
    if (next_ == slabs_.size() * kSlab) slabs_.push_back(std::make_unique<T[]>(kSlab));
    return next_++;
  }
  void Give(uint32_t i) { free_.push_back(i); }
  uint32_t made() const { return next_; }  // slots ever taken: 0 .. made() - 1
  uint64_t bytes() const { return slabs_.size() * kSlab * sizeof(T); }

 private:
  static constexpr uint32_t kSlab = 4096;
  std::vector<std::unique_ptr<T[]>> slabs_;
  uint32_t next_ = 0;
  std::vector<uint32_t> free_;
};

// What a store may do with hot values.
enum class HotValues : uint8_t {
  kEvict,  // past the budget, encode and drop the oldest (most stores)
  // Keep every value decoded: for a few large values that are used together,
  // where encoding one to make room for another would cost a whole value per
  // record (top_n: each open window's rows). Checkpoints still write them.
  kKeep,
};

template <typename V, typename Codec>
class KeyedStore final : public KeyedStateBase {
 public:
  KeyedStore(KeyedStateService& service, Codec codec, TimerLayout layout, HotValues hot = HotValues::kEvict)
      : codec_(std::move(codec)),
        layout_(layout),
        db_(service.db()),
        op_(service.op()),
        budget_(hot == HotValues::kKeep ? std::numeric_limits<uint64_t>::max() : service.hot_bytes()) {
    next_timer_.fill(kNoTimer);
    service.Attach(this);
  }
  ~KeyedStore() override {
    for (uint32_t h = 0; h < homes_.made(); ++h) std::free(homes_[h].blob);
  }
  KeyedStore(const KeyedStore&) = delete;
  KeyedStore& operator=(const KeyedStore&) = delete;

  // Makes (group, key) the current key and returns its value: hot, else cold
  // (decoded), else (create) a new default V, else null (and no key is
  // current). The value is taken as changed.
  V* SetCurrentKey(uint32_t group, std::string_view key, bool create, bool* created = nullptr) {
    Settle();
    MaybeEvict();
    if (created) *created = false;
    const uint32_t hash = KeyedHash(key);
    uint32_t home = Find(group, key, hash);
    if (home != kNone) {
      if (!HomeAt(home).hot) Promote(home, HomeValue(home), 3, /*stored=*/false);
    } else if (db_ && db_->Get(group, op_, StateKey(key), &db_value_)) {
      home = NewHome(group, key, hash);
      Promote(home, db_value_, 3, /*stored=*/true);
    } else {
      if (!create) return nullptr;
      home = NewHome(group, key, hash);
      NewHot(home);
      if (created) *created = true;
    }
    current_ = HomeAt(home).hot - 1;
    Hot& h = HotAt(current_);
    h.dirty = true;
    return &h.value;
  }

  bool has_current() const { return current_ != kNone; }
  std::string_view current_key() const { return HomeKey(HotAt(current_).home); }
  uint32_t current_group() const { return HomeAt(HotAt(current_).home).group; }

  // Erases the current key's state (memory and database). In memory its
  // timers will not fire; under rocksdb they stay in the database and fire if
  // the key has state again by then (one more reason to check, when a timer
  // fires, that it still applies). No key is current after.
  void EraseCurrent() {
    if (current_ == kNone) return;
    Hot& h = HotAt(current_);
    const uint32_t home = h.home;
    if (db_ && h.stored) db_->Delete(HomeAt(home).group, op_, StateKey(HomeKey(home)));
    FreeHot(current_);
    FreeHome(home);
    current_ = kNone;
  }

  // A timer of the current key (event time).
  void RegisterTimer(const KeyedTimer& t) {
    const Hot& h = HotAt(current_);
    const Home& home = HomeAt(h.home);
    if (db_) {
      db_->Put(home.group, op_, TimerKey(t, HomeKey(h.home)), {});
      next_timer_[home.group] = std::min(next_timer_[home.group], t.time);
      return;
    }
    const bool keeps_ns = layout_ == TimerLayout::kTimeTagNamespace;
    PushTimer(home.group,
              TimerRec{t.time, keeps_ns ? t.ns : 0, h.home, home.gen, keeps_ns ? t.tag : uint8_t{0}});
  }

  // The watermark reached `watermark`: every timer due by then fires, key
  // group by key group, each group's in time order, with its key current.
  template <typename Fire>
  void AdvanceTo(int64_t watermark, Fire&& fire) {
    Settle();
    for (uint32_t g = 0; g < kKeyGroups; ++g) {
      if (next_timer_[g] > watermark) continue;
      if (db_)
        AdvanceStored(g, watermark, fire);
      else
        AdvanceMemory(g, watermark, fire);
    }
    Settle();
    MaybeEvict();
  }

  // Every key with state, in no set order; cold keys are decoded into a
  // scratch value: `visit` must not change values. No key is current during
  // or after.
  template <typename Visit>
  void ForEach(Visit&& visit) {
    Settle();
    V scratch{};
    for (uint32_t g = 0; g < kKeyGroups; ++g) {
      for (uint32_t slot : groups_[g].index) {
        if (!slot) continue;
        const uint32_t home = slot - 1;
        if (HomeAt(home).hot) {
          visit(HomeKey(home), HotAt(HomeAt(home).hot - 1).value);
        } else if (!db_) {
          Decode(HomeValue(home), 3, &scratch);
          visit(HomeKey(home), scratch);
        }
      }
    }
    if (!db_) return;
    for (uint32_t g = 0; g < kKeyGroups; ++g) {
      db_->Scan(g, op_, std::string_view(&kStateSpace, 1), [&](std::string_view k, std::string_view v) {
        const std::string_view key = k.substr(1);
        if (Find(g, key, KeyedHash(key)) != kNone) return true;  // hot: visited above
        Decode(v, 3, &scratch);
        visit(key, scratch);
        return true;
      });
    }
  }

  // Keys with state in memory (hot and, for the memory backend, cold), and hot.
  size_t keys_in_memory() const { return homes_live_; }
  size_t hot_keys() const { return hot_live_; }
  uint64_t MemoryBytes() const override {
    uint64_t bytes = used_ + blob_bytes_ + homes_.bytes() + hots_.bytes();
    for (const auto& g : groups_)
      bytes += g.index.capacity() * sizeof(uint32_t) + g.timers.capacity() * sizeof(TimerRec);
    return bytes;
  }

  // ---- checkpoints (called by the runtime through the service) ----------------

  void Snapshot(StateSnapshot& out) override {
    Settle();
    if (db_) {
      for (uint32_t i = 0; i < hots_.made(); ++i)
        if (HotAt(i).live) WriteBack(HotAt(i));
      return;
    }
    for (uint32_t g = 0; g < kKeyGroups; ++g) {
      Group& group = groups_[g];
      if (group.live == 0) continue;
      SnapshotWriter w(&out.groups[g]);
      for (uint32_t slot : group.index) {
        if (!slot) continue;
        const uint32_t home = slot - 1;
        w.U64(kRecordEntry);
        w.Str(HomeKey(home));
        if (HomeAt(home).hot)
          codec_.Save(HotAt(HomeAt(home).hot - 1).value, w);
        else
          w.Raw(HomeValue(home));
      }
      for (const TimerRec& t : group.timers) {
        if (!Live(t)) continue;
        w.U64(kRecordTimer);
        w.Str(HomeKey(t.home));
        w.I64(t.time);
        if (layout_ == TimerLayout::kTimeTagNamespace) {
          w.U64(t.tag);
          w.I64(t.ns);
        }
      }
    }
  }

  void Restore(const StateRestore& in) override {
    Settle();
    if (db_ && in.format < 3) ReencodeDb(in.format);
    std::vector<KeyedTimer> implied;
    V value{};
    for (uint32_t g = 0; g < kKeyGroups; ++g) {
      SnapshotReader r(in.groups[g]);
      while (!r.done()) {
        const uint64_t kind = in.format >= 3 ? r.U64() : kRecordEntry;
        const std::string_view key = r.Str();
        if (kind == kRecordEntry) {
          value = V{};
          codec_.Load(r, &value, in.format);
          V* v = SetCurrentKey(g, key, true);
          *v = std::move(value);
          if (in.format < 3) {
            implied.clear();
            codec_.LegacyTimers(*v, &implied);
            for (const KeyedTimer& t : implied) RegisterTimer(t);
          }
        } else if (kind == kRecordTimer) {
          KeyedTimer t;
          t.time = r.I64();
          if (layout_ == TimerLayout::kTimeTagNamespace) {
            const uint64_t tag = r.U64();
            if (tag > 255) throw SnapshotError("state snapshot: bad timer");
            t.tag = static_cast<uint8_t>(tag);
            t.ns = r.I64();
          }
          if (SetCurrentKey(g, key, false)) RegisterTimer(t);
        } else {
          throw SnapshotError("state snapshot: unknown keyed-state record " + std::to_string(kind));
        }
      }
    }
    Settle();
    // rocksdb: timers came with the database; each key group's earliest.
    if (db_)
      for (uint32_t g = 0; g < kKeyGroups; ++g) NextStoredTimer(g);
  }

 private:
  static constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();
  static constexpr int64_t kNoTimer = std::numeric_limits<int64_t>::max();
  static constexpr char kStateSpace = 0x00;
  static constexpr char kTimerSpace = 0x01;
  static constexpr uint64_t kRecordEntry = 0, kRecordTimer = 1;
  // A hot value's cost beyond what the codec counts: its slot and bookkeeping.
  static constexpr uint64_t kHotOverhead = sizeof(V) + 32;

  // A key known in memory: 16 bytes. Its blob is one allocation: varint key
  // length, varint value length, key bytes, value bytes (the codec's; empty
  // while the key has only been hot, and always under rocksdb).
  struct Home {
    char* blob = nullptr;
    uint32_t hot = 0;  // hot slot + 1; 0 while cold
    uint16_t gen = 0;  // bumped when the slot is freed: a timer of the old key is stale
    uint8_t group = 0;
    bool live = false;
  };

  // A hot key's value.
  struct Hot {
    V value{};
    uint32_t home = kNone;
    uint32_t cost = 0;  // bytes counted in used_ for it
    bool live = false;
    bool dirty = false;   // changed since encoded (cold blob or database)
    bool stored = false;  // rocksdb: the database has it
  };

  // A memory timer: 24 bytes.
  struct TimerRec {
    int64_t time;
    int64_t ns;
    uint32_t home;
    uint16_t gen;
    uint8_t tag;
    // Heap order: earliest first (std::push_heap keeps the greatest on top).
    bool operator>(const TimerRec& o) const {
      if (time != o.time) return time > o.time;
      if (ns != o.ns) return ns > o.ns;
      if (tag != o.tag) return tag > o.tag;
      return home > o.home;
    }
  };

  // One key group: an open-addressing index of homes (home + 1; 0 empty;
  // linear probing from the key's hash, backward-shift deletion), and its timers.
  struct Group {
    std::vector<uint32_t> index;
    uint32_t live = 0;
    std::vector<TimerRec> timers;  // memory backend: a min-heap
  };

  // ---- homes and the index ------------------------------------------------------

  Home& HomeAt(uint32_t i) { return homes_[i]; }
  const Home& HomeAt(uint32_t i) const { return homes_[i]; }
  Hot& HotAt(uint32_t i) { return hots_[i]; }
  const Hot& HotAt(uint32_t i) const { return hots_[i]; }

  static uint64_t ReadVarint(const char*& p) {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      const uint8_t b = static_cast<uint8_t>(*p++);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
  }
  static char* WriteVarint(uint64_t v, char* p) {
    while (v >= 0x80) {
      *p++ = static_cast<char>(v | 0x80);
      v >>= 7;
    }
    *p++ = static_cast<char>(v);
    return p;
  }
  static size_t VarintSize(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
      v >>= 7;
      ++n;
    }
    return n;
  }
  std::string_view HomeKey(uint32_t home) const {
    const char* p = HomeAt(home).blob;
    const uint64_t key_len = ReadVarint(p);
    ReadVarint(p);
    return {p, key_len};
  }
  std::string_view HomeValue(uint32_t home) const {
    const char* p = HomeAt(home).blob;
    const uint64_t key_len = ReadVarint(p);
    const uint64_t value_len = ReadVarint(p);
    return {p + key_len, value_len};
  }
  // Makes the home's blob hold `key` and `value`.
  void SetBlob(uint32_t home, std::string_view key, std::string_view value) {
    Home& h = HomeAt(home);
    const size_t size = VarintSize(key.size()) + VarintSize(value.size()) + key.size() + value.size();
    char* blob = static_cast<char*>(std::malloc(size));
    if (!blob) throw std::bad_alloc();
    char* p = WriteVarint(value.size(), WriteVarint(key.size(), blob));
    std::memcpy(p, key.data(), key.size());
    if (!value.empty()) std::memcpy(p + key.size(), value.data(), value.size());
    if (h.blob) blob_bytes_ -= BlobSize(h.blob);
    std::free(h.blob);
    h.blob = blob;
    blob_bytes_ += size;
  }
  static size_t BlobSize(const char* blob) {
    const char* p = blob;
    const uint64_t key_len = ReadVarint(p);
    const uint64_t value_len = ReadVarint(p);
    return static_cast<size_t>(p - blob) + key_len + value_len;
  }

  uint32_t Find(uint32_t group, std::string_view key, uint32_t hash) const {
    const auto& index = groups_[group].index;
    if (index.empty()) return kNone;
    const size_t mask = index.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      const uint32_t slot = index[i];
      if (!slot) return kNone;
      if (HomeKey(slot - 1) == key) return slot - 1;
    }
  }

  void Insert(Group& group, uint32_t hash, uint32_t home) {
    if ((group.live + 1) * 8 > group.index.size() * 7) Grow(group);
    const size_t mask = group.index.size() - 1;
    size_t i = hash & mask;
    while (group.index[i]) i = (i + 1) & mask;
    group.index[i] = home + 1;
    ++group.live;
  }

  void Grow(Group& group) {
    std::vector<uint32_t> old = std::move(group.index);
    group.index.assign(old.empty() ? 16 : old.size() * 2, 0);
    const size_t mask = group.index.size() - 1;
    for (uint32_t slot : old) {
      if (!slot) continue;
      size_t i = KeyedHash(HomeKey(slot - 1)) & mask;
      while (group.index[i]) i = (i + 1) & mask;
      group.index[i] = slot;
    }
  }

  void RemoveFromIndex(Group& group, uint32_t hash, uint32_t home) {
    const size_t mask = group.index.size() - 1;
    size_t i = hash & mask;
    while (group.index[i] != home + 1) i = (i + 1) & mask;
    // Backward shift: move later slots of the run back over the hole.
    for (size_t j = (i + 1) & mask;; j = (j + 1) & mask) {
      const uint32_t slot = group.index[j];
      if (!slot) break;
      const size_t at = KeyedHash(HomeKey(slot - 1)) & mask;
      // The slot at j may fill the hole at i if its home position is not in (i, j].
      if (((j - at) & mask) >= ((j - i) & mask)) {
        group.index[i] = slot;
        i = j;
      }
    }
    group.index[i] = 0;
    --group.live;
  }

  uint32_t NewHome(uint32_t group, std::string_view key, uint32_t hash) {
    const uint32_t home = homes_.Take();
    Home& h = HomeAt(home);
    h.group = static_cast<uint8_t>(group);
    h.live = true;
    h.hot = 0;
    SetBlob(home, key, {});
    Insert(groups_[group], hash, home);
    ++homes_live_;
    return home;
  }

  void FreeHome(uint32_t home) {
    Home& h = HomeAt(home);
    RemoveFromIndex(groups_[h.group], KeyedHash(HomeKey(home)), home);
    blob_bytes_ -= BlobSize(h.blob);
    std::free(h.blob);
    h.blob = nullptr;
    h.live = false;
    h.hot = 0;
    --homes_live_;
    // A home whose generation wraps is retired, never reused: a timer left
    // from 65,536 keys ago must not find a live key there.
    if (++h.gen != 0) homes_.Give(home);
  }

  // ---- the hot tier -------------------------------------------------------------

  uint32_t NewHot(uint32_t home) {
    const uint32_t i = hots_.Take();
    Hot& h = HotAt(i);
    h.value = V{};
    h.home = home;
    h.cost = 0;
    h.live = true;
    h.dirty = false;
    h.stored = false;
    HomeAt(home).hot = i + 1;
    ++hot_live_;
    return i;
  }

  void FreeHot(uint32_t i) {
    Hot& h = HotAt(i);
    used_ -= std::min<uint64_t>(used_, h.cost);
    h.value = V{};
    h.live = false;
    h.cost = 0;
    HomeAt(h.home).hot = 0;
    hots_.Give(i);
    --hot_live_;
  }

  // A cold key's bytes become its hot value.
  void Promote(uint32_t home, std::string_view bytes, int format, bool stored) {
    const uint32_t i = NewHot(home);
    Hot& h = HotAt(i);
    h.stored = stored;
    Decode(bytes, format, &h.value);
  }

  void Decode(std::string_view bytes, int format, V* value) {
    *value = V{};
    SnapshotReader r(bytes);
    codec_.Load(r, value, format);
  }

  // The current value's cost is counted again once the operator is done with it.
  void Settle() {
    if (current_ == kNone) return;
    if (budget_ == std::numeric_limits<uint64_t>::max()) {  // HotValues::kKeep: nothing to count
      current_ = kNone;
      return;
    }
    Hot& h = HotAt(current_);
    const uint64_t cost = kHotOverhead + codec_.Bytes(h.value);
    used_ = used_ - std::min<uint64_t>(used_, h.cost) + cost;
    h.cost = static_cast<uint32_t>(std::min<uint64_t>(cost, std::numeric_limits<uint32_t>::max()));
    current_ = kNone;
  }

  // A hot value goes cold: encoded into its blob (memory) or the database
  // (rocksdb, where its home then goes too: the database knows the key).
  void Cool(uint32_t i) {
    Hot& h = HotAt(i);
    const uint32_t home = h.home;
    if (db_) {
      WriteBack(h);
      FreeHot(i);
      FreeHome(home);
      return;
    }
    if (h.dirty) {
      value_scratch_.clear();
      SnapshotWriter w(&value_scratch_);
      codec_.Save(h.value, w);
      key_scratch_.assign(HomeKey(home));
      SetBlob(home, key_scratch_, value_scratch_);
    }
    FreeHot(i);
  }

  // Past the budget, hot values (from where the last eviction stopped) go
  // cold until half of it is used.
  void MaybeEvict() {
    if (used_ <= budget_ || hots_.made() == 0) return;
    for (uint32_t n = 0; n < hots_.made() && used_ > budget_ / 2; ++n) {
      const uint32_t i = evict_cursor_ % hots_.made();
      evict_cursor_ = i + 1;
      if (HotAt(i).live) Cool(i);
    }
  }

  bool Live(const TimerRec& t) const { return HomeAt(t.home).live && HomeAt(t.home).gen == t.gen; }

  void PushTimer(uint32_t group, const TimerRec& rec) {
    auto& heap = groups_[group].timers;
    heap.push_back(rec);
    std::push_heap(heap.begin(), heap.end(), std::greater<TimerRec>());
    next_timer_[group] = heap.front().time;
  }

  template <typename Fire>
  void AdvanceMemory(uint32_t g, int64_t watermark, Fire& fire) {
    auto& heap = groups_[g].timers;
    while (!heap.empty() && heap.front().time <= watermark) {
      std::pop_heap(heap.begin(), heap.end(), std::greater<TimerRec>());
      const TimerRec t = heap.back();
      heap.pop_back();
      if (!Live(t)) continue;
      if (!HomeAt(t.home).hot) Promote(t.home, HomeValue(t.home), 3, false);
      current_ = HomeAt(t.home).hot - 1;
      HotAt(current_).dirty = true;
      fire(KeyedTimer{t.time, t.ns, t.tag}, HotAt(current_).value);
      Settle();
      MaybeEvict();
    }
    next_timer_[g] = heap.empty() ? kNoTimer : heap.front().time;
  }

  // ---- rocksdb ----------------------------------------------------------------

  const std::string& StateKey(std::string_view key) {
    db_key_.assign(1, kStateSpace);
    db_key_.append(key);
    return db_key_;
  }

  const std::string& TimerKey(const KeyedTimer& t, std::string_view key) {
    timer_key_.assign(1, kTimerSpace);
    AppendOrderedTime(t.time, &timer_key_);
    if (layout_ == TimerLayout::kTimeTagNamespace) {
      timer_key_.push_back(static_cast<char>(t.tag));
      AppendOrderedTime(t.ns, &timer_key_);
    }
    timer_key_.append(key);
    return timer_key_;
  }

  void WriteBack(Hot& h) {
    if (!h.dirty) return;
    value_scratch_.clear();
    SnapshotWriter w(&value_scratch_);
    codec_.Save(h.value, w);
    const uint32_t home = h.home;
    db_->Put(HomeAt(home).group, op_, StateKey(HomeKey(home)), value_scratch_);
    h.dirty = false;
    h.stored = true;
  }

  template <typename Fire>
  void AdvanceStored(uint32_t g, int64_t watermark, Fire& fire) {
    next_timer_[g] = kNoTimer;
    const size_t key_at = layout_ == TimerLayout::kTimeTagNamespace ? 18 : 9;
    db_->Scan(g, op_, std::string_view(&kTimerSpace, 1), [&](std::string_view k, std::string_view) {
      KeyedTimer t;
      t.time = ReadOrderedTime(k.substr(1));
      if (t.time > watermark) {
        next_timer_[g] = std::min(next_timer_[g], t.time);  // `fire` may have registered an earlier one
        return false;
      }
      if (layout_ == TimerLayout::kTimeTagNamespace) {
        t.tag = static_cast<uint8_t>(k[9]);
        t.ns = ReadOrderedTime(k.substr(10));
      }
      db_->Delete(g, op_, k);
      const std::string_view key = k.substr(key_at);  // the iterator's: valid through this call
      if (V* v = SetCurrentKey(g, key, false)) fire(t, *v);
      Settle();
      MaybeEvict();
      return true;
    });
  }

  void NextStoredTimer(uint32_t g) {
    next_timer_[g] = kNoTimer;
    db_->Scan(g, op_, std::string_view(&kTimerSpace, 1), [&](std::string_view k, std::string_view) {
      next_timer_[g] = ReadOrderedTime(k.substr(1));
      return false;
    });
  }

  // A database restored from a format-2 checkpoint: its values are
  // re-encoded once, in this format.
  void ReencodeDb(int format) {
    std::vector<std::pair<std::string, std::string>> rewritten;
    V value{};
    for (uint32_t g = 0; g < kKeyGroups; ++g) {
      rewritten.clear();
      db_->Scan(g, op_, std::string_view(&kStateSpace, 1), [&](std::string_view k, std::string_view v) {
        Decode(v, format, &value);
        std::string bytes;
        SnapshotWriter w(&bytes);
        codec_.Save(value, w);
        rewritten.emplace_back(std::string(k), std::move(bytes));
        return true;
      });
      for (const auto& [k, v] : rewritten) db_->Put(g, op_, k, v);
    }
  }

  Codec codec_;
  TimerLayout layout_;
  StateDb* db_;
  uint32_t op_;
  uint64_t budget_;
  std::array<Group, kKeyGroups> groups_;
  std::array<int64_t, kKeyGroups> next_timer_;
  Slots<Home> homes_;
  size_t homes_live_ = 0;
  Slots<Hot> hots_;
  size_t hot_live_ = 0;
  uint32_t current_ = kNone;  // hot slot of the current key
  uint64_t used_ = 0;         // estimated bytes of the hot values
  uint64_t blob_bytes_ = 0;   // bytes of the homes' blobs
  uint32_t evict_cursor_ = 0;
  std::string db_key_, db_value_, timer_key_, key_scratch_, value_scratch_;
};

}  // namespace streamrun
