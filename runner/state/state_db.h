#pragma once
// Keyed state kept outside the operator: the `rocksdb` backend (docs/guarantees.md,
// `runtime.state.backend`). One database per worker holds the state of every
// stateful step on that worker. Keys are ordered
//
//   [key group: 1 byte][operator: 4 bytes, big-endian][the operator's own key]
//
// so one key group of one operator is one contiguous range: a checkpoint's size
// per key group is a range query, and a restore at another parallelism copies
// whole ranges to their new owners.
//
// Writes are buffered in memory and are visible to reads at once; they reach
// the database when the buffer fills or at Flush (a checkpoint). Operators keep
// their hot keys as C++ objects in front of this (a cache with a byte budget)
// so that a record of a hot key costs no call here at all.
//
// This header has no RocksDB in it: operators see only this interface.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace streamrun {

class StateDb {
 public:
  virtual ~StateDb() = default;
  // The value of `key` of operator `op` in `group`; false if absent.
  virtual bool Get(uint32_t group, uint32_t op, std::string_view key, std::string* value) = 0;
  virtual void Put(uint32_t group, uint32_t op, std::string_view key, std::string_view value) = 0;
  virtual void Delete(uint32_t group, uint32_t op, std::string_view key) = 0;
  // The entries of (group, op) whose key starts with `prefix`, in key order
  // (buffered writes included), until `fn` returns false.
  virtual void Scan(uint32_t group, uint32_t op, std::string_view prefix,
                    const std::function<bool(std::string_view key, std::string_view value)>& fn) = 0;
};

// What a stateful step gets when the pipeline runs with the rocksdb backend.
struct StateDbContext {
  StateDb* db = nullptr;
  uint32_t op = 0;           // this step's operator id in the database
  uint64_t cache_bytes = 0;  // budget for the step's in-memory hot keys
};

// Big-endian fixed-width integers keep numeric order in byte order; a signed
// time has its sign bit flipped so negative times sort first.
inline void AppendBigEndian(uint64_t v, std::string* out) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>((v >> shift) & 0xFF));
}
inline void AppendOrderedTime(int64_t t, std::string* out) {
  AppendBigEndian(static_cast<uint64_t>(t) ^ (uint64_t{1} << 63), out);
}
inline uint64_t ReadBigEndian(std::string_view in) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}
inline int64_t ReadOrderedTime(std::string_view in) {
  return static_cast<int64_t>(ReadBigEndian(in) ^ (uint64_t{1} << 63));
}

}  // namespace streamrun
