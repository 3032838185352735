#pragma once
// The counts a run keeps (runtime.h Run() returns them summed).
#include <cstdint>
#include <vector>

#include "runner/metrics/cells.h"

namespace streamrun {

// What a run counts, per worker (each worker writes its own, with no shared
// writes: runner/metrics/cells.h) and, once it ends, summed. A scrape of
// /metrics reads the workers' counts while they run (runner/metrics).
struct NodeStats {
  metrics::Counter records_in;
  metrics::Counter records_out;
  metrics::Counter bytes_in;  // the records' text, as read or as encoded
  metrics::Counter bytes_out;
  metrics::Counter errors;         // record errors raised at this node (skipped or dead-lettered)
  metrics::Counter skipped;        // ... of which the policy dropped
  metrics::Counter dead_lettered;  // ... of which went to the dead-letter sink
  metrics::Counter failed;         // ... that ended the run (policy fail)
  metrics::Counter late_dropped;   // late records no node takes as `name.late`
  // Transforms: the minimum over the inputs; sources and transforms: what the
  // node passed on (kNoWatermark: none yet).
  metrics::Gauge<int64_t> input_watermark{metrics::kNoWatermark};
  metrics::Gauge<int64_t> output_watermark{metrics::kNoWatermark};
  metrics::Gauge<uint64_t> state_bytes;  // keyed state held in memory, summed over the node's steps
  metrics::Counter blocked_ns;           // time senders held records for this node (its queue was full)
  // Sinks: now minus the records' event time, and minus when their source read them.
  metrics::Histogram latency_event;
  metrics::Histogram latency_ingestion;
};

struct RunStats {
  std::vector<NodeStats> nodes;  // by plan node index
  metrics::Counter records_skipped;
  metrics::Counter records_dead_lettered;
  metrics::Counter records_late_dropped;  // late records no node takes as `name.late`
  metrics::Counter queue_full;            // sends that found the queue to another worker full (backpressure)
  metrics::Counter busy_ns;               // time the worker processed (a turn of its loop that did something)
  metrics::Counter blocked_ns;            // time it held records a full queue could not take (read nothing)
  metrics::Gauge<double> queue_fill;      // how full the queues into the worker are, 0..1
  int workers = 1;
  double seconds = 0;
  int64_t restored_from = 0;  // checkpoint id the run resumed from; 0: none
  uint64_t checkpoints = 0;   // completed (the final one included)
  uint64_t checkpoints_failed = 0;
};

}  // namespace streamrun
