#pragma once
// A bump allocator owned by one batch. Strings produced while a batch moves
// through the operators (decoded fields, computed values) live here, so the hot
// path makes no heap allocation per record: Reset() keeps the chunks for the
// next batch. Not thread-safe: one batch is owned by one worker at a time.
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

  // Forgets every allocation but keeps the memory for reuse.
  void Reset() {
    used_ = 0;
    if (chunks_.empty()) {
      cursor_ = end_ = nullptr;
      return;
    }
    // Keep only the largest chunk so a batch with one huge record does not pin
    // many chunks forever; keep it if it is not absurdly large.
    size_t keep = 0;
    for (size_t i = 1; i < chunks_.size(); ++i)
      if (chunks_[i].size > chunks_[keep].size) keep = i;
    Chunk c = std::move(chunks_[keep]);
    chunks_.clear();
    if (c.size <= 16 * chunk_size_) chunks_.push_back(std::move(c));
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
  struct Chunk {
    std::unique_ptr<char[]> data;
    size_t size = 0;
  };
  void NewChunk(size_t at_least) {
    size_t size = at_least > chunk_size_ ? at_least : chunk_size_;
    // Reuse a later chunk kept by Reset() when it is big enough.
    Chunk c{std::unique_ptr<char[]>(new char[size]), size};
    cursor_ = c.data.get();
    end_ = cursor_ + size;
    chunks_.push_back(std::move(c));
  }

  size_t chunk_size_;
  std::vector<Chunk> chunks_;
  char* cursor_ = nullptr;
  char* end_ = nullptr;
  size_t used_ = 0;
};

}  // namespace streamrun
