#pragma once
// Keyed state: what a stateful operator keeps per key, on one worker.
//
// Entries live in key groups (the same 128 groups the exchange routes by), so a
// checkpoint writes whole key groups and a restore at another parallelism hands
// each worker the groups it now owns. This is the memory backend: hash maps per
// key group, values as C++ objects, no serialisation per record. The
// state-backend work puts RocksDB under the same interface (a write buffer in
// memory, flushed at checkpoints) and adds Snapshot/Restore per key group.
//
// The three shapes operators use:
//   ValueState<T>       one T per key                   (dedupe's last kept time)
//   ListState<T>        a list of T per key             (top_n's rows of a window)
//   MapState<N, T>      a T per key and namespace N     (a window's accumulators,
//                                                        namespaced by window start)
// Keys are the canonical bytes of the key fields; values are owned by the state.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace streamrun {

inline constexpr uint32_t kKeyGroups = 128;

inline uint32_t KeyGroupOf(uint64_t key_hash) { return static_cast<uint32_t>(key_hash % kKeyGroups); }

template <typename V>
class KeyedTable {
 public:
  KeyedTable() : groups_(kKeyGroups) {}

  // The value of `key` in `group`, created (default-constructed) if absent.
  // References stay valid until that key is erased.
  V& GetOrCreate(uint32_t group, std::string_view key, bool* created = nullptr) {
    auto& map = groups_[group];
    auto it = map.find(key);
    if (it != map.end()) {
      if (created) *created = false;
      return it->second;
    }
    if (created) *created = true;
    ++size_;
    return map.emplace(std::string(key), V{}).first->second;
  }

  V* Find(uint32_t group, std::string_view key) {
    auto& map = groups_[group];
    auto it = map.find(key);
    return it == map.end() ? nullptr : &it->second;
  }

  void Erase(uint32_t group, std::string_view key) {
    auto& map = groups_[group];
    auto it = map.find(key);
    if (it == map.end()) return;
    map.erase(it);
    --size_;
  }

  // Visits every entry of every group (group order, then unspecified).
  void ForEach(const std::function<void(uint32_t group, const std::string& key, V& value)>& fn) {
    for (uint32_t g = 0; g < kKeyGroups; ++g)
      for (auto& [k, v] : groups_[g]) fn(g, k, v);
  }

  void ForEach(const std::function<void(uint32_t group, const std::string& key, const V& value)>& fn) const {
    for (uint32_t g = 0; g < kKeyGroups; ++g)
      for (const auto& [k, v] : groups_[g]) fn(g, k, v);
  }

  // Removes every entry of `group`, handing each to `fn` first.
  template <typename F>
  void DrainGroup(uint32_t group, F&& fn) {
    auto& map = groups_[group];
    for (auto& [k, v] : map) fn(k, v);
    size_ -= map.size();
    map.clear();
  }

  size_t size() const { return size_; }
  size_t GroupSize(uint32_t group) const { return groups_[group].size(); }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Eq {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const { return a == b; }
  };
  std::vector<std::unordered_map<std::string, V, Hash, Eq>> groups_;
  size_t size_ = 0;
};

// A cache in front of a StateDb (the rocksdb backend): once `*used` bytes pass
// `budget`, whole key groups, from `*cursor` on, are handed to `evict` (which
// writes a key back and takes its bytes off `*used`) and dropped, until half
// of the budget is used.
template <typename V, typename Evict>
void EvictKeyGroups(KeyedTable<V>& table, uint64_t budget, const uint64_t* used, uint32_t* cursor,
                    Evict&& evict) {
  if (*used <= budget) return;
  for (uint32_t n = 0; n<kKeyGroups&& * used> budget / 2; ++n) {
    const uint32_t group = *cursor;
    *cursor = (*cursor + 1) % kKeyGroups;
    table.DrainGroup(group, [&](const std::string& key, V& value) { evict(group, key, value); });
  }
}

template <typename T>
using ValueState = KeyedTable<T>;

template <typename T>
using ListState = KeyedTable<std::vector<T>>;

// A T per key and namespace, namespaces ordered (window starts).
template <typename N, typename T>
class MapState {
 public:
  // The entry for (key, ns), created if absent.
  T& GetOrCreate(uint32_t group, std::string_view key, const N& ns, bool* created = nullptr) {
    auto& per_key = table_.GetOrCreate(group, key);
    auto [it, inserted] = per_key.try_emplace(ns);
    if (created) *created = inserted;
    return it->second;
  }
  // All namespaces of a key (ordered), or null.
  std::map<N, T>* Namespaces(uint32_t group, std::string_view key) { return table_.Find(group, key); }
  // Removes one namespace; the key goes when its last namespace does.
  void Erase(uint32_t group, std::string_view key, const N& ns) {
    auto* per_key = table_.Find(group, key);
    if (!per_key) return;
    per_key->erase(ns);
    if (per_key->empty()) table_.Erase(group, key);
  }
  void ForEach(const std::function<void(uint32_t group, const std::string& key, const N& ns, T& value)>& fn) {
    table_.ForEach([&](uint32_t g, const std::string& k, std::map<N, T>& m) {
      for (auto& [ns, v] : m) fn(g, k, ns, v);
    });
  }
  size_t keys() const { return table_.size(); }

 private:
  KeyedTable<std::map<N, T>> table_;
};

}  // namespace streamrun
