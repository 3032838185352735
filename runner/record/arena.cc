#include "runner/record/arena.h"

#include <mutex>

namespace streamrun {

namespace {

struct ArenaPool {
  static constexpr size_t kMaxArenas = 32;  // beyond this, freed arenas are deleted
  std::mutex mu;
  std::vector<Arena*> free;
};

ArenaPool& Pool() {
  static auto* pool = new ArenaPool;  // never destroyed: batches may die after main
  return *pool;
}

}  // namespace

std::shared_ptr<Arena> PooledArena() {
  ArenaPool& pool = Pool();
  Arena* arena = nullptr;
  {
    std::lock_guard<std::mutex> lock(pool.mu);
    if (!pool.free.empty()) {
      arena = pool.free.back();
      pool.free.pop_back();
    }
  }
  if (!arena) arena = new Arena();
  return std::shared_ptr<Arena>(arena, [](Arena* a) {
    a->Reset();
    ArenaPool& p = Pool();
    {
      std::lock_guard<std::mutex> lock(p.mu);
      if (p.free.size() < ArenaPool::kMaxArenas) {
        p.free.push_back(a);
        return;
      }
    }
    delete a;
  });
}

}  // namespace streamrun
