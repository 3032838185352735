#pragma once
// A record a step holds across a checkpoint (dedupe's records waiting for the
// watermark, enrich_http's and plugin operators' records waiting for an
// answer), written as it is: where it was read, then its key hash, watermark,
// raw bytes and every slot. So a restore gives the step the same record,
// whatever the steps before it set. A step may write its own fields between
// the two halves (dedupe: its key group and key).
#include <cstdint>

#include "runner/record/batch.h"
#include "runner/state/snapshot.h"

namespace streamrun {

// Event time, source, topic, partition, offset, line.
void SaveHeldPosition(const Batch& batch, uint32_t row, SnapshotWriter& w);
// Key hash, watermark, raw bytes, width, every slot.
void SaveHeldBody(const Batch& batch, uint32_t row, SnapshotWriter& w);
inline void SaveHeldRecord(const Batch& batch, uint32_t row, SnapshotWriter& w) {
  SaveHeldPosition(batch, row, w);
  SaveHeldBody(batch, row, w);
}

struct HeldPosition {
  int64_t time = 0;
  RecordPosition position;
};
HeldPosition LoadHeldPosition(SnapshotReader& r);
// Appends the record to `batch` and returns its row. An empty batch of width
// 0 takes the record's width; another width than the batch's is a
// SnapshotError.
uint32_t LoadHeldBody(SnapshotReader& r, const HeldPosition& at, Batch& batch);
inline uint32_t LoadHeldRecord(SnapshotReader& r, Batch& batch) {
  const HeldPosition at = LoadHeldPosition(r);
  return LoadHeldBody(r, at, batch);
}

}  // namespace streamrun
