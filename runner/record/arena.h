#pragma once
// A bump allocator owned by one batch. Strings produced while a batch moves
// through the operators (decoded fields, computed values) live here, so the hot
// path makes no heap allocation per record: Reset() keeps the chunks for the
// next batch. Not thread-safe: one batch is owned by one worker at a time.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

namespace streamrun {

class Arena {
 public:
  explicit Arena(size_t chunk_size = 64 * 1024) : chunk_size_(chunk_size) {}
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // Returns `n` bytes aligned to 8. Never fails (throws std::bad_alloc like new).
  char* Allocate(size_t n) {
    n = (n + 7) & ~size_t{7};
    if (n > static_cast<size_t>(end_ - cursor_)) NewChunk(n);
    char* p = cursor_;
    cursor_ += n;
    return p;
  }

  // Copies `s` (plus `padding` zero bytes after it) and returns a view of the copy.
  std::string_view Copy(std::string_view s, size_t padding = 0) {
    char* p = Allocate(s.size() + padding);
    if (!s.empty()) std::memcpy(p, s.data(), s.size());
    if (padding) std::memset(p + s.size(), 0, padding);
    return {p, s.size()};
  }

  // Forgets every allocation but keeps the memory for reuse: the next batch
  // fills the same chunks again, without a malloc or a page fault. Chunks past
  // kKeepBytes in all (a batch of huge records) are freed.
  void Reset() {
    size_t kept = 0, n = 0;
    for (; n < chunks_.size() && kept + chunks_[n].size <= kKeepBytes; ++n) kept += chunks_[n].size;
    chunks_.resize(n);
    current_ = 0;
    if (chunks_.empty()) {
      cursor_ = end_ = nullptr;
    } else {
      cursor_ = chunks_[0].data.get();
      end_ = cursor_ + chunks_[0].size;
    }
  }

  size_t bytes_reserved() const {
    size_t total = 0;
    for (const auto& c : chunks_) total += c.size;
    return total;
  }

 private:
  static constexpr size_t kKeepBytes = 4 << 20;
  struct Chunk {
    std::unique_ptr<char[]> data;
    size_t size = 0;
  };
  void NewChunk(size_t at_least) {
    // The next chunk kept by Reset(), if it is big enough; else a new one there.
    ++current_;
    if (current_ >= chunks_.size() || chunks_[current_].size < at_least) {
      const size_t size = at_least > chunk_size_ ? at_least : chunk_size_;
      Chunk c{std::unique_ptr<char[]>(new char[size]), size};
      if (chunks_.empty()) current_ = 0;
      chunks_.insert(chunks_.begin() + static_cast<std::ptrdiff_t>(current_), std::move(c));
    }
    cursor_ = chunks_[current_].data.get();
    end_ = cursor_ + chunks_[current_].size;
  }

  friend class ArenaRef;
  size_t chunk_size_;
  std::vector<Chunk> chunks_;
  size_t current_ = 0;  // the chunk cursor_ is in
  char* cursor_ = nullptr;
  char* end_ = nullptr;
  std::atomic<long> refs_{0};  // ArenaRef holders
};

// A counted reference to a pooled arena (PooledArena): copies share it, and
// the last one to let go hands it back to the pool, on whichever thread that
// is. The count lives in the arena, so taking and sharing one allocates
// nothing (a std::shared_ptr would allocate its control block every time).
class ArenaRef {
 public:
  ArenaRef() = default;
  ArenaRef(const ArenaRef& o) : a_(o.a_) {
    if (a_) a_->refs_.fetch_add(1, std::memory_order_relaxed);
  }
  ArenaRef(ArenaRef&& o) noexcept : a_(o.a_) { o.a_ = nullptr; }
  ArenaRef& operator=(ArenaRef o) noexcept {
    std::swap(a_, o.a_);
    return *this;
  }
  ~ArenaRef() { Release(); }
  Arena* get() const { return a_; }
  Arena& operator*() const { return *a_; }
  Arena* operator->() const { return a_; }
  long use_count() const { return a_ ? a_->refs_.load(std::memory_order_acquire) : 0; }
  bool operator==(const ArenaRef& o) const { return a_ == o.a_; }
  bool operator!=(const ArenaRef& o) const { return a_ != o.a_; }

 private:
  friend ArenaRef PooledArena();
  explicit ArenaRef(Arena* a) : a_(a) { a_->refs_.store(1, std::memory_order_relaxed); }
  void Release();
  Arena* a_ = nullptr;
};

// An empty arena from a process-wide pool; it goes back to the pool (its chunks
// kept) when the last batch holding it lets go. A source makes a batch per
// read: without the pool every batch would malloc fresh chunks and fault
// their pages in again.
ArenaRef PooledArena();

}  // namespace streamrun
