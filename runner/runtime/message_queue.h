#pragma once
// Messages between workers, and the bounded single-producer/single-consumer
// queue that carries them (one per ordered pair of workers).
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "runner/record/batch.h"

namespace streamrun {

struct Message {
  enum class Kind {
    kBatch,        // records for (node, step) on the receiver, from the sender's channel
    kWatermark,    // the sender's watermark at (node, step)
    kSinkBatch,    // records for sink `node`, produced by `from` on `port`
    kDeadLetters,  // dead-letter records for the dead-letter sink (on worker 0)
    kPieceEnd,     // source `node`'s piece `piece` ended, for its piece point `step` (pieces.h)
  };
  Kind kind = Kind::kBatch;
  int node = 0;
  int step = 0;
  int from = 0;
  int port = 0;
  int64_t watermark = 0;
  int64_t piece = -1;    // kPieceEnd; kDeadLetters of a piece (its source node in `from`)
  bool failure = false;  // kDeadLetters of a piece: the one entry is the failure (error_policy fail)
  Batch batch;
  std::vector<std::string> dead_letters;
};

// Lock-free ring of `capacity` slots. Exactly one thread pushes and one pops.
class MessageQueue {
 public:
  explicit MessageQueue(size_t capacity) : slots_(capacity + 1) {}

  bool TryPush(Message& m) {
    size_t tail = tail_.load(std::memory_order_relaxed);
    size_t next = (tail + 1) % slots_.size();
    if (next == head_.load(std::memory_order_acquire)) return false;  // full
    slots_[tail] = std::move(m);
    tail_.store(next, std::memory_order_release);
    return true;
  }

  bool TryPop(Message* m) {
    size_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_.load(std::memory_order_acquire)) return false;  // empty
    *m = std::move(slots_[head]);
    slots_[head] = Message();
    head_.store((head + 1) % slots_.size(), std::memory_order_release);
    return true;
  }

  size_t SizeApprox() const {
    size_t h = head_.load(std::memory_order_relaxed), t = tail_.load(std::memory_order_relaxed);
    return (t + slots_.size() - h) % slots_.size();
  }

 private:
  std::vector<Message> slots_;
  alignas(64) std::atomic<size_t> head_{0};
  alignas(64) std::atomic<size_t> tail_{0};
};

}  // namespace streamrun
