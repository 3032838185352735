#pragma once
// A stable 64-bit hash of values, the same on every run and machine: it picks a
// record's key group, so it must never change between a checkpoint and a restore.
#include <cstdint>
#include <cstring>
#include <string_view>

#include "runner/record/value.h"

namespace streamrun {

inline uint64_t HashBytes(std::string_view s, uint64_t seed) {
  // FNV-1a, then a final avalanche (from splitmix64) so low bits are usable.
  uint64_t h = seed ^ 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

inline uint64_t Mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// Ints and integral floats hash alike, so 3 and 3.0 land in the same key group.
// The seed of a key_by key's hash (each key part is hashed in turn onto it).
inline constexpr uint64_t kKeyHashSeed = 0x4b6579ULL;

inline uint64_t HashValue(const Value& v, uint64_t seed = 0) {
  switch (v.kind) {
    case Kind::kNull:
      return Mix64(seed ^ 0x6e756c6cULL);
    case Kind::kBool:
      return Mix64(seed ^ (v.b ? 0x74ULL : 0x66ULL));
    case Kind::kInt:
      return Mix64(seed ^ static_cast<uint64_t>(v.i) ^ 0x9e3779b97f4a7c15ULL);
    case Kind::kFloat: {
      double d = v.f;
      if (d == static_cast<double>(static_cast<int64_t>(d)) && d > -9.2e18 && d < 9.2e18)
        return Mix64(seed ^ static_cast<uint64_t>(static_cast<int64_t>(d)) ^ 0x9e3779b97f4a7c15ULL);
      uint64_t bits;
      std::memcpy(&bits, &d, sizeof bits);
      return Mix64(seed ^ bits);
    }
    case Kind::kString:
    case Kind::kList:
    case Kind::kObject:
      return Mix64(HashBytes(v.text(), seed + static_cast<uint64_t>(v.kind)));
  }
  return 0;
}

}  // namespace streamrun
