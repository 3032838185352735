#pragma once
// A record a step holds across a checkpoint (one waiting for an answer:
// enrich_http, plugin operators' asynchronous calls), written as it is: its
// raw bytes, event time, watermark, position, key hash and every slot. So a
// restore gives the step the same record, whatever the step before it set.
#include <cstdint>

#include "runner/record/batch.h"
#include "runner/state/snapshot.h"

namespace streamrun {

void SaveHeldRecord(const Batch& batch, uint32_t row, SnapshotWriter& w);
// Appends the record to `batch` (of the width it was written with; another
// width is a SnapshotError).
void LoadHeldRecord(SnapshotReader& r, Batch& batch);

}  // namespace streamrun
