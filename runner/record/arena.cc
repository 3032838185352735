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
  static auto* pool = [] {  // never destroyed: batches may die after main
    auto* p = new ArenaPool;
    p->free.reserve(ArenaPool::kMaxArenas);
    return p;
  }();
  return *pool;
}

}  // namespace

ArenaRef PooledArena() {
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
  return ArenaRef(arena);
}

void ArenaRef::Release() {
  if (!a_ || a_->refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  Arena* a = a_;
  a_ = nullptr;
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
}

}  // namespace streamrun
