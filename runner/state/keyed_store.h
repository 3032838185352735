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
// What the store does for it, under both backends:
// - Entries live in flat open-addressing tables, one per key group, over a slab
//   of entries (stable addresses, a free list); no node per key.
// - Event-time timers per key: a binary heap per key group in memory. Each
//   timer names its entry by slot and generation, so a timer of a key whose
//   state was erased never fires; a deleted timer is remembered until it
//   comes due. A timer fires once, at the first watermark at or past its time,
//   with its key current.
// - rocksdb (runtime.state.backend): the memory tables are a cache of hot keys
//   with a byte budget; a changed key is written back when its key group is
//   evicted or at a checkpoint; a key not in memory is read from the database.
//   Timers then live only in the database (time-ordered; each key group's
//   earliest in memory), so neither keys nor timers are bounded by memory.
//   The operator's range of the database (state_db.h):
//     0x00 key                      -> the key's value (the codec's bytes)
//     0x01 time(8) [tag(1) ns(8)] key -> ""   (a timer; tag and ns per TimerLayout)
// - Checkpoints: the runtime calls Snapshot/Restore (through the service), not
//   the operator. Memory backend, per key group (worker-state format 3):
//     records, each U64 kind: 0 = entry (Str key, value), 1 = timer (Str key,
//     I64 time, and per TimerLayout U64 tag, I64 ns)
//   entries before timers, so the bytes of several workers may follow each
//   other. Format 2 had only the entries, without the kind, and no timers: the
//   codec's LegacyTimers says which timers a restored value implies.
//   Under rocksdb, Snapshot writes changed keys back; the runtime copies the
//   database.
//
// One thread (the worker's) uses a store. A V& is valid until the next
// SetCurrentKey, AdvanceTo or EraseCurrent: the store may evict then.
//
// The codec (a small value type the operator passes in):
//   void Save(const V&, SnapshotWriter&) const;
//   void Load(SnapshotReader&, V*) const;        // into a default V
//   uint64_t Bytes(const V&) const;              // heap bytes V owns (cache budget, state size)
//   void LegacyTimers(const V&, std::vector<KeyedTimer>*) const;  // format 2 only
#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "runner/record/status.h"
#include "runner/state/keyed_service.h"
#include "runner/state/keyed_state.h"
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
// must be 0), or by time, tag and ns. Fixed for an operator: its checkpoints
// depend on it.
enum class TimerLayout : uint8_t { kTime, kTimeTagNamespace };

// 32-bit hash of key bytes (FNV-1a, then mixed): the table's probe position.
inline uint32_t KeyedHash(std::string_view key) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : key) h = (h ^ c) * 1099511628211ull;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return static_cast<uint32_t>(h);
}

template <typename V, typename Codec>
class KeyedStore final : public KeyedStateBase {
 public:
  KeyedStore(KeyedStateService& service, Codec codec, TimerLayout layout)
      : codec_(std::move(codec)),
        layout_(layout),
        db_(service.db()),
        op_(service.op()),
        budget_(service.cache_bytes()) {
    next_timer_.fill(kNoTimer);
    service.Attach(this);
  }
  KeyedStore(const KeyedStore&) = delete;
  KeyedStore& operator=(const KeyedStore&) = delete;

  // Makes (group, key) the current key and returns its value: from memory,
  // else (rocksdb) read from the database, else (create) a new default V, else
  // null (and no key is current). Under rocksdb the value is taken as changed.
  V* SetCurrentKey(uint32_t group, std::string_view key, bool create, bool* created = nullptr) {
    Settle();
    MaybeEvict();
    if (created) *created = false;
    const uint32_t hash = KeyedHash(key);
    uint32_t idx = Lookup(group, key, hash);
    if (idx == kNone && db_) idx = LoadFromDb(group, key, hash);
    if (idx == kNone) {
      if (!create) return nullptr;
      idx = NewEntry(group, key, hash);
      if (created) *created = true;
    }
    current_ = idx;
    Entry& e = At(idx);
    e.dirty = true;
    return &e.value;
  }

  bool has_current() const { return current_ != kNone; }
  std::string_view current_key() const { return At(current_).key; }
  uint32_t current_group() const { return At(current_).group; }

  // Erases the current key's state (memory and database); its timers will
  // not fire. No key is current after.
  void EraseCurrent() {
    if (current_ == kNone) return;
    Entry& e = At(current_);
    if (db_ && e.stored) {
      StateKey(e.key);
      db_->Delete(e.group, op_, db_key_);
    }
    Free(current_);
    current_ = kNone;
  }

  // Timers of the current key (event time).
  void RegisterTimer(const KeyedTimer& t) {
    Entry& e = At(current_);
    if (db_) {
      db_->Put(e.group, op_, TimerKey(t, e.key), {});
      next_timer_[e.group] = std::min(next_timer_[e.group], t.time);
      return;
    }
    const TimerRec rec{t.time, t.ns, current_, e.gen, t.tag};
    auto& deleted = groups_[e.group].deleted;
    if (!deleted.empty() && deleted.erase(rec)) return;  // the deleted one is still queued: it fires again
    PushTimer(e.group, rec);
  }
  void DeleteTimer(const KeyedTimer& t) {
    Entry& e = At(current_);
    if (db_) {
      db_->Delete(e.group, op_, TimerKey(t, e.key));
      return;
    }
    groups_[e.group].deleted.insert(TimerRec{t.time, t.ns, current_, e.gen, t.tag});
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

  // Every key with state, memory and (rocksdb) database, in no set order;
  // keys only in the database are read into a scratch value, not cached:
  // `visit` must not change them. No key is current during or after.
  template <typename Visit>
  void ForEach(Visit&& visit) {
    Settle();
    for (uint32_t g = 0; g < kKeyGroups; ++g)
      for (uint64_t slot : groups_[g].index)
        if (slot) visit(At(SlotIndex(slot)).key, At(SlotIndex(slot)).value);
    if (!db_) return;
    for (uint32_t g = 0; g < kKeyGroups; ++g) {
      db_->Scan(g, op_, std::string_view(&kStateSpace, 1), [&](std::string_view k, std::string_view v) {
        const std::string_view key = k.substr(1);
        if (Lookup(g, key, KeyedHash(key)) != kNone) return true;
        V scratch{};
        SnapshotReader r(v);
        codec_.Load(r, &scratch);
        visit(key, scratch);
        return true;
      });
    }
  }

  // Keys in memory, and the bytes they take (estimated: entries, index, timers).
  size_t keys_in_memory() const { return live_; }
  uint64_t MemoryBytes() const override {
    uint64_t bytes = used_ + slabs_.size() * kSlab * sizeof(Entry);
    for (const auto& g : groups_)
      bytes += g.index.capacity() * sizeof(uint64_t) + g.timers.capacity() * sizeof(TimerRec);
    return bytes;
  }

  // ---- checkpoints (called by the runtime through the service) ----------------

  void Snapshot(StateSnapshot& out) override {
    Settle();
    if (db_) {
      for (uint32_t g = 0; g < kKeyGroups; ++g)
        for (uint64_t slot : groups_[g].index)
          if (slot) WriteBack(At(SlotIndex(slot)));
      return;
    }
    for (uint32_t g = 0; g < kKeyGroups; ++g) {
      Group& group = groups_[g];
      if (group.live == 0) continue;
      SnapshotWriter w(&out.groups[g]);
      for (uint64_t slot : group.index) {
        if (!slot) continue;
        const Entry& e = At(SlotIndex(slot));
        w.U64(kRecordEntry);
        w.Str(e.key);
        codec_.Save(e.value, w);
      }
      for (const TimerRec& t : group.timers) {
        if (!Live(t) || (!group.deleted.empty() && group.deleted.count(t))) continue;
        w.U64(kRecordTimer);
        w.Str(At(t.entry).key);
        w.I64(t.time);
        if (layout_ == TimerLayout::kTimeTagNamespace) {
          w.U64(t.tag);
          w.I64(t.ns);
        }
      }
    }
  }

  void Restore(const StateRestore& in) override {
    std::vector<KeyedTimer> implied;
    for (uint32_t g = 0; g < kKeyGroups; ++g) {
      SnapshotReader r(in.groups[g]);
      while (!r.done()) {
        const uint64_t kind = in.format >= 3 ? r.U64() : kRecordEntry;
        const std::string_view key = r.Str();
        if (kind == kRecordEntry) {
          bool created = false;
          V* v = SetCurrentKey(g, key, true, &created);
          if (!created) throw SnapshotError("state snapshot: a key twice in one key group");
          codec_.Load(r, v);
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
    current_ = kNone;
    // rocksdb: timers came with the database; each key group's earliest.
    if (db_)
      for (uint32_t g = 0; g < kKeyGroups; ++g) NextStoredTimer(g);
  }

 private:
  static constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();
  static constexpr int64_t kNoTimer = std::numeric_limits<int64_t>::max();
  static constexpr uint32_t kSlab = 1024;  // entries per slab
  static constexpr char kStateSpace = 0x00;
  static constexpr char kTimerSpace = 0x01;
  static constexpr uint64_t kRecordEntry = 0, kRecordTimer = 1;
  // Per entry beyond its key's and value's heap bytes: its slab slot and index slot.
  static constexpr uint64_t kEntryOverhead = sizeof(uint64_t) * 2;

  struct Entry {
    std::string key;
    V value{};
    uint32_t cost = 0;  // bytes counted in used_ for this entry (rocksdb evicts by them)
    uint16_t gen = 0;   // bumped when the slot is freed: a timer of the old key is stale
    uint8_t group = 0;
    bool live = false;
    bool dirty = false;   // rocksdb: changed since written back
    bool stored = false;  // rocksdb: the database has it
  };

  // A memory timer: 24 bytes.
  struct TimerRec {
    int64_t time;
    int64_t ns;
    uint32_t entry;
    uint16_t gen;
    uint8_t tag;
    bool operator==(const TimerRec& o) const {
      return time == o.time && ns == o.ns && entry == o.entry && gen == o.gen && tag == o.tag;
    }
    // Heap order: earliest first (std::push_heap keeps the greatest on top).
    bool operator>(const TimerRec& o) const {
      if (time != o.time) return time > o.time;
      if (ns != o.ns) return ns > o.ns;
      if (tag != o.tag) return tag > o.tag;
      return entry > o.entry;
    }
  };
  struct TimerHash {
    size_t operator()(const TimerRec& t) const {
      return std::hash<int64_t>{}(t.time * 31 + t.ns) ^ (static_cast<size_t>(t.entry) << 8) ^ t.tag;
    }
  };

  // One key group: an open-addressing index (linear probing, backward-shift
  // deletion) whose slots hold (hash << 32 | entry + 1), 0 for empty.
  struct Group {
    std::vector<uint64_t> index;
    uint32_t live = 0;
    std::vector<TimerRec> timers;  // memory backend: a min-heap
    std::unordered_set<TimerRec, TimerHash> deleted;
  };

  Entry& At(uint32_t idx) { return slabs_[idx / kSlab][idx % kSlab]; }
  const Entry& At(uint32_t idx) const { return slabs_[idx / kSlab][idx % kSlab]; }
  static uint32_t SlotIndex(uint64_t slot) { return static_cast<uint32_t>(slot) - 1; }
  static uint32_t SlotHash(uint64_t slot) { return static_cast<uint32_t>(slot >> 32); }

  uint32_t Lookup(uint32_t group, std::string_view key, uint32_t hash) const {
    const auto& index = groups_[group].index;
    if (index.empty()) return kNone;
    const size_t mask = index.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      const uint64_t slot = index[i];
      if (!slot) return kNone;
      if (SlotHash(slot) == hash && At(SlotIndex(slot)).key == key) return SlotIndex(slot);
    }
  }

  void Insert(Group& group, uint32_t hash, uint32_t idx) {
    if ((group.live + 1) * 8 > group.index.size() * 7) Grow(group);
    const size_t mask = group.index.size() - 1;
    size_t i = hash & mask;
    while (group.index[i]) i = (i + 1) & mask;
    group.index[i] = (static_cast<uint64_t>(hash) << 32) | (idx + 1);
    ++group.live;
  }

  void Grow(Group& group) {
    std::vector<uint64_t> old = std::move(group.index);
    group.index.assign(old.empty() ? 16 : old.size() * 2, 0);
    const size_t mask = group.index.size() - 1;
    for (uint64_t slot : old) {
      if (!slot) continue;
      size_t i = SlotHash(slot) & mask;
      while (group.index[i]) i = (i + 1) & mask;
      group.index[i] = slot;
    }
  }

  void RemoveFromIndex(Group& group, uint32_t hash, uint32_t idx) {
    const size_t mask = group.index.size() - 1;
    size_t i = hash & mask;
    while (group.index[i] != ((static_cast<uint64_t>(hash) << 32) | (idx + 1))) i = (i + 1) & mask;
    // Backward shift: move later slots of the run back over the hole.
    for (size_t j = (i + 1) & mask;; j = (j + 1) & mask) {
      const uint64_t slot = group.index[j];
      if (!slot) break;
      const size_t home = SlotHash(slot) & mask;
      // The slot at j may fill the hole at i if its home is not in (i, j].
      if (((j - home) & mask) >= ((j - i) & mask)) {
        group.index[i] = slot;
        i = j;
      }
    }
    group.index[i] = 0;
    --group.live;
  }

  uint32_t NewEntry(uint32_t group, std::string_view key, uint32_t hash) {
    uint32_t idx;
    if (!free_.empty()) {
      idx = free_.back();
      free_.pop_back();
    } else {
      if (next_ == slabs_.size() * kSlab) slabs_.push_back(std::make_unique<Entry[]>(kSlab));
      idx = next_++;
    }
    Entry& e = At(idx);
    e.key.assign(key.data(), key.size());
    e.value = V{};
    e.group = static_cast<uint8_t>(group);
    e.live = true;
    e.dirty = false;
    e.stored = false;
    e.cost = 0;
    Insert(groups_[group], hash, idx);
    ++live_;
    return idx;
  }

  void Free(uint32_t idx) {
    Entry& e = At(idx);
    used_ -= std::min<uint64_t>(used_, e.cost);
    RemoveFromIndex(groups_[e.group], KeyedHash(e.key), idx);
    e.live = false;
    ++e.gen;
    e.cost = 0;
    std::string().swap(e.key);
    e.value = V{};
    free_.push_back(idx);
    --live_;
  }

  // The current entry's cost is counted again once the operator is done with it.
  void Settle() {
    if (current_ == kNone) return;
    Entry& e = At(current_);
    const uint64_t cost = kEntryOverhead + (e.key.size() > 15 ? e.key.capacity() : 0) + codec_.Bytes(e.value);
    used_ = used_ - std::min<uint64_t>(used_, e.cost) + cost;
    e.cost = static_cast<uint32_t>(std::min<uint64_t>(cost, std::numeric_limits<uint32_t>::max()));
    current_ = kNone;
  }

  bool Live(const TimerRec& t) const { return At(t.entry).live && At(t.entry).gen == t.gen; }

  void PushTimer(uint32_t group, const TimerRec& rec) {
    auto& heap = groups_[group].timers;
    heap.push_back(rec);
    std::push_heap(heap.begin(), heap.end(), std::greater<TimerRec>());
    next_timer_[group] = heap.front().time;
  }

  template <typename Fire>
  void AdvanceMemory(uint32_t g, int64_t watermark, Fire& fire) {
    Group& group = groups_[g];
    auto& heap = group.timers;
    while (!heap.empty() && heap.front().time <= watermark) {
      std::pop_heap(heap.begin(), heap.end(), std::greater<TimerRec>());
      const TimerRec t = heap.back();
      heap.pop_back();
      if (!group.deleted.empty() && group.deleted.erase(t)) continue;
      if (!Live(t)) continue;
      current_ = t.entry;
      At(t.entry).dirty = true;
      fire(KeyedTimer{t.time, t.ns, t.tag}, At(t.entry).value);
      Settle();
    }
    next_timer_[g] = heap.empty() ? kNoTimer : heap.front().time;
    if (heap.empty()) group.deleted.clear();
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

  uint32_t LoadFromDb(uint32_t group, std::string_view key, uint32_t hash) {
    if (!db_->Get(group, op_, StateKey(key), &db_value_)) return kNone;
    const uint32_t idx = NewEntry(group, key, hash);
    Entry& e = At(idx);
    e.stored = true;
    SnapshotReader r(db_value_);
    codec_.Load(r, &e.value);
    return idx;
  }

  void WriteBack(Entry& e) {
    if (!e.dirty) return;
    db_value_.clear();
    SnapshotWriter w(&db_value_);
    codec_.Save(e.value, w);
    db_->Put(e.group, op_, StateKey(e.key), db_value_);
    e.dirty = false;
    e.stored = true;
  }

  // Past the budget, whole key groups (from where the last eviction stopped)
  // are written back and dropped from memory until half of it is used.
  void MaybeEvict() {
    if (!db_ || used_ <= budget_) return;
    for (uint32_t n = 0; n < kKeyGroups && used_ > budget_ / 2; ++n) {
      const uint32_t g = evict_cursor_;
      evict_cursor_ = (evict_cursor_ + 1) % kKeyGroups;
      Group& group = groups_[g];
      for (uint64_t slot : group.index) {
        if (!slot) continue;
        const uint32_t idx = SlotIndex(slot);
        Entry& e = At(idx);
        WriteBack(e);
        used_ -= std::min<uint64_t>(used_, e.cost);
        e.live = false;
        ++e.gen;
        e.cost = 0;
        std::string().swap(e.key);
        e.value = V{};
        free_.push_back(idx);
        --live_;
      }
      std::vector<uint64_t>().swap(group.index);
      group.live = 0;
    }
  }

  template <typename Fire>
  void AdvanceStored(uint32_t g, int64_t watermark, Fire& fire) {
    next_timer_[g] = kNoTimer;
    const size_t key_at = layout_ == TimerLayout::kTimeTagNamespace ? 18 : 9;
    db_->Scan(g, op_, std::string_view(&kTimerSpace, 1), [&](std::string_view k, std::string_view) {
      KeyedTimer t;
      t.time = ReadOrderedTime(k.substr(1));
      if (t.time > watermark) {
        next_timer_[g] = t.time;
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

  Codec codec_;
  TimerLayout layout_;
  StateDb* db_;
  uint32_t op_;
  uint64_t budget_;
  std::array<Group, kKeyGroups> groups_;
  std::array<int64_t, kKeyGroups> next_timer_;
  std::vector<std::unique_ptr<Entry[]>> slabs_;
  uint32_t next_ = 0;  // entries ever made (slab slots in use or freed)
  std::vector<uint32_t> free_;
  uint32_t current_ = kNone;
  size_t live_ = 0;
  uint64_t used_ = 0;  // estimated heap bytes of the entries in memory
  uint32_t evict_cursor_ = 0;
  std::string db_key_, db_value_, timer_key_;
};

}  // namespace streamrun
