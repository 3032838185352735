#pragma once
// The watermark of one source instance over its partitions (docs/time-and-windows.md):
// per partition, the highest event time seen minus max_out_of_orderness; the
// source's is the minimum over partitions that are neither finished nor idle
// (no record for idle_timeout). It never goes back.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "runner/record/batch.h"

namespace streamrun {

class WatermarkTracker {
 public:
  WatermarkTracker(int64_t max_out_of_orderness_ms, int64_t idle_timeout_ms)
      : delay_(max_out_of_orderness_ms), idle_timeout_(idle_timeout_ms) {}

  // The watermark to judge the next record by.
  int64_t current() const { return current_; }

  // A record of `partition` with event time `t`, read at processing time `now_ms`.
  void Observe(int32_t partition, int64_t t, int64_t now_ms) {
    Partition& p = At(partition);
    const bool was_counted = p.counted;
    p.active = true;
    p.last_record_ms = now_ms;
    if (t <= p.max_event_time && was_counted) return;  // changes nothing
    if (t > p.max_event_time) p.max_event_time = t;
    // Only the partition holding the minimum, or one that was not counted
    // (new or idle), can move the watermark: the others are unchanged.
    if (!was_counted || partition == holder_) Recompute(now_ms);
  }
  // A partition this instance starts reading (a Kafka assignment): it holds
  // the watermark back from now on, until its first record or idle_timeout.
  void Assign(int32_t partition, int64_t now_ms) {
    Partition& p = At(partition);
    p = Partition{};
    p.active = true;
    p.last_record_ms = now_ms;
    Recompute(now_ms);
  }
  // A partition this instance no longer reads (revoked in a rebalance).
  void Remove(int32_t partition, int64_t now_ms) {
    At(partition) = Partition{};
    Recompute(now_ms);
  }
  // True when no partition holds the watermark back: none assigned or read, or
  // every one finished or idle at `now_ms`.
  bool Idle(int64_t now_ms) const {
    for (const auto& p : partitions_)
      if (p.active && !p.finished && (idle_timeout_ <= 0 || now_ms - p.last_record_ms < idle_timeout_))
        return false;
    return true;
  }
  // A partition that will have no more records (end of a file).
  void Finish(int32_t partition, int64_t now_ms) {
    At(partition).finished = true;
    Recompute(now_ms);
  }
  // Time passes without records: idle partitions stop holding the watermark.
  void Tick(int64_t now_ms) {
    if (idle_timeout_ > 0) Recompute(now_ms);
  }
  void FinishAll() { current_ = kEndOfTime; }

  // Checkpoints: a partition's highest event time and whether it finished, and
  // the watermark so far (it never goes back, not even across a restore).
  struct Saved {
    int64_t max_event_time = kNoTime;
    bool finished = false;
  };
  Saved Save(int32_t partition) const {
    const size_t i = static_cast<size_t>(std::max(partition, 0));
    if (i >= partitions_.size()) return {};
    return {partitions_[i].max_event_time, partitions_[i].finished};
  }
  // The partition as it was at the checkpoint; `watermark` is the lowest the
  // instances reading it had (a restore at another parallelism regroups them).
  void Restore(int32_t partition, const Saved& saved, int64_t watermark, int64_t now_ms) {
    Partition& p = At(partition);
    p = Partition{};
    p.active = true;
    p.last_record_ms = now_ms;
    p.max_event_time = saved.max_event_time;
    p.finished = saved.finished;
    current_ = std::max(current_, watermark);
    Recompute(now_ms);
  }
  // Processing time (a source without event_time): the watermark is the clock.
  void AdvanceTo(int64_t now_ms) { current_ = std::max(current_, now_ms); }

 private:
  struct Partition {
    int64_t max_event_time = kNoTime;
    int64_t last_record_ms = 0;
    bool active = false;
    bool finished = false;
    bool counted = false;  // held the watermark at the last Recompute
  };
  Partition& At(int32_t partition) {
    size_t i = static_cast<size_t>(std::max(partition, 0));
    if (i >= partitions_.size()) partitions_.resize(i + 1);
    return partitions_[i];
  }
  void Recompute(int64_t now_ms) {
    int64_t w = kEndOfTime;
    bool any = false;
    holder_ = -1;
    for (size_t i = 0; i < partitions_.size(); ++i) {
      Partition& p = partitions_[i];
      p.counted =
          p.active && !p.finished && !(idle_timeout_ > 0 && now_ms - p.last_record_ms >= idle_timeout_);
      if (!p.counted) continue;
      any = true;
      int64_t pw = p.max_event_time == kNoTime ? kNoTime : p.max_event_time - delay_;
      if (pw < w || holder_ < 0) {
        w = pw;
        holder_ = static_cast<int32_t>(i);
      }
    }
    // With every partition finished or idle, the watermark stays where it was
    // (finished partitions gave what they had; end of input is FinishAll).
    if (!any) {
      int64_t best = kNoTime;
      for (const auto& p : partitions_)
        if (p.active && p.max_event_time != kNoTime) best = std::max(best, p.max_event_time - delay_);
      w = best;
    }
    if (w > current_) current_ = w;
  }

  int64_t delay_;
  int64_t idle_timeout_;
  int64_t current_ = kNoTime;
  int32_t holder_ = -1;  // the partition with the lowest watermark at the last Recompute
  std::vector<Partition> partitions_;
};

}  // namespace streamrun
