#pragma once
// Key groups: keyed state is split into the same 128 groups the exchange routes
// records by, so a checkpoint writes whole key groups and a restore at another
// parallelism hands each worker the groups it now owns. The state itself is in
// a KeyedStore (keyed_store.h).
#include <cstdint>

namespace streamrun {

inline constexpr uint32_t kKeyGroups = 128;

inline uint32_t KeyGroupOf(uint64_t key_hash) { return static_cast<uint32_t>(key_hash % kKeyGroups); }

}  // namespace streamrun
