#pragma once
// The runtime's side of keyed state: one KeyedStateService per step instance,
// made by the runtime before the instance and handed to it in its
// OperatorContext. It says where keyed state lives (memory, or the worker's
// RocksDB database under the operator's id, with a byte budget for hot keys)
// and it holds the operator's store, which the runtime — not the operator —
// snapshots, restores and re-distributes by key group. keyed_store.h is the
// store an operator makes over it.
#include <cstdint>

#include "runner/record/status.h"
#include "runner/state/snapshot.h"
#include "runner/state/state_db.h"

namespace streamrun {

// Default budgets for hot keys per worker and step (runtime.state.cache). A
// hot key costs its C++ objects (a window's key with one count is about 250
// bytes), a cold one its encoded bytes (about 30): hot keys are for speed,
// cold ones for size. In memory the cold keys are in RAM too, so its default
// is small; under rocksdb they are on disk.
inline constexpr uint64_t kMemoryHotBytes = 16ull << 20;
inline constexpr uint64_t kRocksDbCacheBytes = 256ull << 20;

// What the runtime sees of an operator's keyed state.
class KeyedStateBase {
 public:
  virtual ~KeyedStateBase() = default;
  // Memory backend: the keyed state and timers into out.groups. rocksdb: the
  // changed keys are written back to the database (which the runtime copies).
  virtual void Snapshot(StateSnapshot& out) = 0;
  // The key groups this instance owns now (in.format says which format wrote them).
  virtual void Restore(const StateRestore& in) = 0;
  // Estimated bytes of the state held in memory.
  virtual uint64_t MemoryBytes() const = 0;
};

class KeyedStateService {
 public:
  KeyedStateService() = default;
  // `db`: the worker's database (rocksdb), null for the memory backend; `op`:
  // this step's operator id in it; `hot_bytes`: the budget for the step's hot
  // (decoded) keys (runtime.state.cache).
  KeyedStateService(StateDb* db, uint32_t op, uint64_t hot_bytes) : db_(db), op_(op), hot_bytes_(hot_bytes) {}

  StateDb* db() const { return db_; }
  uint32_t op() const { return op_; }
  // The budget for values kept decoded (hot); the other keys are kept
  // encoded, in memory or in the database.
  uint64_t hot_bytes() const { return hot_bytes_; }

  // A store makes itself known (one per operator instance: the operator's
  // range of the database is the store's).
  void Attach(KeyedStateBase* store) {
    if (store_) throw InternalError("an operator made a second keyed store");
    store_ = store;
  }
  KeyedStateBase* store() const { return store_; }
  bool uses_db() const { return db_ != nullptr && store_ != nullptr; }

 private:
  StateDb* db_ = nullptr;
  uint32_t op_ = 0;
  uint64_t hot_bytes_ = kMemoryHotBytes;
  KeyedStateBase* store_ = nullptr;
};

}  // namespace streamrun
