// The worker's side of sources read in ordered pieces (pieces.h): ends of
// pieces sent to the points, and the points letting pieces through in order.
#include <algorithm>

#include "runner/runtime/worker.h"

namespace streamrun::runtime {

void Worker::EndPiece(int source, const SourceInstance::PieceEnd& end) {
  const auto* points = shared_.routing.piece_points(static_cast<size_t>(source));
  if (!points) return;
  for (size_t p = 0; p < points->size(); ++p) {
    const PiecePoint& point = (*points)[p];
    const bool everyone = point.kind == PiecePoint::Kind::kStep && point.exchange == ExchangeKind::kKeyed;
    for (int to = 0; to < shared_.workers; ++to) {
      if (!everyone && to != 0) continue;
      if (to == self_) {
        PieceEnds(source, static_cast<int>(p), end.piece, end.watermark);
        continue;
      }
      Message m;
      m.kind = Message::Kind::kPieceEnd;
      m.node = source;
      m.step = static_cast<int>(p);
      m.piece = end.piece;
      m.watermark = end.watermark;
      exchange_.Send(to, std::move(m));
    }
  }
}

int Worker::PointOf(int source, PiecePoint::Kind kind, int node, int step) const {
  if (source < 0) return -1;
  const auto* points = shared_.routing.piece_points(static_cast<size_t>(source));
  if (!points) return -1;
  for (size_t p = 0; p < points->size(); ++p) {
    const PiecePoint& point = (*points)[p];
    if (point.kind == kind && point.node == node && (kind != PiecePoint::Kind::kStep || point.step == step))
      return static_cast<int>(p);
  }
  return -1;
}

bool Worker::HoldForPiece(PiecePoint::Kind kind, int node, int step, int from, int port, Batch& batch) {
  if (batch.piece() < 0) return false;
  const int source = batch.piece_source();
  const int point = PointOf(source, kind, node, step);
  if (point < 0) return false;
  const int64_t piece = batch.piece();
  PieceItem item;
  item.from = from;
  item.port = port;
  item.batch = std::move(batch);
  PieceArrives(source, point, piece, std::move(item));
  return true;
}

void Worker::PieceDeadLettersArrive(int source, int64_t piece, std::vector<std::string> texts, bool failure) {
  const int point = PointOf(source, PiecePoint::Kind::kDeadLetters, plan_.dead_letter_sink, 0);
  PieceItem item;
  if (failure)
    item.failure = std::move(texts.front());
  else
    item.dead_letters = std::move(texts);
  PieceArrives(source, point, piece, std::move(item));
}

void Worker::PieceArrives(int source, int point, int64_t piece, PieceItem item) {
  PieceOrder& order = piece_orders_[{source, point}];
  if (piece == order.next) {
    PassPiece(source, point, item, order.watermark);
    return;
  }
  order.waiting[piece].items.push_back(std::move(item));
}

void Worker::PieceEnds(int source, int point, int64_t piece, int64_t watermark) {
  PieceOrder& order = piece_orders_[{source, point}];
  if (piece != order.next) {
    auto& w = order.waiting[piece];
    w.ended = true;
    w.watermark = watermark;
    return;
  }
  order.watermark = std::max(order.watermark, watermark);
  ++order.next;
  // Let through what waited for this piece to end, piece after piece.
  while (true) {
    auto it = order.waiting.find(order.next);
    if (it == order.waiting.end()) break;
    PieceOrder::Waiting waiting = std::move(it->second);
    order.waiting.erase(it);
    for (PieceItem& item : waiting.items) PassPiece(source, point, item, order.watermark);
    if (!waiting.ended) break;
    order.watermark = std::max(order.watermark, waiting.watermark);
    ++order.next;
  }
}

void Worker::PassPiece(int source, int point, PieceItem& item, int64_t watermark) {
  const PiecePoint& p =
      (*shared_.routing.piece_points(static_cast<size_t>(source)))[static_cast<size_t>(point)];
  // What the records cause from here on belongs to no piece.
  const int saved_source = current_piece_source_;
  const int64_t saved_piece = current_piece_;
  current_piece_source_ = -1;
  current_piece_ = -1;
  Batch& batch = item.batch;
  batch.set_piece(-1, -1);
  switch (p.kind) {
    case PiecePoint::Kind::kStep: {
      // Each record's watermark becomes what a single reader would have
      // judged it by; its worker's channel rises to it, without lowering it.
      auto& channels = nodes_[p.node].exchange_watermarks[p.step];
      auto& channel = channels[static_cast<size_t>(item.from)];
      for (uint32_t i = 0; i < batch.size(); ++i) {
        const int64_t w = std::max(batch.watermark(i), watermark);
        batch.set_watermark(i, w);
        channel = std::max(channel, w);
      }
      RunSteps(p.node, p.step, batch);
      break;
    }
    case PiecePoint::Kind::kSink:
      WriteSink(p.node, item.from, item.port, batch);
      break;
    case PiecePoint::Kind::kDeadLetters:
      if (!item.failure.empty()) throw RunError(ErrorKind::kRecord, item.failure);
      WriteDeadLetters(item.dead_letters);
      break;
  }
  current_piece_source_ = saved_source;
  current_piece_ = saved_piece;
  RecycleBatch(std::move(item.batch));
}

}  // namespace streamrun::runtime
