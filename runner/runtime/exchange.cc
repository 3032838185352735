#include "runner/runtime/exchange.h"

namespace streamrun::runtime {

void Exchange::Send(int to, Message m) {
  shared_.inflight.fetch_add(1);
  if (held_.empty() && shared_.queues[self_][to]->TryPush(m)) return;
  ++*queue_full_;
  held_.emplace_back(to, std::move(m));
}

bool Exchange::Flush() {
  if (held_.empty()) return false;
  bool moved = false;
  std::vector<bool> blocked(shared_.workers, false);
  for (auto it = held_.begin(); it != held_.end();) {
    int to = it->first;
    if (!blocked[to] && shared_.queues[self_][to]->TryPush(it->second)) {
      it = held_.erase(it);
      moved = true;
    } else {
      blocked[to] = true;  // a later message to `to` must not overtake this one
      ++it;
    }
  }
  return moved;
}

bool Exchange::Scatter(ExchangeKind kind, int node, int step, const Batch& batch, Batch* local) {
  const int workers = shared_.workers;
  parts_.resize(static_cast<size_t>(workers));
  has_part_.assign(static_cast<size_t>(workers), 0);
  // Rows change hands without their bytes: each part keeps the batch's arenas.
  for (uint32_t i = 0; i < batch.size(); ++i) {
    const int to = kind == ExchangeKind::kGather ? 0 : WorkerOfKey(batch.key_hash(i), workers);
    Batch& part = to == self_ ? *local : parts_[static_cast<size_t>(to)];
    if (!has_part_[static_cast<size_t>(to)]) {
      has_part_[static_cast<size_t>(to)] = 1;
      part = TakeBatch(batch.width());
      part.set_read_ms(batch.read_ms());
      part.CopyPieceFrom(batch);
      part.BorrowArenasOf(batch);
      part.Reserve(batch.size());  // pooled batches keep one capacity, whatever they carry
    }
    BorrowRow(batch, i, part);
  }
  for (int to = 0; to < workers; ++to) {
    if (to == self_ || !has_part_[static_cast<size_t>(to)]) continue;
    Message m;
    m.kind = Message::Kind::kBatch;
    m.node = node;
    m.step = step;
    m.batch = std::move(parts_[static_cast<size_t>(to)]);
    Send(to, std::move(m));
  }
  return has_part_[static_cast<size_t>(self_)] != 0;
}

void Exchange::SendWatermark(ExchangeKind kind, int node, int step, int64_t watermark) {
  for (int to = 0; to < shared_.workers; ++to) {
    if (to == self_ || (kind == ExchangeKind::kGather && to != 0)) continue;
    Message m;
    m.kind = Message::Kind::kWatermark;
    m.node = node;
    m.step = step;
    m.watermark = watermark;
    Send(to, std::move(m));
  }
}

}  // namespace streamrun::runtime
