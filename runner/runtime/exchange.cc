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
  parts_.clear();
  parts_.resize(workers);
  bool any_local = false;
  // Rows change hands without their bytes: each part keeps the batch's arenas.
  for (uint32_t i = 0; i < batch.size(); ++i) {
    const int to = kind == ExchangeKind::kGather ? 0 : WorkerOfKey(batch.key_hash(i), workers);
    if (to == self_) {
      if (!any_local) {
        *local = Batch(batch.width());
        local->set_read_ms(batch.read_ms());
        local->CopyPieceFrom(batch);
        local->BorrowArenasOf(batch);
        local->Reserve(batch.size());
      }
      any_local = true;
      BorrowRow(batch, i, *local);
    } else {
      Batch& part = parts_[to];
      if (part.empty()) {
        if (part.width() != batch.width()) part = Batch(batch.width());
        part.set_read_ms(batch.read_ms());
        part.CopyPieceFrom(batch);
        part.BorrowArenasOf(batch);
        part.Reserve(batch.size() / static_cast<size_t>(workers) + 16);
      }
      BorrowRow(batch, i, part);
    }
  }
  for (int to = 0; to < workers; ++to) {
    if (to == self_ || parts_[to].empty()) continue;
    Message m;
    m.kind = Message::Kind::kBatch;
    m.node = node;
    m.step = step;
    m.batch = std::move(parts_[to]);
    parts_[to] = Batch();
    Send(to, std::move(m));
  }
  return any_local;
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
