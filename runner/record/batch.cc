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

void Batch::AppendBorrowed(const Batch& src, const uint32_t* rows, size_t n) {
  const size_t at = size_;
  const size_t w = width_;
  slots_.resize((at + n) * w);
  raw_.resize(at + n);
  transcoder_.resize(at + n);
  position_.resize(at + n);
  event_time_.resize(at + n);
  key_hash_.resize(at + n);
  watermark_.resize(at + n);
  for (size_t k = 0; k < n; ++k) {
    const uint32_t i = rows[k];
    const size_t r = at + k;
    raw_[r] = src.raw_[i];
    transcoder_[r] = src.transcoder_[i];
    position_[r] = src.position_[i];
    event_time_[r] = src.event_time_[i];
    key_hash_[r] = src.key_hash_[i];
    watermark_[r] = src.watermark_[i];
    const Value* in = src.slots_.data() + static_cast<size_t>(i) * w;
    Value* out = slots_.data() + r * w;
    for (size_t s = 0; s < w; ++s) out[s] = in[s];
  }
  size_ = static_cast<uint32_t>(at + n);
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
