#include "runner/record/batch.h"

#include <algorithm>
#include <mutex>

#include "runner/record/json_decoder.h"
#include "runner/record/json_writer.h"

namespace streamrun {

void Batch::Materialize(uint32_t i) const {
  // The text lives in the arena, after the bytes (which slots may point into).
  thread_local std::string text, error;
  text.clear();
  if (!transcoder_[i]->ToJson(raw_[i], &text, &error)) {
    // Unreachable for bytes the source decoded; never an invalid record text.
    text = "{\"_undecodable\":";
    AppendJsonString(error, &text);
    text += "}";
  }
  raw_[i] = arena_->Copy(text, JsonPadding());
  transcoder_[i] = nullptr;
}

void CopyRow(const Batch& src, uint32_t i, Batch& dst) {
  // A binary record moves as its bytes; its text is made only where needed.
  std::string_view raw = src.stored(i);
  std::string_view raw_copy = raw.empty() ? raw : dst.arena().Copy(raw, JsonPadding());
  uint32_t r = dst.AddRow(raw_copy, src.position(i), src.event_time(i));
  if (src.transcoder(i)) dst.set_binary(r, raw_copy, src.transcoder(i));
  dst.set_key_hash(r, src.key_hash(i));
  dst.set_watermark(r, src.watermark(i));
  const Value* in = src.row(i);
  Value* out = dst.row(r);
  for (uint32_t s = 0; s < src.width(); ++s) {
    Value v = in[s];
    if (v.kind == Kind::kString || v.kind == Kind::kList || v.kind == Kind::kObject) {
      if (!raw.empty() && v.str >= raw.data() && v.str + v.len <= raw.data() + raw.size()) {
        v.str = raw_copy.data() + (v.str - raw.data());
      } else {
        v.str = dst.arena().Copy(v.text()).data();
      }
    }
    out[s] = v;
  }
}

void BorrowRow(const Batch& src, uint32_t i, Batch& dst) {
  const uint32_t r = dst.AddRow(src.stored(i), src.position(i), src.event_time(i));
  if (src.transcoder(i)) dst.set_binary(r, src.stored(i), src.transcoder(i));
  dst.set_key_hash(r, src.key_hash(i));
  dst.set_watermark(r, src.watermark(i));
  std::copy(src.row(i), src.row(i) + src.width(), dst.row(r));
}

namespace {

struct BatchPool {
  static constexpr size_t kMax = 64;
  std::mutex mu;
  std::vector<Batch> free;
};

BatchPool& Batches() {
  static auto* pool = [] {  // never destroyed, as the arena pool
    auto* p = new BatchPool;
    p->free.reserve(BatchPool::kMax);
    return p;
  }();
  return *pool;
}

}  // namespace

Batch TakeBatch(uint32_t width) {
  BatchPool& pool = Batches();
  {
    std::lock_guard<std::mutex> lock(pool.mu);
    if (!pool.free.empty()) {
      Batch b = std::move(pool.free.back());
      pool.free.pop_back();
      b.Clear(width);
      return b;
    }
  }
  return Batch(width);
}

void RecycleBatch(Batch&& batch) {
  if (batch.capacity() == 0) return;  // moved from: nothing worth keeping
  batch.Clear(0);
  BatchPool& pool = Batches();
  std::lock_guard<std::mutex> lock(pool.mu);
  if (pool.free.size() < BatchPool::kMax) pool.free.push_back(std::move(batch));
}

}  // namespace streamrun
