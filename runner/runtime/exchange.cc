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
  const size_t workers = static_cast<size_t>(shared_.workers);
  // Which rows go where, then each part's rows in one go. Rows change hands
  // without their bytes: each part keeps the batch's arenas.
  rows_.resize(workers);
  for (auto& r : rows_) r.clear();
  for (uint32_t i = 0; i < batch.size(); ++i) {
    const size_t to = kind == ExchangeKind::kGather
                          ? 0
                          : static_cast<size_t>(WorkerOfKey(batch.key_hash(i), shared_.workers));
    rows_[to].push_back(i);
  }
  parts_.resize(workers);
  for (size_t to = 0; to < workers; ++to) {
    if (rows_[to].empty()) continue;
    Batch& part = static_cast<int>(to) == self_ ? *local : parts_[to];
    part = TakeBatch(batch.width());
    part.set_read_ms(batch.read_ms());
    part.CopyPieceFrom(batch);
    part.BorrowArenasOf(batch);
    part.AppendBorrowed(batch, rows_[to].data(), rows_[to].size());
    if (static_cast<int>(to) == self_) continue;
    Message m;
    m.kind = Message::Kind::kBatch;
    m.node = node;
    m.step = step;
    m.batch = std::move(part);
    Send(static_cast<int>(to), std::move(m));
  }
  return !rows_[static_cast<size_t>(self_)].empty();
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
