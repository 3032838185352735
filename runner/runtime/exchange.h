#pragma once
// One worker's end of the exchange between workers (docs/architecture.md
// "Execution"). Every ordered pair of workers has a bounded single-producer,
// single-consumer queue (message_queue.h). A message a full queue cannot take
// is held here, in order per receiver; while any is held the worker reads no
// source, which is how a full queue pushes back on the sources.
//
// Invariants: messages from one worker to another arrive in the order they
// were sent (so a watermark never overtakes the records before it); every
// send counts in Shared::inflight until the receiver has handled it.
#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

#include "runner/runtime/shared.h"

namespace streamrun::runtime {

class Exchange {
 public:
  // `queue_full` counts sends that found their queue full (backpressure).
  Exchange(Shared& shared, int self, metrics::Counter* queue_full)
      : shared_(shared), self_(self), queue_full_(queue_full) {}

  void Send(int to, Message m);
  // Hands held messages on, in order per receiver; true if any moved.
  bool Flush();
  // True while a message waits for room in a full queue.
  bool holding() const { return !held_.empty(); }
  // The node whose records wait first in line (-1: none, or dead letters).
  int held_node() const {
    if (held_.empty() || held_.front().second.kind == Message::Kind::kDeadLetters) return -1;
    return held_.front().second.node;
  }

  // Takes in up to 16 messages from each other worker, calling
  // receive(from, message) for each; true if any arrived.
  template <typename Receive>
  bool Drain(Receive&& receive) {
    bool any = false;
    Message m;
    for (int from = 0; from < shared_.workers; ++from) {
      if (from == self_) continue;
      MessageQueue& q = *shared_.queues[from][self_];
      for (int k = 0; k < 16 && q.TryPop(&m); ++k) {
        any = true;
        receive(from, m);
        shared_.inflight.fetch_sub(1);
      }
    }
    return any;
  }

  // Records for step `step` of transform `node`, across an exchange of kind
  // `kind` (kKeyed: to the owner of each record's key group; kGather: to
  // worker 0). Sends the other workers their rows; the rows that stay here go
  // to `local` (true if there are any).
  bool Scatter(ExchangeKind kind, int node, int step, const Batch& batch, Batch* local);
  // This worker's watermark before (node, step), to every other receiver of
  // the exchange (all workers for kKeyed, worker 0 for kGather).
  void SendWatermark(ExchangeKind kind, int node, int step, int64_t watermark);

 private:
  Shared& shared_;
  const int self_;
  metrics::Counter* queue_full_;
  std::deque<std::pair<int, Message>> held_;  // (receiver, message) waiting for room
  std::vector<Batch> parts_;                  // Scatter's rows per receiver (moved out when sent)
  std::vector<std::vector<uint32_t>> rows_;   // Scatter: the rows bound for each worker
};

}  // namespace streamrun::runtime
